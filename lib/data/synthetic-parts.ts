/**
 * What the synthetic generators share (synthetic.ts, synthetic-360k.ts): the options, seeded draws, word lists and
 * names, the country weights and a chunked byte writer.
 */
import * as fs from 'node:fs';
import type { DomainName } from '../core/config';
import type { Rng } from '../core/rng';

export interface SyntheticOptions {
  domain: DomainName;
  users: number;
  /** Movies, or distinct tracks in the Last.fm catalogue. */
  items: number;
  /** Ratings, or listening events. */
  interactions: number;
  seed: number | string;
  /** MovieLens: write ratings.dat.gz instead of ratings.dat. */
  gzip?: boolean;
  /** MovieLens: write the Timestamp field (default true). */
  timestamps?: boolean;
  /** Last.fm: number of artists (default items / 10). */
  artists?: number;
  /** Last.fm: share of artists / tracks whose MusicBrainz id is empty. */
  emptyArtistMbidRate?: number;
  emptyTrackMbidRate?: number;
  /** Called with the number of interactions written so far. */
  onProgress?: (written: number, total: number) => void;
}

// ---------------------------------------------------------------- small helpers

export const WORDS = (
  'love night heart time life world day dream fire light rain road home river star girl boy blue black white red gold ' +
  'summer winter city sky sea wild last first lost young old sweet cold dark bright falling running broken ' +
  'secret silent golden electric midnight paper glass stone silver velvet desert ocean thunder shadow angel devil ' +
  'dance song story game kiss ghost moon sun wind train hotel garden island machine letter mirror window friday ' +
  'sunday heaven echo signal radio circus wolf tiger horse crown empire kingdom valley mountain street avenue'
).split(' ');
/** Latin-1 words: MovieLens titles carry bytes above 0x7F (é, ö, å, ñ ...). */
export const LATIN1_WORDS = ['Café', 'Misérables', 'Amélie', 'Kådisbellan', 'Huitième', 'Señor', 'Garçon', 'Über', 'Noël', 'Fräulein', 'Coeur', 'Jalousie', 'Été'];
/** UTF-8 names for Last.fm: accents, other scripts, quote characters. */
export const UTF8_ARTISTS = ['Björk', 'Sigur Rós', 'Mötley Crüe', 'Beyoncé', 'Ólafur Arnalds', '坂本龍一', 'Кино', 'Daft Punk', 'Guns N\' Roses', 'The "Dead" Weather', 'Rökkurró', 'Dr. Dre'];
export const TITLE_ARTICLES = ['The', 'A', 'Les', 'La', 'El'];
export const GENRES = ['Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western'];

export function pick<T>(rng: Rng, a: readonly T[]): T {
  return a[Math.floor(rng() * a.length)];
}

export function capital(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

/** Standard normal (Box-Muller). */
export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Splits `total` into parts proportional to heavy-tailed weights, each at least `min`, summing to exactly `total`. */
export function heavyTailedSplit(rng: Rng, parts: number, total: number, min: number, sigma: number): number[] {
  const w = Array.from({ length: parts }, () => Math.exp(sigma * normal(rng)));
  const sumW = w.reduce((a, b) => a + b, 0);
  const free = Math.max(0, total - min * parts);
  const out = w.map((x) => min + Math.floor((free * x) / sumW));
  let rest = total - out.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i = (i + 1) % parts, rest--) out[i]++;
  return out;
}

export function hexId(rng: Rng): string {
  let s = '';
  for (let i = 0; i < 32; i++) s += Math.floor(rng() * 16).toString(16);
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Writes bytes to a file through a fixed buffer, so huge outputs stream to disk. */
export class ChunkWriter {
  private fd: number;
  buf: Buffer;
  pos = 0;
  constructor(file: string, size = 8 << 20) {
    this.fd = fs.openSync(file, 'w');
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }
  write(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  flush(): void {
    if (this.pos > 0) fs.writeSync(this.fd, this.buf, 0, this.pos);
    this.pos = 0;
  }
  close(): void {
    this.flush();
    fs.closeSync(this.fd);
  }
}



/** Country names as Last.fm spells them, with rough shares of the real profile file ('' = not given). */
export const COUNTRIES: [string, number][] = [
  ['United States', 23],
  ['United Kingdom', 13],
  ['', 8.5],
  ['Poland', 5],
  ['Germany', 3.6],
  ['Norway', 3.5],
  ['Finland', 3.2],
  ['Canada', 3.2],
  ['Turkey', 2.8],
  ['Italy', 2.7],
  ['Sweden', 2.4],
  ['Netherlands', 2.3],
  ['Russian Federation', 2.2],
  ['Australia', 2.2],
  ['Brazil', 2],
  ['Spain', 1.7],
  ['France', 1.4],
  ['Mexico', 1.2],
  ['Argentina', 0.8],
  ['Chile', 0.6],
  ['Japan', 0.6],
  ['Korea, Republic of', 0.3],
  ['Congo, the Democratic Republic of the', 0.2],
  ['Cote D\'Ivoire', 0.2],
];
export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function weightedPicker<T>(entries: [T, number][]): (rng: Rng) => T {
  const total = entries.reduce((a, [, w]) => a + w, 0);
  return (rng) => {
    let x = rng() * total;
    for (const [v, w] of entries) if ((x -= w) < 0) return v;
    return entries[entries.length - 1][0];
  };
}

export function artistName(rng: Rng, i: number): string {
  if (i < UTF8_ARTISTS.length) return UTF8_ARTISTS[i];
  const r = rng();
  const w = () => capital(pick(rng, WORDS));
  if (r < 0.3) return `The ${w()} ${w()}s`;
  if (r < 0.45) return `${w()} & the ${w()}s`;
  if (r < 0.55) return `${w()} "${w()}" ${w()}`;
  if (r < 0.62) return `${w()}'s ${w()}`;
  if (r < 0.66) return `${pick(rng, UTF8_ARTISTS)} ${w()}`;
  return `${w()} ${w()}`;
}
