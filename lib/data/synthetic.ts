/**
 * Synthetic datasets in exactly the raw formats of MovieLens-1M, Last.fm-1K and Last.fm-360K, seeded, at any size: a
 * few hundred lines for tests up to the full 19 M Last.fm events (written in chunks, never held in memory).
 *
 * Group structure: taste comes from demography. Each age, gender and occupation (movies) or region and gender
 * (music) has a favourite item cluster; a user draws most interactions from the clusters of their own values, so
 * users who share a demographic value share taste and the proxies matter. MovieLens users concentrate in a few
 * large (age, gender, occupation) groups so the paper's "at least 30 users" filter keeps some of them.
 *
 * CLI: node build/lib/data/synthetic.js --domain lastfm --users 120 --events 400000 --seed 7 --out DIR
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { makeRng, deriveSeed, type Rng } from '../core/rng';
import { ML_AGE_NAMES } from './movielens';
import { regionOfCountry } from './regions';
import { generateLastfm360k } from './synthetic-360k';
import {
  COUNTRIES,
  ChunkWriter,
  GENRES,
  LATIN1_WORDS,
  MONTHS,
  TITLE_ARTICLES,
  WORDS,
  artistName,
  capital,
  heavyTailedSplit,
  hexId,
  normal,
  pick,
  weightedPicker,
  type SyntheticOptions,
} from './synthetic-parts';

export type { SyntheticOptions } from './synthetic-parts';

export function generateSynthetic(dir: string, opts: SyntheticOptions): { files: string[] } {
  for (const k of ['users', 'items', 'interactions'] as const) {
    if (!(Number.isInteger(opts[k]) && opts[k] > 0)) throw new RangeError(`generateSynthetic: "${k}" must be a whole number > 0, got ${opts[k]}`);
  }
  if (opts.domain === 'movielens') return generateMovielens(dir, opts);
  if (opts.domain === 'lastfm') return generateLastfm(dir, opts);
  if (opts.domain === 'lastfm-360k') return generateLastfm360k(dir, opts);
  throw new RangeError(`generateSynthetic: no generator for domain "${opts.domain}" (movielens, lastfm, lastfm-360k)`);
}

// ---------------------------------------------------------------- MovieLens

const AGE_CODES = Object.keys(ML_AGE_NAMES).map(Number);

function generateMovielens(dir: string, opts: SyntheticOptions): { files: string[] } {
  const out = path.join(dir, 'ml-1m');
  fs.mkdirSync(out, { recursive: true });
  const rng = makeRng(deriveSeed(opts.seed, 'synthetic', 'movielens'));
  const U = opts.users;
  const I = opts.items;
  const clusters = Math.max(2, Math.min(12, Math.floor(I / 8)));

  // Users: most of them in a few large (age, gender, occupation) groups, the rest scattered; some with occupation 0.
  const major = Math.max(1, Math.round(U / 80));
  const majorGroups = Array.from({ length: major }, () => ({ age: pick(rng, AGE_CODES), gender: rng() < 0.7 ? 'M' : 'F', occupation: 1 + Math.floor(rng() * 20) }));
  const users = Array.from({ length: U }, (_, i) => {
    if (rng() < 0.75) return { id: i + 1, ...majorGroups[i % major] };
    return { id: i + 1, age: pick(rng, AGE_CODES), gender: rng() < 0.7 ? 'M' : 'F', occupation: rng() < 0.15 ? 0 : Math.floor(rng() * 21) };
  });
  const userLines = users.map((u) => `${u.id}::${u.gender}::${u.age}::${u.occupation}::${String(10000 + Math.floor(rng() * 89999))}\n`);
  fs.writeFileSync(path.join(out, 'users.dat'), Buffer.from(userLines.join(''), 'latin1'));

  // Movies: ids with gaps (as in the real file), unique latin-1 titles, genres, a cluster and a popularity.
  const movieIds: number[] = [];
  for (let id = 1; movieIds.length < I; id++) if (rng() > 0.05) movieIds.push(id);
  const titles = new Set<string>();
  const movieLines: string[] = [];
  const cluster = new Int32Array(I);
  for (let m = 0; m < I; m++) {
    let title = '';
    for (let attempt = 0; title === '' || titles.has(title); attempt++) {
      const w1 = rng() < 0.08 ? pick(rng, LATIN1_WORDS) : capital(pick(rng, WORDS));
      const w2 = capital(pick(rng, WORDS));
      const year = 1919 + Math.floor(rng() * 82);
      const base = rng() < 0.2 ? `${w1} ${w2}, ${pick(rng, TITLE_ARTICLES)}` : `${w1} ${w2}`;
      title = `${base}${attempt > 2 ? ` ${attempt}` : ''} (${year})`;
    }
    titles.add(title);
    cluster[m] = m % clusters;
    const g = [GENRES[(m * 7) % GENRES.length], GENRES[cluster[m] % GENRES.length]];
    movieLines.push(`${movieIds[m]}::${title}::${[...new Set(g)].join('|')}\n`);
  }
  // Like ml-1m (3,883 movies listed, 3,706 rated), some listed movies have no rating at all: without them every catalogue
  // item would be interacted with by the whole population and C1 could not hold K/2 items. Drawn without the generator,
  // so the rated data stay as they were.
  let nextId = Math.max(...Array.from(movieIds)) + 1;
  for (let k = 0; k < Math.max(30, Math.ceil(I / 20)); k++) movieLines.push(`${nextId++}::Unrated Film ${k + 1} (1990)::Drama\n`);
  fs.writeFileSync(path.join(out, 'movies.dat'), Buffer.from(movieLines.join(''), 'latin1'));

  // Popularity: a random rank per movie; draws within a cluster favour popular movies.
  const byCluster: number[][] = Array.from({ length: clusters }, () => []);
  const order = Array.from({ length: I }, (_, i) => i);
  for (let i = I - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const m of order) byCluster[cluster[m]].push(m);
  const favourite = (label: string) => {
    let h = 0;
    for (const ch of deriveSeed(opts.seed, 'taste', label)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return h % clusters;
  };

  const perUser = heavyTailedSplit(rng, U, Math.min(opts.interactions, U * I), Math.min(20, I), 0.8).map((k) => Math.min(k, I));
  const lines: string[] = [];
  const ts0 = 956703932;
  const withTs = opts.timestamps ?? true;
  users.forEach((u, ui) => {
    const favs = [favourite(`age:${u.age}`), favourite(`gender:${u.gender}`), favourite(`occupation:${u.occupation}`)];
    const chosen = new Set<number>();
    const k = perUser[ui];
    let guard = 0;
    while (chosen.size < k && guard++ < k * 50) {
      const pool = rng() < 0.75 ? byCluster[favs[Math.floor(rng() * 3)]] : order;
      if (pool.length === 0) continue;
      chosen.add(pool[Math.floor(pool.length * rng() ** 2.5)]);
    }
    for (let m = 0; chosen.size < k; m++) chosen.add(m);
    for (const m of chosen) {
      const liked = favs.includes(cluster[m]);
      const rating = Math.max(1, Math.min(5, Math.round(3 + (liked ? 1 : -0.5) + normal(rng))));
      lines.push(`${u.id}::${movieIds[m]}::${rating}${withTs ? `::${ts0 + Math.floor(rng() * 89750658)}` : ''}\n`);
    }
    opts.onProgress?.(lines.length, opts.interactions);
  });
  const ratings = Buffer.from(lines.join(''), 'latin1');
  const ratingsFile = path.join(out, opts.gzip ? 'ratings.dat.gz' : 'ratings.dat');
  fs.writeFileSync(ratingsFile, opts.gzip ? zlib.gzipSync(ratings, { level: 6 }) : ratings);
  return { files: [path.join(out, 'users.dat'), path.join(out, 'movies.dat'), ratingsFile] };
}

// ---------------------------------------------------------------- Last.fm
function trackName(rng: Rng): string {
  const r = rng();
  const w = () => capital(pick(rng, WORDS));
  if (r < 0.25) return `${w()} ${w()} ${w()}`;
  if (r < 0.35) return `"${w()}"`;
  if (r < 0.45) return `Don't ${w()} My ${w()}`;
  if (r < 0.55) return `${w()} ${w()} (Live at the ${w()})`;
  if (r < 0.6) return `${w()}?`;
  if (r < 0.65) return `${w()} ${w()} (Remix)`;
  if (r < 0.7) return `It's a ${w()} ${w()} ${w()}`;
  return `${w()} ${w()}`;
}

/** Two-digit zero-padded ASCII into a buffer. */
function put2(b: Buffer, p: number, v: number): void {
  b[p] = 48 + Math.floor(v / 10);
  b[p + 1] = 48 + (v % 10);
}

