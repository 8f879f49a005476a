/**
 * The score summary (data/scores/summary.json): per model × domain × setup the counts, valid picks, means, the fitted
 * curve and bootstrap intervals of its departure and turning points, over one binning range per (domain, setup).
 */
import type { PositionBias } from './position-bias';
import type { SampleScoreRecord, SpreadSummary } from './spread';
import { MEASURED_METHODS, type MeasuredMethod, type MeasuredScore } from './measured';
import * as fs from 'node:fs';
import type { Config, DomainName } from '../core/config';
import { entropy } from '../core/entropy';
import { readJson } from '../core/io';
import type { SampleRecord, ScoreRecord, Setup } from '../core/types';
import {
  type Curve,
  type CurveOptions,
  type EdgeRule,
  entropyCurve,
  type Interval,
  pointInterval,
  type Polynomial,
} from './curves';
import { scoreSummaryFile, SETUPS } from './files';
import { clusterIndex, clusteredMean, type Estimate, type GapStats, gapStats } from './gap';
import type { SetupCalibration } from './calibration';

export const SCORE_SUMMARY_VERSION = 2;

export interface SetupSummary {
  /** Prompts scored. */
  prompts: number;
  /**
   * Fewer prompts than `curves.minCurvePrompts`: the curve, its points and the statistics below rest on too few prompts
   * to be read as a trend; figures draw the points only and tables say "too few prompts (n = …)".
   */
  tooFewPrompts: boolean;
  /** Prompts of this setup without an answer in the responses file. */
  missing: number;
  /** Answers without any valid pick: scored under missingPicks "worst", left out under "best" (q = p there). */
  noPicks: number;
  /** Scored answers that needed smoothing (some item with positive target got zero model mass). */
  smoothed: number;
  /** Mean number of valid picks per answer, and the share of answers with fewer than topN (answers without any pick included). */
  validPicksMean: number | null;
  incompleteShare: number | null;
  meanTargetEntropy: number | null;
  meanCrossEntropy: number | null;
  /** Mean of crossEntropy − targetEntropy. */
  meanGap: number | null;
  /** Where the curve departs from X = Y and where its fit turns up again (lib/score/curves.ts), with bootstrap intervals. */
  departurePoint: Interval | null;
  turningPoint: Interval | null;
  curve: {
    n: number;
    window: number;
    order: number;
    edges: EdgeRule;
    range: [number, number];
    fitRange: [number, number] | null;
    /** Fitted span / data span. */
    fitCoverage: number | null;
    polynomial: Polynomial | null;
    notes: string[];
  };
  /** Several answers per sample (candidate orders, repeated asks): their spread (lib/score/spread.ts); absent otherwise. */
  spread?: SpreadSummary;
  /**
   * The statistics to conclude from (lib/score/gap.ts): mean gap, gap slope, gap profile with bands, departure region;
   * the resampling unit they assume; the bounded divergences; and the measured coverage of their intervals.
   */
  gap: GapSummary;
  /** The model's own distribution, measured from its repeated answers (query.samples ≥ 2); absent otherwise. */
  measured?: Partial<Record<MeasuredMethod, MeasuredSetupSummary>>;
}

/**
 * How the measured distribution scores beside the paper's optimistic one, on the prompts that have it. `flatters` is
 * the paired mean of (measured − optimistic) cross-entropy: above 0, imposing the target's values on the model's
 * ranking made it look closer to the group than its own distribution is, by that many bits; below 0, further (a
 * model whose sampled rankings stray from the target's order). The Plackett–Luce fit of n asks overstates H(p, q)
 * by about b/n; the grouped jackknife of lib/score/measured.ts removes most of it (0.004–0.013 bits left at 20 asks
 * on the MovieLens mirror, docs/decisions.md). Intervals: the jackknife over the resampling unit, as for the mean gap.
 */
