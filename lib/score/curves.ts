/**
 * The paper's entropy curves (section 4.2, last paragraph): bucket target entropy into equal-width bins, average the
 * cross-entropy per bin, take a rolling mean over consecutive bins and fit a least-squares polynomial to it; and the
 * two points read off a curve: where it departs from X = Y, and where it turns up again.
 *
 * Decisions where the paper is silent (also in docs/decisions.md and notebooks/04-score.ipynb):
 * - Bins follow numpy.histogram: `bins` equal-width intervals over `range`, each closed on the left and open on the
 *   right except the last, which is closed. Values outside `range` are dropped. Each bin is reported at its centre.
 *   The score stage passes one range per (domain, setup), shared by every model, so the curves of one figure have the
 *   same bin edges. When every x is equal the range has zero width and all points form one bin at that x.
 * - The rolling mean is CENTRED (a trailing window would plot each average at its right end and shift the curve by
 *   (w−1)/2 bins towards higher entropy). `edges: "shrink"` (default) keeps the ends: the window narrows
 *   symmetrically to 1, 3, 5, … bins at each end, so the rolling points run from the first to the last non-empty bin
 *   and the fit spans the whole data; `"drop"` keeps only full windows (pandas `rolling(w, center=True)`), which loses
 *   (w−1)/2 bins at each end — at the low-entropy end, exactly where the effect lives.
 * - The polynomial is fitted to the rolling points in a scaled variable t = (x − centre)/halfWidth ∈ [−1, 1] and
 *   evaluated in that basis: converting back to powers of x loses digits on narrow, offset ranges. It is drawn and
 *   searched only across the rolling points' span (`fitRange`); outside it a quartic extrapolates and bends freely.
 * - Departure point: computed from the binned gap (cross-entropy − target entropy), not from the polynomial; see
 *   `departurePointOf`. Turning point: the lowest point of the fit when it lies inside the fit range; see
 *   `turningPointOf`. Second-derivative inflection points are not reported: on nearly straight fits they are noise.
 * - The file is over 500 lines as one cohesive algorithm: binning, rolling mean, fit, the two points read off a curve
 *   and their bootstrap share one set of options and must change together.
 * - Degenerate data never throws: with fewer non-empty bins than the window the window shrinks, with too few rolling
 *   points the order drops, with no data there is no fit. Every such change is written to `notes`.
 */
import { makeFastRng, randomInt } from '../core/rng';

export type EdgeRule = 'shrink' | 'drop';

export interface CurveOptions {
  bins: number;
  window: number;
  order: number;
  range: [number, number] | null;
  /** Rolling mean at the ends of the data (default "shrink"). */
  edges?: EdgeRule;
  /** Gap at or above which the curve counts as departed from X = Y; without it no departure point is computed. */
  departureGap?: number;
}
export interface XY {
  x: number;
  y: number;
}
/** Bin centre, mean cross-entropy of the prompts in the bin, number of prompts in the bin. */
export interface BinnedPoint extends XY {
  n: number;
}

/** p(x) = Σ_j coefficients[j] · t^j with t = (x − center) / halfWidth: the basis the fit is solved and evaluated in. */
export interface Polynomial {
  center: number;
  halfWidth: number;
  coefficients: number[];
}

export interface Curve {
  /** Non-empty bins, ascending x. */
  points: BinnedPoint[];
  /** Centred rolling mean over consecutive non-empty bins (see `edges`); x is the mean bin centre. */
  rolling: XY[];
  /** Least-squares polynomial fitted to `rolling`; null when there is no fit. */
  polynomial: Polynomial | null;
  /** The polynomial on a grid of FIT_GRID points across `fitRange`. */
  fitted: XY[];
  /** See turningPointOf; null when the fit has no interior lowest point. */
  turningPoint: number | null;
  /** See departurePointOf; null when it never departs, or when no `departureGap` was given. */
  departurePoint: number | null;
  /** The binning range (configured, shared by the run's models, or min..max of the target entropies). */
  range: [number, number];
  /** The x-span of the rolling points, over which the fit is drawn and searched; null without a fit. */
  fitRange: [number, number] | null;
  /** Fitted span / data span (max − min of the target entropies inside `range`); null without a fit or data span. */
  fitCoverage: number | null;
  /** Number of prompts (pairs with x inside `range`). */
  n: number;
  /** The window, order and edge rule actually used (order −1 means no fit). */
  window: number;
  order: number;
  edges: EdgeRule;
  /** What had to be changed or could not be computed, in words. */
  notes: string[];
}

