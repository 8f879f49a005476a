/**
 * The paper's entropy curves (section 4.2, last paragraph): bucket target entropy into equal-width bins, average the
 * cross-entropy per bin, take a rolling mean over consecutive bins and fit a least-squares polynomial to it.
 *
 * Decisions where the paper is silent (also in notebooks/04-score.ipynb):
 * - Bins follow numpy.histogram: `bins` equal-width intervals over `range` (default: min..max of x), each closed on
 *   the left and open on the right except the last, which is closed. Values outside `range` are dropped. Each bin is
 *   reported at its centre. When every x is equal the range has zero width and all points form one bin at that x.
 * - The rolling mean is CENTRED and uses only FULL windows (pandas `rolling(w, center=True)` with min_periods = w,
 *   NaN rows dropped): rolling point j averages the y of non-empty bins j..j+w−1 and sits at the mean of their x.
 *   A trailing window (pandas' default) would plot each average at the right end of its window and so shift the whole
 *   curve by (w−1)/2 bins towards higher entropy — exactly where it hides the low-entropy turn-up we are looking for.
 * - The polynomial is fitted to the rolling points and evaluated (`fitted`, turning and inflection points) only across
 *   their x-span (`fitRange`): outside it a quartic is an extrapolation, and its ends bend freely.
 * - Degenerate data never throws: with fewer non-empty bins than the window needs, the window shrinks so that at least
 *   order+1 rolling points remain; with fewer bins than order+1 the order drops; with no data there is no fit. Every
 *   such change is written to `notes`, and `window`/`order` report what was actually used.
 */
import { lusolve } from 'mathjs';
import { makeRng, randomInt } from '../core/rng';

export interface CurveOptions {
  bins: number;
  window: number;
  order: number;
  range: [number, number] | null;
}
export interface XY {
  x: number;
  y: number;
}
/** Bin centre, mean cross-entropy of the prompts in the bin, number of prompts in the bin. */
export interface BinnedPoint extends XY {
  n: number;
}

export interface Curve {
  /** Non-empty bins, ascending x. */
  points: BinnedPoint[];
  /** Centred rolling mean over `window` consecutive non-empty bins (full windows only); x is the mean bin centre. */
  rolling: XY[];
  /** Least-squares polynomial c0..c_order (ascending powers of x) fitted to `rolling`; empty when there is no fit. */
  coefficients: number[];
  /** The polynomial on a grid of FIT_GRID points across `fitRange`. */
  fitted: XY[];
  /**
   * Where the fitted curve stops following X=Y and turns up as target entropy falls: the LARGEST local minimum of
   * the fit inside `fitRange` (the largest x where its slope changes sign from ≤0 on the left to >0 on the right).
   * To its right the curve rises with target entropy, as X=Y does; to its left cross-entropy grows as target entropy
   * falls. The largest one is taken because scanning leftwards from high entropy it is where the turn-up begins.
   * null when the fit has no interior local minimum (it increases throughout — no turn-up inside the data — or it
   * decreases throughout — it never follows X=Y); `notes` says which.
   */
  turningPoint: number | null;
  /** Real roots of the fit's second derivative inside `fitRange` where its sign changes (ascending). */
  inflectionPoints: number[];
  /** The binning range (configured, or min..max of the target entropies). */
  range: [number, number];
  /** The x-span of the rolling points, over which the fit is drawn and searched; null without a fit. */
  fitRange: [number, number] | null;
  /** Number of prompts (pairs with x inside `range`). */
  n: number;
  /** The window and order actually used (smaller than requested for sparse data; order −1 means no fit). */
  window: number;
  order: number;
  /** What had to be changed or could not be computed, in words. */
  notes: string[];
}

export interface Interval {
  estimate: number;
  low: number;
  high: number;
  /** Fraction of bootstrap resamples in which the statistic existed (the interval is computed over those). */
  defined: number;
}

