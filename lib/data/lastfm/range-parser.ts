/**
 * The byte-level parser of one byte range of the events file. The range is read in fixed-size chunks: each
 * line's fields are found by scanning bytes, the (artist, track) key is hashed over its byte ranges and looked up
 * in an open-addressing table whose keys live in one byte arena, so a track's name is stored (and later decoded)
 * once. Per user, counts accumulate in a dense array and are flushed when the user changes (the file is grouped
 * by user). Track ids are local to the range; events.ts merges the ranges.
 */
import * as fs from 'node:fs';
import { FNV_OFFSET, FNV_PRIME, fmix, TrackTable } from './hash-table';
import { PairSorter } from './pair-sort';
import { EVENT_FIELDS } from './types';

export interface BadLine {
  line: number;
  field: string | null;
  detail: string;
  text: string;
}

/** What one thread produces for its byte range; track ids are local to the range. */
export interface PartialParse {
  nTracks: number;
  arena: Uint8Array;
  offsets: Int32Array;
  hashes: Int32Array;
  /** The range's hash table, so the merge can adopt the first range's table instead of rebuilding it. */
  slots: Int32Array;
  mask: number;
  segUser: string[];
  segFirstLine: number[];
  segEvents: number[];
  /** Pairs of segment s are pairTrack/pairCount[segPairStart[s] .. segPairStart[s+1]). */
  segPairStart: Int32Array;
  pairTrack: Int32Array;
  pairCount: Int32Array;
  lines: number;
  events: number;
  skipped: number;
  skippedExamples: string[];
  error: BadLine | null;
  /** The range ended without a line end (only possible for the last range). */
  lastLineUnterminated: boolean;
}

class IntList {
  a: Int32Array;
  n = 0;
  constructor(cap = 1 << 16) {
    this.a = new Int32Array(cap);
  }
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  trimmed(): Int32Array {
    return this.a.slice(0, this.n);
  }
}

/** Mutable state of one range parse; the hot loop copies what it needs into locals. */
class RangeState {
  /** Distinct tracks of the whole range (ids local to this range); big ranges start big to avoid early rehashes. */
  table: TrackTable;
  /**
   * Distinct tracks of the current user, with their counts. Repeated listens hit this small table (it stays in the
   * CPU cache) instead of the range-wide one; each distinct (user, track) pair is looked up there once, at the flush.
   */
  userTable = new TrackTable(12);
  userCounts = new Int32Array(1 << 12);
  sorter = new PairSorter();
  pairTrack = new IntList(1 << 16);
  pairCount = new IntList(1 << 16);
  segPairStart = new IntList(1 << 10);
  segUser: string[] = [];
  segFirstLine: number[] = [];
  segEvents: number[] = [];
  prevUser = new Uint8Array(0);
  /** Length of the current user's id bytes; -1 before the first line. */
  prevUserLen = -1;
  segEv = 0;
  lines = 0;
  events = 0;
  skipped = 0;
  skippedExamples: string[] = [];
  error: BadLine | null = null;

  constructor(rangeBytes: number) {
    this.table = new TrackTable(rangeBytes > 512 << 20 ? 21 : rangeBytes > 256 << 20 ? 20 : 16);
  }

  /** Moves the current user's (track, count) pairs to the output, resolving tracks in the range-wide table. */
  flushUser(): void {
    if (this.prevUserLen < 0) return;
    const { userTable: ut, userCounts, table, sorter } = this;
    sorter.reserve(ut.n);
    for (let k0 = 0; k0 < ut.n; k0 += 16) {
      const k1 = Math.min(ut.n, k0 + 16);
      table.prefetch(ut.hashes, k0, k1);
      for (let k = k0; k < k1; k++) {
        sorter.keys[k] = table.lookupContiguous(ut.hashes[k], ut.arena, ut.offsets[k], ut.offsets[k + 1]);
        sorter.values[k] = userCounts[k];
        userCounts[k] = 0;
      }
    }
    // Sorted here, in parallel threads: the first range's pairs then need no sorting in the merge.
    sorter.sort(ut.n, Math.ceil(Math.log2(table.n + 1)));
    for (let k = 0; k < ut.n; k++) {
      this.pairTrack.push(sorter.keys[k]);
      this.pairCount.push(sorter.values[k]);
    }
    ut.reset(15);
    this.segEvents.push(this.segEv);
    this.segEv = 0;
  }

  startUser(buf: Buffer, s: number, e: number): void {
    this.flushUser();
    this.prevUserLen = e - s;
    this.prevUser = Uint8Array.from(buf.subarray(s, e));
    this.segPairStart.push(this.pairTrack.n);
    this.segUser.push(buf.toString('utf8', s, e));
    this.segFirstLine.push(this.lines);
  }