/** A bootstrap percentile interval around a full-sample estimate. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  /** Fraction of bootstrap resamples in which the statistic existed (the interval is computed over those). */
  defined: number;
  /** The full-sample estimate lies outside its own interval: the statistic is not stable under resampling. */
  unstable: boolean;
}

/** Points of the `fitted` grid. */
export const FIT_GRID = 201;
/** Grid cells used to locate sign changes of a polynomial before bisection. */
const ROOT_GRID = 2000;
/**
 * Bins in the running median that smooths the binned gap before the departure point is read off (see
 * departurePointOf). A median keeps a sharp step where it is — a centred rolling MEAN of 30 bins moves a step
 * from a large gap to 0 about 0.1 bits up, since the mean falls below a 0.1-bit threshold only when nearly half its
 * window lies past the step — while 9 bins still outvote single noisy bins at the thinly populated ends.
 */
export const DEPARTURE_MEDIAN_BINS = 9;

function assertFiniteArray(values: number[], name: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new RangeError(`${name}[${i}] is ${values[i]}; curves need finite numbers`);
  }
}

function dataRange(x: number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Mean of y within each of `bins` equal-width bins of x (numpy.histogram edges); only non-empty bins are returned. */
export function binMeans(x: number[], y: number[], bins: number, range?: [number, number] | null): BinnedPoint[] {
  if (x.length !== y.length) throw new RangeError(`binMeans: x has ${x.length} values but y has ${y.length}`);
  if (!(Number.isInteger(bins) && bins >= 1))
    throw new RangeError(`binMeans: bins must be a whole number >= 1, got ${bins}`);
  assertFiniteArray(x, 'x');
  assertFiniteArray(y, 'y');
  if (x.length === 0) return [];
  const [lo, hi] = range ?? dataRange(x);
  if (!(hi >= lo)) throw new RangeError(`binMeans: range [${lo}, ${hi}] is empty`);
  return binnedMeans(fixedBinning(x, bins, [lo, hi]), y);
}

/**
 * The bin of every x under binMeans' rule for a fixed range, worked out once: a bootstrap that keeps the range of the
 * full data (as every resampling here does) bins its resamples by looking the bins up (binnedMeans with indices),
 * which gives binMeans' numbers exactly without gathering the resampled values.
 */
export interface FixedBinning {
  count: number;
  /** Bin of x[i], −1 outside the range. */
  of: Int32Array;
  centre: (bin: number) => number;
}

export function fixedBinning(x: ArrayLike<number>, bins: number, range: [number, number]): FixedBinning {
  const [lo, hi] = range;
  const of = new Int32Array(x.length);
  if (hi === lo) {
    // One point where every x equals the range's single value.
    for (let i = 0; i < x.length; i++) of[i] = x[i] === lo ? 0 : -1;
    return { count: 1, of, centre: () => lo };
  }
  const width = (hi - lo) / bins;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < lo || v > hi) of[i] = -1;
    else of[i] = Math.min(Math.floor((v - lo) / width), bins - 1); // v === hi belongs to the last, closed bin
  }
  return { count: bins, of, centre: (b) => lo + (b + 0.5) * width };
}

/** Means of y per bin of `binning` over the values idx[0], idx[1], … (a resample; all values in order without it). */
export function binnedMeans(binning: FixedBinning, y: ArrayLike<number>, idx?: Int32Array): BinnedPoint[] {
  const sums = new Float64Array(binning.count);
  const counts = new Int32Array(binning.count);
  const of = binning.of;
  const n = idx ? idx.length : y.length;
  for (let i = 0; i < n; i++) {
    const j = idx ? idx[i] : i;
    const b = of[j];
    if (b < 0) continue;
    sums[b] += y[j];
    counts[b]++;
  }
  const out: BinnedPoint[] = [];
  for (let b = 0; b < binning.count; b++) {
    if (counts[b] > 0) out.push({ x: binning.centre(b), y: sums[b] / counts[b], n: counts[b] });
  }
  return out;
}

