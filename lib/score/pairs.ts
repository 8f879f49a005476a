/** The score stage's paired outputs: comparisons.json (every pair of models) and power.json (simulated pairs). */
import * as fs from 'node:fs';
import { type Config, type DomainName } from '../core/config';
import { writeJsonAtomic } from '../core/io';
import { deriveSeed } from '../core/rng';
import type { ScoreRecord, Setup } from '../core/types';
import {
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

/** A domain of the run: its binning range per setup and the models with scores of it. */
export interface PairDomain {
  domain: DomainName;
  ranges: Record<Setup, [number, number] | null>;
  models: string[];
}

/**
 * Rewrites comparisons.json (and power.json) for the given domains: every pair of the domain's `models` (those with
 * scores of the domain in the summary, not only those scored in this run), on the prompts both scored, per setup.
 * Entries of other domains are kept.
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
  const scoresByDomain = new Map<DomainName, Map<string, ScoreRecord[]>>();
  for (const { domain, ranges, models } of domains) {
    const scores = new Map(models.map((id) => [id, loadScores(config, id, domain)]));
    scoresByDomain.set(domain, scores);
    for (const setup of SETUPS) {
      const range = ranges[setup];
      if (!range) continue;
      const perModel = models.map((id) =>
        asModelScores(
          id,
          scores.get(id)!.filter((r) => r.setup === setup),
        ),
      );
      const { bins, departureGap, bootstrap, confidence } = config.curves;
      const seed = deriveSeed(config.seed, 'compare', domain, setup);
      for (const c of comparePairs(perModel, { bins, range, departureGap, resamples: bootstrap, confidence, seed })) {
        out.push({ domain, setup, ...c });
      }
    }
  }
  out.sort((p, q) => cmp(p.domain, q.domain) || cmp(p.setup, q.setup) || cmp(p.a, q.a) || cmp(p.b, q.b));
  const result: Comparisons = { v: COMPARISONS_VERSION, comparisons: out };
  writeJsonAtomic(file, result);
  writePower(config, domains, scoresByDomain);
}

/**
 * power.json for the given domains, from the oracle and random baselines (the first configured model of each kind that
 * has scores of the domain); a domain without both is left out. Entries of other domains are kept.
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
  const idOfKind = (kind: string, domain: DomainName) =>
    config.query.models.find(
      (m) => m.provider === 'baseline' && m.model === kind && scoresByDomain.get(domain)?.has(m.id),
    )?.id;
  for (const { domain, ranges } of domains) {
    const oracleId = idOfKind('oracle', domain);
    const randomId = idOfKind('random', domain);
    if (!oracleId || !randomId) continue;
    const scores = scoresByDomain.get(domain)!;
    for (const setup of SETUPS) {
      const range = ranges[setup];
      if (!range) continue;
      const bySetup = (id: string) =>
        asModelScores(
          id,
          scores.get(id)!.filter((r) => r.setup === setup),
        );
      const [oracle, random] = comparePairsInput(bySetup(oracleId), bySetup(randomId));
      if (!oracle.promptIds.length) continue;
      const { bins, departureGap, bootstrap, confidence } = config.curves;
      const seed = deriveSeed(config.seed, 'power', domain, setup);
      for (const row of powerTable(oracle, random, {
        bins,
        range,
        departureGap,
        resamples: bootstrap,
        confidence,
        seed,
      }))
        out.push({ domain, setup, ...row });
    }
  }
  out.sort((p, q) => cmp(p.domain, q.domain) || cmp(p.setup, q.setup) || p.base - q.base);
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