/** Points of the `fitted` grid. */
export const FIT_GRID = 201;
/** Grid cells used to locate sign changes of a polynomial before bisection. */
const ROOT_GRID = 2000;

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
  if (!(Number.isInteger(bins) && bins >= 1)) throw new RangeError(`binMeans: bins must be a whole number >= 1, got ${bins}`);
  assertFiniteArray(x, 'x');
  assertFiniteArray(y, 'y');
  if (x.length === 0) return [];
  const [lo, hi] = range ?? dataRange(x);
  if (!(hi >= lo)) throw new RangeError(`binMeans: range [${lo}, ${hi}] is empty`);
  if (hi === lo) {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < x.length; i++) {
      if (x[i] === lo) {
        sum += y[i];
        n++;
      }
    }
    return n ? [{ x: lo, y: sum / n, n }] : [];
  }
  const width = (hi - lo) / bins;
  const sums = new Float64Array(bins);
  const counts = new Int32Array(bins);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < lo || v > hi) continue;
    let b = Math.floor((v - lo) / width);
    if (b >= bins) b = bins - 1; // v === hi belongs to the last, closed bin
    sums[b] += y[i];
    counts[b]++;
  }
  const out: BinnedPoint[] = [];
  for (let b = 0; b < bins; b++) {
    if (counts[b] > 0) out.push({ x: lo + (b + 0.5) * width, y: sums[b] / counts[b], n: counts[b] });
  }
  return out;
}