/**
 * Centred rolling means of `values`. `drop`: every full window of `window` consecutive values (result[j] =
 * mean(values[j..j+window−1])), [] when window > length. `shrink`: the same full windows, preceded at the start by the
 * windows values[0..2c] (sizes 1, 3, 5, … < window, centred on values[c]) and followed at the end by their mirror
 * images, so the first and last results are the first and last values themselves.
 */
export function rollingMean(values: number[], window: number, edges: EdgeRule = 'drop'): number[] {
  if (!(Number.isInteger(window) && window >= 1))
    throw new RangeError(`rollingMean: window must be a whole number >= 1, got ${window}`);
  const n = values.length;
  if (n === 0) return [];
  // Recomputing each window's sum (O(n·w)) avoids the drift a running add-and-subtract sum accumulates; n and w are small.
  const meanOf = (from: number, to: number): number => {
    let s = 0;
    for (let k = from; k <= to; k++) s += values[k];
    return s / (to - from + 1);
  };
  const w = Math.min(window, n);
  const out: number[] = [];
  if (edges === 'shrink') for (let size = 1; size < w; size += 2) out.push(meanOf(0, size - 1));
  if (window <= n || edges === 'shrink') for (let j = 0; j + w <= n; j++) out.push(meanOf(j, j + w - 1));
  if (edges === 'shrink') {
    const tail: number[] = [];
    for (let size = 1; size < w; size += 2) tail.push(meanOf(n - size, n - 1));
    out.push(...tail.reverse());
  }
  return out;
}

/** Horner evaluation of c0 + c1·x + … + c_k·x^k. */
export function polyval(coefficients: number[], x: number): number {
  let v = 0;
  for (let k = coefficients.length - 1; k >= 0; k--) v = v * x + coefficients[k];
  return v;
}

export function polyder(coefficients: number[]): number[] {
  return coefficients.slice(1).map((c, k) => c * (k + 1));
}

/** A polynomial given in ascending powers of x, as a Polynomial. */
export function monomial(coefficients: number[]): Polynomial {
  return { center: 0, halfWidth: 1, coefficients };
}

export function evalPolynomial(p: Polynomial, x: number): number {
  return polyval(p.coefficients, (x - p.center) / p.halfWidth);
}