function generateLastfm(dir: string, opts: SyntheticOptions): { files: string[] } {
  const out = path.join(dir, 'lastfm-1k');
  fs.mkdirSync(out, { recursive: true });
  const rng = makeRng(deriveSeed(opts.seed, 'synthetic', 'lastfm'));
  const U = opts.users;
  const T = opts.items;
  const A = Math.max(1, Math.min(T, opts.artists ?? Math.ceil(T / 10)));
  const clusters = Math.max(2, Math.min(16, Math.floor(A / 4)));
  const pickCountry = weightedPicker(COUNTRIES);

  // Profiles
  const profiles = Array.from({ length: U }, (_, i) => {
    const g = rng();
    const country = pickCountry(rng);
    const age = rng() < 0.3 ? String(15 + Math.floor(rng() * 45)) : '';
    const reg = rng() < 0.98 ? `${pick(rng, MONTHS)} ${1 + Math.floor(rng() * 28)}, ${2002 + Math.floor(rng() * 7)}` : '';
    return { id: `user_${String(i + 1).padStart(6, '0')}`, gender: g < 0.5 ? 'm' : g < 0.88 ? 'f' : '', age, country, reg };
  });
  const profileFile = path.join(out, 'userid-profile.tsv');
  fs.writeFileSync(profileFile, `#id\tgender\tage\tcountry\tregistered\n${profiles.map((p) => `${p.id}\t${p.gender}\t${p.age}\t${p.country}\t${p.reg}\n`).join('')}`);

  // Catalogue: artists with names and MBIDs; tracks belong to artists; each track's line tail is stored once.
  const emptyA = opts.emptyArtistMbidRate ?? 0.15;
  const emptyT = opts.emptyTrackMbidRate ?? 0.3;
  const artists = Array.from({ length: A }, (_, a) => ({ name: artistName(rng, a), mbid: rng() < emptyA ? '' : hexId(rng) }));
  const artistOf = new Int32Array(T);
  const tailOffsets = new Float64Array(T + 1);
  const tails: Buffer[] = [];
  let arenaSize = 0;
  for (let t = 0; t < T; t++) {
    const a = t < A ? t : Math.floor(rng() * A);
    artistOf[t] = a;
    const tail = Buffer.from(`\t${artists[a].mbid}\t${artists[a].name}\t${rng() < emptyT ? '' : hexId(rng)}\t${trackName(rng)}\n`, 'utf8');
    tails.push(tail);
    tailOffsets[t] = arenaSize;
    arenaSize += tail.length;
  }
  tailOffsets[T] = arenaSize;
  const arena = Buffer.allocUnsafe(arenaSize);
  tails.forEach((b, t) => b.copy(arena, tailOffsets[t]));
  tails.length = 0;

  // Popularity orders: globally and within each artist cluster.
  const order = new Int32Array(T);
  for (let i = 0; i < T; i++) order[i] = i;
  for (let i = T - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const x = order[i];
    order[i] = order[j];
    order[j] = x;
  }
  const clusterSize = new Int32Array(clusters);
  for (let t = 0; t < T; t++) clusterSize[artistOf[t] % clusters]++;
  const byCluster = Array.from({ length: clusters }, (_, c) => new Int32Array(clusterSize[c]));
  const fill = new Int32Array(clusters);
  for (let i = 0; i < T; i++) {
    const t = order[i];
    const c = artistOf[t] % clusters;
    byCluster[c][fill[c]++] = t;
  }
  const favourite = (label: string) => {
    let h = 0;
    for (const ch of deriveSeed(opts.seed, 'taste', label)) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    return h % clusters;
  };

  const perUser = heavyTailedSplit(rng, U, opts.interactions, 1, 1.0);
  const eventsFile = path.join(out, 'userid-timestamp-artid-artname-traid-traname.tsv');
  const w = new ChunkWriter(eventsFile);
  const recent = new Int32Array(64);
  const stamp = Buffer.from('2009-05-04T23:08:57Z', 'latin1');
  let written = 0;
  let nextReport = 1 << 20;
  for (let ui = 0; ui < U; ui++) {
    const p = profiles[ui];
    const prefix = Buffer.from(`${p.id}\t`, 'latin1');
    const favA = byCluster[favourite(`region:${regionOfCountry(p.country) ?? 'none'}`)];
    const favB = byCluster[favourite(`gender:${p.gender}`)];
    let nRecent = 0;
    // Events run backwards in time from May 2009, as in the real file.
    let time = 1241478537 - Math.floor(rng() * 86400 * 30);
    let day = -1;
    for (let k = 0; k < perUser[ui]; k++) {
      let t: number;
      const r = rng();
      if (r < 0.35 && nRecent > 0) t = recent[Math.floor(rng() * Math.min(nRecent, 64))];
      else if (r < 0.7) {
        const pool = rng() < 0.5 ? favA : favB;
        t = pool.length ? pool[Math.floor(pool.length * rng() ** 3)] : order[0];
      } else if (r < 0.85) t = order[Math.floor(T * rng() ** 4)];
      else t = Math.floor(rng() * T);
      recent[nRecent++ & 63] = t;
      time -= 60 + Math.floor(rng() * 600);
      const d = Math.floor(time / 86400);
      if (d !== day) {
        day = d;
        stamp.write(new Date(d * 86400000).toISOString().slice(0, 10), 0, 'latin1');
      }
      const s = time - d * 86400;
      put2(stamp, 11, Math.floor(s / 3600));
      put2(stamp, 14, Math.floor((s % 3600) / 60));
      put2(stamp, 17, s % 60);
      const ts = tailOffsets[t];
      const te = tailOffsets[t + 1];
      w.ensure(prefix.length + stamp.length + (te - ts));
      const b = w.buf;
      let q = w.pos;
      for (let i = 0; i < prefix.length; i++) b[q++] = prefix[i];
      for (let i = 0; i < 20; i++) b[q++] = stamp[i];
      for (let i = ts; i < te; i++) b[q++] = arena[i];
      w.pos = q;
      if (++written >= nextReport) {
        nextReport += 1 << 20;
        opts.onProgress?.(written, opts.interactions);
      }
    }
  }
  w.close();
  opts.onProgress?.(written, opts.interactions);
  return { files: [profileFile, eventsFile] };
}

