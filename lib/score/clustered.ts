/**
 * Cluster-robust estimates: prompts are grouped into clusters (the resampling unit: a draw, a prompt or a group), and
 * the mean and the OLS slope get leave-one-cluster-out jackknife (CR3) standard errors with Student's t on G − 1
 * degrees of freedom. The gap statistics, the paired comparisons and the power table all use these.
 */
import { studentTCdf, studentTQuantile } from '../query/pilot';

/** An estimate with a two-sided interval and the standard error it came from; null bounds when not computed. */
export interface Estimate {
  estimate: number;
  low: number | null;
  high: number | null;
  se: number | null;
  /** Two-sided p-value of "the true value is 0". */
  p: number | null;
}

// ---------------------------------------------------------------- clusters

export interface Clustered {
  n: number;
  G: number;
  /** Cluster index per prompt. */
  of: Int32Array;
  /** Prompt indices grouped by cluster: members[start[c] .. start[c + 1]). */
  start: Int32Array;
  members: Int32Array;
}

export function clusterIndex(labels: ArrayLike<string | number>): Clustered {
  const ids = new Map<string | number, number>();
  const of = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    let c = ids.get(labels[i]);
    if (c === undefined) ids.set(labels[i], (c = ids.size));
    of[i] = c;
  }
  const G = ids.size;
  const start = new Int32Array(G + 1);
  for (let i = 0; i < of.length; i++) start[of[i] + 1]++;
  for (let c = 0; c < G; c++) start[c + 1] += start[c];
  const fill = start.slice(0, G);
  const members = new Int32Array(of.length);
  for (let i = 0; i < of.length; i++) members[fill[of[i]]++] = i;
  return { n: of.length, G, of, start, members };
}

// ---------------------------------------------------------------- mean and slope, cluster-robust

function tTwoSidedP(t: number, df: number): number {
  return Number.isFinite(t) ? 2 * (1 - studentTCdf(Math.abs(t), df)) : 0;
}

const tQuantiles = new Map<string, number>();

/** Student's t quantile, cached: the calibration asks for the same few thousands of times. */
export function tQuantile(p: number, df: number): number {
  const key = `${p}|${df}`;
  let t = tQuantiles.get(key);
  if (t === undefined) tQuantiles.set(key, (t = studentTQuantile(p, df)));
  return t;
}

function estimateWithSe(estimate: number, se: number, G: number, confidence: number): Estimate {
  if (!(G >= 2) || !Number.isFinite(se)) return { estimate, low: null, high: null, se: null, p: null };
  const df = G - 1;
  const t = tQuantile(0.5 + confidence / 2, df);
  const p = se > 0 ? tTwoSidedP(estimate / se, df) : estimate === 0 ? 1 : 0;
  return { estimate, low: estimate - t * se, high: estimate + t * se, se, p };
}

/**
 * Mean of `y` with a leave-one-cluster-out jackknife standard error (CR3): V = (G−1)/G · Σ_c (θ₋c − θ̄)². It is
 * larger than the CR1 sandwich when a few clusters weigh much, which is what kept small runs (setup C: one prompt a
 * draw, ~80 draws) near nominal coverage in the calibration (docs/decisions.md).
 */
export function clusteredMean(y: ArrayLike<number>, cl: Clustered, confidence: number): Estimate {
  const n = cl.n;
  if (n === 0) return { estimate: NaN, low: null, high: null, se: null, p: null };
  const sum = new Float64Array(cl.G);
  let total = 0;
  for (let i = 0; i < n; i++) {
    sum[cl.of[i]] += y[i];
    total += y[i];
  }
  const mean = total / n;
  if (cl.G < 2) return estimateWithSe(mean, NaN, cl.G, confidence);
  const loo = new Float64Array(cl.G);
  let avg = 0;
  for (let c = 0; c < cl.G; c++) {
    const size = cl.start[c + 1] - cl.start[c];
    loo[c] = (total - sum[c]) / (n - size);
    avg += loo[c];
  }
  avg /= cl.G;
  let v = 0;
  for (let c = 0; c < cl.G; c++) v += (loo[c] - avg) ** 2;
  return estimateWithSe(mean, Math.sqrt(((cl.G - 1) / cl.G) * v), cl.G, confidence);
}

/** OLS slope of `y` on `x` with a leave-one-cluster-out jackknife standard error (CR3, as for the mean). */
export function clusteredSlope(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  cl: Clustered,
  confidence: number,
): Estimate {
  const n = cl.n;
  // Per-cluster sufficient statistics, centred on the overall means for numerical stability.
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  const k = new Float64Array(cl.G);
  const sx = new Float64Array(cl.G);
  const sy = new Float64Array(cl.G);
  const sxx = new Float64Array(cl.G);
  const sxy = new Float64Array(cl.G);
  let Sx = 0;
  let Sy = 0;
  let Sxx = 0;
  let Sxy = 0;
  for (let i = 0; i < n; i++) {
    const c = cl.of[i];
    const u = x[i] - mx;
    const v = y[i] - my;
    k[c]++;
    sx[c] += u;
    sy[c] += v;
    sxx[c] += u * u;
    sxy[c] += u * v;
    Sx += u;
    Sy += v;
    Sxx += u * u;
    Sxy += u * v;
  }
  const slopeOf = (N: number, X: number, Y: number, XX: number, XY: number) => (XY - (X * Y) / N) / (XX - (X * X) / N);
  const slope = slopeOf(n, Sx, Sy, Sxx, Sxy);
  if (!Number.isFinite(slope)) return { estimate: NaN, low: null, high: null, se: null, p: null };
  if (cl.G < 2) return estimateWithSe(slope, NaN, cl.G, confidence);
  const loo = new Float64Array(cl.G);
  let avg = 0;
  let defined = 0;
  for (let c = 0; c < cl.G; c++) {
    loo[c] = slopeOf(n - k[c], Sx - sx[c], Sy - sy[c], Sxx - sxx[c], Sxy - sxy[c]);
    if (Number.isFinite(loo[c])) {
      avg += loo[c];
      defined++;
    }
  }
  avg /= defined;
  let v = 0;
  for (let c = 0; c < cl.G; c++) if (Number.isFinite(loo[c])) v += (loo[c] - avg) ** 2;
  return estimateWithSe(slope, Math.sqrt(((cl.G - 1) / cl.G) * v), cl.G, confidence);
}
