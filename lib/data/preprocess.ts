/**
 * The preprocess stage (paper section 4.1): raw files → users with proxies, items with display names, interactions.
 *
 * MovieLens-1M: drop users whose occupation is 0 ("other" or not specified); keep (age, gender, occupation) groups
 * with at least `minDemographicGroupSize` users; keep the ratings of kept users; items are every movie of movies.dat.
 * Last.fm-1K: region from country (the UK its own region); keep users in the configured regions with at least
 * `minListeningEvents` listening events; an interaction is "listened to the track at least once", with its count.
 *
 * The demographic filtering runs on Danfo DataFrames of the users table (the tables notebook 01 shows);
 * interactions stay in typed arrays.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Dfd from 'danfojs-node';
import { type Config, type DomainName, descriptionOf, domainDir } from '../core/config';
import { sha256Hex } from '../core/hash';
import { processDescribed } from './described';
import { locateDataset, type LocatedDataset } from './datasets';
import { parseLastfmEvents, parseLastfmProfiles, trackItemFields, type LastfmEvents, type LastfmProfile } from './lastfm';
import { ML_AGE_NAMES, ML_GENDER_NAMES, ML_OCCUPATION_NAMES, parseMlUsers, readMovielens, type MlRaw, type MlUser } from './movielens';
import { writeProcessed } from './processed';
import { Progress } from '../core/progress';
import { regionOfCountry } from './regions';
import { FORMAT_VERSION, type DropReason, type ItemRecord, type ProcessedSummary, type UserRecord } from '../core/types';

type Log = (s: string) => void;
type DataFrame = Dfd.DataFrame;

/** danfojs-node takes about 2 s to load (it brings TensorFlow.js), so only the code that uses it pays for it. */
function danfo(): typeof Dfd {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('danfojs-node') as typeof Dfd;
}

/** The demographic tables of a domain, before and after the filters (what notebook 01 shows). */
export interface DemographicTables {
  domain: DomainName;
  /** One row per user with the proxy columns (Last.fm: also `events`); unknown values read "unknown". */
  users: DataFrame;
  /** Users left after each filter step, in order. */
  steps: { step: string; users: number }[];
  /** The kept users. */
  kept: DataFrame;
  /** Users per demographic group (MovieLens: age, gender, occupation; Last.fm: continent, gender), all users. */
  groupsBefore: DataFrame;
  /** The same for the kept users. */
  groupsAfter: DataFrame;
}

function groupSizes(df: DataFrame, by: string[]): DataFrame {
  if (df.shape[0] === 0) {
    const dfd = danfo();
    return new dfd.DataFrame(Object.fromEntries([...by.map((c) => [c, [] as string[]]), ['users', [] as number[]]]));
  }
  const g = df.groupby(by).col(['user']).count();
  g.rename({ user_count: 'users' }, { inplace: true });
  return g.sortValues('users', { ascending: false }).resetIndex();
}

function maskRows(df: DataFrame, mask: boolean[]): DataFrame {
  const dfd = danfo();
  if (!mask.some(Boolean)) return new dfd.DataFrame(Object.fromEntries(df.columns.map((c) => [c, []])), { columns: df.columns });
  return df.loc({ rows: mask }).resetIndex();
}

function column<T>(df: DataFrame, name: string): T[] {
  return df.shape[0] === 0 ? [] : (df[name].values as T[]);
}

// ---------------------------------------------------------------- MovieLens filter

export interface MovielensFilterResult {
  tables: DemographicTables;
  keptUserIds: Set<number>;
  dropped: { occupation: number[]; smallGroup: number[] };
}

