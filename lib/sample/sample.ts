/**
 * The sample stage: the paper's Algorithm 1 (section 4.2), turning processed data into prompt specifications.
 *
 * Setups (paper 4.2): A = demography + history (a proxy setting, h > 0), B = history only (setting "none", h > 0),
 * C = demography only (h = 0; one prompt per proxy value present in the data, "none" being one prompt over all users).
 *
 * A draw (one trajectory of Algorithm 1) for h > 0:
 *  1. Choose the demographic group D by drawing a uniformly random user of the setting's population (users whose values
 *     for the setting's proxies are all known) and taking that user's values, so larger groups are drawn more often.
 *  2. Walk the history lengths in increasing order. At each length h, sample the history I_h (h distinct items) from
 *     `config.sample.historySource`:
 *       - "group" (default): uniformly from the items the group D interacted with. Every history item is then something
 *         the group has seen, so longer histories still find matching users often enough to fill Table 1.
 *       - "catalogue": uniformly from the whole catalogue, the literal reading of line 5 of the listing ("Sample h random
 *         items from I"). Random items are rarely co-held, so trajectories stop early.
 *       - "user": uniformly from the items of one real group member with at least h items (drawn uniformly among those
 *         members), i.e. a history that some actual user has; that user always matches.
 *  3. The matching users u_h are the group's users holding at least ceil(matchThreshold · h) of I_h, found through the
 *     item → users inverted index. If |u_h| < minMatchingUsers, draw I_h again (up to `retries` more times); if it still
 *     fails, the trajectory stops here (lines 7–8: "Break") and its longer lengths are never emitted.
 *  4. Candidates: C1 = floor(K/2) items that no matching user interacted with ("items the group will never interact
 *     with", 4.2; the complement bar is lost in the listing), drawn from the whole catalogue; C2 = K − |C1| items the
 *     matching users interacted with, minus the history. No history item is ever a candidate. The K candidates are
 *     shuffled.
 *  5. Target: for each candidate, the number of matching users who interacted with it, normalised (C1 items get 0).
 *
 * Shortfalls. C1 needs K/2 catalogue items that no matching user interacted with. The processed catalogue holds only
 * items someone kept interacted with, so for the whole population (setup C of "none") no such item exists: then C1
 * holds what exists (possibly nothing) and C2 = K − |C1| takes the rest, the listing's own rule (line 17); such
 * prompts are logged and counted in `stops` as "fewC1Items". When the matching users interacted with fewer than
 * K − |C1| items outside the history, C2 cannot be filled: that length of the draw is skipped (counted as
 * "fewC2Items") and the draw goes on with the next length, whose history is drawn afresh; in setup C (a whole
 * demographic group) it is an error naming the setting, the group and the count. K larger than the catalogue is an
 * error before anything is drawn.
 *
 * Randomness: every draw has its own generator seeded with deriveSeed(config.seed, domain, setting, "draw", index),
 * every setup-C prompt with deriveSeed(config.seed, domain, setting, "C", group). Settings are therefore independent of
 * each other, and raising drawsPerSetting keeps the earlier draws unchanged.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { domainDir, type Config, type DomainName } from '../core/config';
import { readJsonl, writeJsonAtomic, writeJsonl } from '../core/io';
import { loadProcessed, type ProcessedDomain } from '../data/processed';
import { Progress } from '../core/progress';
import { deriveSeed, makeRng, randomInt, shuffleInPlace, type Rng } from '../core/rng';
import { FORMAT_VERSION, type SampleCounts, type SampleRecord, type Setup } from '../core/types';

/** Why a trajectory stopped (or a length was skipped), per setting and history length. */
export type SampleStopReason =
  /** |u_h| < minMatchingUsers after all retries: the trajectory stops (Algorithm 1, line 8). */
  | 'fewMatchingUsers'
  /** The matching users interacted with too few items outside the history to fill C2: this length is skipped. */
  | 'fewC2Items'
  /**
   * Not a stop: fewer than K/2 catalogue items were never interacted with by the matching users, so C1 holds what
   * exists and C2 = K − |C1| takes the rest (typically setup C of "none": the catalogue holds only interacted items).
   */
  | 'fewC1Items'
  /** The history source holds fewer than h items (group or catalogue too small): the trajectory stops. */
  | 'fewHistoryItems'
  /** historySource "user": no group member has h items: the trajectory stops. */
  | 'noMemberWithHItems';

