/**
 * Calibration shown, not assumed: the coverage of every interval the gap statistics print, measured on simulated
 * datasets built like the run's own — the same prompts' target entropies, the same clusters (draws) — with a known true
 * gap curve and residual noise taken from a real baseline of the run.
 *
 * The noise of one replicate is a wild cluster bootstrap of the baseline's residuals around its own profile: each
 * cluster's residual vector is multiplied by a random sign. It keeps the residuals' size, their heteroscedasticity and
 * their correlation within a draw, and has mean zero, so the true value of every statistic is that of the known curve
 * on the run's own design:
 * - step model: gap `jump` below `at`, 0 above (the paper's picture: a model that follows X = Y until it departs);
 * - soft model: gap rising linearly below `at` (`slope` bits per bit), 0 above.
 * Coverage is the share of replicates whose interval holds the true value; its Monte-Carlo standard error at 200
 * replicates is about 0.015 at a true 0.95.
 */
import { makeFastRng } from '../core/rng';
import { clusterIndex, clusteredMean, clusteredSlope, equalCountBins, type GapOptions, gapStats } from './gap';

export interface SimulatedCurve {
  name: 'step' | 'soft';
  /** Where the gap starts (entropy). */
  at: number;
  /** Step: the gap below `at`; soft: the gap's slope below `at` (bits per bit, positive = rising as entropy falls). */
  size: number;
}

export interface Coverage {
  model: SimulatedCurve;
  replicates: number;
  /** Monte-Carlo standard error of a coverage of exactly the nominal level at this many replicates. */
  monteCarloError: number;
  meanGap: number;
  gapSlope: number;
  /** Per-bin pointwise bands, averaged over bins. */
  pointwise: number;
  /** All bins at once inside the simultaneous band. */
  simultaneous: number;
  /** The true region edge inside the edge interval (over replicates where an end region was found). */
  regionEdge: number | null;
  /** Share of replicates in which the region had the true direction. */
  regionFound: number;
  /** The paired difference of two independent replicates (mean gap and slope). */
  pairedMean: number;
  pairedSlope: number;
}

export interface Design {
  x: number[];
  cluster: string[];
  /** A real baseline's gaps on the same prompts: its residuals around its own profile are the noise. */
  noiseGap: number[];
}

export function trueGap(m: SimulatedCurve, x: number): number {
  if (x >= m.at) return 0;
  return m.name === 'step' ? m.size : m.size * (m.at - x);
}

/** Where the true gap crosses the threshold (the true region edge; null when it never does). */
export function trueEdge(m: SimulatedCurve, threshold: number): number | null {
  if (m.name === 'step') return m.size > threshold ? m.at : null;
  return m.size > 0 ? m.at - threshold / m.size : null;
}

