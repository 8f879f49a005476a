/**
 * Last.fm-1K raw files. userid-profile.tsv (header `#id gender age country registered`, tab-separated) and the
 * events file userid-timestamp-artid-artname-traid-traname.tsv: tab-separated, UTF-8, NO quoting (names contain
 * quote characters), MusicBrainz ids often empty, so tracks are keyed by artist and track NAME.
 *
 * The events file (19 M lines, 2.4 GB) is read as bytes in fixed-size chunks: each line's fields are found by
 * scanning bytes, the (artist, track) key is hashed over its byte ranges and looked up in an open-addressing
 * table whose keys live in one byte arena, so a track's name is stored (and later decoded) once. Per user, counts
 * accumulate in a dense array and are flushed when the user changes (the file is grouped by user). Large files are
 * split at line boundaries across worker threads; their results are merged by looking each worker's distinct
 * tracks up in one global table, so the output does not depend on the number of threads.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { isUtf8 } from 'node:buffer';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { DataFormatError } from './datasets';

// ---------------------------------------------------------------- profiles

export interface LastfmProfile {
  id: string;
  gender: 'Male' | 'Female' | null;
  age: number | null;
  country: string | null;
  registered: string | null;
}

const PROFILE_FIELDS = ['id', 'gender', 'age', 'country', 'registered'];

export function parseLastfmProfiles(file: string, data: Buffer = fs.readFileSync(file)): LastfmProfile[] {
  const text = data.toString('utf8');
  if (text.length === 0) throw new DataFormatError(file, null, null, `the file is empty (expected the header #${PROFILE_FIELDS.join('\\t')} and one line per user)`);
  const lastHasNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (lastHasNewline) lines.pop();
  const out: LastfmProfile[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    const hint = i === lines.length - 1 && !lastHasNewline ? ' (the last line has no line end: the file may be truncated)' : '';
    if (i === 0 && line.startsWith('#')) {
      const header = line.slice(1).split('\t');
      if (header.length !== 5 || header[0] !== 'id') {
        throw new DataFormatError(file, 1, null, `expected the header "#id\\tgender\\tage\\tcountry\\tregistered" (tab-separated), got ${JSON.stringify(line.slice(0, 80))}`);
      }
      continue;
    }
    if (line === '') throw new DataFormatError(file, lineNo, null, `empty line (expected id\\tgender\\tage\\tcountry\\tregistered)${hint}`);
    const f = line.split('\t');
    if (f.length < 5) {
      const sep = f.length === 1 && line.includes(',') ? ', found comma-separated text (expected tabs)' : '';
      throw new DataFormatError(file, lineNo, PROFILE_FIELDS[f.length], `missing: expected 5 tab-separated fields, found ${f.length}${sep}${hint}`);
    }
    if (f.length > 5) throw new DataFormatError(file, lineNo, null, `expected 5 tab-separated fields, found ${f.length}`);
    const [id, g, age, country, registered] = f;
    if (id === '') throw new DataFormatError(file, lineNo, 'id', 'expected a user id, got an empty field');
    if (seen.has(id)) throw new DataFormatError(file, lineNo, 'id', `user ${id} appears twice`);
    seen.add(id);
    if (g !== 'm' && g !== 'f' && g !== '') throw new DataFormatError(file, lineNo, 'gender', `expected "m", "f" or empty, got ${JSON.stringify(g)}`);
    if (age !== '' && !/^\d+$/.test(age)) throw new DataFormatError(file, lineNo, 'age', `expected a whole number or empty, got ${JSON.stringify(age)}`);
    out.push({
      id,
      gender: g === 'm' ? 'Male' : g === 'f' ? 'Female' : null,
      age: age === '' ? null : Number(age),
      country: country.trim() === '' ? null : country.trim(),
      registered: registered === '' ? null : registered,
    });
  }
  return out;
}

// ---------------------------------------------------------------- events: shared types

export const EVENT_FIELDS = ['userid', 'timestamp', 'musicbrainz-artist-id', 'artist-name', 'musicbrainz-track-id', 'track-name'];

export interface ParseEventsOptions {
  /** Worker threads; default: several for files over 64 MB, else parse in this thread. */
  threads?: number;
  /** 'error' (default) stops at the first malformed line; 'skip' counts and skips malformed lines. */
  badLines?: 'error' | 'skip';
  /** Called with the bytes read so far (for progress). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  chunkBytes?: number;
  /**
   * Also compute the sha1 prefixes of all track keys (LastfmEvents.sha1Prefixes), the tracks of the first range in
   * a thread of their own while the ranges are merged: they are the item ids, and the merge leaves a core idle.
   */
  sha1Prefixes?: boolean;
}