  growCounts(id: number): Int32Array {
    let size = this.userCounts.length;
    while (size <= id) size *= 2;
    const bigger = new Int32Array(size);
    bigger.set(this.userCounts);
    this.userCounts = bigger;
    return bigger;
  }

  /** Records a malformed line; returns false when parsing must stop. */
  badLine(buf: Buffer, lineStart: number, field: string | null, detail: string, mode: 'error' | 'skip'): boolean {
    let e = lineStart;
    while (buf[e] !== 10) e++;
    const text = buf.toString('utf8', lineStart, e).slice(0, 200);
    if (mode === 'error') {
      this.error = { line: this.lines, field, detail, text };
      return false;
    }
    this.skipped++;
    if (this.skippedExamples.length < 5) this.skippedExamples.push(`line ${this.lines}: ${field ? `field "${field}": ` : ''}${detail}`);
    return true;
  }
}

/** Skips one field from p; returns the position of the TAB or line end that ends it. */
function fieldEnd(buf: Buffer, p: number): number {
  let c = buf[p];
  while (c !== 9 && c !== 10) c = buf[++p];
  return p;
}

/**
 * Scans the complete lines in buf[0 .. limit] (buf[limit] is a line end). Returns the position after the last line
 * handled, or -1 when a malformed line stopped the parse (st.error says which).
 *
 * Fixed-width fields take a shortcut when their shape is exact: a timestamp `YYYY-MM-DDTHH:MM:SSZ` and a
 * MusicBrainz id (36 characters with dashes at 8, 13, 18, 23) followed by a TAB are skipped without a byte loop;
 * anything else is scanned byte by byte.
 */
function scanLines(buf: Buffer, limit: number, st: RangeState, mode: 'error' | 'skip'): number {
  const userTable = st.userTable;
  let counts = st.userCounts;
  let prevUser = st.prevUser;
  let prevUserLen = st.prevUserLen;
  let lines = st.lines;
  let events = 0;
  let segEv = st.segEv;
  let p = 0;
  while (p <= limit) {
    const lineStart = p;
    lines++;
    // userid: usually the same bytes as the previous line's
    let same = prevUserLen > 0 && buf[p + prevUserLen] === 9;
    if (same) {
      for (let k = 0; k < prevUserLen; k++) {
        if (buf[p + k] !== prevUser[k]) {
          same = false;
          break;
        }
      }
    }
    let bad: string | null = null;
    let badField: string | null = null;
    if (same) p += prevUserLen + 1;
    else {
      p = fieldEnd(buf, p);
      if (buf[p] === 10) {
        bad = p === lineStart ? 'empty line (expected 6 tab-separated fields)' : 'missing: expected 6 tab-separated fields, found 1';
        badField = p === lineStart ? null : EVENT_FIELDS[1];
      } else if (p === lineStart) {
        bad = 'expected a user id, got an empty field';
        badField = EVENT_FIELDS[0];
      } else {
        st.segEv = segEv;
        st.lines = lines;
        st.startUser(buf, lineStart, p);
        segEv = 0;
        prevUser = st.prevUser;
        prevUserLen = st.prevUserLen;
        p++;
      }
    }
    let a0 = 0;
    let a1 = 0;
    let t0 = 0;
    let t1 = 0;
    let h = FNV_OFFSET;
    if (bad === null) {
      // timestamp
      if (buf[p + 20] === 9 && buf[p + 19] === 90 && buf[p + 10] === 84 && buf[p + 4] === 45 && buf[p + 13] === 58) p += 21;
      else {
        p = fieldEnd(buf, p);
        if (buf[p] === 10) {
          bad = 'missing: expected 6 tab-separated fields, found 2';
          badField = EVENT_FIELDS[2];
        } else p++;
      }
    }
    if (bad === null) {
      // artist MBID
      if (buf[p] === 9) p++;
      else if (buf[p + 36] === 9 && buf[p + 8] === 45 && buf[p + 13] === 45 && buf[p + 18] === 45 && buf[p + 23] === 45) p += 37;
      else {
        p = fieldEnd(buf, p);
        if (buf[p] === 10) {
          bad = 'missing: expected 6 tab-separated fields, found 3';
          badField = EVENT_FIELDS[3];
        } else p++;
      }
    }
    if (bad === null) {
      // artist name: hashed
      a0 = p;
      let c = buf[p];
      while (c !== 9 && c !== 10) {
        h = Math.imul(h ^ c, FNV_PRIME);
        c = buf[++p];
      }
      a1 = p;
      if (c === 10) {
        bad = 'missing: expected 6 tab-separated fields, found 4';
        badField = EVENT_FIELDS[4];
      } else p++;
    }
    if (bad === null) {
      // track MBID
      if (buf[p] === 9) p++;
      else if (buf[p + 36] === 9 && buf[p + 8] === 45 && buf[p + 13] === 45 && buf[p + 18] === 45 && buf[p + 23] === 45) p += 37;
      else {
        p = fieldEnd(buf, p);
        if (buf[p] === 10) {
          bad = 'missing: expected 6 tab-separated fields, found 5';
          badField = EVENT_FIELDS[5];
        } else p++;
      }
    }
    if (bad === null) {
      // track name: hashed after a TAB, so the hash equals that of the stored key `artist \t track`
      h = Math.imul(h ^ 9, FNV_PRIME);
      t0 = p;
      let c = buf[p];
      while (c !== 9 && c !== 10) {
        h = Math.imul(h ^ c, FNV_PRIME);
        c = buf[++p];
      }
      t1 = p;
      if (c === 9) {
        let n = 7;
        while (buf[++p] !== 10) if (buf[p] === 9) n++;
        bad = `expected 6 tab-separated fields, found ${n} (names must not contain tabs)`;
      } else if (t1 > t0 && buf[t1 - 1] === 13) {
        // CRLF line end: drop the CR from the key and hash again (rare).
        t1--;
        h = FNV_OFFSET;
        for (let q = a0; q < a1; q++) h = Math.imul(h ^ buf[q], FNV_PRIME);
        h = Math.imul(h ^ 9, FNV_PRIME);
        for (let q = t0; q < t1; q++) h = Math.imul(h ^ buf[q], FNV_PRIME);
      }
    }
    if (bad !== null) {
      st.lines = lines;
      if (!st.badLine(buf, lineStart, badField, bad, mode)) {
        st.segEv = segEv;
        st.events += events;
        return -1;
      }
      while (buf[p] !== 10) p++;
      p++;
      continue;
    }
    const id = userTable.lookup(fmix(h), buf, a0, a1, t0, t1);
    if (id >= counts.length) counts = st.growCounts(id);
    counts[id]++;
    segEv++;
    events++;
    p++; // past the line end
  }
  st.lines = lines;
  st.segEv = segEv;
  st.events += events;
  return p;
}

