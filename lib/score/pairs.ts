/** The score stage's paired outputs: comparisons.json (every pair of models) and power.json (simulated pairs). */
import * as fs from 'node:fs';
import { type Config, type DomainName } from '../core/config';
import { writeJsonAtomic } from '../core/io';
import { deriveSeed } from '../core/rng';
import type { ScoreRecord, Setup } from '../core/types';
import {
  adjustComparisons,
  alignScores,
  type Comparison,
  type Comparisons,
  COMPARISONS_VERSION,
  comparePairs,
  type ModelScores,
  readComparisons,
} from './compare';
import {
  loadPower,
  loadScores,
  type PowerFile,
  POWER_VERSION,
  scoreComparisonsFile,
  scorePowerFile,
  SETUPS,
} from './files';
import { powerTable } from './power';

/** A domain of the run: its binning range per setup, the models with scores of it, and each prompt's cluster. */
export interface PairDomain {
  domain: DomainName;
  ranges: Record<Setup, [number, number] | null>;
  models: string[];
  clusterOf: (promptId: string) => string;
}

/**
 * Rewrites comparisons.json (and power.json) for the given domains: every pair of the domain's `models` (those with
 * scores of the domain in the summary, not only those scored in this run), on the prompts both scored, per setup, with
 * Holm-adjusted p-values per (domain, family). Entries of other domains are kept.
 */
export function writeComparisons(config: Config, domains: PairDomain[], log: (s: string) => void): void {
  const file = scoreComparisonsFile(config);
  let kept: Comparison[] = [];
  try {
    kept = readComparisons(file)?.comparisons ?? [];
  } catch (e) {
    log(`[score] ${(e as Error).message}; starting a new comparisons file`);
  }
  const redone = new Set(domains.map((d) => d.domain));
  const out = kept.filter((c) => !redone.has(c.domain));
  const fresh: Comparison[] = [];
  const scoresByDomain = new Map<DomainName, Map<string, ScoreRecord[]>>();
  const noIntervals = config.curves.bootstrap < 2;
  for (const { domain, ranges, models, clusterOf } of domains) {
    const scores = new Map(models.map((id) => [id, loadScores(config, id, domain)]));
    scoresByDomain.set(domain, scores);
    for (const setup of SETUPS) {
      if (!ranges[setup]) continue;
      const perModel = models.map((id) =>
        asModelScores(
          id,
          scores.get(id)!.filter((r) => r.setup === setup),
        ),
      );
      const opts = { confidence: config.curves.confidence, clusterOf, named: config.comparisons };
      for (const c of comparePairs(perModel, opts)) fresh.push({ domain, setup, ...c });
    }
  }
  adjustComparisons(fresh);
  // curves.bootstrap 0 means no intervals anywhere: the estimates stay, their intervals and p-values do not.
  if (noIntervals)
    for (const c of fresh)
      for (const d of [c.meanGapDiff, c.slopeDiff])
        if (d) Object.assign(d, { low: null, high: null, se: null, p: null, pHolm: null });
  out.push(...fresh);
  out.sort((p, q) => cmp(p.domain, q.domain) || cmp(p.setup, q.setup) || cmp(p.a, q.a) || cmp(p.b, q.b));
  const result: Comparisons = { v: COMPARISONS_VERSION, comparisons: out };
  writeJsonAtomic(file, result);
  writePower(config, domains, scoresByDomain);
}

/** Two baselines whose paired difference is realistic noise for the power table (popularity-like, history-based). */
const NOISE_PAIR_KINDS = ['popularity', 'item-cf', 'group-popularity'];

/**
 * power.json for the given domains: per setup, the smallest difference in mean gap and in slope a paired comparison
 * detects with 80 % probability (lib/score/power.ts), with the noise of two realistic baselines' paired differences:
 * the first pair of popularity, item-cf and group-popularity scored in the domain whose answers differ in the setup.
 * A setup without such a pair is left out. Entries of other domains are kept.
 */
function writePower(
  config: Config,
  domains: PairDomain[],
  scoresByDomain: Map<DomainName, Map<string, ScoreRecord[]>>,
): void {
  const file = scorePowerFile(config);
  let kept: PowerFile['power'] = [];
  if (fs.existsSync(file)) {
    try {
      kept = loadPower(config).power;
    } catch {
      kept = [];
    }
  }
  const redone = new Set(domains.map((d) => d.domain));
  const out = kept.filter((r) => !redone.has(r.domain));
  if (config.curves.calibration > 0 && config.curves.bootstrap >= 2) {
    for (const { domain, clusterOf } of domains) {
      const scores = scoresByDomain.get(domain)!;
      const realistic = NOISE_PAIR_KINDS.flatMap((kind) =>
        config.query.models
          .filter((m) => m.provider === 'baseline' && m.model === kind && scores.has(m.id))
          .map((m) => m.id),
      );
      const pairs = realistic.flatMap((p, i) => realistic.slice(i + 1).map((q) => [p, q] as const));
      for (const setup of SETUPS) {
        const bySetup = (id: string) =>
          asModelScores(
            id,
            scores.get(id)!.filter((r) => r.setup === setup),
          );
        // The first pair whose difference is noise at all: two baselines can answer alike in a setup (popularity and
        // item-cf without a history), and a noise-free difference would claim any δ is detected with certainty.
        const noisy = pairs
          .map(([p, q]) => ({ p, q, ab: comparePairsInput(bySetup(p), bySetup(q)) }))
          .find(
            ({ ab: [a, b] }) =>
              a.promptIds.length >= 3 && a.crossEntropy.some((v, i) => Math.abs(v - b.crossEntropy[i]) > 1e-9),
          );
        if (!noisy) continue;
        const [a, b] = noisy.ab;
        const row = powerTable(
          {
            x: a.targetEntropy,
            cluster: a.promptIds.map(clusterOf),
            noise: a.crossEntropy.map((v, i) => v - b.crossEntropy[i]),
            noiseLabel: `${noisy.p} − ${noisy.q}`,
          },
          {
            confidence: config.curves.confidence,
            replicates: config.curves.calibration,
            seed: deriveSeed(config.seed, 'power', domain, setup),
          },
        );
        out.push({ domain, setup, ...row });
      }
    }
  }
  out.sort((p, q) => cmp(p.domain, q.domain) || cmp(p.setup, q.setup));
  writeJsonAtomic(file, { v: POWER_VERSION, power: out });
}

/** The two models restricted to the prompts both scored, in the first one's order. */
function comparePairsInput(a: ModelScores, b: ModelScores): [ModelScores, ModelScores] {
  const common = new Set(b.promptIds);
  const ids = a.promptIds.filter((id) => common.has(id));
  return [alignScores(a, ids), alignScores(b, ids)];
}

function asModelScores(modelId: string, rows: ScoreRecord[]): ModelScores {
  return {
    modelId,
    promptIds: rows.map((r) => r.promptId),
    targetEntropy: rows.map((r) => r.targetEntropy),
    crossEntropy: rows.map((r) => r.crossEntropy),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