/** Distinct tracks: key bytes `artist \t track` (UTF-8) of track t are bytes[offsets[t] .. offsets[t+1]). */
export interface TrackKeys {
  count: number;
  bytes: Uint8Array;
  offsets: Int32Array;
}

export interface LastfmEvents {
  file: string;
  /** Distinct user ids in order of first appearance. */
  users: string[];
  /** Listening events (lines) per user. */
  userEvents: number[];
  /** Line number of each user's first event (for error messages). */
  userFirstLine: number[];
  /** Per user: distinct track ids ascending (ids are in order of first appearance in the file), and events per track. */
  userTracks: Int32Array[];
  userCounts: Int32Array[];
  tracks: TrackKeys;
  lines: number;
  events: number;
  skipped: { lines: number; examples: string[] };
  /** With ParseEventsOptions.sha1Prefixes: the first 64 bits of sha1 of each track's key, two words per track. */
  sha1Prefixes?: Int32Array;
}

/** Artist and track names of a track. */
export function trackNames(tracks: TrackKeys, t: number): { artist: string; track: string } {
  const s = tracks.offsets[t];
  const e = tracks.offsets[t + 1];
  let tab = s;
  while (tracks.bytes[tab] !== 9) tab++;
  const buf = Buffer.isBuffer(tracks.bytes) ? tracks.bytes : Buffer.from(tracks.bytes.buffer, tracks.bytes.byteOffset, tracks.bytes.byteLength);
  return { artist: buf.toString('utf8', s, tab), track: buf.toString('utf8', tab + 1, e) };
}

/**
 * "Track - Artist" decoded in one piece from the key bytes (one flat string, not a concatenation of two),
 * which keeps a million item names compact in memory.
 */
export function trackDisplayName(tracks: TrackKeys, t: number): string {
  const s = tracks.offsets[t];
  const e = tracks.offsets[t + 1];
  let tab = s;
  while (tracks.bytes[tab] !== 9) tab++;
  const trackLen = e - tab - 1;
  const artistLen = tab - s;
  const need = trackLen + 3 + artistLen;
  if (displayScratch.length < need) displayScratch = Buffer.allocUnsafe(Math.max(need, displayScratch.length * 2));
  const bytes = tracks.bytes;
  for (let i = tab + 1, o = 0; i < e; i++, o++) displayScratch[o] = bytes[i];
  displayScratch[trackLen] = 32; // ' - '
  displayScratch[trackLen + 1] = 45;
  displayScratch[trackLen + 2] = 32;
  for (let i = s, o = trackLen + 3; i < tab; i++, o++) displayScratch[o] = bytes[i];
  return displayScratch.toString('utf8', 0, need);
}
let displayScratch = Buffer.allocUnsafe(1024);

/** The stable item id of a track: the first 16 hex digits of sha1("artist\ttrack"). */
export function lastfmTrackId(artist: string, track: string): string {
  return crypto.createHash('sha1').update(`${artist}\t${track}`, 'utf8').digest('hex').slice(0, 16);
}

/** One-shot crypto.hash (Node >= 20.12) avoids a Hash object per call: about 3x faster for a million short keys. */
const oneShotHash = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'hex') => string }).hash;