/** Parses the lines of bytes [start, end) of the file (start and end at line starts, or end = file size). */
export function parseRange(file: string, start: number, end: number, badLines: 'error' | 'skip', chunkBytes: number, onBytes?: (n: number) => void): PartialParse {
  const fd = fs.openSync(file, 'r');
  const st = new RangeState(end - start);
  let lastLineUnterminated = false;
  let buf = Buffer.allocUnsafe(Math.max(1 << 16, chunkBytes));
  let filled = 0;
  let filePos = start;
  try {
    for (;;) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const want = Math.min(buf.length - filled, end - filePos);
      const got = want > 0 ? fs.readSync(fd, buf, filled, want, filePos) : 0;
      filePos += got;
      filled += got;
      onBytes?.(got);
      const eof = filePos >= end || got === 0;
      let limit = filled > 0 ? buf.lastIndexOf(10, filled - 1) : -1;
      if (eof && filled > 0 && limit !== filled - 1) {
        // A last line without its line end: terminate it so the scanner can treat it like the others.
        lastLineUnterminated = true;
        if (filled === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length + 1);
          buf.copy(bigger, 0, 0, filled);
          buf = bigger;
        }
        buf[filled++] = 10;
        limit = filled - 1;
      }
      if (limit < 0) {
        if (eof) break;
        continue; // a line longer than the buffer: grow and read more
      }
      if (scanLines(buf, limit, st, badLines) < 0) break;
      // Keep the unfinished line for the next read.
      buf.copy(buf, 0, limit + 1, filled);
      filled -= limit + 1;
      if (eof) break;
    }
  } finally {
    fs.closeSync(fd);
  }
  st.flushUser();
  st.segPairStart.push(st.pairTrack.n);
  const keys = st.table.keys();
  return {
    nTracks: keys.count,
    arena: keys.bytes.slice(),
    offsets: keys.offsets.slice(),
    hashes: st.table.hashes.slice(0, keys.count),
    slots: st.table.slots,
    mask: st.table.mask,
    segUser: st.segUser,
    segFirstLine: st.segFirstLine,
    segEvents: st.segEvents,
    segPairStart: st.segPairStart.trimmed(),
    pairTrack: st.pairTrack.trimmed(),
    pairCount: st.pairCount.trimmed(),
    lines: st.lines,
    events: st.events,
    skipped: st.skipped,
    skippedExamples: st.skippedExamples,
    error: st.error,
    lastLineUnterminated,
  };
}
