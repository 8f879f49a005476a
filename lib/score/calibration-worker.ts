/**
 * Worker thread entry for calibrateSetup: measures one simulated curve's coverage while the main thread measures the
 * other (they cost the same on the same design). The answer is posted on the port it was given, then the shared flag
 * is raised so that a main thread blocked in Atomics.wait can take it synchronously.
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import type { Design, SimulatedCurve } from './calibration';
import type { GapOptions } from './gap';

interface Job {
  design: Design;
  model: SimulatedCurve;
  opts: GapOptions & { replicates: number; seed: string };
  port: MessagePort;
  done: Int32Array;
}

const job = workerData as Job;
try {
  // Loaded here, inside the try: a module that fails to load is reported, never left as a silent, waiting thread.
  const { measureCoverage } = require('./calibration') as typeof import('./calibration');
  job.port.postMessage({ coverage: measureCoverage(job.design, job.model, job.opts) });
} catch (e) {
  job.port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
} finally {
  Atomics.store(job.done, 0, 1);
  Atomics.notify(job.done, 0);
}