export function filterMovielensUsers(users: MlUser[], cfg: Config['preprocess']['movielens']): MovielensFilterResult {
  const dfd = danfo();
  const df = new dfd.DataFrame(
    {
      user: users.map((u) => u.id),
      age: users.map((u) => ML_AGE_NAMES[u.age]),
      gender: users.map((u) => ML_GENDER_NAMES[u.gender]),
      occupation: users.map((u) => ML_OCCUPATION_NAMES[u.occupation]),
      occupationCode: users.map((u) => u.occupation),
    },
    { config: { tableMaxRow: 100 } },
  );
  const by = ['age', 'gender', 'occupation'];
  const drop = new Set(cfg.dropOccupations);
  const withOccupation = maskRows(df, column<number>(df, 'occupationCode').map((c) => !drop.has(c)));
  const sizes = groupSizes(withOccupation, by);
  const bigEnough = new Set<string>();
  const keys = (frame: DataFrame) => {
    const [a, g, o] = by.map((c) => column<string>(frame, c));
    return a.map((_, i) => `${a[i]}\t${g[i]}\t${o[i]}`);
  };
  const sizeCol = column<number>(sizes, 'users');
  keys(sizes).forEach((k, i) => {
    if (sizeCol[i] >= cfg.minDemographicGroupSize) bigEnough.add(k);
  });
  const kept = maskRows(withOccupation, keys(withOccupation).map((k) => bigEnough.has(k)));
  const keptUserIds = new Set(column<number>(kept, 'user'));
  const afterOcc = new Set(column<number>(withOccupation, 'user'));
  return {
    tables: {
      domain: 'movielens',
      users: df,
      steps: [
        { step: 'all users', users: df.shape[0] },
        { step: `occupation not ${cfg.dropOccupations.map((c) => `${c} ("${ML_OCCUPATION_NAMES[c]}")`).join(', ')}`, users: withOccupation.shape[0] },
        { step: `(age, gender, occupation) group with >= ${cfg.minDemographicGroupSize} users`, users: kept.shape[0] },
      ],
      kept,
      groupsBefore: groupSizes(df, by),
      groupsAfter: groupSizes(kept, by),
    },
    keptUserIds,
    dropped: {
      occupation: users.filter((u) => !afterOcc.has(u.id)).map((u) => u.id),
      smallGroup: users.filter((u) => afterOcc.has(u.id) && !keptUserIds.has(u.id)).map((u) => u.id),
    },
  };
}

// ---------------------------------------------------------------- Last.fm filter

export interface LastfmFilterResult {
  tables: DemographicTables;
  keptUserIds: Set<string>;
  dropped: { noCountry: string[]; unmappedCountry: Map<string, number>; regionNotKept: Map<string, string[]>; fewEvents: string[] };
}

export function filterLastfmUsers(profiles: LastfmProfile[], eventsPerUser: Map<string, number>, cfg: Config['preprocess']['lastfm']): LastfmFilterResult {
  const dfd = danfo();
  const regions = profiles.map((p) => (p.country ? regionOfCountry(p.country) : null));
  const df = new dfd.DataFrame(
    {
      user: profiles.map((p) => p.id),
      gender: profiles.map((p) => p.gender ?? 'unknown'),
      country: profiles.map((p) => p.country ?? 'unknown'),
      continent: regions.map((r) => r ?? 'unknown'),
      events: profiles.map((p) => eventsPerUser.get(p.id) ?? 0),
    },
    { config: { tableMaxRow: 100 } },
  );
  const keepRegions = new Set(cfg.regions);
  const inRegion = maskRows(df, column<string>(df, 'continent').map((r) => keepRegions.has(r)));
  const kept = maskRows(inRegion, column<number>(inRegion, 'events').map((e) => e >= cfg.minListeningEvents));
  const keptUserIds = new Set(column<string>(kept, 'user'));
  const inRegionIds = new Set(column<string>(inRegion, 'user'));
  const dropped: LastfmFilterResult['dropped'] = { noCountry: [], unmappedCountry: new Map(), regionNotKept: new Map(), fewEvents: [] };
  profiles.forEach((p, i) => {
    if (keptUserIds.has(p.id)) return;
    if (inRegionIds.has(p.id)) dropped.fewEvents.push(p.id);
    else if (!p.country) dropped.noCountry.push(p.id);
    else if (!regions[i]) dropped.unmappedCountry.set(p.country, (dropped.unmappedCountry.get(p.country) ?? 0) + 1);
    else {
      const list = dropped.regionNotKept.get(regions[i]!) ?? [];
      list.push(p.id);
      dropped.regionNotKept.set(regions[i]!, list);
    }
  });
  const by = ['continent', 'gender'];
  return {
    tables: {
      domain: 'lastfm',
      users: df,
      steps: [
        { step: 'all users', users: df.shape[0] },
        { step: `region in ${cfg.regions.join(', ')}`, users: inRegion.shape[0] },
        { step: `>= ${cfg.minListeningEvents} listening events`, users: kept.shape[0] },
      ],
      kept,
      groupsBefore: groupSizes(df, by),
      groupsAfter: groupSizes(kept, by),
    },
    keptUserIds,
    dropped,
  };
}

