/**
 * Starting the parser's worker threads (their entry is worker-main.ts) and collecting what they send back.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PartialParse } from './range-parser';

export interface WorkerJob {
  ubpLastfmParse: { file: string; start: number; end: number; badLines: 'error' | 'skip'; chunkBytes: number };
}

export interface Sha1Job {
  ubpLastfmSha1: { bytes: Uint8Array; offsets: Int32Array; count: number };
}

/** The thread's entry, next to this file: worker-main.js in the build, worker-main.ts when run from source. */
const WORKER_MAIN = path.join(__dirname, `worker-main${path.extname(__filename)}`);

function startWorker(data: WorkerJob | Sha1Job): Worker {
  // Run from TypeScript source (tsx, tests), the worker must register tsx itself: workers do not inherit its loader.
  return WORKER_MAIN.endsWith('.ts')
    ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(WORKER_MAIN)});`, { eval: true, workerData: data })
    : new Worker(WORKER_MAIN, { workerData: data });
}

/** sha1 prefixes of the first `count` tracks of a key arena, computed in a worker thread (the arena is copied to it). */
export function sha1PrefixesInWorker(bytes: Uint8Array, offsets: Int32Array, count: number): Promise<Int32Array> {
  return new Promise((resolve, reject) => {
    const w = startWorker({ ubpLastfmSha1: { bytes, offsets, count } });
    let result: Int32Array | null = null;
    w.on('message', (m: { sha1?: Int32Array }) => {
      if (m.sha1) result = m.sha1;
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`the Last.fm sha1 thread exited with code ${code}`));
    });
  });
}

export function runInWorker(job: WorkerJob['ubpLastfmParse'], onBytes: (n: number) => void): Promise<PartialParse> {
  return new Promise((resolve, reject) => {
    const w = startWorker({ ubpLastfmParse: job });
    let result: PartialParse | null = null;
    w.on('message', (m: { bytes?: number; result?: PartialParse }) => {
      if (m.bytes !== undefined) onBytes(m.bytes);
      if (m.result) result = m.result;
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`the Last.fm parser thread for bytes ${job.start}-${job.end} of ${job.file} exited with code ${code}`));
    });
  });
}