/**
 * Same as lastfmTrackId, straight from the key bytes. The 16 digits are copied out through a small buffer: a
 * `slice` of the 40-digit string would keep the whole digest alive (about 55 MB more for a million tracks).
 */
export function trackIdFromKeys(tracks: TrackKeys, t: number): string {
  const key = tracks.bytes.subarray(tracks.offsets[t], tracks.offsets[t + 1]);
  const hex = oneShotHash ? oneShotHash('sha1', key, 'hex') : crypto.createHash('sha1').update(key).digest('hex');
  idScratch.write(hex, 0, 16, 'latin1');
  return idScratch.toString('latin1', 0, 16);
}
const idScratch = Buffer.alloc(16);

/**
 * Item ids and display names of many tracks at once (equal to trackIdFromKeys and trackDisplayName of each).
 * The sha1 runs in JavaScript straight on the key bytes (one or two 64-byte blocks per key: a native call per
 * key costs more than the hash), the ids are slices of one string of hex digits, and names are decoded from one
 * buffer of "Track - Artist" bytes in groups, instead of a decoder call per track. idKeys[k] is the number
 * parseInt(ids[k].slice(0, 13), 16) (the first 52 bits), for a fast check that the ids are distinct.
 */
export function trackItemFields(tracks: TrackKeys, order: ArrayLike<number>, sha1Prefixes?: Int32Array): { ids: string[]; names: string[]; idKeys: Float64Array } {
  const n = order.length;
  const { bytes, offsets } = tracks;
  const hex = Buffer.allocUnsafe(16 * n);
  const idKeys = new Float64Array(n);
  const sha = new Sha1Prefix();
  for (let k = 0; k < n; k++) {
    const t = order[k];
    let h0: number;
    let h1: number;
    if (sha1Prefixes) {
      h0 = sha1Prefixes[2 * t];
      h1 = sha1Prefixes[2 * t + 1];
    } else {
      sha.hash(bytes, offsets[t], offsets[t + 1]);
      h0 = sha.h0;
      h1 = sha.h1;
    }
    idKeys[k] = (h0 >>> 0) * 0x100000 + (h1 >>> 12);
    writeHex8(hex, 16 * k, h0);
    writeHex8(hex, 16 * k + 8, h1);
  }
  const hexText = hex.toString('latin1');
  const ids: string[] = new Array(n);
  for (let k = 0; k < n; k++) ids[k] = hexText.slice(16 * k, 16 * k + 16);
  return { ids, names: displayNames(tracks, order), idKeys };
}

/** The first 64 bits of sha1 of the keys of tracks [from, to), two words per track, into out from out[2 * from]. */
function sha1PrefixesOf(bytes: Uint8Array, offsets: Int32Array, from: number, to: number, out: Int32Array): void {
  const sha = new Sha1Prefix();
  for (let t = from; t < to; t++) {
    sha.hash(bytes, offsets[t], offsets[t + 1]);
    out[2 * t] = sha.h0;
    out[2 * t + 1] = sha.h1;
  }
}

const HEX_DIGITS = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

function writeHex8(out: Uint8Array, at: number, word: number): void {
  for (let i = 7; i >= 0; i--) {
    out[at + i] = HEX_DIGITS[word & 15];
    word >>>= 4;
  }
}

/** SHA-1 of short byte ranges, keeping the first 64 bits of the digest (h0, h1). */
class Sha1Prefix {
  h0 = 0;
  h1 = 0;
  private w = new Int32Array(80);
  private block = new Uint8Array(128);