export interface MeasuredSetupSummary {
  prompts: number;
  /** samples: the mean number of rankings fitted per prompt. */
  rankingsMean?: number;
  /** logprobs: the mean probability the top-k gave to the candidates' labels (the rest was filled in). */
  coveredMean?: number;
  /** stated, logprobs: prompts whose answers had diagnostics (missing, repeated, non-numeric entries …). */
  withDiagnostics?: number;
  meanGap: Estimate;
  optimisticMeanGap: Estimate;
  flatters: Estimate;
  jensenShannon: Estimate;
  totalVariation: Estimate;
  /** Prompts whose measured q was exactly 0 on some item of the group (smoothed with λ), and fits that did not converge. */
  smoothed: number;
  notConverged?: number;
}

export interface GapSummary extends GapStats {
  /** What is resampled together (curves.resamplingUnit). */
  unit: 'draw' | 'prompt' | 'group';
  /** Mean Jensen–Shannon divergence and total variation between p and q (bounded: they do not rest on the smoothing λ). */
  jensenShannon: Estimate;
  totalVariation: Estimate;
  /** The mean gap of the highest-entropy quarter of the prompts at other smoothing values λ (λ → mean gap). */
  highEndByLambda: Record<string, number> | null;
  /** Coverage of the intervals, measured on simulated datasets built like this setup's (lib/score/calibration.ts). */
  calibration: SetupCalibration | null;
}

export interface ModelDomainSummary {
  /** Prompts in samples.jsonl. */
  samples: number;
  /** Answers read for these prompts. */
  answers: number;
  scored: number;
  missing: number;
  noPicks: number;
  smoothed: number;
  validPicksMean: number | null;
  incompleteShare: number | null;
  /** Answers in the responses file for prompt ids not in samples.jsonl (left from an older sample). */
  ignoredAnswers: number;
  /** The settings these numbers were computed with (entries for other models may have been scored with others). */
  logBase: number;
  unit: string;
  smoothing: number;
  missingPicks: Config['score']['missingPicks'];
  topN: number;
  seed: number;
  curves: Config['curves'];
  /** The setups with prompts: a setup without any (setup B when every setting has a proxy) is absent. */
  setups: Partial<Record<Setup, SetupSummary>>;
  /** Where the valid picks sit in the listed candidates, against an order-blind model (lib/score/position-bias.ts). */
  positionBias?: PositionBias | null;
  /** A method entry ("<model>@<method>", lib/score/method-entries.ts): the method and the model it measured. */
  method?: { name: MeasuredMethod; of: string };
}

export interface ScoreSummary {
  v: number;
  /** modelId → domain → summary; keys sorted. */
  models: Record<string, Partial<Record<DomainName, ModelDomainSummary>>>;
  /** domain → every analysis parameter its entries were computed with (run, seed, sample, query, score, curves). */
  parameters?: Record<string, Record<string, unknown>>;
}

/** Reads data/scores/summary.json. */
export function loadScoreSummary(config: Config): ScoreSummary {
  const file = scoreSummaryFile(config);
  if (!fs.existsSync(file))
    throw new Error(`no score summary: ${file} is missing; run the score stage first (npm start -- --stages score)`);
  const s = readJson<ScoreSummary>(file);
  if (s?.v !== SCORE_SUMMARY_VERSION || typeof s.models !== 'object' || s.models === null) {
    throw new Error(`${file}: not a score summary of version ${SCORE_SUMMARY_VERSION}; run the score stage again`);
  }
  return s;
}