/** { setting: { historyLength: { reason: count } } }: stopped draws, skipped lengths, and prompts with a short C1. */
export type SampleStops = Record<string, Record<string, Partial<Record<SampleStopReason, number>>>>;

export interface SampleResult {
  samples: SampleRecord[];
  /** The paper's Table 1 for this run: { setting: { historyLength: prompts } }. */
  counts: SampleCounts;
  stops: SampleStops;
}

export interface SampleOptions {
  log?: (s: string) => void;
}

export const SAMPLES_FILE = 'samples.jsonl';
export const SAMPLE_COUNTS_FILE = 'counts.json';
export const SAMPLE_STOPS_FILE = 'stops.json';

/**
 * The paper's Table 1 (number of prompts per setting and history length), under our setting names. Published numbers,
 * kept only to compare with ours. The movie "All" row lists no h = 20 entry, so it is absent here.
 */
export const PAPER_SAMPLE_COUNTS: Record<DomainName, SampleCounts> = {
  movielens: {
    none: { '0': 1, '1': 300, '3': 300, '5': 300, '10': 89, '20': 5 },
    age: { '0': 7, '1': 300, '3': 300, '5': 300, '10': 147, '20': 5 },
    gender: { '0': 2, '1': 300, '3': 300, '5': 300, '10': 110, '20': 5 },
    occupation: { '0': 17, '1': 300, '3': 300, '5': 300, '10': 112, '20': 2 },
    all: { '0': 51, '1': 300, '3': 300, '5': 300, '10': 43 },
  },
  lastfm: {
    none: { '0': 1, '1': 246, '3': 249, '5': 246, '10': 240, '20': 11 },
    country: { '0': 17, '1': 250, '3': 249, '5': 248, '10': 208, '20': 9 },
    continent: { '0': 4, '1': 250, '3': 249, '5': 249, '10': 249, '20': 11 },
    gender: { '0': 2, '1': 249, '3': 247, '5': 249, '10': 250, '20': 13 },
    'gender+continent': { '0': 8, '1': 246, '3': 248, '5': 249, '10': 171, '20': 6 },
  },
};

// ---------------------------------------------------------------------------------------------------------------
// Planning: settings, groups, validation

interface Group {
  /** Values joined with "+" in proxy order ("25-34+Male+clerical/admin"); "all" for the no-proxy setting. */
  key: string;
  values: Record<string, string>;
  /** Ascending user indices. */
  members: Int32Array;
  /** Ascending item indices the group interacted with. */
  items: Int32Array;
}

interface SettingPlan {
  name: string;
  proxies: string[];
  setup: Setup;
  /** Users eligible for the setting (all proxy values known), ascending. */
  population: Int32Array;
  /** user → group index, −1 when not eligible. */
  groupOf: Int32Array;
  groups: Group[];
}

interface Scratch {
  /** Per user: history items held (reset after each use). */
  held: Int32Array;
  /** Per item: matching users who interacted with it (reset after each use). */
  freq: Int32Array;
  /** Per item: 1 when in the current history. */
  inHistory: Uint8Array;
}

interface Context {
  data: ProcessedDomain;
  config: Config;
  domain: DomainName;
  K: number;
  /** floor(K/2): the size of C1 whenever enough never-interacted items exist. */
  halfK: number;
  scratch: Scratch;
  /** 0..nItems−1, built on first use (historySource "catalogue"). */
  catalogue?: Int32Array;
}

function catalogueOf(ctx: Context): Int32Array {
  if (!ctx.catalogue) ctx.catalogue = Int32Array.from({ length: ctx.data.items.length }, (_, i) => i);
  return ctx.catalogue;
}

function knownProxies(data: ProcessedDomain): Set<string> {
  const known = new Set<string>();
  for (const u of data.users) for (const k of Object.keys(u.proxies)) known.add(k);
  return known;
}

function settingsOf(config: Config, domain: DomainName): [string, string[]][] {
  const settings = config.sample.settings[domain];
  if (!settings || typeof settings !== 'object') {
    throw new Error(`sample: config "sample.settings" has no entry for domain "${domain}" (expected setting name → list of proxies)`);
  }
  return Object.entries(settings);
}

/** Sorted distinct history lengths; duplicates, fractions and negatives are configuration errors. */
function checkHistoryLengths(lengths: number[]): number[] {
  const seen = new Set<number>();
  for (const h of lengths) {
    if (!(Number.isInteger(h) && h >= 0)) throw new Error(`sample: "sample.historyLengths" must hold whole numbers >= 0, got ${JSON.stringify(h)}`);
    if (seen.has(h)) throw new Error(`sample: "sample.historyLengths" lists ${h} twice (got ${JSON.stringify(lengths)})`);
    seen.add(h);
  }
  return [...seen].sort((a, b) => a - b);
}