  hash(src: Uint8Array, s: number, e: number): void {
    const len = e - s;
    const total = (((len + 8) >>> 6) + 1) << 6;
    if (this.block.length < total) this.block = new Uint8Array(total * 2);
    const b = this.block;
    for (let i = 0; i < len; i++) b[i] = src[s + i];
    b[len] = 0x80;
    for (let i = len + 1; i < total - 4; i++) b[i] = 0;
    const bits = len * 8;
    b[total - 8] = 0;
    b[total - 7] = 0;
    b[total - 6] = 0;
    b[total - 5] = (bits / 0x100000000) & 255;
    b[total - 4] = bits >>> 24;
    b[total - 3] = (bits >>> 16) & 255;
    b[total - 2] = (bits >>> 8) & 255;
    b[total - 1] = bits & 255;
    const w = this.w;
    let h0 = 0x67452301;
    let h1 = 0xefcdab89 | 0;
    let h2 = 0x98badcfe | 0;
    let h3 = 0x10325476;
    let h4 = 0xc3d2e1f0 | 0;
    for (let off = 0; off < total; off += 64) {
      for (let t = 0; t < 16; t++) {
        const q = off + 4 * t;
        w[t] = (b[q] << 24) | (b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3];
      }
      for (let t = 16; t < 80; t++) {
        const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
        w[t] = (x << 1) | (x >>> 31);
      }
      let a = h0;
      let bb = h1;
      let c = h2;
      let d = h3;
      let ee = h4;
      for (let t = 0; t < 20; t++) {
        const tmp = (((a << 5) | (a >>> 27)) + ((bb & c) | (~bb & d)) + ee + 0x5a827999 + w[t]) | 0;
        ee = d;
        d = c;
        c = (bb << 30) | (bb >>> 2);
        bb = a;
        a = tmp;
      }
      for (let t = 20; t < 40; t++) {
        const tmp = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + ee + 0x6ed9eba1 + w[t]) | 0;
        ee = d;
        d = c;
        c = (bb << 30) | (bb >>> 2);
        bb = a;
        a = tmp;
      }
      for (let t = 40; t < 60; t++) {
        const tmp = (((a << 5) | (a >>> 27)) + ((bb & c) | (bb & d) | (c & d)) + ee + (0x8f1bbcdc | 0) + w[t]) | 0;
        ee = d;
        d = c;
        c = (bb << 30) | (bb >>> 2);
        bb = a;
        a = tmp;
      }
      for (let t = 60; t < 80; t++) {
        const tmp = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + ee + (0xca62c1d6 | 0) + w[t]) | 0;
        ee = d;
        d = c;
        c = (bb << 30) | (bb >>> 2);
        bb = a;
        a = tmp;
      }
      h0 = (h0 + a) | 0;
      h1 = (h1 + bb) | 0;
      h2 = (h2 + c) | 0;
      h3 = (h3 + d) | 0;
      h4 = (h4 + ee) | 0;
    }
    this.h0 = h0;
    this.h1 = h1;
  }
}

/** Names decoded per group of this many tracks; a group with bytes that are not clean UTF-8 is decoded name by name. */
const NAME_GROUP = 4096;

/**
 * trackDisplayName of each track in `order`. A group's "Track - Artist" bytes are decoded in one call and cut by
 * UTF-16 lengths counted from the bytes; that is exact when the group is valid UTF-8 and no name starts with a
 * continuation byte (then every name is whole characters), which is checked, else names are decoded one by one.
 */
function displayNames(tracks: TrackKeys, order: ArrayLike<number>): string[] {
  const n = order.length;
  const { bytes, offsets } = tracks;
  const names: string[] = new Array(n);
  let scratch = Buffer.allocUnsafe(1 << 20);
  const nameEnd = new Int32Array(NAME_GROUP);
  for (let g0 = 0; g0 < n; g0 += NAME_GROUP) {
    const g1 = Math.min(n, g0 + NAME_GROUP);
    let need = 0;
    for (let k = g0; k < g1; k++) need += offsets[order[k] + 1] - offsets[order[k]] + 2;
    if (scratch.length < need) scratch = Buffer.allocUnsafe(need * 2);
    let o = 0;
    let clean = true;
    for (let k = g0; k < g1; k++) {
      const t = order[k];
      const s = offsets[t];
      const e = offsets[t + 1];
      let tab = s;
      while (bytes[tab] !== 9) tab++;
      if ((bytes[tab + 1] & 0xc0) === 0x80 || (bytes[s] & 0xc0) === 0x80) clean = false;
      for (let i = tab + 1; i < e; i++) scratch[o++] = bytes[i];
      scratch[o++] = 32;
      scratch[o++] = 45;
      scratch[o++] = 32;
      for (let i = s; i < tab; i++) scratch[o++] = bytes[i];
      nameEnd[k - g0] = o;
    }
    if (clean && isUtf8(scratch.subarray(0, o))) {
      const text = scratch.toString('utf8', 0, o);
      let b = 0;
      let c = 0;
      for (let k = g0; k < g1; k++) {
        const end = nameEnd[k - g0];
        let units = 0;
        for (; b < end; b++) {
          const x = scratch[b];
          if ((x & 0xc0) !== 0x80) units += x >= 0xf0 ? 2 : 1;
        }
        names[k] = text.slice(c, c + units);
        c += units;
      }
    } else {
      for (let k = g0; k < g1; k++) names[k] = trackDisplayName(tracks, order[k]);
    }
  }
  return names;
}

