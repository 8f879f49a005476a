/**
 * Worker thread entry of the calibration (calibration-run.ts): takes the next chunk job from the shared counter until
 * none is left, posting each job's counts on its port, then raises the shared flag so that the main thread, blocked in
 * Atomics.wait, can take them.
 */
import { workerData } from 'node:worker_threads';
import type { WorkerJob } from './calibration-run';

const job = workerData as WorkerJob;
try {
  // Loaded here, inside the try: a module that fails to load is reported, never left as a silent, waiting thread.
  const { runChunk } = require('./calibration') as typeof import('./calibration');
  for (let j = Atomics.add(job.next, 0, 1); j < job.jobs.length; j = Atomics.add(job.next, 0, 1))
    job.port.postMessage({ job: j, counts: runChunk(job.jobs[j]) });
} catch (e) {
  job.port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
} finally {
  Atomics.store(job.done, 0, 1);
  Atomics.notify(job.done, 0);
}
