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
 * Shortfalls. C1 needs K/2 catalogue items that no matching user interacted with. The catalogue is the whole dataset
 * (every movie of movies.dat, every track of the events file; see lib/data/preprocess.ts), so this holds even for the
 * whole population; a catalogue that still cannot fill C1 is an error naming the setting and the group, never a
 * silent refill from C2. When the matching users interacted with fewer than
 * K − |C1| items outside the history, C2 cannot be filled: that length of the draw is skipped (counted as
 * "fewC2Items") and the draw goes on with the next length, whose history is drawn afresh; in setup C (a whole
 * demographic group) it is an error naming the setting, the group and the count. K larger than the catalogue is an
 * error before anything is drawn.
 *
 * Randomness: every draw has its own generator seeded with deriveSeed(config.seed, domain, setting, "draw", index),
 * every setup-C prompt with deriveSeed(config.seed, domain, setting, "C", group). Settings are therefore independent of
 * each other, and raising drawsPerSetting keeps the earlier draws unchanged.
 */
import type { Config } from '../core/config';
import { entropy } from '../core/entropy';
import type { ProcessedDomain } from '../data/processed';
import { Progress } from '../core/progress';
import { deriveSeed, makeRng, randomInt, sampleDistinct, shuffleInPlace, type Rng } from '../core/rng';
import { FORMAT_VERSION, type SampleCounts, type SampleRecord, type Setup } from '../core/types';
import {
  type Context,
  type Group,
  type SettingPlan,
  catalogueOf,
  checkHistoryLengths,
  knownProxies,
  makeContext,
  planAll,
  planSetting,
  settingsOf,
} from './plan';

/** Why a trajectory stopped (or a length was skipped), per setting and history length. */
export type SampleStopReason =
  /** |u_h| < minMatchingUsers after all retries: the trajectory stops (Algorithm 1, line 8). */
  | 'fewMatchingUsers'
  /** The matching users interacted with too few items outside the history to fill C2: this length is skipped. */
  | 'fewC2Items'
  /** The history source holds fewer than h items (group or catalogue too small): the trajectory stops. */
  | 'fewHistoryItems'
  /** historySource "user": no group member has h items: the trajectory stops. */
  | 'noMemberWithHItems';

/** { setting: { historyLength: { reason: count } } }: stopped draws and skipped lengths. */
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

// ---------------------------------------------------------------------------------------------------------------
// Drawing

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
}

interface Shortfall {
  /** The C2 items needed (K − K/2) and available. */
  c2Needed: number;
  c2Available: number;
}

/** Fewer than K/2 catalogue items were never interacted with by the matching users (nor are in the history). */
interface C1Shortfall {
  c1Available: number;
}

function c1Error(ctx: Context, where: string, c1Available: number): Error {
  return new Error(
    `sample ${where}: C1 needs ${ctx.halfK} catalogue items (K/2, K = ${ctx.K}) that no matching user interacted with, but only ${c1Available} of the ` +
      `${ctx.data.items.length} catalogue items are; the processed catalogue should hold every item of the dataset (re-run the preprocess stage) or lower "sample.K"`,
  );
}

function groupLabel(plan: SettingPlan, group: Group): string {
  return plan.proxies.length ? `group ${group.key}` : 'all users';
}

/**
 * C1 (never interacted with by the matching users) and C2 (interacted with, minus history), shuffled, with the
 * normalised interaction counts as target, |C1| = K/2. Returns the shortfall instead when C1 or C2 cannot be filled.
 */
function buildCandidates(
  ctx: Context,
  rng: Rng,
  matching: ArrayLike<number>,
  history: number[],
): Candidates | Shortfall | C1Shortfall {
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
    if (c1Available < ctx.halfK) return { c1Available };
    const nC1 = ctx.halfK;
    const nC2 = ctx.K - nC1;
    if (c2Pool.length < nC2) return { c2Needed: nC2, c2Available: c2Pool.length };
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
    return { candidates, target };
  } finally {
    for (const i of touched) freq[i] = 0;
    for (const i of history) inHistory[i] = 0;
  }
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
function drawOne(
  ctx: Context,
  plan: SettingPlan,
  index: number,
  lengths: number[],
  pad: number,
  stops: SampleStops,
): SampleRecord[] {
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
    if ('c1Available' in built)
      throw c1Error(
        ctx,
        `${domain}/${plan.name} (${groupLabel(plan, group)}, ${drawId}, history length ${h}, ${matching.length} matching users)`,
        built.c1Available,
      );
    if (!('candidates' in built)) {
      bump(stops, plan.name, h, 'fewC2Items');
      continue;
    }
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
      targetEntropy: entropy(built.target, config.score.logBase),
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
    if ('c1Available' in built) throw c1Error(ctx, where, built.c1Available);
    if (!('candidates' in built)) {
      throw new Error(
        `sample ${where}: C2 needs ${built.c2Needed} items (K − |C1|, K = ${ctx.K}, |C1| = ${ctx.halfK}) the group interacted with, but the group interacted with only ${built.c2Available}; lower "sample.K"`,
      );
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
      targetEntropy: entropy(built.target, config.score.logBase),
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
      const progress = new Progress({
        label: `sample ${data.domain}/${plan.name}`,
        total: draws,
        unit: 'draws',
        write: log,
      });
      for (let d = 0; d < draws; d++) {
        for (const r of drawOne(ctx, plan, d, positive, pad, stops)) {
          samples.push(r);
          counts[plan.name][String(r.history.length)]++;
        }
        progress.tick();
      }
    }
    const row = lengths.map((h) => `h${h}: ${counts[plan.name][String(h)]}`).join(', ');
    log(
      `sample ${data.domain}/${plan.name}: ${plan.groups.length} group(s), ${plan.population.length} users; prompts ${row}; stops ${formatStops(stops[plan.name])}`,
    );
  }
  return { samples, counts, stops };
}

/**
 * One trajectory (setups A/B) of a setting, exactly as sampleDomain draws it when `lengths` are the positive history
 * lengths: for showing Algorithm 1 step by step. Every length must be > 0: h = 0 is setup C, which has no draw.
 */
export function sampleTrajectory(
  data: ProcessedDomain,
  config: Config,
  setting: string,
  drawIndex: number,
  lengths: number[],
): SampleRecord[] {
  for (const h of lengths) {
    if (!(Number.isInteger(h) && h > 0)) {
      throw new Error(
        `sample: a draw of setups A/B needs history lengths > 0, got ${JSON.stringify(h)} in ${JSON.stringify(lengths)} (h = 0 is setup C, one prompt per group without a draw)`,
      );
    }
  }
  const sorted = checkHistoryLengths(lengths);
  if (!(Number.isInteger(drawIndex) && drawIndex >= 0))
    throw new Error(`sample: draw index must be a whole number >= 0, got ${drawIndex}`);
  const ctx = makeContext(data, config);
  const entry = settingsOf(config, data.domain).find(([name]) => name === setting);
  if (!entry)
    throw new Error(
      `sample: no setting "${setting}" for ${data.domain} in "sample.settings" (have: ${settingsOf(config, data.domain)
        .map(([n]) => n)
        .join(', ')})`,
    );
  const plan = planSetting(data, data.domain, entry[0], entry[1], knownProxies(data));
  const stops: SampleStops = { [setting]: {} };
  return drawOne(ctx, plan, drawIndex, sorted, drawPad(config.sample.drawsPerSetting), stops);
}