/** What the prompt shows for a track: "Track - Artist". */
export function lastfmDisplayName(artist: string, track: string): string {
  return `${track} - ${artist}`;
}

// ---------------------------------------------------------------- the byte-level range parser

interface BadLine {
  line: number;
  field: string | null;
  detail: string;
  text: string;
}

/** What one thread produces for its byte range; track ids are local to the range. */
interface PartialParse {
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

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 16777619;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * Open-addressing table of distinct track keys over a growable byte arena. A slot holds the key's hash, id, arena
 * offset and length together (16 bytes, one cache line), so a probe costs one memory access before the key bytes
 * are compared. Lookups on this table are bound by memory latency, not by computation.
 */
class TrackTable {
  arena = new Uint8Array(1 << 16);
  arenaLen = 0;
  offsets = new Int32Array(1 << 12);
  hashes = new Int32Array(1 << 12);
  n = 0;
  /** slots[4i] = hash, [4i+1] = id + 1 (0 = empty), [4i+2] = arena offset, [4i+3] = key length. */
  slots: Int32Array;
  mask: number;
  /** The slot of each id, so a table reused per user can be emptied in O(entries). */
  private slotOf = new Int32Array(1 << 12);
  /** Written by prefetch() so the engine cannot drop its loads. */
  sink = 0;

  constructor(slotsLog2 = 17) {
    this.slots = new Int32Array(4 << slotsLog2);
    this.mask = (1 << slotsLog2) - 1;
  }

  /** A table over the keys and slots another thread built (the first range's), ready for more lookups. */
  static adopt(part: { nTracks: number; arena: Uint8Array; offsets: Int32Array; hashes: Int32Array; slots: Int32Array; mask: number }): TrackTable {
    const t = new TrackTable(1);
    t.arena = part.arena;
    t.arenaLen = part.offsets[part.nTracks];
    t.offsets = part.offsets;
    t.hashes = part.hashes;
    t.n = part.nTracks;
    t.slots = part.slots;
    t.mask = part.mask;
    t.slotOf = new Int32Array(part.offsets.length); // only reset() reads it, and the merged table is never reset
    return t;
  }

  /**
   * Empties the table. It keeps its memory unless it grew past `maxSlotsLog2` (for one heavy user), so the next,
   * typical user works in a table small enough for the CPU cache.
   */
  reset(maxSlotsLog2 = 30): void {
    if (this.mask + 1 > 1 << maxSlotsLog2) {
      this.slots = new Int32Array(4 << maxSlotsLog2);
      this.mask = (1 << maxSlotsLog2) - 1;
    } else for (let id = 0; id < this.n; id++) this.slots[4 * this.slotOf[id] + 1] = 0;
    this.n = 0;
    this.arenaLen = 0;
  }

