/**
 * The Last.fm-1K events file userid-timestamp-artid-artname-traid-traname.tsv: tab-separated, UTF-8, NO quoting
 * (names contain quote characters), MusicBrainz ids often empty, so tracks are keyed by artist and track NAME.
 *
 * The file (19 M lines, 2.4 GB) is parsed as bytes (range-parser.ts). Large files are split at line boundaries
 * across worker threads; their results are merged here by looking each worker's distinct tracks up in one global
 * table, so the output does not depend on the number of threads.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { DataFormatError } from '../datasets';
import { fileBomLength } from '../../core/io';
import { TrackTable } from './hash-table';
import { PairSorter } from './pair-sort';
import { parseRange, type PartialParse } from './range-parser';
import { sha1PrefixesOf } from './track-fields';
import { EVENT_FIELDS, type LastfmEvents, type ParseEventsOptions, type TrackKeys } from './types';
import { runInWorker, sha1PrefixesInWorker } from './workers';

/** Byte offsets that split the file into `parts` ranges starting at line starts. */
function splitPoints(file: string, start: number, size: number, parts: number): number[] {
  const points = [start];
  const fd = fs.openSync(file, 'r');
  try {
    const window = Buffer.allocUnsafe(1 << 16);
    for (let k = 1; k < parts; k++) {
      let pos = Math.max(Math.floor((size * k) / parts), points[points.length - 1]);
      let found = -1;
      while (pos < size && found < 0) {
        const got = fs.readSync(fd, window, 0, window.length, pos);
        if (got <= 0) break;
        const i = window.indexOf(10);
        if (i >= 0 && i < got) found = pos + i + 1;
        else pos += got;
      }
      if (found < 0 || found >= size) break;
      if (found > points[points.length - 1]) points.push(found);
    }
  } finally {
    fs.closeSync(fd);
  }
  points.push(size);
  return points;
}

/**
 * Parses the events file into per-user distinct tracks with listening counts, in bounded memory
 * (fixed read buffers plus the distinct tracks and the per-user pairs).
 */
export async function parseLastfmEvents(file: string, opts: ParseEventsOptions = {}): Promise<LastfmEvents> {
  const size = fs.statSync(file).size;
  if (size === 0) throw new DataFormatError(file, null, null, `the file is empty (expected tab-separated lines ${EVENT_FIELDS.join('\\t')})`);
  const threads = Math.max(1, Math.floor(opts.threads ?? (size >= 64 << 20 ? Math.min(os.availableParallelism?.() ?? os.cpus().length, 4) : 1)));
  const badLines = opts.badLines ?? 'error';
  const chunkBytes = opts.chunkBytes ?? 8 << 20;
  let done = 0;
  const onBytes = (n: number) => {
    done += n;
    opts.onProgress?.(done, size);
  };
  const start = fileBomLength(file);
  const points = threads > 1 ? splitPoints(file, start, size, threads) : [start, size];
  let partials: PartialParse[];
  if (points.length <= 2) partials = [parseRange(file, start, size, badLines, chunkBytes, onBytes)];
  else {
    const jobs = [];
    for (let k = 0; k + 1 < points.length; k++) jobs.push(runInWorker({ file, start: points[k], end: points[k + 1], badLines, chunkBytes }, onBytes));
    partials = await Promise.all(jobs);
  }
  let lineBase = 0;
  for (const part of partials) {
    if (part.error) {
      const e = part.error;
      const hint = part.lastLineUnterminated && e.line === part.lines ? ' (the last line has no line end: the file may be truncated)' : '';
      throw new DataFormatError(file, lineBase + e.line, e.field, `${e.detail}${hint}: ${JSON.stringify(e.text)}`);
    }
    lineBase += part.lines;
  }
  if (!opts.sha1Prefixes) return mergePartials(file, partials);
  // The first range's tracks keep their ids in the merge: a thread hashes them while this one merges and hashes the rest.
  const first = partials[0];
  const firstShas = partials.length > 1 ? sha1PrefixesInWorker(first.arena.subarray(0, first.offsets[first.nTracks]), first.offsets, first.nTracks) : null;
  const events = mergePartials(file, partials);
  const shas = new Int32Array(2 * events.tracks.count);
  sha1PrefixesOf(events.tracks.bytes, events.tracks.offsets, firstShas ? first.nTracks : 0, events.tracks.count, shas);
  if (firstShas) shas.set(await firstShas);
  events.sha1Prefixes = shas;
  return events;
}