/** Means of every full window of `window` consecutive values: result[j] = mean(values[j..j+window−1]); [] when window > length. */
export function rollingMean(values: number[], window: number): number[] {
  if (!(Number.isInteger(window) && window >= 1)) throw new RangeError(`rollingMean: window must be a whole number >= 1, got ${window}`);
  const out: number[] = [];
  if (window > values.length) return out;
  // Recomputing each window's sum (O(n·w)) avoids the drift a running add-and-subtract sum accumulates; n and w are small.
  for (let j = 0; j + window <= values.length; j++) {
    let s = 0;
    for (let k = j; k < j + window; k++) s += values[k];
    out.push(s / window);
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

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/**
 * Least-squares polynomial of the given order; returns c0..c_order (ascending powers of x).
 * x is mapped to t = (x − mid)/half ∈ [−1, 1] before solving, which keeps the normal equations well conditioned
 * (for order ≤ 6 their condition number stays far from double precision's limit); they are solved by mathjs
 * `lusolve` (LU with partial pivoting) plus one step of iterative refinement, and the coefficients mapped back to x.
 * (mathjs `qr` is the textbook alternative but costs ~30 ms per fit, too slow for bootstrap intervals.)
 */
export function polyfit(x: number[], y: number[], order: number): number[] {
  if (x.length !== y.length) throw new RangeError(`polyfit: x has ${x.length} values but y has ${y.length}`);
  if (!(Number.isInteger(order) && order >= 0)) throw new RangeError(`polyfit: order must be a whole number >= 0, got ${order}`);
  assertFiniteArray(x, 'x');
  assertFiniteArray(y, 'y');
  const distinct = new Set(x).size;
  if (distinct < order + 1) throw new RangeError(`polyfit: an order-${order} fit needs at least ${order + 1} distinct x values, got ${distinct}`);
  const [lo, hi] = dataRange(x);
  const mid = (lo + hi) / 2;
  const half = hi > lo ? (hi - lo) / 2 : 1;
  const k = order + 1;
  const n = x.length;
  // Vandermonde rows in t.
  const V: number[][] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = (x[i] - mid) / half;
    const row = new Array<number>(k);
    row[0] = 1;
    for (let j = 1; j < k; j++) row[j] = row[j - 1] * t;
    V[i] = row;
  }
  const M: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const b = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i++) {
    const row = V[i];
    for (let r = 0; r < k; r++) {
      b[r] += row[r] * y[i];
      for (let c = r; c < k; c++) M[r][c] += row[r] * row[c];
    }
  }
  for (let r = 0; r < k; r++) for (let c = 0; c < r; c++) M[r][c] = M[c][r];
  const solve = (rhs: number[]): number[] => (lusolve(M, rhs) as number[][]).map((r) => r[0]);
  const a = solve(b);
  // One step of iterative refinement against the normal equations' residual.
  const resid = b.map((bi, r) => bi - M[r].reduce((s, m, c) => s + m * a[c], 0));
  const delta = solve(resid);
  for (let j = 0; j < k; j++) a[j] += delta[j];
  // p(x) = Σ_j a_j ((x − mid)/half)^j  ⇒  c_m = Σ_{j≥m} a_j · C(j,m) · (−mid)^{j−m} / half^j
  const coeffs = new Array<number>(k).fill(0);
  for (let j = 0; j < k; j++) {
    const scale = a[j] / half ** j;
    for (let m = 0; m <= j; m++) coeffs[m] += scale * binomial(j, m) * (-mid) ** (j - m);
  }
  for (const c of coeffs) if (!Number.isFinite(c)) throw new RangeError('polyfit: the least-squares system is singular');
  return coeffs;
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
export function signChanges(coefficients: number[], a: number, b: number, tolerance = 0, grid = ROOT_GRID): SignChange[] {
  const out: SignChange[] = [];
  if (!(b > a) || coefficients.length < 2 || coefficients.slice(1).every((c) => c === 0)) return out;
  const h = (b - a) / grid;
  // Track the last grid point with a non-zero value, so exact zeros on the grid are bracketed by non-zero values.
  let xPrev = a;
  const value = (x: number): number => {
    const f = polyval(coefficients, x);
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
        const fm = polyval(coefficients, mid);
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

function fitScale(coefficients: number[], a: number, b: number): number {
  return Math.max(Math.abs(polyval(coefficients, a)), Math.abs(polyval(coefficients, b)), Math.abs(polyval(coefficients, (a + b) / 2)));
}

/** The largest interior local minimum of the polynomial in (a, b), or null (see Curve.turningPoint). */
export function turningPointOf(coefficients: number[], a: number, b: number): number | null {
  const tol = derivativeTolerance(fitScale(coefficients, a, b), a, b, 1);
  const minima = signChanges(polyder(coefficients), a, b, tol).filter((s) => s.direction === 'up');
  return minima.length ? minima[minima.length - 1].x : null;
}

/** Points in (a, b) where the polynomial's second derivative changes sign (ascending). */
export function inflectionPointsOf(coefficients: number[], a: number, b: number): number[] {
  const tol = derivativeTolerance(fitScale(coefficients, a, b), a, b, 2);
  return signChanges(polyder(polyder(coefficients)), a, b, tol).map((s) => s.x);
}

export function entropyCurve(targetEntropy: number[], crossEntropy: number[], opts: CurveOptions): Curve {
  if (targetEntropy.length !== crossEntropy.length) {
    throw new RangeError(`entropyCurve: ${targetEntropy.length} target entropies but ${crossEntropy.length} cross-entropies`);
  }
  if (!(Number.isInteger(opts.window) && opts.window >= 1)) throw new RangeError(`entropyCurve: window must be a whole number >= 1, got ${opts.window}`);
  if (!(Number.isInteger(opts.order) && opts.order >= 0)) throw new RangeError(`entropyCurve: order must be a whole number >= 0, got ${opts.order}`);
  const notes: string[] = [];
  const range: [number, number] = opts.range ? [opts.range[0], opts.range[1]] : targetEntropy.length ? dataRange(targetEntropy) : [0, 0];
  const points = binMeans(targetEntropy, crossEntropy, opts.bins, range);
  const n = points.reduce((s, p) => s + p.n, 0);
  const empty = (reason: string): Curve => ({
    points,
    rolling: [],
    coefficients: [],
    fitted: [],
    turningPoint: null,
    inflectionPoints: [],
    range,
    fitRange: null,
    n,
    window: 0,
    order: -1,
    notes: [...notes, reason],
  });
  if (n < targetEntropy.length) notes.push(`${targetEntropy.length - n} of ${targetEntropy.length} prompts lie outside the range [${range[0]}, ${range[1]}] and were left out`);
  const m = points.length;
  if (m === 0) return empty('no data: no fit');

  let window = Math.min(opts.window, m);
  if (m - window + 1 < opts.order + 1) window = Math.max(1, m - opts.order);
  if (window !== opts.window) notes.push(`only ${m} non-empty bins: rolling window lowered from ${opts.window} to ${window} so that the fit has enough points`);
  const rollX = rollingMean(points.map((p) => p.x), window);
  const rollY = rollingMean(points.map((p) => p.y), window);
  const rolling: XY[] = rollX.map((x, i) => ({ x, y: rollY[i] }));

  const order = Math.min(opts.order, rolling.length - 1);
  if (order !== opts.order) notes.push(`only ${rolling.length} rolling point(s): polynomial order lowered from ${opts.order} to ${order}`);
  const coefficients = polyfit(rollX, rollY, order);
  const fitRange: [number, number] = [rollX[0], rollX[rollX.length - 1]];
  const fitted: XY[] = [];
  if (fitRange[1] > fitRange[0]) {
    for (let i = 0; i < FIT_GRID; i++) {
      const x = i === FIT_GRID - 1 ? fitRange[1] : fitRange[0] + ((fitRange[1] - fitRange[0]) * i) / (FIT_GRID - 1);
      fitted.push({ x, y: polyval(coefficients, x) });
    }
  } else fitted.push({ x: fitRange[0], y: polyval(coefficients, fitRange[0]) });

  const turningPoint = turningPointOf(coefficients, fitRange[0], fitRange[1]);
  if (turningPoint === null) {
    if (order < 2) notes.push('no turning point: the fit has order < 2');
    else {
      const slopeLeft = polyval(polyder(coefficients), fitRange[0]);
      notes.push(
        slopeLeft > 0
          ? 'no turning point: the fit rises with target entropy across the whole range (it never turns up)'
          : 'no turning point: the fit has no interior minimum (it already rises as target entropy falls at the top of the range)',
      );
    }
  }
  return {
    points,
    rolling,
    coefficients,
    fitted,
    turningPoint,
    inflectionPoints: inflectionPointsOf(coefficients, fitRange[0], fitRange[1]),
    range,
    fitRange,
    n,
    window,
    order,
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

function interval(estimate: number, values: number[], resamples: number, confidence: number): Interval {
  const sorted = values.slice().sort((a, b) => a - b);
  const alpha = (1 - confidence) / 2;
  return sorted.length
    ? { estimate, low: quantileSorted(sorted, alpha), high: quantileSorted(sorted, 1 - alpha), defined: sorted.length / resamples }
    : { estimate, low: estimate, high: estimate, defined: 0 };
}

/**
 * Percentile bootstrap intervals for the turning point and the inflection points: prompts are resampled with
 * replacement (seeded), and each resample's curve is built with the same options and the SAME binning range as the
 * full data (so bins are comparable across resamples). Resamples without a turning point are left out of its
 * interval (`defined` says how many had one). Each inflection point of the full-data fit is matched with the nearest
 * inflection point of each resample's fit. The estimate is the full-data value, not the bootstrap mean.
 */
export function bootstrapCurveStats(
  targetEntropy: number[],
  crossEntropy: number[],
  opts: CurveOptions & { resamples: number; confidence: number; seed: string | number },
): { turningPoint: Interval | null; inflectionPoints: Interval[] } {
  if (!(Number.isInteger(opts.resamples) && opts.resamples >= 1)) throw new RangeError(`bootstrap: resamples must be a whole number >= 1, got ${opts.resamples}`);
  if (!(opts.confidence > 0 && opts.confidence < 1)) throw new RangeError(`bootstrap: confidence must be in (0, 1), got ${opts.confidence}`);
  const full = entropyCurve(targetEntropy, crossEntropy, opts);
  const fixed: CurveOptions = { bins: opts.bins, window: opts.window, order: opts.order, range: full.range };
  const n = targetEntropy.length;
  const rng = makeRng(opts.seed);
  const turning: number[] = [];
  const inflections: number[][] = full.inflectionPoints.map(() => []);
  const xs = new Array<number>(n);
  const ys = new Array<number>(n);
  if (full.order >= 0 && (full.turningPoint !== null || full.inflectionPoints.length)) {
    for (let r = 0; r < opts.resamples; r++) {
      for (let i = 0; i < n; i++) {
        const j = randomInt(rng, n);
        xs[i] = targetEntropy[j];
        ys[i] = crossEntropy[j];
      }
      const c = entropyCurve(xs, ys, fixed);
      if (c.turningPoint !== null) turning.push(c.turningPoint);
      if (c.inflectionPoints.length) {
        full.inflectionPoints.forEach((p, k) => {
          let best = c.inflectionPoints[0];
          for (const q of c.inflectionPoints) if (Math.abs(q - p) < Math.abs(best - p)) best = q;
          inflections[k].push(best);
        });
      }
    }
  }
  return {
    turningPoint: full.turningPoint === null ? null : interval(full.turningPoint, turning, opts.resamples, opts.confidence),
    inflectionPoints: full.inflectionPoints.map((p, k) => interval(p, inflections[k], opts.resamples, opts.confidence)),
  };
}