  /** Finds or inserts the key made of bytes [a0,a1) + TAB + [t0,t1) of `src`; returns its id. */
  lookup(h: number, src: Uint8Array, a0: number, a1: number, t0: number, t1: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const keyLen = a1 - a0 + 1 + (t1 - t0);
    let i = h & mask;
    for (;;) {
      const q = 4 * i;
      const id1 = slots[q + 1];
      if (id1 === 0) break;
      if (slots[q] === h && slots[q + 3] === keyLen) {
        const arena = this.arena;
        let o = slots[q + 2];
        let same = true;
        for (let p = a0; p < a1; p++) {
          if (arena[o++] !== src[p]) {
            same = false;
            break;
          }
        }
        if (same && arena[o++] === 9) {
          for (let p = t0; p < t1; p++) {
            if (arena[o++] !== src[p]) {
              same = false;
              break;
            }
          }
          if (same) return id1 - 1;
        }
      }
      i = (i + 1) & mask;
    }
    // Insert: key bytes into the arena, then the slot.
    this.reserve(keyLen);
    const arena = this.arena;
    const start = this.arenaLen;
    let o = start;
    for (let p = a0; p < a1; p++) arena[o++] = src[p];
    arena[o++] = 9;
    for (let p = t0; p < t1; p++) arena[o++] = src[p];
    return this.place(i, h, start, keyLen);
  }

  /** Finds or inserts a contiguous key src[s, e). */
  lookupContiguous(h: number, src: Uint8Array, s: number, e: number): number {
    const slots = this.slots;
    const mask = this.mask;
    const len = e - s;
    let i = h & mask;
    for (;;) {
      const q = 4 * i;
      const id1 = slots[q + 1];
      if (id1 === 0) break;
      if (slots[q] === h && slots[q + 3] === len) {
        const arena = this.arena;
        const o = slots[q + 2] - s;
        let k = s;
        while (k < e && arena[o + k] === src[k]) k++;
        if (k === e) return id1 - 1;
      }
      i = (i + 1) & mask;
    }
    this.reserve(len);
    const arena = this.arena;
    const start = this.arenaLen;
    for (let k = s, o = start; k < e; k++, o++) arena[o] = src[k];
    return this.place(i, h, start, len);
  }

  /**
   * Touches the home slots (and the first candidate's key bytes) of a batch of hashes before they are looked up,
   * so the CPU overlaps their cache misses instead of waiting for each in turn.
   */
  prefetch(hashes: Int32Array, from: number, to: number): void {
    const slots = this.slots;
    const mask = this.mask;
    let sink = 0;
    for (let k = from; k < to; k++) sink += slots[4 * (hashes[k] & mask) + 2];
    for (let k = from; k < to; k++) {
      const q = 4 * (hashes[k] & mask);
      if (slots[q + 1] !== 0) sink += this.arena[slots[q + 2]];
    }
    this.sink = sink;
  }

  private place(i: number, h: number, start: number, len: number): number {
    const id = this.n++;
    this.arenaLen = start + len;
    this.offsets[id] = start;
    this.offsets[id + 1] = start + len;
    this.hashes[id] = h;
    this.slotOf[id] = i;
    const q = 4 * i;
    this.slots[q] = h;
    this.slots[q + 1] = id + 1;
    this.slots[q + 2] = start;
    this.slots[q + 3] = len;
    if (this.n * 2 > this.mask) this.rehash();
    return id;
  }

  private reserve(keyLen: number): void {
    if (this.arenaLen + keyLen > this.arena.length) {
      let size = this.arena.length * 2;
      while (size < this.arenaLen + keyLen) size *= 2;
      const a = new Uint8Array(size);
      a.set(this.arena.subarray(0, this.arenaLen));
      this.arena = a;
    }
    if (this.n + 2 > this.offsets.length) {
      const grow = (x: Int32Array) => {
        const y = new Int32Array(x.length * 2);
        y.set(x);
        return y;
      };
      this.offsets = grow(this.offsets);
      this.hashes = grow(this.hashes);
      this.slotOf = grow(this.slotOf);
    }
  }

