/**
 * Position bias: where in the listed candidates a model's valid picks sit. Candidates are listed in a seeded random
 * order, so a model blind to the order picks every position equally often: with bins of 10 positions each bin gets
 * its size / K of the picks (20 % for K = 50). A chi-square test against those shares says whether a model departs
 * from that.
 *
 * The test is calibrated (lib/score/position-bias-calibration.ts has the derivation and the simulation):
 * - The picks of one answer are distinct positions, drawn without replacement, so their counts vary less than the
 *   multinomial Pearson's statistic assumes; the statistic is multiplied by M / W (49/40 for 10 picks of 50), each
 *   listing weighted by its own number of picks.
 * - The unit is the prompt (a drawn sample). Its candidate orders are separate shuffles, independent for an
 *   order-blind model, so their positions are pooled and their variances add. Its repeated asks (query.samples) share
 *   one listing: pooled as they are, identical answers at temperature 0 multiplied the evidence and rejected an
 *   order-blind model 20–67 % of the time; the variance of a listing is computed from how often each candidate was
 *   named over its asks, which makes a identical answers count once and different answers count by their overlap.
 *   We pool rather than keep the first ask only because at temperature > 0 the other asks carry information, and the
 *   pooled variance is exact, not an approximation.
 * - Each result records its measured false-positive rate: 2,000 order-blind runs of the same shape (listings by their
 *   pattern of picks) simulated with a fixed seed, and the Monte-Carlo p-value against them.
 */
import type { ResponseRecord, SampleRecord } from '../core/types';
import { baseSampleId } from '../sample/orders';
import { chiSquareSurvival } from './chi-square';
import {
  CALIBRATION_DATASETS,
  CALIBRATION_SEED,
  type ListingClass,
  POSITION_BIN_SIZE,
  calibratePositionTest,
  monteCarloPValue,
  positionBinSizes,
  positionChiSquare,
  shapeTotals,
} from './position-bias-calibration';

export { POSITION_BIN_SIZE };

export interface PositionBin {
  /** Positions from..to (1-based, inclusive) in the listed candidates. */
  from: number;
  to: number;
  picks: number;
  share: number;
  /** The share an order-blind model gives: the bin's size / K. */
  expectedShare: number;
}

/** The test's measured false-positive rate at the result's own shape. */
export interface PositionFalsePositiveRate {
  /** Simulated order-blind datasets and their seed; the level of the test. */
  datasets: number;
  seed: string | number;
  alpha: number;
  /** Share of them the test rejected, with its 95 % Monte-Carlo (Wilson) interval. */
  rate: number;
  low: number;
  high: number;
  /** The same for Pearson's uncorrected statistic on the pooled picks (the test before the correction). */
  uncorrectedRate: number;
}

export interface PositionBias {
  /** Answers counted (every order and ask with at least one valid pick) and their valid picks. */
  answers: number;
  picks: number;
  /** The test's unit: drawn samples with at least one counted answer (candidate orders and asks pooled). */
  prompts: number;
  /** Listings counted: prompt records (one per sample and candidate order) with at least one counted answer. */
  listings: number;
  /** Candidates per prompt. */
  K: number;
  bins: PositionBin[];
  /** How the p-value is computed, and over what. */
  method: 'chi-square, without-replacement variance';
  unit: 'prompt';
  /** M / W, by which Pearson's statistic is multiplied: (K − 1)/(K − n) when every listing has one answer of n picks. */
  correction: number;
  /** The corrected statistic (uncorrectedChiSquare × correction). */
  chiSquare: number;
  uncorrectedChiSquare: number;
  degreesOfFreedom: number;
  /** P(χ² >= chiSquare) under an order-blind model. */
  pValue: number;
  /** The share of the simulated order-blind datasets with a statistic at least as large ((1 + k)/(1 + datasets)). */
  monteCarloPValue: number | null;
  falsePositiveRate: PositionFalsePositiveRate | null;
}

/** Position-bias statistics of counts per bin against expected shares (summing to 1): Pearson's multinomial test. */
export function chiSquareAgainstShares(
  counts: number[],
  expectedShares: number[],
): { chiSquare: number; degreesOfFreedom: number; pValue: number } {
  if (counts.length !== expectedShares.length || counts.length < 2) {
    throw new RangeError(
      `chiSquareAgainstShares: need at least two bins with one expected share each (got ${counts.length} counts, ${expectedShares.length} shares)`,
    );
  }
  const total = counts.reduce((a, b) => a + b, 0);
  let chiSquare = 0;
  counts.forEach((o, i) => {
    const e = total * expectedShares[i];
    chiSquare += ((o - e) * (o - e)) / e;
  });
  const degreesOfFreedom = counts.length - 1;
  return { chiSquare, degreesOfFreedom, pValue: chiSquareSurvival(chiSquare, degreesOfFreedom) };
}