function olsSlope(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let mx = 0;
  let my = 0;
  for (let i = 0; i < x.length; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= x.length;
  my /= x.length;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    sxx += (x[i] - mx) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  return sxy / sxx;
}

const inside = (v: number, lo: number | null, hi: number | null) => lo !== null && hi !== null && v >= lo && v <= hi;

/** Datasets per chunk: a curve's datasets are simulated in chunks, each seeded by its index, so that threads can share
 * them and the numbers do not depend on which thread did which. */
export const CHUNK_REPLICATES = 25;

/** Hits of each interval over a chunk of simulated datasets (summed over chunks into a Coverage). */
export interface CoverageCounts {
  replicates: number;
  mean: number;
  slope: number;
  pointwise: number;
  pointwiseBins: number;
  simultaneous: number;
  edgeHits: number;
  edgeTries: number;
  found: number;
  pairedMean: number;
  pairedSlope: number;
}

/** The chunks of `replicates` datasets: CHUNK_REPLICATES each, the last one the rest. */
export function chunksOf(replicates: number): { index: number; replicates: number }[] {
  return Array.from({ length: Math.ceil(replicates / CHUNK_REPLICATES) }, (_, index) => ({
    index,
    replicates: Math.min(CHUNK_REPLICATES, replicates - index * CHUNK_REPLICATES),
  }));
}

/**
 * Coverage of the gap statistics' intervals for one simulated curve on one design. A replicate draws the run's clusters
 * with replacement (the draws are a sample: a new run would draw other groups and histories) and gives each drawn
 * cluster's residuals a random sign; the true values are the curve's on the whole design (the population the draws
 * come from).
 */
export function measureCoverage(
  design: Design,
  model: SimulatedCurve,
  opts: GapOptions & { replicates: number; seed: string },
): Coverage {
  return coverageOf(
    model,
    chunksOf(opts.replicates).map((chunk) => coverageCounts(design, model, opts, chunk)),
    opts.confidence,
  );
}

/** Coverage from the counts of a curve's chunks. */
export function coverageOf(model: SimulatedCurve, chunks: CoverageCounts[], confidence: number): Coverage {
  const t = chunks.reduce((a, c) => {
    for (const k of Object.keys(a) as (keyof CoverageCounts)[]) a[k] += c[k];
    return a;
  }, chunksTotal());
  const R = t.replicates;
  return {
    model,
    replicates: R,
    monteCarloError: Math.sqrt((confidence * (1 - confidence)) / R),
    meanGap: t.mean / R,
    gapSlope: t.slope / R,
    pointwise: t.pointwiseBins ? t.pointwise / t.pointwiseBins : NaN,
    simultaneous: t.simultaneous / R,
    regionEdge: t.edgeTries ? t.edgeHits / t.edgeTries : null,
    regionFound: t.found / R,
    pairedMean: t.pairedMean / R,
    pairedSlope: t.pairedSlope / R,
  };
}

function chunksTotal(): CoverageCounts {
  return {
    replicates: 0,
    mean: 0,
    slope: 0,
    pointwise: 0,
    pointwiseBins: 0,
    simultaneous: 0,
    edgeHits: 0,
    edgeTries: 0,
    found: 0,
    pairedMean: 0,
    pairedSlope: 0,
  };
}

interface Prepared {
  cl: ReturnType<typeof clusterIndex>;
  resid: Float64Array;
  f: number[];
  truthMean: number;
  truthSlope: number;
  truthBetween: (lo: number, hi: number) => number;
  edge: number | null;
  wantDirection: 'none' | 'low end';
  largest: number;
}

// What every chunk of a curve on a design shares, computed once per thread (a design is one object in a thread).
const preparedOf = new WeakMap<Design, Map<string, Prepared>>();

function prepared(design: Design, model: SimulatedCurve, opts: GapOptions): Prepared {
  const key = [model.name, model.at, model.size, opts.threshold, opts.minBinPrompts, opts.maxBins].join('|');
  let byKey = preparedOf.get(design);
  if (!byKey) preparedOf.set(design, (byKey = new Map()));
  const hit = byKey.get(key);
  if (hit) return hit;
  const n = design.x.length;
  const cl = clusterIndex(design.cluster);
  const binning = equalCountBins(design.x, opts.minBinPrompts, opts.maxBins);
  // The baseline's residuals around its own profile.
  const resid = new Float64Array(n);
  if (binning) {
    const s = new Float64Array(binning.bins);
    const k = new Float64Array(binning.bins);
    for (let i = 0; i < n; i++) {
      s[binning.bin[i]] += design.noiseGap[i];
      k[binning.bin[i]]++;
    }
    for (let i = 0; i < n; i++) resid[i] = design.noiseGap[i] - s[binning.bin[i]] / k[binning.bin[i]];
  }
  const f = design.x.map((x) => trueGap(model, x));
  const sortedX = design.x.map((x, i) => [x, f[i]]).sort((a, b) => a[0] - b[0]);
  // The population's mean gap between two entropies (the truth for a profile bin of a replicate).
  const truthBetween = (lo: number, hi: number) => {
    let s = 0;
    let k = 0;
    for (const [x, v] of sortedX) {
      if (x < lo - 1e-12) continue;
      if (x > hi + 1e-12) break;
      s += v;
      k++;
    }
    return k ? s / k : NaN;
  };
  const edge = trueEdge(model, opts.threshold);
  let largest = 0;
  for (let c = 0; c < cl.G; c++) largest = Math.max(largest, cl.start[c + 1] - cl.start[c]);
  const out: Prepared = {
    cl,
    resid,
    f,
    truthMean: f.reduce((a, b) => a + b, 0) / n,
    truthSlope: olsSlope(design.x, f),
    truthBetween,
    edge,
    wantDirection: edge === null ? 'none' : 'low end',
    largest,
  };
  byKey.set(key, out);
  return out;
}

/** One chunk of a curve's simulated datasets: its own random stream (`<seed>/chunk<index>`). */
export function coverageCounts(
  design: Design,
  model: SimulatedCurve,
  opts: GapOptions & { seed: string },
  chunk: { index: number; replicates: number },
): CoverageCounts {
  const { cl, resid, f, truthMean, truthSlope, truthBetween, edge, wantDirection, largest } = prepared(
    design,
    model,
    opts,
  );
  const rng = makeFastRng(`${opts.seed}/chunk${chunk.index}`);
  // One replicate: G clusters drawn with replacement, each with a random sign on its residuals (buffers reused).
  const size = cl.G * largest;
  const x = new Float64Array(size);
  const fx = new Float64Array(size);
  const g = new Float64Array(size);
  const cluster = new Int32Array(size);
  const replicate = () => {
    let m = 0;
    for (let k = 0; k < cl.G; k++) {
      const c = Math.floor(rng() * cl.G);
      const sign = rng() < 0.5 ? -1 : 1;
      for (let j = cl.start[c]; j < cl.start[c + 1]; j++) {
        const i = cl.members[j];
        x[m] = design.x[i];
        fx[m] = f[i];
        cluster[m] = k;
        g[m] = f[i] + sign * resid[i];
        m++;
      }
    }
    return { x: x.subarray(0, m), f: fx.subarray(0, m), cluster: cluster.subarray(0, m), g: g.subarray(0, m) };
  };
  let mean = 0;
  let slope = 0;
  let pointwise = 0;
  let pointwiseBins = 0;
  let simultaneous = 0;
  let edgeHits = 0;
  let edgeTries = 0;
  let found = 0;
  let pairedMean = 0;
  let pairedSlope = 0;
  for (let r = 0; r < chunk.replicates; r++) {
    const rep = replicate();
    const seed = `${opts.seed}/${chunk.index * CHUNK_REPLICATES + r}`;
    const st = gapStats({ x: rep.x, gap: rep.g, cluster: rep.cluster }, { ...opts, seed });
    if (inside(truthMean, st.meanGap.low, st.meanGap.high)) mean++;
    if (inside(truthSlope, st.gapSlope.low, st.gapSlope.high)) slope++;
    let all = st.profile.length > 0;
    for (const b of st.profile) {
      const truth = truthBetween(b.lo, b.hi);
      pointwiseBins++;
      if (inside(truth, b.low, b.high)) pointwise++;
      if (!inside(truth, b.simLow, b.simHigh)) all = false;
    }
    if (all) simultaneous++;
    if (st.region.direction === wantDirection) found++;
    if (edge !== null && st.region.edge) {
      edgeTries++;
      if (inside(edge, st.region.edge.low, st.region.edge.high)) edgeHits++;
    }
    // A paired comparison: a second model of the same curve on the same drawn prompts, with its own noise (the true
    // difference is 0).
    const repCl = clusterIndex(rep.cluster);
    const d = new Float64Array(rep.x.length);
    for (let c = 0; c < repCl.G; c++) {
      const sign = rng() < 0.5 ? -1 : 1;
      for (let m = repCl.start[c]; m < repCl.start[c + 1]; m++) {
        const i = repCl.members[m];
        // The second model's noise: the same residual pattern as the first's cluster, another sign.
        d[i] = rep.g[i] - (rep.f[i] + sign * (rep.g[i] - rep.f[i]));
      }
    }
    const dm = clusteredMean(d, repCl, opts.confidence);
    const ds = clusteredSlope(rep.x, d, repCl, opts.confidence);
    if (inside(0, dm.low, dm.high)) pairedMean++;
    if (inside(0, ds.low, ds.high)) pairedSlope++;
  }
  return {
    replicates: chunk.replicates,
    mean,
    slope,
    pointwise,
    pointwiseBins,
    simultaneous,
    edgeHits,
    edgeTries,
    found,
    pairedMean,
    pairedSlope,
  };
}

export interface SetupCalibration {
  /** The baseline whose residuals are the noise, and the design's size. */
  noiseModel: string;
  prompts: number;
  clusters: number;
  /** Bootstrap resamples inside each replicate (fewer than the run's own, for time; the run's bands use more). */
  resamples: number;
  coverage: Coverage[];
}

/** Baselines whose residual noise is realistic: a model that ranks by popularity or by the history, not the answer key. */
const NOISE_KINDS = ['popularity', 'item-cf', 'group-popularity'];

/**
 * The model whose residuals serve as noise: the first scored baseline of a realistic kind, else the first model that
 * is neither the oracle (no noise) nor random; null when there is none.
 */
export function noiseModelOf(
  models: { id: string; provider: string; model: string }[],
  scored: string[],
): string | null {
  const ok = models.filter((m) => scored.includes(m.id));
  const kind = ok.find((m) => m.provider === 'baseline' && NOISE_KINDS.includes(m.model));
  if (kind) return kind.id;
  const other = ok.find(
    (m) => !(m.provider === 'baseline' && ['oracle', 'random', 'departure', 'known-distribution'].includes(m.model)),
  );
  return other?.id ?? null;
}

/** The simulated curves of a setup: a step at the 40th percentile of its entropies and a soft rise from the 60th. */
export function simulatedCurves(x: number[]): SimulatedCurve[] {
  const sorted = [...x].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return [
    { name: 'step', at: at(0.4), size: 0.5 },
    { name: 'soft', at: at(0.6), size: 0.5 },
  ];
}

/** The options of one setup's calibration: the run's, with the bootstrap capped at 200 resamples for time. */
export type CalibrationOptions = GapOptions & { replicates: number; seed: string };

/** One chunk of one simulated curve's datasets: the unit of work a thread takes. */
export interface ChunkJob {
  design: Design;
  model: SimulatedCurve;
  opts: CalibrationOptions;
  chunk: { index: number; replicates: number };
}

/** The chunk jobs of a setup, curve by curve, each seeded by its curve's name and its index (any order, any thread). */
export function chunkJobs(design: Design, opts: CalibrationOptions): ChunkJob[] {
  const resamples = Math.min(opts.resamples, 200);
  return simulatedCurves(design.x).flatMap((model) =>
    chunksOf(opts.replicates).map((chunk) => ({
      design,
      model,
      opts: { ...opts, resamples, seed: `${opts.seed}/${model.name}` },
      chunk,
    })),
  );
}

/** A setup's calibration from the counts of its chunk jobs (in chunkJobs' order). */
export function setupCalibration(
  design: Design,
  noiseModel: string,
  jobs: ChunkJob[],
  counts: CoverageCounts[],
): SetupCalibration {
  const models = [...new Set(jobs.map((j) => j.model))];
  return {
    noiseModel,
    prompts: design.x.length,
    clusters: clusterIndex(design.cluster).G,
    resamples: jobs[0].opts.resamples,
    coverage: models.map((m) =>
      coverageOf(
        m,
        counts.filter((_, k) => jobs[k].model === m),
        jobs[0].opts.confidence,
      ),
    ),
  };
}

export function runChunk(job: ChunkJob): CoverageCounts {
  return coverageCounts(job.design, job.model, job.opts, job.chunk);
}

/** Coverage of every interval on one setup's design, for both simulated curves (in this thread). */
export function calibrateSetup(design: Design, noiseModel: string, opts: CalibrationOptions): SetupCalibration {
  const jobs = chunkJobs(design, opts);
  return setupCalibration(design, noiseModel, jobs, jobs.map(runChunk));
}

/**
 * The intervals whose measured coverage lies clearly below the nominal level: under the 0.93 a calibrated 95 %
 * interval reaches (scaled to other levels) by more than two Monte-Carlo errors. Read those intervals as too narrow.
 * The region edge is exempt from the upper side only: a sharp step pins it between two prompts and it covers ~1.
 */
export function underCoverage(cal: SetupCalibration, confidence: number): string[] {
  const out: string[] = [];
  const labels: [keyof Coverage, string][] = [
    ['meanGap', 'mean gap'],
    ['gapSlope', 'gap slope'],
    ['pointwise', 'profile (pointwise)'],
    ['simultaneous', 'profile (simultaneous)'],
    ['regionEdge', 'region edge'],
    ['pairedMean', 'paired mean difference'],
    ['pairedSlope', 'paired slope difference'],
  ];
  for (const c of cal.coverage) {
    const floor = confidence - 0.02 * ((1 - confidence) / 0.05) - 2 * c.monteCarloError;
    for (const [key, label] of labels) {
      const v = c[key];
      if (typeof v === 'number' && v < floor)
        out.push(`${label} ${v.toFixed(3)} (${c.model.name} curve, ${c.replicates} datasets)`);
    }
  }
  return out;
}