/** d/dx of p, in the same scaled basis (dt/dx = 1/halfWidth). */
export function derivative(p: Polynomial): Polynomial {
  return {
    center: p.center,
    halfWidth: p.halfWidth,
    coefficients: polyder(p.coefficients).map((c) => c / p.halfWidth),
  };
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** p in ascending powers of x (loses digits when |center| ≫ halfWidth; for display and hand checks only). */
export function toMonomial(p: Polynomial): number[] {
  // p(x) = Σ_j a_j ((x − mid)/half)^j  ⇒  c_m = Σ_{j≥m} a_j · C(j,m) · (−mid)^{j−m} / half^j
  const k = p.coefficients.length;
  const coeffs = new Array<number>(k).fill(0);
  for (let j = 0; j < k; j++) {
    const scale = p.coefficients[j] / p.halfWidth ** j;
    for (let m = 0; m <= j; m++) coeffs[m] += scale * binomial(j, m) * (-p.center) ** (j - m);
  }
  return coeffs;
}

/**
 * Least-squares polynomial of the given order, in the scaled variable t = (x − mid)/half ∈ [−1, 1], which keeps the
 * normal equations well conditioned (for order ≤ 6 their condition number stays far from double precision's limit);
 * they are solved by LU with partial pivoting (`luSolve`) plus one step of iterative refinement.
 */
export function polyfit(x: number[], y: number[], order: number): Polynomial {
  if (x.length !== y.length) throw new RangeError(`polyfit: x has ${x.length} values but y has ${y.length}`);
  if (!(Number.isInteger(order) && order >= 0))
    throw new RangeError(`polyfit: order must be a whole number >= 0, got ${order}`);
  assertFiniteArray(x, 'x');
  assertFiniteArray(y, 'y');
  const distinct = new Set(x).size;
  if (distinct < order + 1)
    throw new RangeError(
      `polyfit: an order-${order} fit needs at least ${order + 1} distinct x values, got ${distinct}`,
    );
  const [lo, hi] = dataRange(x);
  const mid = (lo + hi) / 2;
  const half = hi > lo ? (hi - lo) / 2 : 1;
  const k = order + 1;
  const n = x.length;
  const M: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const b = new Array<number>(k).fill(0);
  const row = new Array<number>(k);
  for (let i = 0; i < n; i++) {
    const t = (x[i] - mid) / half;
    row[0] = 1;
    for (let j = 1; j < k; j++) row[j] = row[j - 1] * t;
    for (let r = 0; r < k; r++) {
      b[r] += row[r] * y[i];
      for (let c = r; c < k; c++) M[r][c] += row[r] * row[c];
    }
  }
  for (let r = 0; r < k; r++) for (let c = 0; c < r; c++) M[r][c] = M[c][r];
  const solve = (rhs: number[]): number[] => luSolve(M, rhs);
  const a = solve(b);
  // One step of iterative refinement against the normal equations' residual.
  const resid = b.map((bi, r) => bi - M[r].reduce((s, m, c) => s + m * a[c], 0));
  const delta = solve(resid);
  for (let j = 0; j < k; j++) a[j] += delta[j];
  for (const c of a) if (!Number.isFinite(c)) throw new RangeError('polyfit: the least-squares system is singular');
  return { center: mid, halfWidth: half, coefficients: a };
}

/** Within mathjs's default tolerances of each other (relTol 1e-12, absTol 1e-15). */
function nearlyEqual(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= Math.max(1e-12 * Math.max(Math.abs(a), Math.abs(b)), 1e-15);
}

/**
 * Solves M·a = rhs for a small dense square M: mathjs 15's `lusolve` step for step (column-wise LU with partial
 * pivoting, its pivot and zero tolerances, its permutation of the right-hand side, forward and back substitution),
 * so fits are bit-identical to those it gave; loading mathjs took ~0.6 s of every process for this one call.
 */
export function luSolve(M: readonly (readonly number[])[], rhs: readonly number[]): number[] {
  const n = M.length;
  const a = M.map((row) => [...row]);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let j = 0; j < n; j++) {
    if (j > 0)
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < Math.min(i, j); k++) s += a[i][k] * a[k][j];
        a[i][j] -= s;
      }
    let pi = j;
    let pabsv = 0;
    let vjj = 0;
    for (let i = j; i < n; i++) {
      const absv = Math.abs(a[i][j]);
      if (absv > pabsv && !nearlyEqual(absv, pabsv)) {
        pi = i;
        pabsv = absv;
        vjj = a[i][j];
      }
    }
    if (j !== pi) {
      [p[j], p[pi]] = [p[pi], p[j]];
      [a[j], a[pi]] = [a[pi], a[j]];
    }
    for (let i = j + 1; i < n; i++) if (!nearlyEqual(a[i][j], 0)) a[i][j] /= vjj;
  }
  const b = p.map((row) => rhs[row]);
  // L (unit diagonal) then U, column by column, skipping columns whose value is zero within tolerance.
  const y = new Array<number>(n);
  for (let j = 0; j < n; j++) {
    const bj = b[j] || 0;
    if (nearlyEqual(bj, 0)) {
      y[j] = 0;
      continue;
    }
    y[j] = bj / 1;
    for (let i = j + 1; i < n; i++) b[i] = (b[i] || 0) - y[j] * a[i][j];
  }
  const x = new Array<number>(n);
  for (let j = n - 1; j >= 0; j--) {
    const yj = y[j] || 0;
    if (nearlyEqual(yj, 0)) {
      x[j] = 0;
      continue;
    }
    if (nearlyEqual(a[j][j], 0)) throw new RangeError('polyfit: the least-squares system is singular');
    x[j] = yj / a[j][j];
    for (let i = j - 1; i >= 0; i--) y[i] = (y[i] || 0) - x[j] * a[i][j];
  }
  return x;
}

export interface SignChange {
  x: number;
  /** 'up': the polynomial goes from negative to positive as x increases; 'down': the reverse. */
  direction: 'up' | 'down';
}