export interface PositionBiasOptions {
  /** false: no simulation (no falsePositiveRate, no Monte-Carlo p-value); else its datasets and seed. */
  calibration?: false | { datasets?: number; seed?: string | number };
}

/**
 * Position bias of a model's answers to a domain's prompts; null when no answer has a valid pick, the prompts do not
 * all list the same number of candidates, or no pick's position could vary. Answers for prompts not in `samples` are
 * ignored; of two answers to one prompt and ask, the later counts (as in the score stage).
 */
export function positionBias(
  samples: SampleRecord[],
  responses: ResponseRecord[],
  opts: PositionBiasOptions = {},
): PositionBias | null {
  const byId = new Map(samples.map((s) => [s.id, s]));
  const Ks = new Set(samples.map((s) => s.candidates.length));
  if (Ks.size !== 1) return null;
  const K = [...Ks][0];
  const sizes = positionBinSizes(K);
  if (sizes.length < 2) return null;
  const latest = new Map<string, ResponseRecord>();
  for (const r of responses) if (byId.has(r.promptId)) latest.set(`${r.promptId}\u0000${r.sample ?? 0}`, r);
  const counts = new Array<number>(sizes.length).fill(0);
  // Per listing (prompt record): how many of its asks named each candidate.
  const named = new Map<string, Map<string, number>>();
  let answers = 0;
  for (const r of latest.values()) {
    if (r.ranked.length === 0) continue;
    const sample = byId.get(r.promptId)!;
    answers++;
    const position = new Map(sample.candidates.map((id, i) => [id, i]));
    const times = named.get(r.promptId) ?? new Map<string, number>();
    named.set(r.promptId, times);
    for (const id of r.ranked) {
      const p = position.get(id);
      if (p === undefined)
        throw new Error(`position bias: pick "${id}" of prompt ${r.promptId} is not among its candidates`);
      counts[Math.floor(p / POSITION_BIN_SIZE)]++;
      times.set(id, (times.get(id) ?? 0) + 1);
    }
  }
  const picks = counts.reduce((a, b) => a + b, 0);
  if (picks === 0) return null;
  const patterns = new Map<string, ListingClass>();
  const prompts = new Set<string>();
  for (const [promptId, times] of named) {
    prompts.add(baseSampleId(byId.get(promptId)!));
    const multiplicities = [...times.values()].sort((a, b) => b - a);
    const key = multiplicities.join(',');
    const c = patterns.get(key);
    if (c) c.listings++;
    else patterns.set(key, { multiplicities, listings: 1 });
  }
  const shape = { K, classes: [...patterns.values()] };
  const { W } = shapeTotals(shape);
  if (!(W > 0)) return null;
  const bins: PositionBin[] = counts.map((c, b) => {
    const from = b * POSITION_BIN_SIZE + 1;
    const to = from + sizes[b] - 1;
    return { from, to, picks: c, share: c / picks, expectedShare: sizes[b] / K };
  });
  const statistic = positionChiSquare(counts, sizes, picks, W);
  let monteCarlo: number | null = null;
  let falsePositiveRate: PositionFalsePositiveRate | null = null;
  if (opts.calibration !== false) {
    const sim = calibratePositionTest(shape, {
      datasets: opts.calibration?.datasets ?? CALIBRATION_DATASETS,
      seed: opts.calibration?.seed ?? CALIBRATION_SEED,
    });
    monteCarlo = monteCarloPValue(sim.statistics, statistic.chiSquare);
    falsePositiveRate = {
      datasets: sim.datasets,
      seed: sim.seed,
      alpha: sim.alpha,
      rate: sim.corrected.rate,
      low: sim.corrected.low,
      high: sim.corrected.high,
      uncorrectedRate: sim.uncorrected.rate,
    };
  }
  return {
    answers,
    picks,
    prompts: prompts.size,
    listings: named.size,
    K,
    bins,
    method: 'chi-square, without-replacement variance',
    unit: 'prompt',
    correction: statistic.correction,
    chiSquare: statistic.chiSquare,
    uncorrectedChiSquare: statistic.uncorrectedChiSquare,
    degreesOfFreedom: statistic.degreesOfFreedom,
    pValue: statistic.pValue,
    monteCarloPValue: monteCarlo,
    falsePositiveRate,
  };
}