// ---------------------------------------------------------------- CLI

function parseCli(argv: string[]): SyntheticOptions & { out: string } {
  const args: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${JSON.stringify(a)}`);
    const key = a.slice(2);
    if (['gzip', 'no-timestamps'].includes(key)) args[key] = true;
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${key} needs a value`);
      args[key] = v;
    }
  }
  const known = ['domain', 'users', 'items', 'tracks', 'interactions', 'events', 'ratings', 'seed', 'out', 'gzip', 'no-timestamps', 'artists'];
  for (const k of Object.keys(args)) if (!known.includes(k)) throw new Error(`unknown option --${k} (known: ${known.map((x) => `--${x}`).join(', ')})`);
  const domain = args.domain;
  if (domain !== 'movielens' && domain !== 'lastfm' && domain !== 'lastfm-360k') throw new Error('--domain must be movielens, lastfm or lastfm-360k');
  const num = (k: string, dflt: number): number => {
    const v = args[k];
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k} must be a whole number > 0, got ${JSON.stringify(v)}`);
    return n;
  };
  if (typeof args.out !== 'string') throw new Error('--out DIR is required');
  const users = num('users', domain === 'lastfm' ? 120 : 600);
  const interactions = num('interactions', num('events', num('ratings', domain === 'lastfm' ? 400000 : 60000)));
  const items = num('items', num('tracks', domain === 'lastfm' ? Math.max(100, Math.ceil(interactions / 19)) : 1500));
  return {
    domain,
    users,
    items,
    interactions,
    seed: typeof args.seed === 'string' ? args.seed : 1,
    gzip: args.gzip === true,
    timestamps: args['no-timestamps'] !== true,
    artists: args.artists !== undefined ? num('artists', 1) : undefined,
    out: args.out,
  };
}

if (require.main === module) {
  try {
    const { out, ...opts } = parseCli(process.argv.slice(2));
    const started = Date.now();
    let last = 0;
    const { files } = generateSynthetic(path.resolve(out), {
      ...opts,
      onProgress: (n, total) => {
        if (Date.now() - last > 1000) {
          last = Date.now();
          process.stderr.write(`[synthetic] ${opts.domain}: ${n}/${total} interactions (${((100 * n) / total).toFixed(1)}%)\n`);
        }
      },
    });
    process.stderr.write(`[synthetic] wrote ${files.join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (e) {
    process.stderr.write(`synthetic: ${(e as Error).message}\nusage: node build/lib/data/synthetic.js --domain movielens|lastfm --users N --items N --interactions N (--events N) --seed S --out DIR [--gzip] [--no-timestamps]\n`);
    process.exit(2);
  }
}
