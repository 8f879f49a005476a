/**
 * The track-key hash (FNV-1a over the key bytes, finished by fmix) and the open-addressing table of distinct
 * track keys.
 */
import type { TrackKeys } from './types';

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 16777619;

export function fmix(h: number): number {
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
export class TrackTable {
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