  private rehash(): void {
    const size = (this.mask + 1) * 2;
    const slots = new Int32Array(4 * size);
    const mask = size - 1;
    for (let id = 0; id < this.n; id++) {
      const h = this.hashes[id];
      let i = h & mask;
      while (slots[4 * i + 1] !== 0) i = (i + 1) & mask;
      const q = 4 * i;
      slots[q] = h;
      slots[q + 1] = id + 1;
      slots[q + 2] = this.offsets[id];
      slots[q + 3] = this.offsets[id + 1] - this.offsets[id];
      this.slotOf[id] = i;
    }
    this.slots = slots;
    this.mask = mask;
  }

  keys(): TrackKeys {
    return { count: this.n, bytes: this.arena.subarray(0, this.arenaLen), offsets: this.offsets.subarray(0, this.n + 1) };
  }
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

/** LSD radix sort of non-negative int keys (with a value carried along), 11 bits a pass. */
class PairSorter {
  keys = new Int32Array(1 << 12);
  values = new Int32Array(1 << 12);
  private tmpKeys = new Int32Array(1 << 12);
  private tmpValues = new Int32Array(1 << 12);
  private readonly count = new Int32Array(2048);

  reserve(n: number): void {
    if (this.keys.length >= n) return;
    const size = Math.max(n, this.keys.length * 2);
    this.keys = new Int32Array(size);
    this.values = new Int32Array(size);
    this.tmpKeys = new Int32Array(size);
    this.tmpValues = new Int32Array(size);
  }

  /** Sorts keys[0..n) (each < 2^bits) ascending, stable, permuting values alike; the result is in keys/values. */
  sort(n: number, bits: number): void {
    const count = this.count;
    for (let shift = 0; shift < bits; shift += 11) {
      const { keys, values, tmpKeys, tmpValues } = this;
      count.fill(0);
      for (let k = 0; k < n; k++) count[(keys[k] >>> shift) & 2047]++;
      let sum = 0;
      for (let b = 0; b < 2048; b++) {
        const c = count[b];
        count[b] = sum;
        sum += c;
      }
      for (let k = 0; k < n; k++) {
        const d = count[(keys[k] >>> shift) & 2047]++;
        tmpKeys[d] = keys[k];
        tmpValues[d] = values[k];
      }
      this.keys = tmpKeys;
      this.values = tmpValues;
      this.tmpKeys = keys;
      this.tmpValues = values;
    }
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
function parseRange(file: string, start: number, end: number, badLines: 'error' | 'skip', chunkBytes: number, onBytes?: (n: number) => void): PartialParse {
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

// ---------------------------------------------------------------- splitting, threads, merging

/** Byte offsets that split the file into `parts` ranges starting at line starts. */
function splitPoints(file: string, size: number, parts: number): number[] {
  const points = [0];
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

interface WorkerJob {
  ubpLastfmParse: { file: string; start: number; end: number; badLines: 'error' | 'skip'; chunkBytes: number };
}

interface Sha1Job {
  ubpLastfmSha1: { bytes: Uint8Array; offsets: Int32Array; count: number };
}

function startWorker(data: WorkerJob | Sha1Job): Worker {
  // Run from TypeScript source (tsx, tests), the worker must register tsx itself: workers do not inherit its loader.
  return __filename.endsWith('.ts')
    ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(__filename)});`, { eval: true, workerData: data })
    : new Worker(__filename, { workerData: data });
}

/** sha1 prefixes of the first `count` tracks of a key arena, computed in a worker thread (the arena is copied to it). */
function sha1PrefixesInWorker(bytes: Uint8Array, offsets: Int32Array, count: number): Promise<Int32Array> {
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

function runInWorker(job: WorkerJob['ubpLastfmParse'], onBytes: (n: number) => void): Promise<PartialParse> {
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
  const points = threads > 1 ? splitPoints(file, size, threads) : [0, size];
  let partials: PartialParse[];
  if (points.length <= 2) partials = [parseRange(file, 0, size, badLines, chunkBytes, onBytes)];
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

// Worker entry: last in the module, so every class above is initialised before a range is parsed.
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