function checkNumbers(config: Config, data: ProcessedDomain): void {
  const s = config.sample;
  if (!(Number.isInteger(s.K) && s.K >= 2)) throw new Error(`sample: "sample.K" must be a whole number >= 2, got ${s.K}`);
  if (s.K > data.items.length) {
    throw new Error(`sample: K = ${s.K} candidates requested but the ${data.domain} catalogue holds only ${data.items.length} items; lower "sample.K"`);
  }
  if (!(s.matchThreshold > 0 && s.matchThreshold <= 1)) throw new Error(`sample: "sample.matchThreshold" must be in (0, 1], got ${s.matchThreshold}`);
  if (!(Number.isInteger(s.minMatchingUsers) && s.minMatchingUsers >= 1)) throw new Error(`sample: "sample.minMatchingUsers" must be a whole number >= 1, got ${s.minMatchingUsers}`);
  if (!(Number.isInteger(s.drawsPerSetting) && s.drawsPerSetting >= 0)) throw new Error(`sample: "sample.drawsPerSetting" must be a whole number >= 0, got ${s.drawsPerSetting}`);
  if (!(Number.isInteger(s.retries) && s.retries >= 0)) throw new Error(`sample: "sample.retries" must be a whole number >= 0, got ${s.retries}`);
  if (!['group', 'catalogue', 'user'].includes(s.historySource)) throw new Error(`sample: "sample.historySource" must be "group", "catalogue" or "user", got ${JSON.stringify(s.historySource)}`);
  if (!(config.score.logBase > 1)) throw new Error(`sample: "score.logBase" must be > 1, got ${config.score.logBase}`);
}

function planSetting(data: ProcessedDomain, domain: DomainName, name: string, proxies: string[], known: Set<string>): SettingPlan {
  if (!Array.isArray(proxies) || proxies.some((p) => typeof p !== 'string')) {
    throw new Error(`sample: setting "${name}" of ${domain} must list proxy names, got ${JSON.stringify(proxies)}`);
  }
  for (const p of proxies) {
    if (!known.has(p)) {
      throw new Error(`sample: setting "${name}" names proxy "${p}", which the ${domain} data does not have (its proxies: ${[...known].sort().join(', ') || 'none'})`);
    }
  }
  const nUsers = data.users.length;
  const groupOfRaw = new Int32Array(nUsers).fill(-1);
  const keys: string[] = [];
  const valuesOf: Record<string, string>[] = [];
  const index = new Map<string, number>();
  for (let u = 0; u < nUsers; u++) {
    const vals: Record<string, string> = {};
    let ok = true;
    for (const p of proxies) {
      const v = data.users[u].proxies[p];
      if (v === null || v === undefined) {
        ok = false;
        break;
      }
      vals[p] = String(v);
    }
    if (!ok) continue;
    const key = proxies.length ? proxies.map((p) => vals[p]).join('+') : 'all';
    let g = index.get(key);
    if (g === undefined) {
      g = keys.length;
      index.set(key, g);
      keys.push(key);
      valuesOf.push(vals);
    }
    groupOfRaw[u] = g;
  }
  if (keys.length === 0) {
    throw new Error(`sample: setting "${name}" of ${domain}: no user has known values for ${proxies.join(', ')}`);
  }
  // Groups in code-unit order of their keys, so the order never depends on the locale or on the user order.
  const order = keys.map((_, g) => g).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : 0));
  const rank = new Int32Array(keys.length);
  order.forEach((g, r) => (rank[g] = r));
  const groupOf = new Int32Array(nUsers).fill(-1);
  const sizes = new Int32Array(keys.length);
  let eligible = 0;
  for (let u = 0; u < nUsers; u++) {
    if (groupOfRaw[u] < 0) continue;
    groupOf[u] = rank[groupOfRaw[u]];
    sizes[groupOf[u]]++;
    eligible++;
  }
  const population = new Int32Array(eligible);
  const members = order.map((_, r) => new Int32Array(sizes[r]));
  const fill = new Int32Array(keys.length);
  let k = 0;
  for (let u = 0; u < nUsers; u++) {
    const g = groupOf[u];
    if (g < 0) continue;
    population[k++] = u;
    members[g][fill[g]++] = u;
  }
  // Items per group through one stamp array: O(interactions) for the whole setting.
  const stamp = new Int32Array(data.items.length).fill(-1);
  const groups: Group[] = order.map((g, r) => {
    const seen: number[] = [];
    for (const u of members[r]) {
      const list = data.userItems[u];
      for (let j = 0; j < list.length; j++) {
        const i = list[j];
        if (stamp[i] !== r) {
          stamp[i] = r;
          seen.push(i);
        }
      }
    }
    return { key: keys[g], values: valuesOf[g], members: members[r], items: Int32Array.from(seen).sort() };
  });
  return { name, proxies: [...proxies], setup: proxies.length ? 'A' : 'B', population, groupOf, groups };
}

