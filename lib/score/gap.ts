/**
 * The gap statistics a user concludes from (docs/decisions.md, "Statistics"): the per-prompt gap g = H(p, q) − H(p)
 * against the target entropy, with the draw as the unit of resampling (all prompts of one trajectory share a group and a
 * history, so they are not independent; each setup-C prompt is a draw of its own).
 *
 * - mean gap and gap slope (OLS slope of g on H(p), bits per bit; negative = the gap grows as the group narrows, the
 *   paper's hypothesis): cluster-robust (CR1) standard errors with Student's t on G − 1 degrees of freedom, G clusters;
 * - the gap profile: mean gap on bins of equal prompt counts, with pointwise and simultaneous (sup-t) bands from a
 *   cluster bootstrap in which every bin keeps its prompts;
 * - the departure region: the bins whose simultaneous lower edge clears the threshold, its direction, the share of
 *   resamples in which a region exists, and, for a region at one end, its edge: where the prompt-level gap crosses the
 *   threshold (a change point, not a bin boundary), with a cluster-bootstrap interval.
 * Every interval's coverage is measured by simulation on data built like the run's own (lib/score/calibration.ts).
 */
import { makeFastRng } from '../core/rng';
import { studentTCdf } from '../query/pilot';
import { type Clustered, clusterIndex, clusteredMean, clusteredSlope, type Estimate, tQuantile } from './clustered';

export { type Clustered, clusterIndex, clusteredMean, clusteredSlope, type Estimate, tQuantile } from './clustered';

/** What a prompt is resampled with: its draw (default), only itself, or every prompt of its demographic group. */
export type ResamplingUnit = 'draw' | 'prompt' | 'group';

export interface GapInput {
  /** Target entropy H(p) per prompt. */
  x: ArrayLike<number>;
  /** Gap H(p, q) − H(p) per prompt. */
  gap: ArrayLike<number>;
  /** Cluster label per prompt (the resampling unit). */
  cluster: ArrayLike<string | number>;
}

export interface GapOptions {
  /** Fewest prompts in a profile bin; fewer prompts than this in all give no profile. */
  minBinPrompts: number;
  /** Most bins of the profile. */
  maxBins: number;
  /** The gap (in the entropy unit) a departure must clear: curves.departureGap. */
  threshold: number;
  /** Cluster-bootstrap resamples for the profile bands (0: no bands, no region). */
  resamples: number;
  confidence: number;
  seed: string;
}

export interface ProfileBin {
  /** Entropy boundaries of the bin (midpoints to the neighbouring bins' prompts; the data's ends at the ends). */
  lo: number;
  hi: number;
  /** Mean target entropy of its prompts. */
  x: number;
  prompts: number;
  clusters: number;
  gap: number;
  /** Pointwise percentile band and the simultaneous (sup-t) band over every bin. */
  low: number | null;
  high: number | null;
  simLow: number | null;
  simHigh: number | null;
}

export type RegionDirection = 'none' | 'low end' | 'high end' | 'both ends' | 'interior' | 'throughout';

export interface DepartureRegion {
  direction: RegionDirection;
  /** Entropy ranges where the simultaneous lower edge clears the threshold. */
  ranges: [number, number][];
  /** The boundary of a low-end or high-end region (null otherwise), with its interval. */
  edge: Estimate | null;
  /** Share of resamples in which a region exists (by the same rule on the resample's bin means). */
  share: number | null;
}

export interface GapStats {
  prompts: number;
  clusters: number;
  meanGap: Estimate;
  gapSlope: Estimate;
  profile: ProfileBin[];
  region: DepartureRegion;
  /** The sup-t quantile of the simultaneous band. */
  simultaneousQuantile: number | null;
}

// ---------------------------------------------------------------- the profile

export interface Binning {
  /** Bin per prompt. */
  bin: Int32Array;
  bins: number;
  lo: number[];
  hi: number[];
  /** Prompts by ascending entropy (ties by index). */
  order: Int32Array;
}

/**
 * Bins of equal prompt counts over the target entropies (ties broken by prompt order, so the bins are deterministic):
 * as many as fit `minBinPrompts` each, at most `maxBins`. Boundaries sit halfway between neighbouring bins' prompts.
 */
