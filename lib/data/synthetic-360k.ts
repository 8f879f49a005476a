/**
 * The synthetic Last.fm-360K files (the generator of synthetic.ts for domain "lastfm-360k"), apart because of its
 * size: the profiles and each user's top artists with play counts, at any size up to the real 17.6 M rows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeRng, deriveSeed, type Rng } from '../core/rng';
import { regionOfCountry } from './regions';
import { COUNTRIES, ChunkWriter, MONTHS, artistName, heavyTailedSplit, hexId, normal, pick, weightedPicker, type SyntheticOptions } from './synthetic-parts';

/** The real file's size: 359,347 users, 17,559,530 (user, artist) rows, 186,642 + 107,373 artists. */
export const FULL_LASTFM_360K: Omit<SyntheticOptions, 'onProgress'> = {
  domain: 'lastfm-360k',
  users: 359_347,
  items: 294_015,
  interactions: 17_559_530,
  seed: 'bench-lastfm-360k-full',
};

function sha1Like(rng: Rng): string {
  let s = '';
  for (let i = 0; i < 40; i++) s += Math.floor(rng() * 16).toString(16);
  return s;
}

/**
 * Last.fm-360K: usersha1-profile.tsv (sha1, gender, age as "22.0" with a few impossible ages, country, signup) and
 * usersha1-artmbid-artname-plays.tsv (each user's distinct top artists, plays descending). Artists are items,
 * named uniquely (items are keyed by name); a third have no MusicBrainz id, as in the real file.
 */
export function generateLastfm360k(dir: string, opts: SyntheticOptions): { files: string[] } {
  const out = path.join(dir, 'lastfm-360k');
  fs.mkdirSync(out, { recursive: true });
  const rng = makeRng(deriveSeed(opts.seed, 'synthetic', 'lastfm-360k'));
  const U = opts.users;
  const A = opts.items;
  const clusters = Math.max(2, Math.min(32, Math.floor(A / 8)));
  const pickCountry = weightedPicker(COUNTRIES);
  const profileFile = path.join(out, 'usersha1-profile.tsv');
  const pw = new ChunkWriter(profileFile);
  const users: { id: string; gender: string; country: string }[] = new Array(U);
  for (let i = 0; i < U; i++) {
    const g = rng();
    const gender = g < 0.55 ? 'm' : g < 0.82 ? 'f' : '';
    const country = pickCountry(rng);
    const r = rng();
    const age = r < 0.2 ? '' : r < 0.21 ? String(-1337 + Math.floor(rng() * 1400)) + '.0' : `${14 + Math.floor(Math.abs(normal(rng)) * 9 + rng() * 6)}.0`;
    const signup = `${pick(rng, MONTHS)} ${1 + Math.floor(rng() * 28)}, ${2002 + Math.floor(rng() * 8)}`;
    const id = sha1Like(rng);
    users[i] = { id, gender, country };
    pw.write(Buffer.from(`${id}\t${gender}\t${age}\t${country}\t${signup}\n`, 'utf8'));
  }
  pw.close();
  // Artists: line tails "\tmbid\tname\t" stored once; popularity order global and per cluster.
  const tails: Buffer[] = new Array(A);
  const names = new Set<string>();
  for (let a = 0; a < A; a++) {
    // Names are the item ids, so a repeated name takes the artist's number.
    let name = artistName(rng, a).toLowerCase();
    if (names.has(name)) name = `${name} ${a.toString(36)}`;
    names.add(name);
    tails[a] = Buffer.from(`\t${rng() < 0.365 ? '' : hexId(rng)}\t${name}\t`, 'utf8');
  }
  const order = new Int32Array(A);
  for (let i = 0; i < A; i++) order[i] = i;
  for (let i = A - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  const byCluster: number[][] = Array.from({ length: clusters }, () => []);
  for (let i = 0; i < A; i++) byCluster[order[i] % clusters].push(order[i]);
  const favourite = (label: string) => {
    let h = 0;
    for (const ch of deriveSeed(opts.seed, 'taste', label)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return byCluster[h % clusters];
  };
  const perUser = heavyTailedSplit(rng, U, opts.interactions, 1, 0.25).map((n) => Math.min(n, A));
  const playsFile = path.join(out, 'usersha1-artmbid-artname-plays.tsv');
  const w = new ChunkWriter(playsFile);
  const taken = new Int32Array(A).fill(-1);
  const picks = new Int32Array(A);
  let written = 0;
  let nextReport = 1 << 20;
  for (let ui = 0; ui < U; ui++) {
    const u = users[ui];
    const favA = favourite(`region:${regionOfCountry(u.country) ?? 'none'}`);
    const favB = favourite(`gender:${u.gender}`);
    const n = perUser[ui];
    let k = 0;
    for (let tries = 0; k < n; tries++) {
      const r = rng();
      let a: number;
      if (tries > 50 * n) a = Math.floor(rng() * A);
      else if (r < 0.55) {
        const pool = rng() < 0.5 ? favA : favB;
        a = pool[Math.floor(pool.length * rng() ** 3)];
      } else if (r < 0.85) a = order[Math.floor(A * rng() ** 4)];
      else a = Math.floor(rng() * A);
      if (taken[a] === ui) continue;
      taken[a] = ui;
      picks[k++] = a;
    }
    const head = Buffer.from(u.id, 'latin1');
    let plays = 200 + Math.floor(rng() * 3000);
    for (let j = 0; j < n; j++) {
      const tail = tails[picks[j]];
      w.write(head);
      w.write(tail);
      w.write(Buffer.from(`${plays}\n`, 'latin1'));
      plays = Math.max(1, Math.floor(plays * (0.8 + rng() * 0.18)));
      if (++written >= nextReport) {
        nextReport += 1 << 20;
        opts.onProgress?.(written, opts.interactions);
      }
    }
  }
  w.close();
  opts.onProgress?.(written, opts.interactions);
  return { files: [profileFile, playsFile] };
}
