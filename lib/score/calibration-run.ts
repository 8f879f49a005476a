/**
 * Running a run's calibration (calibration.ts) fast and only when needed: each setup's two simulated curves are
 * measured in worker threads, started as soon as the noise baseline is scored and collected once the other models
 * are, and each setup's result is kept under the digest of everything it depends on, so a rerun that changes none of
 * it reads the measurement instead of simulating it again. Every curve is seeded by its own name: the numbers are
 * those of measuring everything in one thread, in any order (and byte-identical through the cache).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { digestOf, fileDigest } from '../core/hash';
import { readJson, writeJsonAtomic } from '../core/io';
import {
  type CalibrationOptions,
  type ChunkJob,
  type CoverageCounts,
  type Design,
  type SetupCalibration,
  chunkJobs,
  runChunk,
  setupCalibration,
} from './calibration';

/** One setup to calibrate; `name` (e.g. "movielens-A") names its cache entry and its result. */
export interface SetupRequest {
  name: string;
  design: Design;
  noiseModel: string;
  opts: CalibrationOptions;
}

export interface CalibrationResult {
  calibration: SetupCalibration;
  /** Read from the cache (its design, options and code unchanged since it was measured). */
  cached: boolean;
}

/** Blocks until every setup is measured and returns them by name (cache entries written). */
export type CollectCalibration = () => Map<string, CalibrationResult>;

/**
 * What a worker thread is given: every job, the shared counter of the next one to take, the port to post each job's
 * counts on, and the flag it raises when it takes no more.
 */
export interface WorkerJob {
  jobs: ChunkJob[];
  next: Int32Array;
  port: MessagePort;
  done: Int32Array;
}

/** The code a calibration runs: a change to any of these files measures again. */
const CALIBRATION_CODE = [
  'calibration',
  'calibration-run',
  'calibration-worker',
  'gap',
  'clustered',
  '../core/rng',
  '../query/pilot',
].map((m) => path.join(__dirname, `${m}${path.extname(__filename)}`));

/** Below this many prompts in all a worker's start-up (~0.1 s) costs more than it saves. */
const PARALLEL_FROM_PROMPTS = 500;

function cacheFile(dir: string, r: SetupRequest): string {
  const code = CALIBRATION_CODE.filter((f) => fs.existsSync(f)).map((f) => fileDigest(f));
  const key = digestOf('calibration', code, r.design, r.noiseModel, r.opts).slice(0, 24);
  return path.join(dir, `${r.name}.${key}.json`);
}

/**
 * Starts measuring the setups that the cache (`cacheDir`, or none) does not hold and returns the function that
 * collects them. Their chunk jobs go to worker threads (one per core) that take the next job from a shared counter;
 * when collecting, this thread takes jobs from the same counter until none is left, then waits for the workers' last
 * ones. Without workers (TypeScript sources, one core, a small design, a worker that cannot start or never answers)
 * this thread measures what is missing.
 */
export function startCalibration(requests: SetupRequest[], cacheDir: string | null): CollectCalibration {
  const results = new Map<string, CalibrationResult>();
  const files = new Map<string, string>();
  const todo: { request: SetupRequest; first: number; jobs: ChunkJob[] }[] = [];
  const jobs: ChunkJob[] = [];
  for (const r of requests) {
    const file = cacheDir ? cacheFile(cacheDir, r) : null;
    if (file) files.set(r.name, file);
    if (file && fs.existsSync(file)) {
      try {
        results.set(r.name, { calibration: readJson<SetupCalibration>(file), cached: true });
        continue;
      } catch {
        // A damaged entry is measured again and replaced.
      }
    }
    const own = chunkJobs(r.design, r.opts);
    todo.push({ request: r, first: jobs.length, jobs: own });
    jobs.push(...own);
  }
  // next[0]: the next job to take, shared by every thread.
  const next = new Int32Array(new SharedArrayBuffer(4));
  const workers = startWorkers(jobs, next);
  return () => {
    const counts = new Array<CoverageCounts | undefined>(jobs.length);
    for (let j = Atomics.add(next, 0, 1); j < jobs.length; j = Atomics.add(next, 0, 1)) counts[j] = runChunk(jobs[j]);
    for (const w of workers) for (const [j, c] of w.collect()) counts[j] = c;
    for (const t of todo) {
      const own = t.jobs.map((job, k) => counts[t.first + k] ?? runChunk(job));
      const calibration = setupCalibration(t.request.design, t.request.noiseModel, t.jobs, own);
      results.set(t.request.name, { calibration, cached: false });
      const file = files.get(t.request.name);
      if (file) {
        const dir = path.dirname(file);
        if (fs.existsSync(dir))
          for (const old of fs.readdirSync(dir))
            if (old.startsWith(`${t.request.name}.`) && old !== path.basename(file))
              fs.rmSync(path.join(dir, old), { force: true });
        writeJsonAtomic(file, calibration);
      }
    }
    return results;
  };
}

interface RunningWorker {
  /** Blocks until the worker has stopped taking jobs; the counts it measured, by job index. */
  collect(): [number, CoverageCounts][];
}

function startWorkers(jobs: ChunkJob[], next: Int32Array): RunningWorker[] {
  const entry = path.join(__dirname, 'calibration-worker.js');
  const total = [...new Set(jobs.map((j) => j.design))].reduce((a, d) => a + d.x.length, 0);
  // One thread per core in all: this one scores the other models meanwhile, then takes jobs too (a third thread on two
  // cores made the stage slower, measured).
  const cores = Math.min(os.availableParallelism() - 1, jobs.length);
  if (path.extname(__filename) !== '.js' || cores < 1 || total < PARALLEL_FROM_PROMPTS || !fs.existsSync(entry))
    return [];
  // Far beyond what the jobs take (~1 s per 1,000 prompts × 200 datasets on one core): a worker that has not stopped by
  // then is stuck or gone, and the jobs it took are measured here.
  const timeoutMs = 120_000 + 0.05 * jobs.reduce((a, j) => a + j.design.x.length * j.chunk.replicates, 0);
  return Array.from({ length: cores }, () => {
    const done = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    let worker: Worker;
    try {
      const data: WorkerJob = { jobs, next, port: port2, done };
      worker = new Worker(entry, { workerData: data, transferList: [port2] });
    } catch {
      port1.close();
      return null;
    }
    worker.unref();
    return {
      collect: () => {
        const finished = Atomics.wait(done, 0, 0, timeoutMs) !== 'timed-out';
        const got: [number, CoverageCounts][] = [];
        for (let m = finished ? receiveMessageOnPort(port1) : undefined; m; m = receiveMessageOnPort(port1)) {
          const msg = m.message as { job?: number; counts?: CoverageCounts; error?: string };
          if (msg.error) {
            port1.close();
            void worker.terminate();
            throw new Error(`calibration worker failed: ${msg.error}`);
          }
          if (msg.job !== undefined && msg.counts) got.push([msg.job, msg.counts]);
        }
        port1.close();
        void worker.terminate();
        return got;
      },
    };
  }).filter((w): w is RunningWorker => w !== null);
}