/**
 * Roots of a polynomial inside (a, b) where it changes sign, found on a fine grid and refined by bisection.
 * Roots without a sign change (even multiplicity) and pairs of roots closer than (b−a)/2000 are not reported.
 * Values with |f| ≤ `tolerance` count as zero, so a polynomial that is zero up to rounding (the second derivative of
 * a fitted straight line) has no sign changes.
 */
export function signChanges(p: Polynomial, a: number, b: number, tolerance = 0, grid = ROOT_GRID): SignChange[] {
  const out: SignChange[] = [];
  if (!(b > a) || p.coefficients.length < 2 || p.coefficients.slice(1).every((c) => c === 0)) return out;
  const h = (b - a) / grid;
  // Track the last grid point with a non-zero value, so exact zeros on the grid are bracketed by non-zero values.
  let xPrev = a;
  const value = (x: number): number => {
    const f = evalPolynomial(p, x);
    return Math.abs(f) <= tolerance ? 0 : f;
  };
  let fPrev = value(a);
  for (let i = 1; i <= grid; i++) {
    const x1 = i === grid ? b : a + i * h;
    const f1 = value(x1);
    if (f1 === 0) continue;
    if (fPrev !== 0 && Math.sign(f1) !== Math.sign(fPrev)) {
      let lo = xPrev;
      let hi = x1;
      for (let it = 0; it < 200 && hi - lo > 4 * Number.EPSILON * Math.max(1, Math.abs(lo)); it++) {
        const mid = (lo + hi) / 2;
        const fm = evalPolynomial(p, mid);
        if (fm === 0) {
          lo = hi = mid;
          break;
        }
        if (Math.sign(fm) === Math.sign(fPrev)) lo = mid;
        else hi = mid;
      }
      const root = (lo + hi) / 2;
      if (root > a && root < b) out.push({ x: root, direction: fPrev < 0 ? 'up' : 'down' });
    }
    xPrev = x1;
    fPrev = f1;
  }
  return out;
}

/**
 * Rounding-level thresholds for the first and second derivative of a fit whose values are of size `yScale` on
 * (a, b): a derivative smaller than 1e-9 · yScale / (b − a)^k is indistinguishable from zero.
 */
export function derivativeTolerance(yScale: number, a: number, b: number, k: number): number {
  const width = b > a ? b - a : 1;
  return (1e-9 * (yScale > 0 ? yScale : 1)) / width ** k;
}

function fitScale(p: Polynomial, a: number, b: number): number {
  return Math.max(
    Math.abs(evalPolynomial(p, a)),
    Math.abs(evalPolynomial(p, b)),
    Math.abs(evalPolynomial(p, (a + b) / 2)),
  );
}

/**
 * Turning point: the lowest point of the fitted curve on [a, b] when it lies strictly inside — the curve falls with
 * target entropy, as X = Y does, down to it and rises again towards lower entropy (the paper's visible "inversion").
 * null when the lowest point is an end of the range: at `a` the curve never turns up inside the data, at `b` it never
 * followed X = Y.
 */
export function turningPointOf(p: Polynomial, a: number, b: number): number | null {
  const tol = derivativeTolerance(fitScale(p, a, b), a, b, 1);
  const minima = signChanges(derivative(p), a, b, tol).filter((s) => s.direction === 'up');
  let best: number | null = null;
  let bestValue = Math.min(evalPolynomial(p, a), evalPolynomial(p, b));
  for (const m of minima) {
    const v = evalPolynomial(p, m.x);
    if (v < bestValue) {
      best = m.x;
      bestValue = v;
    }
  }
  return best;
}

/** Median of `values` weighted by `weights` (> 0); a weight split exactly in half averages the two middle values. */
function weightedMedian(values: number[], weights: number[]): number {
  const order = values.map((_, i) => i).sort((i, j) => values[i] - values[j]);
  let total = 0;
  for (const w of weights) total += w;
  let cum = 0;
  for (let k = 0; k < order.length; k++) {
    cum += weights[order[k]];
    if (cum * 2 === total && k + 1 < order.length) return (values[order[k]] + values[order[k + 1]]) / 2;
    if (cum * 2 > total) return values[order[k]];
  }
  return values[order[order.length - 1]];
}

