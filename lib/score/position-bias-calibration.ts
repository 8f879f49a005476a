/**
 * The position-bias test's null distribution: the variance of the bin counts under sampling without replacement, the
 * corrected statistic, and the simulation that measures how often the test rejects a model blind to the order (its
 * false-positive rate) — at any run's numbers of prompts, picks, candidate orders and asks.
 *
 * Derivation. A prompt lists its K candidates in a uniformly random order (Algorithm 1 shuffles them; each further
 * candidate order is another seeded shuffle), so for a model blind to the order the candidates it names are
 * independent of where they stand. Take one listing (one prompt record: one sample in one candidate order) answered by
 * one or more asks, and let m_j be how many of its asks named candidate j (one ask: m_j = 1 for each of its n distinct
 * picks). Its count in position bin b is C_b = Σ_j m_j·1[pos(j) ∈ b], pos a uniform random injection of the named
 * candidates into positions 1..K. With s_b = |b|/K and Σ = diag(s) − s sᵀ (the covariance of one uniform position's
 * bin indicator), one candidate's indicator has covariance Σ, and two distinct candidates sit in two distinct
 * positions — P(b, c) = |b|(|c| − δ_bc) / (K(K − 1)) — so theirs is −Σ/(K − 1). Hence
 *   Cov(C) = Σ·(Σ_j m_j² − Σ_{j≠k} m_j m_k / (K − 1)) = w·Σ,   w = (K·Σ_j m_j² − M²) / (K − 1),   M = Σ_j m_j.
 * Listings are independent (separate shuffles, also the orders of one drawn sample), so a run's pooled counts have mean
 * M·s and covariance W·Σ with M and W summed over listings, and the statistic
 *   X² = Σ_b (C_b − M s_b)² / (W s_b) = (M / W) · Pearson's X² of the pooled counts
 * has mean exactly B − 1 and tends to χ²(B − 1) (B bins). Pearson's multinomial statistic assumes W = M.
 * - One answer of n distinct picks per prompt: w = n(K − n)/(K − 1), the factor M/W = (K − 1)/(K − n) = 49/40 for
 *   K = 50, n = 10 (the finite-population correction); without it the test rejects about 2.3 % of order-blind runs
 *   at 5 %. Answers with fewer valid picks enter with their own n.
 * - a identical asks of a prompt (temperature 0): m_j = a, so M and w grow by a and a² and X² is the one-ask value:
 *   a repeated answer adds no evidence (Pearson on the pooled picks grows a-fold and rejected an order-blind model
 *   20–67 % of the time for 2–5 asks). Asks that differ (temperature > 0) count by their overlap, exactly.
 *
 * The simulation draws, per listing, the positions of its named candidates uniformly without replacement (binned: only
 * counts per bin are needed), as often as a real run has listings of each pattern of multiplicities, and counts how
 * often X² exceeds the χ²(B − 1) critical value. Every draw comes from lib/core/rng.ts.
 */
import { makeRng, type Rng } from '../core/rng';
import { type AliasTable, listingTables } from './bin-tables';
import { chiSquareCritical, chiSquareSurvival } from './chi-square';

/** Positions per bin: 1–10, 11–20, … (the last bin may be shorter). */
export const POSITION_BIN_SIZE = 10;

/** Order-blind datasets simulated per calibration (the issue's 2,000). */
export const CALIBRATION_DATASETS = 2000;

/** The fixed seed of a calibration: the rate describes the test at a run's shape, not a draw of the run. */
export const CALIBRATION_SEED = 'position-bias-calibration';

/** Listings sharing one pattern: the multiplicities m_j of the distinct candidates named over their asks. */
export interface ListingClass {
  multiplicities: number[];
  listings: number;
}

/** What a run's position counts are made of: K candidates per listing and its listings by pattern. */
export interface PositionShape {
  K: number;
  classes: ListingClass[];
}

/** The bins' sizes for K candidates: ⌈K / 10⌉ bins of 10 positions, the last one holding the rest. */
export function positionBinSizes(K: number): number[] {
  if (!(Number.isInteger(K) && K >= 1)) throw new RangeError(`position bins: K must be a whole number >= 1, got ${K}`);
  const sizes: number[] = [];
  for (let from = 0; from < K; from += POSITION_BIN_SIZE) sizes.push(Math.min(POSITION_BIN_SIZE, K - from));
  return sizes;
}