// ---------------------------------------------------------------- proxy values

/** Per setting (except "none"): distinct value combinations among users whose values for that setting are all known. */
export function countProxyValues(users: UserRecord[], settings: Record<string, string[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, proxies] of Object.entries(settings)) {
    if (name === 'none' || proxies.length === 0) continue;
    const seen = new Set<string>();
    for (const u of users) {
      const values = proxies.map((p) => u.proxies[p]);
      if (values.every((v) => v !== null && v !== undefined)) seen.add(values.join('\u0000'));
    }
    out[name] = seen.size;
  }
  return out;
}

// ---------------------------------------------------------------- the stage

export interface PreprocessOptions {
  log?: Log;
  /** Receives the demographic tables (Danfo DataFrames) computed on the way, so a notebook can show them. */
  onTables?: (tables: DemographicTables) => void;
  /** The dataset, when the caller located it already. */
  located?: LocatedDataset;
}

function sourceInfo(located: LocatedDataset): ProcessedSummary['source'] {
  const files: ProcessedSummary['source']['files'] = {};
  for (const p of Object.values(located.files)) {
    const bytes = fs.statSync(p).size;
    // Hashing the 2.4 GB events file would cost seconds on every run; small files are hashed.
    files[path.basename(p)] = bytes <= 64 << 20 ? { bytes, sha256: sha256Hex(fs.readFileSync(p)) } : { bytes };
  }
  return { dir: located.dir, files };
}