/**
 * Departure point from the binned gap `gapPoints` (x = bin centre, y = mean cross-entropy − target entropy, n =
 * prompts): the largest target entropy below which the gap stays at or above `threshold`. The gap of each bin is
 * first replaced by the prompt-weighted median over DEPARTURE_MEDIAN_BINS neighbouring non-empty bins (fewer at the
 * ends); scanning upwards from the lowest bin, the departure point is where the smoothed gap first drops below the
 * threshold, interpolated linearly between the two bin centres around the crossing. null when the lowest bin is
 * already below the threshold (the curve never departs from X = Y, like the oracle); `top` when no bin is (the curve
 * never follows X = Y, like random).
 */
export function departurePointOf(gapPoints: BinnedPoint[], threshold: number, top: number): number | null {
  const m = gapPoints.length;
  if (m === 0) return null;
  const half = (DEPARTURE_MEDIAN_BINS - 1) / 2;
  // Smoothed only as far as the scan goes: most resamples stop within the first bins (a bootstrap calls this ~1,000
  // times per curve).
  const smoothedAt = (i: number): number => {
    const from = Math.max(0, i - half);
    const to = Math.min(m - 1, i + half);
    const window = gapPoints.slice(from, to + 1);
    return weightedMedian(
      window.map((p) => p.y),
      window.map((p) => p.n),
    );
  };
  let previous = smoothedAt(0);
  if (previous < threshold) return null;
  for (let i = 1; i < m; i++) {
    const current = smoothedAt(i);
    if (current < threshold) {
      const x0 = gapPoints[i - 1].x;
      const x1 = gapPoints[i].x;
      return x0 + ((previous - threshold) / (previous - current)) * (x1 - x0);
    }
    previous = current;
  }
  return top;
}

/** The departure point of prompts (target entropy x, cross-entropy y) binned over `range` (see departurePointOf). */
export function departurePoint(
  x: number[],
  y: number[],
  opts: { bins: number; range: [number, number]; departureGap: number },
): number | null {
  const gap = y.map((v, i) => v - x[i]);
  return departurePointOf(binMeans(x, gap, opts.bins, opts.range), opts.departureGap, opts.range[1]);
}

/** The rolling means of binned points and the polynomial fitted to them; notes (when given) say what was lowered. */
function rollingFit(
  points: BinnedPoint[],
  opts: CurveOptions,
  edges: EdgeRule,
  notes: string[] | null,
): { window: number; rolling: XY[]; order: number; polynomial: Polynomial; fitRange: [number, number] } {
  const m = points.length;
  let window = Math.min(opts.window, m);
  // Full windows only: m − w + 1 rolling points, of which the fit needs order + 1.
  if (edges === 'drop' && m - window + 1 < opts.order + 1) window = Math.max(1, m - opts.order);
  if (window !== opts.window)
    notes?.push(
      `only ${m} non-empty bins: rolling window lowered from ${opts.window} to ${window} so that the fit has enough points`,
    );
  const rollX = rollingMean(
    points.map((p) => p.x),
    window,
    edges,
  );
  const rollY = rollingMean(
    points.map((p) => p.y),
    window,
    edges,
  );
  const rolling: XY[] = rollX.map((x, i) => ({ x, y: rollY[i] }));
  const order = Math.min(opts.order, rolling.length - 1);
  if (order !== opts.order)
    notes?.push(`only ${rolling.length} rolling point(s): polynomial order lowered from ${opts.order} to ${order}`);
  const polynomial = polyfit(rollX, rollY, order);
  return { window, rolling, order, polynomial, fitRange: [rollX[0], rollX[rollX.length - 1]] };
}

/**
 * The fitted polynomial and its range for a resample of prompts binned by `binning` (entropyCurve's fit on the
 * resampled prompts, without the parts a bootstrap does not use); null when no prompt falls in a bin.
 */
export function resampledFit(
  binning: FixedBinning,
  crossEntropy: ArrayLike<number>,
  idx: Int32Array,
  opts: CurveOptions,
): { polynomial: Polynomial; fitRange: [number, number] } | null {
  const points = binnedMeans(binning, crossEntropy, idx);
  if (!points.length) return null;
  const { polynomial, fitRange } = rollingFit(points, opts, opts.edges ?? 'shrink', null);
  return { polynomial, fitRange };
}