function makeContext(data: ProcessedDomain, config: Config): Context {
  checkNumbers(config, data);
  const K = config.sample.K;
  return {
    data,
    config,
    domain: data.domain,
    K,
    halfK: Math.floor(K / 2),
    scratch: {
      held: new Int32Array(data.users.length),
      freq: new Int32Array(data.items.length),
      inHistory: new Uint8Array(data.items.length),
    },
  };
}

function planAll(ctx: Context): SettingPlan[] {
  const known = knownProxies(ctx.data);
  if (ctx.data.users.length === 0) throw new Error(`sample: the processed ${ctx.domain} data holds no users`);
  return settingsOf(ctx.config, ctx.domain).map(([name, proxies]) => planSetting(ctx.data, ctx.domain, name, proxies, known));
}

// ---------------------------------------------------------------------------------------------------------------
// Drawing

/** k distinct entries of `pool`, uniformly, in draw order. */
function sampleDistinct(rng: Rng, pool: ArrayLike<number>, k: number): number[] {
  const n = pool.length;
  if (k > n) throw new RangeError(`cannot draw ${k} distinct items from ${n}`);
  const out: number[] = [];
  if (2 * k <= n) {
    // Rejection on positions: cheap when k is small relative to the pool (no copy of a large pool).
    const taken = new Set<number>();
    while (out.length < k) {
      const j = randomInt(rng, n);
      if (taken.has(j)) continue;
      taken.add(j);
      out.push(pool[j]);
    }
    return out;
  }
  const a = Array.from(pool);
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(rng, n - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
    out.push(a[i]);
  }
  return out;
}

/** The group's users holding at least `need` of the history items, ascending; counted through itemUsers. */
function matchingUsers(ctx: Context, plan: SettingPlan, group: number, history: number[], need: number): Int32Array {
  const { held } = ctx.scratch;
  const touched: number[] = [];
  for (const i of history) {
    const users = ctx.data.itemUsers[i];
    for (let j = 0; j < users.length; j++) {
      const u = users[j];
      if (plan.groupOf[u] !== group) continue;
      if (held[u]++ === 0) touched.push(u);
    }
  }
  const out: number[] = [];
  for (const u of touched) {
    if (held[u] >= need) out.push(u);
    held[u] = 0;
  }
  return Int32Array.from(out).sort();
}

interface Candidates {
  candidates: number[];
  target: number[];
  /** |C1|: K/2, or fewer when fewer never-interacted items exist. */
  c1: number;
}

interface Shortfall {
  /** |C1| that was possible, and the C2 items needed (K − |C1|) and available. */
  c1: number;
  c2Needed: number;
  c2Available: number;
}

function groupLabel(plan: SettingPlan, group: Group): string {
  return plan.proxies.length ? `group ${group.key}` : 'all users';
}

/**
 * C1 (never interacted with by the matching users) and C2 (interacted with, minus history), shuffled, with the
 * normalised interaction counts as target. |C1| = K/2 unless fewer such items exist: then C2 = K − |C1| takes the
 * rest (the listing's own rule). Returns the shortfall instead when C2 cannot be filled.
 */