export function equalCountBins(x: ArrayLike<number>, minBinPrompts: number, maxBins: number): Binning | null {
  const n = x.length;
  const bins = Math.min(maxBins, Math.floor(n / Math.max(1, minBinPrompts)));
  if (bins < 1) return null;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
  const bin = new Int32Array(n);
  const lo: number[] = [];
  const hi: number[] = [];
  for (let b = 0; b < bins; b++) {
    const from = Math.floor((b * n) / bins);
    const to = Math.floor(((b + 1) * n) / bins);
    for (let k = from; k < to; k++) bin[order[k]] = b;
    lo.push(b === 0 ? x[order[0]] : (x[order[from - 1]] + x[order[from]]) / 2);
    hi.push(b === bins - 1 ? x[order[n - 1]] : (x[order[to - 1]] + x[order[to]]) / 2);
  }
  return { bin, bins, lo, hi, order };
}

function quantile(sorted: Float64Array | number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const a = Math.floor(pos);
  const b = Math.min(sorted.length - 1, a + 1);
  return sorted[a] + (sorted[b] - sorted[a]) * (pos - a);
}

/** Bins that clear the threshold, as a mask; the direction and ranges of the region they make. */
function regionOf(mask: boolean[], binning: Binning): { direction: RegionDirection; ranges: [number, number][] } {
  const B = mask.length;
  const ranges: [number, number][] = [];
  for (let b = 0; b < B; b++) {
    if (!mask[b]) continue;
    if (ranges.length && mask[b - 1]) ranges[ranges.length - 1][1] = binning.hi[b];
    else ranges.push([binning.lo[b], binning.hi[b]]);
  }
  const any = mask.some(Boolean);
  const low = mask[0];
  const high = mask[B - 1];
  // Named by the ends it touches: a high-end region with a hole below its top is still a high-end region.
  const direction: RegionDirection = !any
    ? 'none'
    : mask.every(Boolean)
      ? 'throughout'
      : low && high
        ? 'both ends'
        : low
          ? 'low end'
          : high
            ? 'high end'
            : 'interior';
  return { direction, ranges };
}