export function entropyCurve(targetEntropy: number[], crossEntropy: number[], opts: CurveOptions): Curve {
  if (targetEntropy.length !== crossEntropy.length) {
    throw new RangeError(
      `entropyCurve: ${targetEntropy.length} target entropies but ${crossEntropy.length} cross-entropies`,
    );
  }
  if (!(Number.isInteger(opts.window) && opts.window >= 1))
    throw new RangeError(`entropyCurve: window must be a whole number >= 1, got ${opts.window}`);
  if (!(Number.isInteger(opts.order) && opts.order >= 0))
    throw new RangeError(`entropyCurve: order must be a whole number >= 0, got ${opts.order}`);
  const edges: EdgeRule = opts.edges ?? 'shrink';
  if (edges !== 'shrink' && edges !== 'drop')
    throw new RangeError(`entropyCurve: edges must be "shrink" or "drop", got ${JSON.stringify(edges)}`);
  const notes: string[] = [];
  const range: [number, number] = opts.range
    ? [opts.range[0], opts.range[1]]
    : targetEntropy.length
      ? dataRange(targetEntropy)
      : [0, 0];
  const points = binMeans(targetEntropy, crossEntropy, opts.bins, range);
  const n = points.reduce((s, p) => s + p.n, 0);
  const departure =
    opts.departureGap === undefined || n === 0
      ? null
      : departurePoint(targetEntropy, crossEntropy, { bins: opts.bins, range, departureGap: opts.departureGap });
  const empty = (reason: string): Curve => ({
    points,
    rolling: [],
    polynomial: null,
    fitted: [],
    turningPoint: null,
    departurePoint: departure,
    range,
    fitRange: null,
    fitCoverage: null,
    n,
    window: 0,
    order: -1,
    edges,
    notes: [...notes, reason],
  });
  if (n < targetEntropy.length)
    notes.push(
      `${targetEntropy.length - n} of ${targetEntropy.length} prompts lie outside the range [${range[0]}, ${range[1]}] and were left out`,
    );
  const m = points.length;
  if (m === 0) return empty('no data: no fit');

  const { window, rolling, order, polynomial, fitRange } = rollingFit(points, opts, edges, notes);
  const fitted: XY[] = [];
  if (fitRange[1] > fitRange[0]) {
    for (let i = 0; i < FIT_GRID; i++) {
      const x = i === FIT_GRID - 1 ? fitRange[1] : fitRange[0] + ((fitRange[1] - fitRange[0]) * i) / (FIT_GRID - 1);
      fitted.push({ x, y: evalPolynomial(polynomial, x) });
    }
  } else fitted.push({ x: fitRange[0], y: evalPolynomial(polynomial, fitRange[0]) });
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of targetEntropy) {
    if (x < range[0] || x > range[1]) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const fitCoverage = hi > lo ? (fitRange[1] - fitRange[0]) / (hi - lo) : null;

  const turningPoint = turningPointOf(polynomial, fitRange[0], fitRange[1]);
  if (turningPoint === null) {
    if (order < 2) notes.push('no turning point: the fit has order < 2');
    else {
      const left = evalPolynomial(polynomial, fitRange[0]);
      const right = evalPolynomial(polynomial, fitRange[1]);
      notes.push(
        left <= right
          ? 'no turning point: the fit is lowest at the low-entropy end (it never turns up inside the data)'
          : 'no turning point: the fit is lowest at the high-entropy end (it never follows X = Y)',
      );
    }
  }
  return {
    points,
    rolling,
    polynomial,
    fitted,
    turningPoint,
    departurePoint: departure,
    range,
    fitRange,
    fitCoverage,
    n,
    window,
    order,
    edges,
    notes,
  };
}