function buildCandidates(ctx: Context, rng: Rng, matching: ArrayLike<number>, history: number[]): Candidates | Shortfall {
  const { freq, inHistory } = ctx.scratch;
  const nItems = ctx.data.items.length;
  const touched: number[] = [];
  for (let m = 0; m < matching.length; m++) {
    const list = ctx.data.userItems[matching[m]];
    for (let j = 0; j < list.length; j++) {
      const i = list[j];
      if (freq[i]++ === 0) touched.push(i);
    }
  }
  for (const i of history) inHistory[i] = 1;
  try {
    const c2Pool = touched.filter((i) => inHistory[i] === 0);
    let historyUnheld = 0;
    for (const i of history) if (freq[i] === 0) historyUnheld++;
    const c1Available = nItems - touched.length - historyUnheld;
    const nC1 = Math.min(ctx.halfK, c1Available);
    const nC2 = ctx.K - nC1;
    if (c2Pool.length < nC2) return { c1: nC1, c2Needed: nC2, c2Available: c2Pool.length };
    let c1: number[];
    if (4 * c1Available >= nItems) {
      // Mostly free catalogue: rejection sampling avoids building a pool the size of the catalogue for every draw.
      c1 = [];
      const chosen = new Set<number>();
      while (c1.length < nC1) {
        const i = randomInt(rng, nItems);
        if (freq[i] !== 0 || inHistory[i] !== 0 || chosen.has(i)) continue;
        chosen.add(i);
        c1.push(i);
      }
    } else {
      const c1Pool: number[] = [];
      for (let i = 0; i < nItems; i++) if (freq[i] === 0 && inHistory[i] === 0) c1Pool.push(i);
      c1 = sampleDistinct(rng, c1Pool, nC1);
    }
    const c2 = sampleDistinct(rng, c2Pool, nC2);
    const candidates = shuffleInPlace(rng, c1.concat(c2));
    let total = 0;
    for (const i of candidates) total += freq[i];
    const target = candidates.map((i) => freq[i] / total);
    return { candidates, target, c1: nC1 };
  } finally {
    for (const i of touched) freq[i] = 0;
    for (const i of history) inHistory[i] = 0;
  }
}

/** Shannon entropy of p in the given log base; zero-probability entries contribute nothing. */
function targetEntropyOf(p: number[], logBase: number): number {
  let h = 0;
  for (const x of p) if (x > 0) h -= x * Math.log(x);
  const out = h / Math.log(logBase);
  return out === 0 ? 0 : out; // never −0 in the files
}

function drawPad(draws: number): number {
  return Math.max(4, String(Math.max(0, draws - 1)).length);
}

function drawIdOf(domain: string, setting: string, index: number, pad: number): string {
  return `${domain}/${setting}/d${String(index).padStart(pad, '0')}`;
}

function bump(stops: SampleStops, setting: string, h: number, reason: SampleStopReason): void {
  const perH = (stops[setting][String(h)] ??= {});
  perH[reason] = (perH[reason] ?? 0) + 1;
}

/** One trajectory of Algorithm 1 for setups A/B: the records it emits, in increasing history length. */
function drawOne(ctx: Context, plan: SettingPlan, index: number, lengths: number[], pad: number, stops: SampleStops): SampleRecord[] {
  const { config, data, domain } = ctx;
  const s = config.sample;
  const seed = deriveSeed(config.seed, domain, plan.name, 'draw', index);
  const rng = makeRng(seed);
  const drawId = drawIdOf(domain, plan.name, index, pad);
  const g = plan.groupOf[plan.population[randomInt(rng, plan.population.length)]];
  const group = plan.groups[g];
  const records: SampleRecord[] = [];
  for (const h of lengths) {
    const need = Math.ceil(s.matchThreshold * h - 1e-9);
    let history: number[] | null = null;
    let matching: Int32Array | null = null;
    let stop: SampleStopReason | null = null;
    for (let attempt = 0; attempt <= s.retries; attempt++) {
      let pool: ArrayLike<number>;
      if (s.historySource === 'group') pool = group.items;
      else if (s.historySource === 'catalogue') pool = catalogueOf(ctx);
      else {
        const able: number[] = [];
        for (const u of group.members) if (data.userItems[u].length >= h) able.push(u);
        if (able.length === 0) {
          stop = 'noMemberWithHItems';
          break;
        }
        pool = data.userItems[able[randomInt(rng, able.length)]];
      }
      if (pool.length < h) {
        stop = 'fewHistoryItems';
        break;
      }
      const tryHistory = sampleDistinct(rng, pool, h);
      const tryMatching = matchingUsers(ctx, plan, g, tryHistory, need);
      if (tryMatching.length >= s.minMatchingUsers) {
        history = tryHistory;
        matching = tryMatching;
        break;
      }
      stop = 'fewMatchingUsers';
    }
    if (!history || !matching) {
      bump(stops, plan.name, h, stop ?? 'fewMatchingUsers');
      break;
    }
    const built = buildCandidates(ctx, rng, matching, history);
    if (!('candidates' in built)) {
      bump(stops, plan.name, h, 'fewC2Items');
      continue;
    }
    if (built.c1 < ctx.halfK) bump(stops, plan.name, h, 'fewC1Items');
    records.push({
      v: FORMAT_VERSION,
      id: `${drawId}/h${h}`,
      domain,
      setup: plan.setup,
      proxy: plan.name,
      demography: { ...group.values },
      history: history.map((i) => data.items[i].id),
      candidates: built.candidates.map((i) => data.items[i].id),
      target: built.target,
      targetEntropy: targetEntropyOf(built.target, config.score.logBase),
      groupSize: matching.length,
      drawId,
      seed,
    });
  }
  return records;
}