function mean(values: number[]): number | null {
  if (!values.length) return null;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Number of valid picks and incomplete answers among the answers of a setup: the scored ones plus, under "best", the
 * answers without any pick that were left out.
 */
function pickCounts(
  scores: ScoreRecord[],
  config: Config,
  noPicks: number,
): { answers: number; picks: number; incomplete: number } {
  const unscored = config.score.missingPicks === 'best' ? noPicks : 0;
  let picks = 0;
  let incomplete = unscored;
  for (const s of scores) {
    picks += s.validPicks;
    if (s.validPicks < config.query.topN) incomplete++;
  }
  return { answers: scores.length + unscored, picks, incomplete };
}

/** Whether a setup or curve of `prompts` prompts is below `curves.minCurvePrompts` (too few for a fitted curve). */
export function tooFewPrompts(prompts: number, minCurvePrompts: number): boolean {
  return prompts < minCurvePrompts;
}

/** The one wording of the flag, in figures and tables alike. */
export function tooFewPromptsNote(prompts: number | string): string {
  return `too few prompts (n = ${prompts})`;
}

/** The curve options of the config, with the binning range of this (domain, setup). */
export function curveOptions(config: Config, range: [number, number] | null): CurveOptions {
  const { bins, window, order, edges, departureGap } = config.curves;
  return { bins, window, order, range, edges, departureGap };
}

/**
 * Summary of one setup's scores: means, the fitted curve and bootstrap intervals of its departure and turning points.
 * `range` is the binning range shared by every model of the (domain, setup) (see setupRanges).
 */
export function summarizeSetup(
  scores: SampleScoreRecord[],
  config: Config,
  seed: string,
  counts: { missing: number; noPicks: number } = { missing: 0, noPicks: 0 },
  range: [number, number] | null = config.curves.range,
  extra: { clusterOf?: (promptId: string) => string; highEndByLambda?: Record<string, number> | null } = {},
): SetupSummary {
  const x = scores.map((s) => s.targetEntropy);
  const y = scores.map((s) => s.crossEntropy);
  const { bootstrap, confidence } = config.curves;
  const opts = curveOptions(config, range);
  // The paper's view (binned, rolling-averaged, polynomial curve) gives the turning point and the old departure point
  // as points only: "paper method", secondary to the gap statistics below, whose intervals are calibrated.
  const curve: Curve = entropyCurve(x, y, opts);
  const point = (v: number | null): Interval | null => (v === null ? null : pointInterval(v));
  const departurePoint = point(curve.departurePoint);
  const turningPoint = point(curve.turningPoint);
  const clusterOf = extra.clusterOf ?? ((id: string) => id);
  const cluster = scores.map((r) => clusterOf(r.promptId));
  const { minBinPrompts, profileBins, departureGap, resamplingUnit } = config.curves;
  const stats = gapStats(
    { x, gap: scores.map((r) => r.crossEntropy - r.targetEntropy), cluster },
    {
      minBinPrompts,
      maxBins: profileBins,
      threshold: departureGap,
      resamples: bootstrap,
      confidence,
      seed: `${seed}/gap`,
    },
  );
  const cl = clusterIndex(cluster);
  const noInterval = (e: Estimate): Estimate =>
    bootstrap >= 2 ? e : { ...e, low: null, high: null, se: null, p: null };
  const gap: GapSummary = {
    unit: resamplingUnit,
    ...stats,
    meanGap: noInterval(stats.meanGap),
    gapSlope: noInterval(stats.gapSlope),
    jensenShannon: noInterval(
      clusteredMean(
        scores.map((r) => r.jensenShannon),
        cl,
        confidence,
      ),
    ),
    totalVariation: noInterval(
      clusteredMean(
        scores.map((r) => r.totalVariation),
        cl,
        confidence,
      ),
    ),
    highEndByLambda: extra.highEndByLambda ?? null,
    calibration: null,
  };
  const measured = measuredSummary(scores, clusterOf, confidence, noInterval);
  return {
    prompts: scores.length,
    tooFewPrompts: tooFewPrompts(scores.length, config.curves.minCurvePrompts),
    missing: counts.missing,
    noPicks: counts.noPicks,
    smoothed: scores.filter((s) => s.smoothed).length,
    ...pickStats(scores, config, counts.noPicks),
    meanTargetEntropy: mean(x),
    meanCrossEntropy: mean(y),
    meanGap: mean(scores.map((s) => s.crossEntropy - s.targetEntropy)),
    departurePoint,
    turningPoint,
    curve: {
      n: curve.n,
      window: curve.window,
      order: curve.order,
      edges: curve.edges,
      range: curve.range,
      fitRange: curve.fitRange,
      fitCoverage: curve.fitCoverage,
      polynomial: curve.polynomial,
      notes: curve.notes,
    },
    gap,
    ...(measured ? { measured } : {}),
  };
}

function measuredSummary(
  scores: SampleScoreRecord[],
  clusterOf: (promptId: string) => string,
  confidence: number,
  noInterval: (e: Estimate) => Estimate,
): Partial<Record<MeasuredMethod, MeasuredSetupSummary>> | null {
  const out: Partial<Record<MeasuredMethod, MeasuredSetupSummary>> = {};
  for (const method of MEASURED_METHODS) {
    const rows = scores.filter((r) => r.measured?.[method]);
    if (!rows.length) continue;
    const m = (r: SampleScoreRecord) => r.measured![method]!;
    const cl = clusterIndex(rows.map((r) => clusterOf(r.promptId)));
    const of = (f: (r: SampleScoreRecord, m: MeasuredScore) => number) =>
      noInterval(
        clusteredMean(
          rows.map((r) => f(r, m(r))),
          cl,
          confidence,
        ),
      );
    const samplesFit = method === 'samples' ? rows.map((r) => r.measured!.samples!) : null;
    const elicited = method === 'samples' ? null : rows.map((r) => r.measured![method]!);
    const covered = elicited?.filter((e) => e.covered !== undefined).map((e) => e.covered!) ?? [];
    out[method] = {
      prompts: rows.length,
      ...(samplesFit ? { rankingsMean: mean(samplesFit.map((f) => f.rankings)) as number } : {}),
      ...(covered.length ? { coveredMean: mean(covered) as number } : {}),
      ...(elicited ? { withDiagnostics: elicited.filter((e) => e.diagnostics > 0).length } : {}),
      meanGap: of((r, x) => x.crossEntropy - r.targetEntropy),
      optimisticMeanGap: of((r) => r.crossEntropy - r.targetEntropy),
      flatters: of((r, x) => x.crossEntropy - r.crossEntropy),
      jensenShannon: of((_r, x) => x.jensenShannon),
      totalVariation: of((_r, x) => x.totalVariation),
      smoothed: rows.filter((r) => m(r).smoothed).length,
      ...(samplesFit ? { notConverged: samplesFit.filter((f) => !f.converged).length } : {}),
    };
  }
  return Object.keys(out).length ? out : null;
}

/**
 * The binning range of each setup, shared by every model scored on these samples: `curves.range` when set, else
 * min..max of the target entropies of the setup's prompts (null for a setup without prompts).
 */
export function setupRanges(samples: SampleRecord[], config: Config): Record<Setup, [number, number] | null> {
  const out = { A: null, B: null, C: null } as Record<Setup, [number, number] | null>;
  for (const setup of SETUPS) {
    if (config.curves.range) {
      out[setup] = [config.curves.range[0], config.curves.range[1]];
      continue;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of samples) {
      if (s.setup !== setup) continue;
      const h = entropy(s.target, config.score.logBase);
      if (h < lo) lo = h;
      if (h > hi) hi = h;
    }
    out[setup] = hi >= lo ? [lo, hi] : null;
  }
  return out;
}

export function pickStats(
  scores: ScoreRecord[],
  config: Config,
  noPicks: number,
): { validPicksMean: number | null; incompleteShare: number | null } {
  const picks = pickCounts(scores, config, noPicks);
  return {
    validPicksMean: picks.answers ? picks.picks / picks.answers : null,
    incompleteShare: picks.answers ? picks.incomplete / picks.answers : null,
  };
}