/** The mean gap, gap slope, profile with bands, and departure region of one (model, domain, setup). */
export function gapStats(input: GapInput, opts: GapOptions): GapStats {
  const cl = clusterIndex(input.cluster);
  const n = cl.n;
  const meanGap = clusteredMean(input.gap, cl, opts.confidence);
  const gapSlope = clusteredSlope(input.x, input.gap, cl, opts.confidence);
  const none: DepartureRegion = { direction: 'none', ranges: [], edge: null, share: null };
  const binning = n ? equalCountBins(input.x, opts.minBinPrompts, opts.maxBins) : null;
  if (!binning)
    return { prompts: n, clusters: cl.G, meanGap, gapSlope, profile: [], region: none, simultaneousQuantile: null };
  const B = binning.bins;
  const count = new Float64Array(B);
  const sum = new Float64Array(B);
  const sumX = new Float64Array(B);
  const clustersIn = new Array<Set<number>>(B);
  for (let b = 0; b < B; b++) clustersIn[b] = new Set();
  for (let i = 0; i < n; i++) {
    const b = binning.bin[i];
    count[b]++;
    sum[b] += input.gap[i];
    sumX[b] += input.x[i];
    clustersIn[b].add(cl.of[i]);
  }
  const mean = Array.from(sum, (s, b) => s / count[b]);
  const profile: ProfileBin[] = mean.map((gap, b) => ({
    lo: binning.lo[b],
    hi: binning.hi[b],
    x: sumX[b] / count[b],
    prompts: count[b],
    clusters: clustersIn[b].size,
    gap,
    low: null,
    high: null,
    simLow: null,
    simHigh: null,
  }));
  if (!(opts.resamples >= 2) || cl.G < 2)
    return { prompts: n, clusters: cl.G, meanGap, gapSlope, profile, region: none, simultaneousQuantile: null };

  // Per cluster, its prompts' (bin, gap) sums: a resample is a vector of cluster weights. Prompts are grouped by
  // cluster and, within a cluster, by bin, so each cluster contributes one entry per bin it touches.
  const entryStart = new Int32Array(cl.G + 1);
  const entryBin = new Int32Array(n);
  const entryCount = new Float64Array(n);
  const entrySum = new Float64Array(n);
  let entries = 0;
  const seenAt = new Int32Array(B).fill(-1);
  for (let c = 0; c < cl.G; c++) {
    const first = entries;
    for (let k = cl.start[c]; k < cl.start[c + 1]; k++) {
      const i = cl.members[k];
      const b = binning.bin[i];
      let e = seenAt[b];
      if (e < first) {
        e = entries++;
        seenAt[b] = e;
        entryBin[e] = b;
        entryCount[e] = 0;
        entrySum[e] = 0;
      }
      entryCount[e]++;
      entrySum[e] += input.gap[i];
    }
    entryStart[c + 1] = entries;
  }
  const R = opts.resamples;
  const draws = new Float64Array(R * B).fill(NaN);
  const rng = makeFastRng(opts.seed);
  const weight = new Int32Array(cl.G);
  const rc = new Float64Array(B);
  const rs = new Float64Array(B);
  for (let r = 0; r < R; r++) {
    weight.fill(0);
    for (let k = 0; k < cl.G; k++) weight[(rng() * cl.G) | 0]++;
    rc.fill(0);
    rs.fill(0);
    for (let c = 0; c < cl.G; c++) {
      const w = weight[c];
      if (!w) continue;
      for (let e = entryStart[c]; e < entryStart[c + 1]; e++) {
        rc[entryBin[e]] += w * entryCount[e];
        rs[entryBin[e]] += w * entrySum[e];
      }
    }
    for (let b = 0; b < B; b++) if (rc[b] > 0) draws[r * B + b] = rs[b] / rc[b];
  }
  // Each bin's bootstrap standard deviation; its bands are widened for its number of clusters k (the expanded
  // bootstrap: sqrt(k/(k−1)) · t(k−1)/z), since a plain bootstrap of a mean of few clusters is too narrow.
  const z = tQuantile(0.5 + opts.confidence / 2, 1e6);
  const sd = new Float64Array(B);
  const expand = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    let m = 0;
    let k = 0;
    for (let r = 0; r < R; r++) {
      const v = draws[r * B + b];
      if (v === v) {
        m += v;
        k++;
      }
    }
    m /= k || 1;
    let ss = 0;
    for (let r = 0; r < R; r++) {
      const v = draws[r * B + b];
      if (v === v) ss += (v - m) * (v - m);
    }
    sd[b] = k > 1 ? Math.sqrt(ss / (k - 1)) : 0;
    const kc = profile[b].clusters;
    expand[b] = kc >= 2 ? Math.sqrt(kc / (kc - 1)) * (tQuantile(0.5 + opts.confidence / 2, kc - 1) / z) : Infinity;
    const half = z * expand[b] * sd[b];
    profile[b].low = Number.isFinite(half) ? mean[b] - half : null;
    profile[b].high = Number.isFinite(half) ? mean[b] + half : null;
  }
  // Simultaneous band: the quantile of the largest standardized deviation over the bins (sup-t), expanded per bin.
  const sup = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let m = 0;
    for (let b = 0; b < B; b++) {
      const v = draws[r * B + b];
      if (v === v && sd[b] > 0) m = Math.max(m, Math.abs(v - mean[b]) / sd[b]);
    }
    sup[r] = m;
  }
  sup.sort();
  const c = quantile(sup, opts.confidence);
  // A bin clears the threshold when its simultaneous lower edge does (NaN margins, from bins of one cluster, never do).
  // The expansion at the band's own tail: c sits far beyond z(0.975), where t(k−1) and the normal differ more.
  const tail = studentTCdf(c, 1e6);
  const margin = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const kc = profile[b].clusters;
    const atTail =
      kc >= 2 && c > 0 ? Math.sqrt(kc / (kc - 1)) * (tQuantile(Math.min(tail, 1 - 1e-12), kc - 1) / c) : Infinity;
    margin[b] = c * (c > 0 ? atTail : expand[b]) * sd[b];
    profile[b].simLow = Number.isFinite(margin[b]) ? mean[b] - margin[b] : null;
    profile[b].simHigh = Number.isFinite(margin[b]) ? mean[b] + margin[b] : null;
  }
  const mask = new Array<boolean>(B);
  for (let b = 0; b < B; b++) mask[b] = mean[b] - margin[b] > opts.threshold;
  const { direction, ranges } = regionOf(mask, binning);
  // How often a region exists, by the same rule on every resample's bin means.
  let exists = 0;
  for (let r = 0; r < R; r++) {
    const off = r * B;
    for (let b = 0; b < B; b++) {
      if (draws[off + b] - margin[b] > opts.threshold) {
        exists++;
        break;
      }
    }
  }
  const endRegion = direction === 'low end' || direction === 'high end' ? direction : null;
  const edge = endRegion ? changePointEdge(input, cl, binning.order, endRegion, opts) : null;
  return {
    prompts: n,
    clusters: cl.G,
    meanGap,
    gapSlope,
    profile,
    region: { direction, ranges, edge, share: exists / R },
    simultaneousQuantile: c,
  };
}