/** Setup C: one prompt per demographic group (the whole population for "none"), u_0 = the group. */
function demographyOnly(ctx: Context, plan: SettingPlan, stops: SampleStops, log: (s: string) => void): SampleRecord[] {
  const { config, data, domain } = ctx;
  return plan.groups.map((group) => {
    const seed = deriveSeed(config.seed, domain, plan.name, 'C', group.key);
    const rng = makeRng(seed);
    const id = `${domain}/${plan.name}/C/${group.key}`;
    const where = `${domain}/${plan.name} (${groupLabel(plan, group)}, setup C, ${group.members.length} users)`;
    const built = buildCandidates(ctx, rng, group.members, []);
    if (!('candidates' in built)) {
      throw new Error(
        `sample ${where}: C2 needs ${built.c2Needed} items (K − |C1|, K = ${ctx.K}, |C1| = ${built.c1}) the group interacted with, but the group interacted with only ${built.c2Available}; lower "sample.K"`,
      );
    }
    if (built.c1 < ctx.halfK) {
      bump(stops, plan.name, 0, 'fewC1Items');
      log(`sample ${where}: only ${built.c1} catalogue items were never interacted with by the group, so C1 has ${built.c1} items and C2 ${ctx.K - built.c1}`);
    }
    return {
      v: FORMAT_VERSION,
      id,
      domain,
      setup: 'C' as Setup,
      proxy: plan.name,
      demography: { ...group.values },
      history: [],
      candidates: built.candidates.map((i) => data.items[i].id),
      target: built.target,
      targetEntropy: targetEntropyOf(built.target, config.score.logBase),
      groupSize: group.members.length,
      drawId: id,
      seed,
    };
  });
}

function formatStops(perH: SampleStops[string]): string {
  const parts: string[] = [];
  for (const [h, reasons] of Object.entries(perH)) {
    for (const [reason, n] of Object.entries(reasons)) parts.push(`h${h} ${reason} ${n}`);
  }
  return parts.length ? parts.join(', ') : 'none';
}

/**
 * All prompts of one domain: setup C for every setting when 0 is a history length, then drawsPerSetting
 * trajectories per setting over the positive lengths. Pure and deterministic for a given config.seed.
 */
export function sampleDomain(data: ProcessedDomain, config: Config, opts: SampleOptions = {}): SampleResult {
  const log = opts.log ?? (() => {});
  const ctx = makeContext(data, config);
  const lengths = checkHistoryLengths(config.sample.historyLengths);
  const positive = lengths.filter((h) => h > 0);
  const plans = planAll(ctx);
  const draws = config.sample.drawsPerSetting;
  const pad = drawPad(draws);
  const samples: SampleRecord[] = [];
  const counts: SampleCounts = {};
  const stops: SampleStops = {};
  for (const plan of plans) {
    counts[plan.name] = Object.fromEntries(lengths.map((h) => [String(h), 0]));
    stops[plan.name] = {};
    if (lengths[0] === 0) {
      const c = demographyOnly(ctx, plan, stops, log);
      samples.push(...c);
      counts[plan.name]['0'] = c.length;
    }
    if (positive.length && draws > 0) {
      const progress = new Progress({ label: `sample ${data.domain}/${plan.name}`, total: draws, unit: 'draws', write: log });
      for (let d = 0; d < draws; d++) {
        for (const r of drawOne(ctx, plan, d, positive, pad, stops)) {
          samples.push(r);
          counts[plan.name][String(r.history.length)]++;
        }
        progress.tick();
      }
    }
    const row = lengths.map((h) => `h${h}: ${counts[plan.name][String(h)]}`).join(', ');
    log(`sample ${data.domain}/${plan.name}: ${plan.groups.length} group(s), ${plan.population.length} users; prompts ${row}; stops ${formatStops(stops[plan.name])}`);
  }
  return { samples, counts, stops };
}