/** Quantile with linear interpolation between order statistics (numpy's default, "type 7"); `sorted` ascending. */
export function quantileSorted(sorted: number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty list');
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export interface BootstrapOptions {
  resamples: number;
  confidence: number;
  seed: string | number;
}

function checkBootstrap(opts: BootstrapOptions): void {
  if (!(Number.isInteger(opts.resamples) && opts.resamples >= 1))
    throw new RangeError(`bootstrap: resamples must be a whole number >= 1, got ${opts.resamples}`);
  if (!(opts.confidence > 0 && opts.confidence < 1))
    throw new RangeError(`bootstrap: confidence must be in (0, 1), got ${opts.confidence}`);
}

/**
 * Calls `each` with `resamples` seeded resamples of 0..n−1 drawn with replacement (the same buffer, refilled). Callers
 * that pass several statistics the same indices get PAIRED resamples.
 */
export function forEachResample(n: number, opts: BootstrapOptions, each: (idx: Int32Array) => void): void {
  checkBootstrap(opts);
  // The fast generator, as in the gap statistics: seedrandom's ARC4 took a quarter of a curve bootstrap's time.
  const rng = makeFastRng(opts.seed);
  const idx = new Int32Array(n);
  for (let r = 0; r < opts.resamples; r++) {
    for (let i = 0; i < n; i++) idx[i] = randomInt(rng, n);
    each(idx);
  }
}

/**
 * Percentile interval of the resampled `values` (those where the statistic existed) around the full-sample
 * `estimate`; with no values the interval is the estimate itself with `defined` 0.
 */
export function percentileInterval(
  estimate: number,
  values: number[],
  resamples: number,
  confidence: number,
): Interval {
  const sorted = values.slice().sort((a, b) => a - b);
  const alpha = (1 - confidence) / 2;
  if (!sorted.length) return pointInterval(estimate);
  const low = quantileSorted(sorted, alpha);
  const high = quantileSorted(sorted, 1 - alpha);
  return { estimate, low, high, defined: sorted.length / resamples, unstable: estimate < low || estimate > high };
}

/** An estimate without bootstrap: its own interval, `defined` 0. */
export function pointInterval(estimate: number): Interval {
  return { estimate, low: estimate, high: estimate, defined: 0, unstable: false };
}

/**
 * Percentile bootstrap intervals for the departure and turning points: prompts are resampled with replacement
 * (seeded), and each resample's curve is built with the same options and the SAME binning range as the full data (so
 * bins are comparable across resamples). Resamples in which a statistic does not exist are left out of its interval
 * (`defined` says how many had it). The estimate is the full-data value, not the bootstrap mean; a statistic whose
 * full-data value does not exist is null.
 */
export function bootstrapCurveStats(
  targetEntropy: number[],
  crossEntropy: number[],
  opts: CurveOptions &
    BootstrapOptions & {
      /** Only the departure point (no curve refits: ~10× faster); turningPoint is then the full-sample value without interval. */ departureOnly?: boolean;
    },
): { departurePoint: Interval | null; turningPoint: Interval | null; curve: Curve } {
  checkBootstrap(opts);
  const full = entropyCurve(targetEntropy, crossEntropy, opts);
  const fixed: CurveOptions = {
    bins: opts.bins,
    window: opts.window,
    order: opts.order,
    range: full.range,
    edges: opts.edges,
    departureGap: opts.departureGap,
  };
  const n = targetEntropy.length;
  const turning: number[] = [];
  const departure: number[] = [];
  const refit = full.turningPoint !== null && !opts.departureOnly;
  const wantDeparture = full.departurePoint !== null;
  if (refit || wantDeparture) {
    // Resamples binned by look-up over the full data's range: entropyCurve's turning and departure points exactly,
    // without the parts of a curve a bootstrap does not use.
    const binning = fixedBinning(targetEntropy, opts.bins, full.range);
    const gap = wantDeparture ? crossEntropy.map((v, i) => v - targetEntropy[i]) : [];
    forEachResample(n, opts, (idx) => {
      if (refit) {
        const fit = resampledFit(binning, crossEntropy, idx, fixed);
        const t = fit && turningPointOf(fit.polynomial, fit.fitRange[0], fit.fitRange[1]);
        if (t !== null && t !== undefined) turning.push(t);
      }
      if (wantDeparture) {
        const d = departurePointOf(binnedMeans(binning, gap, idx), opts.departureGap!, full.range[1]);
        if (d !== null) departure.push(d);
      }
    });
  }
  return {
    departurePoint:
      full.departurePoint === null
        ? null
        : percentileInterval(full.departurePoint, departure, opts.resamples, opts.confidence),
    turningPoint:
      full.turningPoint === null
        ? null
        : refit
          ? percentileInterval(full.turningPoint, turning, opts.resamples, opts.confidence)
          : pointInterval(full.turningPoint),
    curve: full,
  };
}