/**
 * The edge of an end region: the entropy where the gap crosses the threshold, found on prompts rather than bins. With the
 * prompts ordered from the region's end inwards, the edge is where the running sum of (gap − threshold) peaks: the
 * prompts before it lie above the threshold on average and those after it below (the level set of the monotone fit of
 * the gap, so it needs no bins and no tuning). The estimate is halfway between the two prompts it falls between.
 *
 * Interval: the cluster bootstrap's 2.5 % quantile of the lower of those two prompts' entropies to the 97.5 % quantile
 * of the upper. A change point is not a smooth statistic: for a sharp step the resamples put it between the same two
 * prompts, a percentile interval of the midpoints misses a true edge at either prompt (measured coverage 0.51–0.94),
 * and this one covers ~0.99, the honest answer when the data pin the edge between adjacent prompts (docs/decisions.md).
 */
function changePointEdge(
  input: GapInput,
  cl: Clustered,
  ascending: Int32Array,
  end: 'low end' | 'high end',
  opts: GapOptions,
): Estimate | null {
  const n = cl.n;
  const order = end === 'low end' ? ascending : fromHighEnd(ascending, input.x);
  const xs = Float64Array.from(order, (i) => input.x[i]);
  const excess = Float64Array.from(order, (i) => input.gap[i] - opts.threshold);
  const clusterAt = Int32Array.from(order, (i) => cl.of[i]);
  // A peak may only fall between distinct entropies.
  const between = new Uint8Array(n);
  for (let k = 0; k < n - 1; k++) between[k] = xs[k + 1] !== xs[k] ? 1 : 0;
  // The last prompt before the peak of the running sum (cluster weights from a resample); -1 when it never rises.
  // One loop for the data and another for resamples: the resample loop runs thousands of times per calibration.
  const peak = (weight: Int32Array): number => {
    let sum = 0;
    let best = 0;
    let at = -1;
    for (let k = 0; k < n - 1; k++) {
      sum += weight[clusterAt[k]] * excess[k];
      if (sum > best && between[k] === 1) {
        best = sum;
        at = k;
      }
    }
    return at;
  };
  const k = peak(new Int32Array(cl.G).fill(1));
  if (k < 0) return null;
  const lower: number[] = [];
  const upper: number[] = [];
  if (opts.resamples >= 2) {
    // Its own stream: the band's resamples are not needed here, and a separate seed keeps the band byte-identical.
    const rng = makeFastRng(`${opts.seed}/edge`);
    const weight = new Int32Array(cl.G);
    for (let r = 0; r < opts.resamples; r++) {
      weight.fill(0);
      for (let j = 0; j < cl.G; j++) weight[(rng() * cl.G) | 0]++;
      const at = peak(weight);
      if (at < 0) continue;
      lower.push(Math.min(xs[at], xs[at + 1]));
      upper.push(Math.max(xs[at], xs[at + 1]));
    }
  }
  const estimate = (xs[k] + xs[k + 1]) / 2;
  if (!lower.length) return { estimate, low: null, high: null, se: null, p: null };
  lower.sort((a, b) => a - b);
  upper.sort((a, b) => a - b);
  const alpha = (1 - opts.confidence) / 2;
  return {
    estimate,
    low: Math.min(quantile(lower, alpha), Math.min(xs[k], xs[k + 1])),
    high: Math.max(quantile(upper, 1 - alpha), Math.max(xs[k], xs[k + 1])),
    se: null,
    p: null,
  };
}

/** Prompts by descending entropy, ties by ascending index, from the ascending order (ties by ascending index). */
function fromHighEnd(ascending: Int32Array, x: ArrayLike<number>): Int32Array {
  const n = ascending.length;
  const out = new Int32Array(n);
  let w = 0;
  for (let k = n - 1; k >= 0;) {
    let j = k;
    while (j > 0 && x[ascending[j - 1]] === x[ascending[k]]) j--;
    for (let m = j; m <= k; m++) out[w++] = ascending[m];
    k = j - 1;
  }
  return out;
}