/**
 * One trajectory (setups A/B) of a setting, exactly as sampleDomain draws it when `lengths` are the positive history
 * lengths: for showing Algorithm 1 step by step. Every length must be > 0: h = 0 is setup C, which has no draw.
 */
export function sampleTrajectory(data: ProcessedDomain, config: Config, setting: string, drawIndex: number, lengths: number[]): SampleRecord[] {
  for (const h of lengths) {
    if (!(Number.isInteger(h) && h > 0)) {
      throw new Error(`sample: a draw of setups A/B needs history lengths > 0, got ${JSON.stringify(h)} in ${JSON.stringify(lengths)} (h = 0 is setup C, one prompt per group without a draw)`);
    }
  }
  const sorted = checkHistoryLengths(lengths);
  if (!(Number.isInteger(drawIndex) && drawIndex >= 0)) throw new Error(`sample: draw index must be a whole number >= 0, got ${drawIndex}`);
  const ctx = makeContext(data, config);
  const entry = settingsOf(config, data.domain).find(([name]) => name === setting);
  if (!entry) throw new Error(`sample: no setting "${setting}" for ${data.domain} in "sample.settings" (have: ${settingsOf(config, data.domain).map(([n]) => n).join(', ')})`);
  const plan = planSetting(data, data.domain, entry[0], entry[1], knownProxies(data));
  const stops: SampleStops = { [setting]: {} };
  return drawOne(ctx, plan, drawIndex, sorted, drawPad(config.sample.drawsPerSetting), stops);
}

export function samplesFile(config: Config, domain: DomainName): string {
  return path.join(domainDir(config, 'samples', domain), SAMPLES_FILE);
}