/** w of one listing: its bin counts' covariance is w·Σ for an order-blind model (see the file comment). */
export function listingVariance(multiplicities: number[], K: number): number {
  return varianceNumerator(multiplicities, K) / (K - 1);
}

/** (K − 1)·w: a whole number for whole multiplicities, so sums over thousands of listings stay exact. */
function varianceNumerator(multiplicities: number[], K: number): number {
  let M = 0;
  let M2 = 0;
  for (const m of multiplicities) {
    M += m;
    M2 += m * m;
  }
  return K * M2 - M * M;
}

export interface PositionStatistic {
  /** X² = Σ (C_b − M s_b)² / (W s_b): Pearson's statistic times `correction`. */
  chiSquare: number;
  /** Pearson's multinomial statistic on the pooled counts (what the test used before the correction). */
  uncorrectedChiSquare: number;
  /** M / W: (K − 1)/(K − n) for one answer of n picks per prompt. */
  correction: number;
  degreesOfFreedom: number;
  /** P(χ²(B − 1) >= chiSquare). */
  pValue: number;
}

/**
 * The corrected statistic of pooled bin counts with M picks and variance weight W (both summed over listings with
 * listingVariance); `sizes` are the bins' sizes, summing to K.
 */
export function positionChiSquare(counts: number[], sizes: number[], M: number, W: number): PositionStatistic {
  if (counts.length !== sizes.length || counts.length < 2)
    throw new RangeError(
      `position chi-square: need at least two bins with one size each (got ${counts.length} counts, ${sizes.length} sizes)`,
    );
  if (!(M > 0 && W > 0)) throw new RangeError(`position chi-square: need M > 0 and W > 0, got M = ${M}, W = ${W}`);
  const K = sizes.reduce((a, b) => a + b, 0);
  let pearson = 0;
  for (let b = 0; b < counts.length; b++) {
    const e = (M * sizes[b]) / K;
    pearson += ((counts[b] - e) * (counts[b] - e)) / e;
  }
  const correction = M / W;
  const chiSquare = pearson * correction;
  const degreesOfFreedom = counts.length - 1;
  return {
    chiSquare,
    uncorrectedChiSquare: pearson,
    correction,
    degreesOfFreedom,
    pValue: chiSquareSurvival(chiSquare, degreesOfFreedom),
  };
}

/** A Monte-Carlo rejection rate with its 95 % Wilson interval. */
export interface RejectionRate {
  rejections: number;
  rate: number;
  low: number;
  high: number;
}

export interface SimulationOptions {
  /** Simulated datasets (default 2,000). */
  datasets?: number;
  /** Seed of the draws (default CALIBRATION_SEED). */
  seed?: string | number;
  /** Level of the test (default 0.05). */
  alpha?: number;
  /**
   * A position-biased model instead of an order-blind one: position i (0-based) is named with weight
   * positionWeights[i], successively without replacement. Gives the test's power.
   */
  positionWeights?: number[];
}

export interface PositionSimulation {
  datasets: number;
  seed: string | number;
  alpha: number;
  /** The test as reported (corrected statistic): the false-positive rate for an order-blind model, else the power. */
  corrected: RejectionRate;
  /** Pearson's multinomial statistic on the pooled picks, for comparison. */
  uncorrected: RejectionRate;
  /** The simulated corrected statistics, ascending (the null distribution at this shape). */
  statistics: Float64Array;
}

const Z95 = 1.959963984540054;