function seconds(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(2)} s`;
}

export async function runPreprocess(config: Config, domain: DomainName, opts: PreprocessOptions = {}): Promise<ProcessedSummary> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const t0 = Date.now();
  const located = opts.located ?? (await locateDataset(config, domain, { log }));
  log(`[preprocess] ${domain}: reading ${Object.values(located.files).join(', ')}`);
  const out = domain === 'movielens' ? preprocessMovielens(config, located, log, opts) : domain === 'lastfm' ? await preprocessLastfm(config, located, log, opts) : preprocessDescribed(config, domain, located, log);
  const dir = domainDir(config, 'processed', domain);
  const tw = Date.now();
  writeProcessed(dir, out);
  log(`[preprocess] ${domain}: wrote ${dir} (${out.summary.users} users, ${out.summary.items} items, ${out.summary.interactions} interactions) in ${seconds(tw)}; total ${seconds(t0)}`);
  return out.summary;
}

/** Any domain other than the two built-in ones: read and filtered as its description file says. */
export function preprocessDescribed(config: Config, domain: DomainName, located: LocatedDataset, log: Log = () => {}): DomainOutput {
  const t0 = Date.now();
  const description = descriptionOf(config, domain);
  if (!description) throw new Error(`preprocess: no dataset description for domain "${domain}"`);
  const out = processDescribed(description, config.datasets[domain]?.description ?? domain, located.files);
  log(`[preprocess] ${domain}: parsed ${out.parsed.users} users, ${out.parsed.rows} interaction rows, ${out.parsed.items} items in ${seconds(t0)}`);
  for (const s of out.steps) log(`[preprocess] ${domain}: ${s.step}: ${s.users} users`);
  const interactions = out.userItems.reduce((n, l) => n + l.length, 0);
  const summary: ProcessedSummary = {
    v: FORMAT_VERSION,
    domain,
    users: out.users.length,
    items: out.items.length,
    interactedItems: out.interactedItems,
    interactions,
    proxyValues: countProxyValues(out.users, config.sample.settings[domain] ?? description.settings),
    dropped: out.dropped,
    source: sourceInfo(located),
  };
  return { domain, users: out.users, items: out.items, userItems: out.userItems, userCounts: out.userCounts, summary };
}

interface DomainOutput {
  domain: DomainName;
  users: UserRecord[];
  items: ItemRecord[];
  userItems: Int32Array[];
  userCounts?: Int32Array[];
  summary: ProcessedSummary;
}

/** Reads and filters MovieLens in memory (no files written). */
export function processMovielens(config: Config, raw: MlRaw, located: LocatedDataset): Omit<DomainOutput, 'summary'> & { summary: ProcessedSummary; tables: DemographicTables } {
  const { users, movies, ratings } = raw;
  const filter = filterMovielensUsers(users, config.preprocess.movielens);
  const keptIndex = new Int32Array(users.length).fill(-1);
  const keptUsers: UserRecord[] = [];
  users.forEach((u, i) => {
    if (!filter.keptUserIds.has(u.id)) return;
    keptIndex[i] = keptUsers.length;
    keptUsers.push({ v: FORMAT_VERSION, id: String(u.id), proxies: { age: ML_AGE_NAMES[u.age], gender: ML_GENDER_NAMES[u.gender], occupation: ML_OCCUPATION_NAMES[u.occupation] } });
  });
  // Ratings per kept user in CSR form. Items are every movie of movies.dat, ordered by MovieID: C1 ("items the group
  // will never interact with") must be able to hold K/2 items even for the whole population, which has rated only
  // the movies some kept user rated.
  const nKept = keptUsers.length;
  const start = new Int32Array(nKept + 1);
  const droppedRatings = { occupation: 0, smallGroup: 0 };
  const occDropped = new Set(filter.dropped.occupation);
  for (let r = 0; r < ratings.count; r++) {
    const k = keptIndex[ratings.user[r]];
    if (k >= 0) start[k + 1]++;
    else if (occDropped.has(users[ratings.user[r]].id)) droppedRatings.occupation++;
    else droppedRatings.smallGroup++;
  }
  for (let k = 0; k < nKept; k++) start[k + 1] += start[k];
  const flat = new Int32Array(start[nKept]);
  const fill = start.slice(0, nKept);
  const movieUsed = new Uint8Array(movies.length);
  for (let r = 0; r < ratings.count; r++) {
    const k = keptIndex[ratings.user[r]];
    if (k < 0) continue;
    flat[fill[k]++] = ratings.movie[r];
    movieUsed[ratings.movie[r]] = 1;
  }
  const movieOrder = movies.map((_, i) => i).sort((a, b) => movies[a].id - movies[b].id);
  const itemOf = new Int32Array(movies.length).fill(-1);
  const items: ItemRecord[] = [];
  let interactedItems = 0;
  for (const m of movieOrder) {
    if (movieUsed[m]) interactedItems++;
    itemOf[m] = items.length;
    items.push({ v: FORMAT_VERSION, id: String(movies[m].id), name: movies[m].title });
  }
  let duplicates = 0;
  let interactions = 0;
  const userItems: Int32Array[] = new Array(nKept);
  for (let k = 0; k < nKept; k++) {
    const list = flat.subarray(start[k], start[k + 1]);
    for (let j = 0; j < list.length; j++) list[j] = itemOf[list[j]];
    list.sort();
    let w = 0;
    for (let j = 0; j < list.length; j++) if (j === 0 || list[j] !== list[j - 1]) list[w++] = list[j];
    duplicates += list.length - w;
    userItems[k] = list.subarray(0, w);
    interactions += w;
  }
  const dropped: DropReason[] = [
    { reason: `occupation ${config.preprocess.movielens.dropOccupations.join(', ')} ("other" or not specified)`, users: filter.dropped.occupation.length, interactions: droppedRatings.occupation },
    { reason: `(age, gender, occupation) group with fewer than ${config.preprocess.movielens.minDemographicGroupSize} users`, users: filter.dropped.smallGroup.length, interactions: droppedRatings.smallGroup },
  ];
  if (duplicates) dropped.push({ reason: 'repeated (user, movie) ratings counted once', interactions: duplicates });
  const summary: ProcessedSummary = {
    v: FORMAT_VERSION,
    domain: 'movielens',
    users: nKept,
    items: items.length,
    interactedItems,
    interactions,
    proxyValues: countProxyValues(keptUsers, config.sample.settings.movielens),
    dropped,
    source: sourceInfo(located),
  };
  return { domain: 'movielens', users: keptUsers, items, userItems, summary, tables: filter.tables };
}

function preprocessMovielens(config: Config, located: LocatedDataset, log: Log, opts: PreprocessOptions): DomainOutput {
  const t0 = Date.now();
  const raw = readMovielens(located.files);
  const r = raw.ratings;
  log(`[preprocess] movielens: parsed ${raw.users.length} users, ${raw.movies.length} movies, ${r.count} ratings (${r.withTimestamp} with timestamps, ${r.withoutTimestamp} without) in ${seconds(t0)}`);
  const t1 = Date.now();
  const out = processMovielens(config, raw, located);
  for (const s of out.tables.steps) log(`[preprocess] movielens: ${s.step}: ${s.users} users`);
  log(`[preprocess] movielens: filtered in ${seconds(t1)}; proxy values ${JSON.stringify(out.summary.proxyValues)}`);
  opts.onTables?.(out.tables);
  return out;
}

/**
 * Item ids are 64-bit sha1 prefixes; two of a million tracks share one with probability ~3e-8, but a clash would
 * silently merge items downstream, so it is checked: the first 52 bits as numbers, sorted, adjacent pairs compared.
 */
function assertDistinctIds(items: ItemRecord[], idKeys?: Float64Array): void {
  const keys = idKeys ?? new Float64Array(items.length);
  if (!idKeys) for (let i = 0; i < items.length; i++) keys[i] = parseInt(items[i].id.slice(0, 13), 16);
  const order = keys.slice().sort();
  for (let i = 1; i < order.length; i++) {
    if (order[i] !== order[i - 1]) continue;
    const same = items.filter((_, k) => keys[k] === order[i]);
    for (let a = 0; a < same.length; a++) {
      for (let b = a + 1; b < same.length; b++) {
        if (same[a].id === same[b].id) throw new Error(`two tracks share the item id ${same[a].id} (sha1 prefix collision): ${JSON.stringify(same[a].name)} and ${JSON.stringify(same[b].name)}`);
      }
    }
  }
}

/** Filters parsed Last.fm data in memory (no files written). */
export function processLastfm(config: Config, profiles: LastfmProfile[], events: LastfmEvents, located: LocatedDataset): DomainOutput & { tables: DemographicTables } {
  const cfg = config.preprocess.lastfm;
  const profileIds = new Set(profiles.map((p) => p.id));
  events.users.forEach((u, i) => {
    if (!profileIds.has(u)) {
      throw new Error(`${events.file}:${events.userFirstLine[i]}: field "userid": unknown user ${JSON.stringify(u)}: not in ${located.files.profile ?? 'userid-profile.tsv'}`);
    }
  });
  const eventUser = new Map(events.users.map((u, i) => [u, i]));
  const eventsPerUser = new Map(events.users.map((u, i) => [u, events.userEvents[i]]));
  const filter = filterLastfmUsers(profiles, eventsPerUser, cfg);
  const keptProfiles = profiles.filter((p) => filter.keptUserIds.has(p.id));
  // Items: every track of the events file, in order of first appearance (the catalogue C1 is drawn from; see
  // preprocessMovielens); `interactedItems` counts those with a kept listener.
  const used = new Uint8Array(events.tracks.count);
  for (const p of keptProfiles) {
    const list = events.userTracks[eventUser.get(p.id)!];
    for (let k = 0; k < list.length; k++) used[list[k]] = 1;
  }
  let interactedItems = 0;
  for (let t = 0; t < events.tracks.count; t++) interactedItems += used[t];
  const itemOf = new Int32Array(events.tracks.count);
  const itemTracks = new Int32Array(events.tracks.count);
  let nItems = 0;
  for (let t = 0; t < events.tracks.count; t++) {
    itemOf[t] = nItems;
    itemTracks[nItems++] = t;
  }
  const fields = trackItemFields(events.tracks, itemTracks.subarray(0, nItems), events.sha1Prefixes);
  const items: ItemRecord[] = new Array(nItems);
  for (let k = 0; k < nItems; k++) items[k] = { v: FORMAT_VERSION, id: fields.ids[k], name: fields.names[k] };
  assertDistinctIds(items, fields.idKeys);
  const users: UserRecord[] = [];
  const userItems: Int32Array[] = [];
  const userCounts: Int32Array[] = [];
  let interactions = 0;
  for (const p of keptProfiles) {
    const u = eventUser.get(p.id)!;
    const list = events.userTracks[u];
    const mapped = new Int32Array(list.length);
    for (let k = 0; k < list.length; k++) mapped[k] = itemOf[list[k]];
    users.push({ v: FORMAT_VERSION, id: p.id, proxies: { country: p.country, continent: p.country ? regionOfCountry(p.country) : null, gender: p.gender } });
    userItems.push(mapped);
    userCounts.push(events.userCounts[u]);
    interactions += list.length;
  }
  const pairsOf = (ids: string[]) => ids.reduce((s, id) => s + (eventUser.has(id) ? events.userTracks[eventUser.get(id)!].length : 0), 0);
  const eventsOf = (ids: string[]) => ids.reduce((s, id) => s + (eventsPerUser.get(id) ?? 0), 0);
  const d = filter.dropped;
  const dropped: DropReason[] = [];
  const unmappedIds = profiles.filter((p) => p.country && d.unmappedCountry.has(p.country)).map((p) => p.id);
  dropped.push({ reason: 'no country in the profile', users: d.noCountry.length, interactions: pairsOf(d.noCountry) });
  if (unmappedIds.length) {
    dropped.push({ reason: `country not mapped to a region: ${[...d.unmappedCountry].map(([c, n]) => `${c} (${n})`).join(', ')}`, users: unmappedIds.length, interactions: pairsOf(unmappedIds) });
  }
  for (const [region, list] of [...d.regionNotKept].sort((a, b) => b[1].length - a[1].length)) {
    dropped.push({ reason: `region ${region} not among ${cfg.regions.join(', ')}`, users: list.length, interactions: pairsOf(list) });
  }
  dropped.push({ reason: `fewer than ${cfg.minListeningEvents} listening events (${eventsOf(d.fewEvents)} events in all)`, users: d.fewEvents.length, interactions: pairsOf(d.fewEvents) });
  if (events.skipped.lines) dropped.push({ reason: `malformed event lines skipped (e.g. ${events.skipped.examples.join('; ')})`, interactions: events.skipped.lines });
  const summary: ProcessedSummary = {
    v: FORMAT_VERSION,
    domain: 'lastfm',
    users: users.length,
    items: items.length,
    interactedItems,
    interactions,
    proxyValues: countProxyValues(users, config.sample.settings.lastfm),
    dropped,
    source: sourceInfo(located),
  };
  return { domain: 'lastfm', users, items, userItems, userCounts, summary, tables: filter.tables };
}

async function preprocessLastfm(config: Config, located: LocatedDataset, log: Log, opts: PreprocessOptions): Promise<DomainOutput> {
  const t0 = Date.now();
  const profiles = parseLastfmProfiles(located.files.profile);
  const size = fs.statSync(located.files.events).size;
  const progress = new Progress({ label: '[preprocess] lastfm: reading events', total: Math.round(size / 1e6), unit: 'MB', write: log, intervalMs: 2000 });
  const events = await parseLastfmEvents(located.files.events, {
    badLines: config.preprocess.lastfm.skipMalformedLines ? 'skip' : 'error',
    sha1Prefixes: true,
    onProgress: (done) => progress.set(Math.round(done / 1e6)),
  });
  log(`[preprocess] lastfm: parsed ${profiles.length} profiles, ${events.events} events of ${events.users.length} users, ${events.tracks.count} distinct tracks in ${seconds(t0)}`);
  const t1 = Date.now();
  const out = processLastfm(config, profiles, events, located);
  for (const s of out.tables.steps) log(`[preprocess] lastfm: ${s.step}: ${s.users} users`);
  log(`[preprocess] lastfm: filtered in ${seconds(t1)}; proxy values ${JSON.stringify(out.summary.proxyValues)}`);
  opts.onTables?.(out.tables);
  return out;
}

/** The demographic tables of a domain without writing anything (parses the raw files; Last.fm reads the events for the counts). */
export async function demographicTables(config: Config, domain: DomainName, opts: { log?: Log } = {}): Promise<DemographicTables> {
  if (domain !== 'movielens' && domain !== 'lastfm') {
    throw new Error(`demographicTables: only the built-in domains have Danfo tables; for "${domain}" the preprocess summary lists each filter step and what it dropped`);
  }
  const located = await locateDataset(config, domain, opts);
  if (domain === 'movielens') {
    return filterMovielensUsers(parseMlUsers(located.files.users), config.preprocess.movielens).tables;
  }
  const profiles = parseLastfmProfiles(located.files.profile);
  const events = await parseLastfmEvents(located.files.events, { badLines: config.preprocess.lastfm.skipMalformedLines ? 'skip' : 'error' });
  return filterLastfmUsers(profiles, new Map(events.users.map((u, i) => [u, events.userEvents[i]])), config.preprocess.lastfm).tables;
}
