/**
 * Planning for Algorithm 1 (algorithm.ts): the configured settings checked against the data, each setting's
 * population split into demographic groups with the items each group interacted with, and the scratch buffers the
 * draws reuse.
 */
import type { Config, DomainName } from '../core/config';
import type { ProcessedDomain } from '../data/processed';
import type { Setup } from '../core/types';

export interface Group {
  /** Values joined with "+" in proxy order ("25-34+Male+clerical/admin"); "all" for the no-proxy setting. */
  key: string;
  values: Record<string, string>;
  /** Ascending user indices. */
  members: Int32Array;
  /** Ascending item indices the group interacted with. */
  items: Int32Array;
}

export interface SettingPlan {
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

export interface Context {
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

export function catalogueOf(ctx: Context): Int32Array {
  if (!ctx.catalogue) ctx.catalogue = Int32Array.from({ length: ctx.data.items.length }, (_, i) => i);
  return ctx.catalogue;
}

export function knownProxies(data: ProcessedDomain): Set<string> {
  const known = new Set<string>();
  for (const u of data.users) for (const k of Object.keys(u.proxies)) known.add(k);
  return known;
}

export function settingsOf(config: Config, domain: DomainName): [string, string[]][] {
  const settings = config.sample.settings[domain];
  if (!settings || typeof settings !== 'object') {
    throw new Error(
      `sample: config "sample.settings" has no entry for domain "${domain}" (expected setting name → list of proxies)`,
    );
  }
  return Object.entries(settings);
}

/** Sorted distinct history lengths; duplicates, fractions and negatives are configuration errors. */
export function checkHistoryLengths(lengths: number[]): number[] {
  const seen = new Set<number>();
  for (const h of lengths) {
    if (!(Number.isInteger(h) && h >= 0))
      throw new Error(`sample: "sample.historyLengths" must hold whole numbers >= 0, got ${JSON.stringify(h)}`);
    if (seen.has(h))
      throw new Error(`sample: "sample.historyLengths" lists ${h} twice (got ${JSON.stringify(lengths)})`);
    seen.add(h);
  }
  return [...seen].sort((a, b) => a - b);
}

function checkNumbers(config: Config, data: ProcessedDomain): void {
  const s = config.sample;
  if (!(Number.isInteger(s.K) && s.K >= 2))
    throw new Error(`sample: "sample.K" must be a whole number >= 2, got ${s.K}`);
  if (s.K > data.items.length) {
    throw new Error(
      `sample: K = ${s.K} candidates requested but the ${data.domain} catalogue holds only ${data.items.length} items; lower "sample.K"`,
    );
  }
  if (!(s.matchThreshold > 0 && s.matchThreshold <= 1))
    throw new Error(`sample: "sample.matchThreshold" must be in (0, 1], got ${s.matchThreshold}`);
  if (!(Number.isInteger(s.minMatchingUsers) && s.minMatchingUsers >= 1))
    throw new Error(`sample: "sample.minMatchingUsers" must be a whole number >= 1, got ${s.minMatchingUsers}`);
  if (!(Number.isInteger(s.drawsPerSetting) && s.drawsPerSetting >= 0))
    throw new Error(`sample: "sample.drawsPerSetting" must be a whole number >= 0, got ${s.drawsPerSetting}`);
  if (!(Number.isInteger(s.retries) && s.retries >= 0))
    throw new Error(`sample: "sample.retries" must be a whole number >= 0, got ${s.retries}`);
  if (!['group', 'catalogue', 'user'].includes(s.historySource))
    throw new Error(
      `sample: "sample.historySource" must be "group", "catalogue" or "user", got ${JSON.stringify(s.historySource)}`,
    );
  if (!(config.score.logBase > 1)) throw new Error(`sample: "score.logBase" must be > 1, got ${config.score.logBase}`);
}

export function planSetting(
  data: ProcessedDomain,
  domain: DomainName,
  name: string,
  proxies: string[],
  known: Set<string>,
): SettingPlan {
  if (!Array.isArray(proxies) || proxies.some((p) => typeof p !== 'string')) {
    throw new Error(`sample: setting "${name}" of ${domain} must list proxy names, got ${JSON.stringify(proxies)}`);
  }
  for (const p of proxies) {
    if (!known.has(p)) {
      throw new Error(
        `sample: setting "${name}" names proxy "${p}", which the ${domain} data does not have (its proxies: ${[...known].sort().join(', ') || 'none'})`,
      );
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

export function makeContext(data: ProcessedDomain, config: Config): Context {
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

export function planAll(ctx: Context): SettingPlan[] {
  const known = knownProxies(ctx.data);
  if (ctx.data.users.length === 0) throw new Error(`sample: the processed ${ctx.domain} data holds no users`);
  return settingsOf(ctx.config, ctx.domain).map(([name, proxies]) =>
    planSetting(ctx.data, ctx.domain, name, proxies, known),
  );
}
