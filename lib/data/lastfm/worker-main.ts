/**
 * The entry of the parser's worker threads (workers.ts starts them): parses one byte range, or computes the sha1
 * prefixes of a key arena, and posts the result back with its buffers transferred.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { parseRange } from './range-parser';
import { sha1PrefixesOf } from './track-fields';
import type { Sha1Job, WorkerJob } from './workers';

if (!isMainThread && workerData && (workerData as Partial<WorkerJob>).ubpLastfmParse) {
  const job = (workerData as WorkerJob).ubpLastfmParse;
  let pending = 0;
  const r = parseRange(job.file, job.start, job.end, job.badLines, job.chunkBytes, (n) => {
    pending += n;
    if (pending >= 64 << 20) {
      parentPort!.postMessage({ bytes: pending });
      pending = 0;
    }
  });
  if (pending) parentPort!.postMessage({ bytes: pending });
  parentPort!.postMessage({ result: r }, [r.arena.buffer, r.offsets.buffer, r.hashes.buffer, r.slots.buffer, r.segPairStart.buffer, r.pairTrack.buffer, r.pairCount.buffer] as ArrayBuffer[]);
}
if (!isMainThread && workerData && (workerData as Partial<Sha1Job>).ubpLastfmSha1) {
  const { bytes, offsets, count } = (workerData as Sha1Job).ubpLastfmSha1;
  const out = new Int32Array(2 * count);
  sha1PrefixesOf(bytes, offsets, 0, count, out);
  parentPort!.postMessage({ sha1: out }, [out.buffer as ArrayBuffer]);
}