function mergePartials(file: string, partials: PartialParse[]): LastfmEvents {
  // Global track ids: the first range's ids are kept (its table is adopted); later ranges' new tracks follow in
  // their order of appearance, which is the order of first appearance in the whole file.
  let tracks: TrackKeys;
  const maps: (Int32Array | null)[] = [null];
  if (partials.length === 1) {
    const p = partials[0];
    tracks = { count: p.nTracks, bytes: p.arena, offsets: p.offsets };
  } else {
    const table = TrackTable.adopt(partials[0]);
    for (const part of partials.slice(1)) {
      const map = new Int32Array(part.nTracks);
      for (let t0 = 0; t0 < part.nTracks; t0 += 16) {
        const t1 = Math.min(part.nTracks, t0 + 16);
        table.prefetch(part.hashes, t0, t1);
        for (let t = t0; t < t1; t++) map[t] = table.lookupContiguous(part.hashes[t], part.arena, part.offsets[t], part.offsets[t + 1]);
      }
      maps.push(map);
    }
    tracks = table.keys();
  }
  // A Buffer view lets name decoding slice without allocating a view per track.
  tracks = { ...tracks, bytes: Buffer.from(tracks.bytes.buffer, tracks.bytes.byteOffset, tracks.bytes.byteLength) };
  // Users: gather their segments (a user split across ranges, or appearing in several runs, has several).
  const userIndex = new Map<string, number>();
  const users: string[] = [];
  const userEvents: number[] = [];
  const userFirstLine: number[] = [];
  const userSegs: { part: number; seg: number }[][] = [];
  let lineBase = 0;
  partials.forEach((part, pi) => {
    for (let s = 0; s < part.segUser.length; s++) {
      const name = part.segUser[s];
      let u = userIndex.get(name);
      if (u === undefined) {
        u = users.length;
        userIndex.set(name, u);
        users.push(name);
        userEvents.push(0);
        userFirstLine.push(lineBase + part.segFirstLine[s]);
        userSegs.push([]);
      }
      userEvents[u] += part.segEvents[s];
      userSegs[u].push({ part: pi, seg: s });
    }
    lineBase += part.lines;
  });
  // Per user: (track, count) pairs sorted by track (a radix sort: linear, no comparisons), with repeated tracks
  // (a user in several segments) summed.
  const userTracks: Int32Array[] = new Array(users.length);
  const userCounts: Int32Array[] = new Array(users.length);
  const bits = Math.max(1, Math.ceil(Math.log2(tracks.count + 1)));
  const sorter = new PairSorter();
  for (let u = 0; u < users.length; u++) {
    const segs = userSegs[u];
    if (segs.length === 1 && segs[0].part === 0) {
      // Already sorted by the thread, and its ids are the global ids.
      const part = partials[0];
      userTracks[u] = part.pairTrack.slice(part.segPairStart[segs[0].seg], part.segPairStart[segs[0].seg + 1]);
      userCounts[u] = part.pairCount.slice(part.segPairStart[segs[0].seg], part.segPairStart[segs[0].seg + 1]);
      continue;
    }
    let n = 0;
    for (const { part: pi, seg } of userSegs[u]) n += partials[pi].segPairStart[seg + 1] - partials[pi].segPairStart[seg];
    sorter.reserve(n);
    const { keys, values } = sorter;
    let w = 0;
    for (const { part: pi, seg } of userSegs[u]) {
      const part = partials[pi];
      const map = maps[pi];
      for (let k = part.segPairStart[seg]; k < part.segPairStart[seg + 1]; k++) {
        keys[w] = map ? map[part.pairTrack[k]] : part.pairTrack[k];
        values[w++] = part.pairCount[k];
      }
    }
    sorter.sort(w, bits);
    const ids = new Int32Array(w);
    const cs = new Int32Array(w);
    let m = -1;
    for (let k = 0; k < w; k++) {
      const id = sorter.keys[k];
      if (m >= 0 && ids[m] === id) cs[m] += sorter.values[k];
      else {
        ids[++m] = id;
        cs[m] = sorter.values[k];
      }
    }
    userTracks[u] = m + 1 === w ? ids : ids.slice(0, m + 1);
    userCounts[u] = m + 1 === w ? cs : cs.slice(0, m + 1);
  }
  let lines = 0;
  let events = 0;
  let skipped = 0;
  const examples: string[] = [];
  lineBase = 0;
  for (const part of partials) {
    lines += part.lines;
    events += part.events;
    skipped += part.skipped;
    for (const ex of part.skippedExamples) {
      if (examples.length < 5) examples.push(ex.replace(/^line (\d+)/, (_m, n: string) => `line ${lineBase + Number(n)}`));
    }
    lineBase += part.lines;
  }
  return { file, users, userEvents, userFirstLine, userTracks, userCounts, tracks, lines, events, skipped: { lines: skipped, examples } };
}
