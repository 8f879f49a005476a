/**
 * A track's item id (the first 16 hex digits of sha1 of its key `artist \t track`) and display name
 * ("Track - Artist"), for one track or for a million at once straight from the key arena.
 */
import { hashHex } from '../../core/hash';
import { isUtf8 } from 'node:buffer';
import { Sha1Prefix } from './sha1-prefix';
import type { TrackKeys } from './types';

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
  return hashHex('sha1', `${artist}\t${track}`).slice(0, 16);
}

/**
 * Same as lastfmTrackId, straight from the key bytes. The 16 digits are copied out through a small buffer: a
 * `slice` of the 40-digit string would keep the whole digest alive (about 55 MB more for a million tracks).
 */
export function trackIdFromKeys(tracks: TrackKeys, t: number): string {
  const key = tracks.bytes.subarray(tracks.offsets[t], tracks.offsets[t + 1]);
  const hex = hashHex('sha1', key);
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
export function sha1PrefixesOf(bytes: Uint8Array, offsets: Int32Array, from: number, to: number, out: Int32Array): void {
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