/** The rate k/n with its 95 % Wilson score interval. */
export function wilsonInterval(k: number, n: number): RejectionRate {
  const p = k / n;
  const z2 = Z95 * Z95;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return { rejections: k, rate: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

function checkShape(shape: PositionShape): void {
  const { K, classes } = shape;
  if (!(Number.isInteger(K) && K >= 2)) throw new RangeError(`position shape: K must be a whole number >= 2, got ${K}`);
  classes.forEach((c, i) => {
    if (!(Number.isInteger(c.listings) && c.listings >= 0))
      throw new RangeError(`position shape: classes[${i}].listings must be a whole number >= 0, got ${c.listings}`);
    if (c.multiplicities.length > K)
      throw new RangeError(
        `position shape: classes[${i}] names ${c.multiplicities.length} distinct candidates, more than K = ${K}`,
      );
    if (!c.multiplicities.every((m) => Number.isInteger(m) && m >= 1))
      throw new RangeError(`position shape: classes[${i}].multiplicities must be whole numbers >= 1`);
  });
}

/** M and W of a shape: its picks and its variance weight, summed over listings. */
export function shapeTotals(shape: PositionShape): { M: number; W: number; listings: number } {
  let M = 0;
  let numerator = 0;
  let listings = 0;
  for (const c of shape.classes) {
    M += c.listings * c.multiplicities.reduce((a, b) => a + b, 0);
    numerator += c.listings * varianceNumerator(c.multiplicities, shape.K);
    listings += c.listings;
  }
  return { M, W: numerator / (shape.K - 1), listings };
}

type ClassDraw = (rng: Rng, counts: Float64Array) => void;

function classDraw(c: ListingClass, sizes: number[], K: number, weights: number[] | undefined): ClassDraw {
  const B = sizes.length;
  const mult = c.multiplicities;
  const d = mult.length;
  if (
    weights &&
    sizes.every((size, b) =>
      weights
        .slice(b * POSITION_BIN_SIZE, b * POSITION_BIN_SIZE + size)
        .every((w) => w === weights[b * POSITION_BIN_SIZE]),
    )
  ) {
    // One weight per bin: positions within a bin stay exchangeable, so an urn of bins weighted by what is left of them.
    const binWeight = sizes.map((_, b) => weights[b * POSITION_BIN_SIZE]);
    const left = new Int32Array(B);
    return (rng, counts) => {
      for (let u = 0; u < c.listings; u++) {
        let total = 0;
        for (let b = 0; b < B; b++) {
          left[b] = sizes[b];
          total += sizes[b] * binWeight[b];
        }
        for (let j = 0; j < d; j++) {
          let r = rng() * total;
          let b = 0;
          while (b < B - 1 && (left[b] === 0 || (r -= left[b] * binWeight[b]) >= 0)) b++;
          while (left[b] === 0) b--; // rounding at the end of the scan
          left[b]--;
          total -= binWeight[b];
          counts[b] += mult[j];
        }
      }
    };
  }
  if (weights) {
    const binOf = Array.from({ length: K }, (_, i) => Math.floor(i / POSITION_BIN_SIZE));
    const taken = new Uint8Array(K);
    const totalWeight = weights.reduce((a, b) => a + b, 0);
    return (rng, counts) => {
      for (let u = 0; u < c.listings; u++) {
        taken.fill(0);
        let left = totalWeight;
        for (let j = 0; j < d; j++) {
          let r = rng() * left;
          let p = 0;
          for (; p < K - 1; p++) {
            if (taken[p]) continue;
            r -= weights[p];
            if (r < 0) break;
          }
          while (taken[p]) p--; // rounding at the end of the scan
          taken[p] = 1;
          left -= weights[p];
          counts[binOf[p]] += mult[j];
        }
      }
    };
  }
  const uniform = mult.every((m) => m === mult[0]);
  const tables = uniform && d > 0 ? listingTables(d, sizes) : null;
  if (tables) {
    const a = mult[0];
    const t = tables.length;
    const whole = Math.floor(c.listings / t);
    const rest = c.listings - whole * t;
    const drawFrom = (table: AliasTable, times: number, rng: Rng, counts: Float64Array) => {
      const { vectors, prob, alias, n } = table;
      for (let u = 0; u < times; u++) {
        const x = rng() * n;
        let i = Math.floor(x);
        if (x - i >= prob[i]) i = alias[i];
        const base = i * B;
        for (let b = 0; b < B; b++) counts[b] += a * vectors[base + b];
      }
    };
    return (rng, counts) => {
      drawFrom(tables[t - 1], whole, rng, counts);
      if (rest) drawFrom(tables[rest - 1], 1, rng, counts);
    };
  }
  // Positions within a bin are exchangeable, so drawing bins from an urn of the remaining positions is exact.
  const left = new Int32Array(B);
  return (rng, counts) => {
    for (let u = 0; u < c.listings; u++) {
      for (let b = 0; b < B; b++) left[b] = sizes[b];
      let total = K;
      for (let j = 0; j < d; j++) {
        let r = Math.floor(rng() * total);
        let b = 0;
        while (r >= left[b]) r -= left[b++];
        left[b]--;
        total--;
        counts[b] += mult[j];
      }
    }
  };
}

/**
 * Simulates `datasets` runs of this shape answered by an order-blind model (or a position-biased one, with
 * `positionWeights`) and counts how often the position test rejects at level alpha.
 */
export function simulatePositionTest(shape: PositionShape, opts: SimulationOptions = {}): PositionSimulation {
  checkShape(shape);
  const datasets = opts.datasets ?? CALIBRATION_DATASETS;
  const seed = opts.seed ?? CALIBRATION_SEED;
  const alpha = opts.alpha ?? 0.05;
  if (!(Number.isInteger(datasets) && datasets >= 1))
    throw new RangeError(`position simulation: datasets must be a whole number >= 1, got ${datasets}`);
  const { K } = shape;
  const weights = opts.positionWeights;
  if (weights && (weights.length !== K || !weights.every((w) => w > 0 && Number.isFinite(w))))
    throw new RangeError(`position simulation: positionWeights must hold K = ${K} positive numbers`);
  const sizes = positionBinSizes(K);
  if (sizes.length < 2) throw new RangeError(`position simulation: K = ${K} gives a single bin; nothing to test`);
  const { M, W } = shapeTotals(shape);
  if (!(M > 0 && W > 0)) throw new RangeError('position simulation: the shape has no picks whose position can vary');
  const B = sizes.length;
  const critical = chiSquareCritical(alpha, B - 1);
  const expected = sizes.map((s) => (M * s) / K);
  const draws = shape.classes.filter((c) => c.listings > 0).map((c) => classDraw(c, sizes, K, weights));
  const rng = makeRng(seed);
  const counts = new Float64Array(B);
  const statistics = new Float64Array(datasets);
  let corrected = 0;
  let uncorrected = 0;
  for (let t = 0; t < datasets; t++) {
    counts.fill(0);
    for (const draw of draws) draw(rng, counts);
    let pearson = 0;
    for (let b = 0; b < B; b++) pearson += ((counts[b] - expected[b]) * (counts[b] - expected[b])) / expected[b];
    const x = (pearson * M) / W;
    statistics[t] = x;
    if (x >= critical) corrected++;
    if (pearson >= critical) uncorrected++;
  }
  statistics.sort();
  return {
    datasets,
    seed,
    alpha,
    corrected: wilsonInterval(corrected, datasets),
    uncorrected: wilsonInterval(uncorrected, datasets),
    statistics,
  };
}

/** A canonical key of a shape (classes merged by pattern, patterns sorted). */
function shapeKey(shape: PositionShape): string {
  const byPattern = new Map<string, number>();
  for (const c of shape.classes) {
    const key = [...c.multiplicities].sort((a, b) => b - a).join(',');
    byPattern.set(key, (byPattern.get(key) ?? 0) + c.listings);
  }
  return `${shape.K}|${[...byPattern.entries()]
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, n]) => `${k}x${n}`)
    .join(';')}`;
}

const cache = new Map<string, PositionSimulation>();
const CACHE_SIZE = 32;

/**
 * The order-blind simulation of a shape at the defaults (2,000 datasets, CALIBRATION_SEED, alpha 0.05), memoised
 * in the process: the models of a run that name the same numbers of picks share one calibration.
 */
export function calibratePositionTest(shape: PositionShape, opts: Omit<SimulationOptions, 'positionWeights'> = {}) {
  const key = `${shapeKey(shape)}|${opts.datasets ?? ''}|${opts.seed ?? ''}|${opts.alpha ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const sim = simulatePositionTest(shape, opts);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, sim);
  return sim;
}

/** The share of simulated null statistics at or above x, counting x itself: (1 + #{≥ x}) / (1 + datasets). */
export function monteCarloPValue(statistics: Float64Array, x: number): number {
  // statistics ascending: binary search for the first >= x (a relative tolerance for float noise in equal counts)
  const t = x - 1e-9 * Math.max(1, Math.abs(x));
  let lo = 0;
  let hi = statistics.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (statistics[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return (1 + statistics.length - lo) / (1 + statistics.length);
}