/** Loads processed data, samples it, and writes samples.jsonl, counts.json and stops.json atomically. */
export function runSample(config: Config, domain: DomainName, opts: SampleOptions = {}): SampleResult {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const data = loadProcessed(domainDir(config, 'processed', domain));
  if (data.domain !== domain) throw new Error(`sample: ${domainDir(config, 'processed', domain)} holds ${data.domain} data, not ${domain}`);
  const result = sampleDomain(data, config, { log });
  const dir = domainDir(config, 'samples', domain);
  writeJsonl(path.join(dir, SAMPLES_FILE), result.samples);
  writeJsonAtomic(path.join(dir, SAMPLE_STOPS_FILE), result.stops);
  writeJsonAtomic(path.join(dir, SAMPLE_COUNTS_FILE), result.counts);
  log(`sample ${domain}: ${result.samples.length} prompts → ${dir}`);
  return result;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function validateSample(r: unknown, where: string): SampleRecord {
  const bad = (field: string, expected: string): never => {
    throw new Error(`${where}: field "${field}" ${expected}`);
  };
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error(`${where}: expected a JSON object (a sample record)`);
  const s = r as Record<string, unknown>;
  if (typeof s.v !== 'number') bad('v', 'must be the format version (a number)');
  if (typeof s.id !== 'string' || s.id === '') bad('id', 'must be a non-empty string');
  if (s.domain !== 'movielens' && s.domain !== 'lastfm') bad('domain', 'must be "movielens" or "lastfm"');
  if (s.setup !== 'A' && s.setup !== 'B' && s.setup !== 'C') bad('setup', 'must be "A", "B" or "C"');
  if (typeof s.proxy !== 'string') bad('proxy', 'must be the setting name (a string)');
  const demo = s.demography;
  if (typeof demo !== 'object' || demo === null || Array.isArray(demo) || !Object.values(demo).every((x) => typeof x === 'string')) {
    bad('demography', 'must be an object of proxy name → string value');
  }
  if (!isStringArray(s.history)) bad('history', 'must be an array of item ids (strings)');
  if (!isStringArray(s.candidates) || s.candidates.length === 0) bad('candidates', 'must be a non-empty array of item ids (strings)');
  const target = s.target;
  if (!Array.isArray(target) || !target.every((x) => typeof x === 'number' && x >= 0)) bad('target', 'must be an array of probabilities');
  if ((target as number[]).length !== (s.candidates as string[]).length) {
    bad('target', `must have one probability per candidate (${(s.candidates as string[]).length}), got ${(target as number[]).length}`);
  }
  if (typeof s.targetEntropy !== 'number') bad('targetEntropy', 'must be a number');
  if (!(Number.isInteger(s.groupSize) && (s.groupSize as number) >= 0)) bad('groupSize', 'must be a whole number');
  if (typeof s.drawId !== 'string') bad('drawId', 'must be a string');
  if (typeof s.seed !== 'string') bad('seed', 'must be a string');
  return s as unknown as SampleRecord;
}

/** Reads data/samples/<domain>/samples.jsonl; errors name file and line, and say to run the sample stage when missing. */
export function loadSamples(config: Config, domain: DomainName): SampleRecord[] {
  const file = samplesFile(config, domain);
  if (!fs.existsSync(file)) {
    throw new Error(`no samples for ${domain}: ${file} is missing; run the sample stage first (npm start -- --stages sample)`);
  }
  const { records, tornLastLine } = readJsonl<SampleRecord>(file, validateSample);
  if (tornLastLine) {
    const lines = fs.readFileSync(file, 'utf8').split('\n').length;
    throw new Error(`${file}:${lines}: the last line is cut off (the file is written atomically, so it was damaged); run the sample stage again`);
  }
  return records;
}

/** Reads counts.json (our Table 1) of a sampled domain. */
export function loadSampleCounts(config: Config, domain: DomainName): SampleCounts {
  const file = path.join(domainDir(config, 'samples', domain), SAMPLE_COUNTS_FILE);
  if (!fs.existsSync(file)) throw new Error(`no sample counts for ${domain}: ${file} is missing; run the sample stage first (npm start -- --stages sample)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as SampleCounts;
}

export interface SampleCountRow {
  setting: string;
  historyLength: number;
  /** "(Def)" rows are setup C (h = 0). */
  setup: Setup;
  ours: number | null;
  paper: number | null;
}

/** Our Table 1 beside the paper's, one row per (setting, history length) present in either. */
export function sampleCountRows(ours: SampleCounts, paper: SampleCounts = {}): SampleCountRow[] {
  const settings = [...Object.keys(ours), ...Object.keys(paper).filter((s) => !(s in ours))];
  const rows: SampleCountRow[] = [];
  for (const setting of settings) {
    const hs = new Set([...Object.keys(ours[setting] ?? {}), ...Object.keys(paper[setting] ?? {})]);
    for (const h of [...hs].map(Number).sort((a, b) => a - b)) {
      rows.push({
        setting,
        historyLength: h,
        setup: h === 0 ? 'C' : setting === 'none' ? 'B' : 'A',
        ours: ours[setting]?.[String(h)] ?? null,
        paper: paper[setting]?.[String(h)] ?? null,
      });
    }
  }
  return rows;
}

/** Fixed-width text of sampleCountRows, for logs and tests. */
export function formatSampleCounts(rows: SampleCountRow[]): string {
  const head = ['setting', 'h', 'setup', 'ours', 'paper'];
  const cells = rows.map((r) => [r.setting + (r.historyLength === 0 ? ' (Def)' : ''), String(r.historyLength), r.setup, r.ours === null ? '–' : String(r.ours), r.paper === null ? '–' : String(r.paper)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, ...cells].map((c) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ')).join('\n');
}

export interface ReadableCandidate {
  rank: number;
  id: string;
  name: string;
  /** C1: no matching user interacted with it (target 0); C2: some did. */
  kind: 'C1' | 'C2';
  target: number;
}

export interface ReadableSample {
  id: string;
  setup: Setup;
  setting: string;
  demography: Record<string, string>;
  history: { id: string; name: string }[];
  candidates: ReadableCandidate[];
  targetEntropy: number;
  groupSize: number;
}

/** A sample record with item names instead of ids (for notebooks and reports). */
export function readableSample(sample: SampleRecord, data: Pick<ProcessedDomain, 'items' | 'itemIndex'>): ReadableSample {
  const nameOf = (id: string): string => {
    const i = data.itemIndex.get(id);
    if (i === undefined) throw new Error(`sample ${sample.id}: item ${id} is not in the processed ${sample.domain} items`);
    return data.items[i].name;
  };
  return {
    id: sample.id,
    setup: sample.setup,
    setting: sample.proxy,
    demography: sample.demography,
    history: sample.history.map((id) => ({ id, name: nameOf(id) })),
    candidates: sample.candidates.map((id, k) => ({ rank: k + 1, id, name: nameOf(id), kind: sample.target[k] > 0 ? 'C2' : 'C1', target: sample.target[k] })),
    targetEntropy: sample.targetEntropy,
    groupSize: sample.groupSize,
  };
}
