/**
 * The gap statistics a user concludes from (docs/decisions.md, "Statistics"): the per-prompt gap g = H(p, q) − H(p)
 * against the target entropy, with the draw as the unit of resampling (all prompts of one trajectory share a group and a
 * history, so they are not independent; each setup-C prompt is a draw of its own).
 *
 * - mean gap and gap slope (OLS slope of g on H(p), bits per bit; negative = the gap grows as the group narrows, the
 *   paper's hypothesis): cluster-robust (CR1) standard errors with Student's t on G − 1 degrees of freedom, G clusters;
 * - the gap profile: mean gap on bins of equal prompt counts, with pointwise and simultaneous (sup-t) bands from a
 *   cluster bootstrap in which every bin keeps its prompts;
 * - the departure region: the bins whose simultaneous lower edge clears the threshold, its direction, its edge with an
 *   interval widened by the adjacent bins' half widths (the edge is a bin boundary: a discretised statistic), and the
 *   share of resamples in which a region exists.
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
}

/**
 * Bins of equal prompt counts over the target entropies (ties broken by prompt order, so the bins are deterministic):
 * as many as fit `minBinPrompts` each, at most `maxBins`. Boundaries sit halfway between neighbouring bins' prompts.
 */
export function equalCountBins(x: ArrayLike<number>, minBinPrompts: number, maxBins: number): Binning | null {
  const n = x.length;
  const bins = Math.min(maxBins, Math.floor(n / Math.max(1, minBinPrompts)));
  if (bins < 1) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b] || a - b);
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
  return { bin, bins, lo, hi };
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
  // Where the gap crosses the threshold next to an end region: on the profile's bin means (`at(b)` = draws[off + b]),
  // interpolated between the centres of the last bin above the threshold and the first below it (the band tells where
  // a departure is certain; this tells where it starts, without the band's margin pulling it into the region).
  const binX = Float64Array.from(profile, (p) => p.x);
  const endRegion = direction === 'low end' || direction === 'high end' ? direction : null;
  const crossing = (values: Float64Array | number[], off: number): number | null => {
    const from = endRegion === 'low end' ? 0 : B - 1;
    const step = endRegion === 'low end' ? 1 : -1;
    if (!(values[off + from] > opts.threshold)) return null;
    let k = from;
    while (k + step >= 0 && k + step < B && values[off + k + step] > opts.threshold) k += step;
    const next = k + step;
    if (next < 0 || next >= B || !(values[off + next] === values[off + next])) return null;
    const m1 = values[off + k];
    const m2 = values[off + next];
    return binX[k] + ((m1 - opts.threshold) / (m1 - m2)) * (binX[next] - binX[k]);
  };
  // The same rules on every resample: how often a region exists, and where the crossing falls.
  let exists = 0;
  const edges: number[] = [];
  for (let r = 0; r < R; r++) {
    const off = r * B;
    for (let b = 0; b < B; b++) {
      if (draws[off + b] - margin[b] > opts.threshold) {
        exists++;
        break;
      }
    }
    if (endRegion) {
      const e = crossing(draws, off);
      if (e !== null) edges.push(e);
    }
  }
  const alpha = (1 - opts.confidence) / 2;
  let edge: Estimate | null = null;
  const estimate = endRegion ? crossing(mean, 0) : null;
  if (endRegion && estimate !== null) {
    edges.sort((a, b) => a - b);
    // The profile is a step function of bins: when the gap jumps, the bin holding the true edge is only partly
    // departed, the interpolated crossing lands up to a bin beyond it, and the resampled crossings hardly move. So the
    // interval reaches to the far side of the bin next to each end of the percentile interval: conservative by design
    // (half a bin covered a step only half the time; docs/decisions.md).
    const binOf = (x: number) => {
      const k = binning.hi.findIndex((h) => x <= h);
      return k < 0 ? B - 1 : k;
    };
    const low = edges.length ? quantile(edges, alpha) : estimate;
    const high = edges.length ? quantile(edges, 1 - alpha) : estimate;
    const below = Math.max(0, binOf(Math.min(low, estimate)) - 1);
    const above = Math.min(B - 1, binOf(Math.max(high, estimate)) + 1);
    edge = { estimate, low: binning.lo[below], high: binning.hi[above], se: null, p: null };
  }
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
