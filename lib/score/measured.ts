/**
 * The model's own distribution over a prompt's candidates, as measured by an elicitation method (issue 22), and its
 * score against the target. Unlike the paper's optimistic q, nothing of the target is imposed on it:
 * - `stated`: the probabilities the model wrote per candidate id, normalised;
 * - `logprobs`: the first answer token's top-k logprobs over the candidates' labels "1".."K", read as OpinionQA does —
 *   labels found keep their probability, the mass 1 − Σ(found) is spread evenly over the labels not found;
 * - `samples`: a Plackett–Luce fit of n sampled top-k rankings (plackett-luce.ts), first-pick frequencies beside it.
 * Whatever is wrong with an answer (a missing, repeated, non-numeric or negative entry, a token that is no label, a
 * fit that did not converge) is listed in `diagnostics`, never dropped silently.
 * Scoring applies the score stage's rule for zero mass unchanged: only when some candidate with p > 0 has q exactly 0
 * is q smoothed, q' = (1 − λ)·q + λ/K, so an answer that gives every candidate some mass is scored as measured.
 */
import type { ResponseRecord, SampleRecord } from '../core/types';
import { candidateLabel, type TokenLogprob } from '../query/known-distribution';
import { crossEntropy, jensenShannon, smoothDistribution, totalVariation, zeroMassPositive } from './distribution';
import { firstPickFrequencies, fitPlackettLuce } from './plackett-luce';

/** The methods that measure the model's own distribution, in the order tables and figures list them. */
export const MEASURED_METHODS = ['samples', 'stated', 'logprobs'] as const;
export type MeasuredMethod = (typeof MEASURED_METHODS)[number];

export type MeasureDiagnosticKind =
  | 'missing' // a candidate the answer gives no value for (q = 0 there)
  | 'duplicate' // a candidate given twice (stated: the first value is kept; logprobs: token variants are summed)
  | 'non-numeric' // a value that is not a finite number (treated as missing)
  | 'negative' // a value below 0 (treated as 0)
  | 'unknown' // a key or token that names no candidate (ignored)
  | 'no-mass' // nothing to normalise: q is null
  | 'excess-mass' // logprobs whose label probabilities add up to more than 1 (normalised over the found labels)
  | 'empty-ranking' // a sampled answer with no valid pick (left out of the fit)
  | 'not-converged'; // the Plackett–Luce fit stopped at its iteration limit (its last iterate is used)

export interface MeasureDiagnostic {
  kind: MeasureDiagnosticKind;
  /** The candidate id, label or token concerned, when there is one. */
  key?: string;
  detail: string;
}

export interface MeasuredDistribution {
  method: MeasuredMethod;
  /** Aligned with the candidates, sums to 1; null when the answer holds no usable mass. */
  q: number[] | null;
  diagnostics: MeasureDiagnostic[];
  /** logprobs: the probability the top-k gave to the candidates' labels (1 = nothing was filled in). */
  covered?: number;
  /** stated: the sum of the valid values before normalising. */
  statedTotal?: number;
  /** samples: the fit's iterations and convergence, and the Laplace-smoothed first-pick frequencies. */
  fit?: { iterations: number; converged: boolean; rankings: number };
  firstPick?: number[];
}

/**
 * q from a stated answer: the values per candidate id, normalised. `entries` are the answer's (candidate id, value)
 * pairs in the order written — pairs, not an object, so that a repeated key is seen (JSON.parse keeps only its last).
 */
export function statedDistribution(
  candidates: readonly string[],
  entries: Iterable<readonly [string, unknown]>,
): MeasuredDistribution {
  const position = new Map(candidates.map((id, i) => [id, i]));
  const raw = new Array<number>(candidates.length).fill(0);
  const given = new Set<number>();
  const diagnostics: MeasureDiagnostic[] = [];
  for (const [key, value] of entries) {
    const i = position.get(key);
    if (i === undefined) {
      diagnostics.push({ kind: 'unknown', key, detail: 'not a candidate id of this prompt; ignored' });
      continue;
    }
    if (given.has(i)) {
      diagnostics.push({
        kind: 'duplicate',
        key,
        detail: `given again (${JSON.stringify(value)}); the first value is kept`,
      });
      continue;
    }
    given.add(i);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      diagnostics.push({
        kind: 'non-numeric',
        key,
        detail: `value ${JSON.stringify(value) ?? String(value)} is not a finite number; counted as 0`,
      });
    } else if (value < 0) {
      diagnostics.push({ kind: 'negative', key, detail: `value ${value} is below 0; counted as 0` });
    } else raw[i] = value;
  }
  candidates.forEach((id, i) => {
    if (!given.has(i)) diagnostics.push({ kind: 'missing', key: id, detail: 'no value given; counted as 0' });
  });
  const total = raw.reduce((a, b) => a + b, 0);
  if (!(total > 0)) {
    diagnostics.push({ kind: 'no-mass', detail: 'no candidate has a positive stated probability' });
    return { method: 'stated', q: null, diagnostics, statedTotal: total };
  }
  return { method: 'stated', q: raw.map((x) => x / total), diagnostics, statedTotal: total };
}

/**
 * q from the first answer token's top logprobs over the labels "1".."K" of `nCandidates` candidates (leading and
 * trailing white space of a token ignored, so " 7" is label 7). Found labels keep exp(logprob); the rest of the
 * probability, 1 − Σ(found), is shared evenly by the labels not found (OpinionQA's rule), so q sums to 1. Tokens that
 * are no label (words, "0", numbers past K) take no part and are listed.
 */
export function logprobsDistribution(nCandidates: number, top: readonly TokenLogprob[]): MeasuredDistribution {
  if (!(Number.isInteger(nCandidates) && nCandidates >= 1))
    throw new RangeError(`logprobsDistribution: nCandidates must be a whole number >= 1, got ${nCandidates}`);
  const byLabel = new Map<string, number>();
  for (let i = 0; i < nCandidates; i++) byLabel.set(candidateLabel(i), i);
  const found = new Array<number>(nCandidates).fill(0);
  const seen = new Set<number>();
  const diagnostics: MeasureDiagnostic[] = [];
  for (const { token, logprob } of top) {
    const i = byLabel.get(String(token).trim());
    if (i === undefined) {
      diagnostics.push({ kind: 'unknown', key: token, detail: 'not a candidate label; its mass is not counted' });
      continue;
    }
    if (!(Number.isFinite(logprob) && logprob <= 1e-9)) {
      diagnostics.push({
        kind: 'non-numeric',
        key: token,
        detail: `logprob ${logprob} is not a log-probability; ignored`,
      });
      continue;
    }
    if (seen.has(i))
      diagnostics.push({
        kind: 'duplicate',
        key: token,
        detail: `label ${candidateLabel(i)} seen again; masses summed`,
      });
    seen.add(i);
    found[i] += Math.exp(Math.min(0, logprob));
  }
  const covered = found.reduce((a, b) => a + b, 0);
  const missing = nCandidates - seen.size;
  if (!(covered > 0)) {
    diagnostics.push({ kind: 'no-mass', detail: 'no candidate label among the top logprobs' });
    return { method: 'logprobs', q: null, diagnostics, covered: 0 };
  }
  if (covered > 1 + 1e-9) {
    diagnostics.push({
      kind: 'excess-mass',
      detail: `the labels' probabilities add up to ${covered}; normalised over them`,
    });
    return { method: 'logprobs', q: found.map((x) => x / covered), diagnostics, covered };
  }
  const fill = missing > 0 ? Math.max(0, 1 - covered) / missing : 0;
  const q = found.map((x, i) => (seen.has(i) ? x : fill));
  // With no label missing the found labels are all there is; otherwise the fill makes the sum 1 up to rounding.
  const sum = q.reduce((a, b) => a + b, 0);
  return { method: 'logprobs', q: q.map((x) => x / sum), diagnostics, covered: Math.min(1, covered) };
}

/**
 * The prior of the samples fit: of α = 0.01, 0.03, 0.1, 0.3 and 1, the one with the smallest bias of H(p, q) at n = 5
 * and 20 rankings on the MovieLens samples with the known-distribution responder, and as good as 0.1 at n = 50
 * (docs/decisions.md, "Measured distributions").
 */
export const SAMPLES_ALPHA_DEFAULT = 0.3;

export interface SamplesOptions {
  /** choix's `alpha` for the MAP fit; default SAMPLES_ALPHA_DEFAULT. */
  alpha?: number;
  /** Laplace pseudo-count of the first-pick frequencies. */
  pseudoCount?: number;
  maxIter?: number;
  tol?: number;
}

/** q from n sampled rankings of candidate positions (best first, distinct), by the Plackett–Luce MAP fit. */
export function samplesDistribution(
  nCandidates: number,
  rankings: readonly (readonly number[])[],
  options: SamplesOptions = {},
): MeasuredDistribution {
  const diagnostics: MeasureDiagnostic[] = [];
  const used = rankings.filter((r, s) => {
    if (r.length > 0) return true;
    diagnostics.push({ kind: 'empty-ranking', key: String(s), detail: `answer ${s} has no valid pick; left out` });
    return false;
  });
  if (used.length === 0) {
    diagnostics.push({ kind: 'no-mass', detail: 'no sampled answer has a valid pick' });
    return { method: 'samples', q: null, diagnostics };
  }
  const fit = fitPlackettLuce(
    nCandidates,
    used.map((picks) => ({ picks })),
    { alpha: options.alpha ?? SAMPLES_ALPHA_DEFAULT, maxIter: options.maxIter, tol: options.tol },
  );
  if (!fit.converged)
    diagnostics.push({
      kind: 'not-converged',
      detail: `Plackett–Luce fit stopped after ${fit.iterations} iterations (last change ${fit.lastChange.toExponential(2)} per item)`,
    });
  return {
    method: 'samples',
    q: fit.q,
    diagnostics,
    fit: { iterations: fit.iterations, converged: fit.converged, rankings: used.length },
    firstPick: firstPickFrequencies(nCandidates, used, options.pseudoCount ?? 1),
  };
}

export interface MeasuredScore {
  crossEntropy: number;
  jensenShannon: number;
  totalVariation: number;
  /** Candidates with p > 0 and measured q exactly 0; when above 0, q was smoothed with λ before scoring. */
  zeroMassPositive: number;
  smoothed: boolean;
}

/** H(p, q), JS and TV of a measured q, with the score stage's λ rule for exact zeros (see the file's comment). */
export function scoreMeasured(
  p: readonly number[],
  q: readonly number[],
  options: { smoothing: number; logBase: number },
): MeasuredScore {
  if (p.length !== q.length) throw new RangeError(`scoreMeasured: p has ${p.length} entries but q has ${q.length}`);
  const zero = zeroMassPositive(p, q);
  const scored = zero > 0 ? smoothDistribution(q, options.smoothing) : q;
  return {
    crossEntropy: crossEntropy(p, scored, options.logBase),
    jensenShannon: jensenShannon(p, scored, options.logBase),
    totalVariation: totalVariation(p, scored),
    zeroMassPositive: zero,
    smoothed: zero > 0,
  };
}

/** A sample's `samples` distribution scored, with the number of rankings fitted and whether the fit converged. */
export interface MeasuredSamplesScore extends MeasuredScore {
  rankings: number;
  converged: boolean;
  /** H(p, q̂) of the fit of all rankings, before the jackknife's bias correction (`crossEntropy` is corrected). */
  plugInCrossEntropy: number;
}

/** Groups of the grouped jackknife that corrects the fitted cross-entropy's small-n bias (docs/decisions.md). */
export const JACKKNIFE_GROUPS = 5;

/**
 * The grouped jackknife of H(p, q̂): with g groups (ranking i in group i mod g), g·H(all) − (g − 1)·mean H(all but a
 * group). The plug-in H(p, q̂) of n rankings overstates H(p, q) by about b/n (a noisy q̂ raises −log q̂ on average);
 * the leave-a-group-out fits of n(g − 1)/g rankings overstate it by b·g/(n(g − 1)), so the combination cancels the b/n
 * term. Measured with the simulated model on 688 of the MovieLens mirror's prompts: bias 0.118 → 0.009 bits at
 * n = 20, 0.047 → 0.000 at 50, 0.38 → 0.14 at 5, and the mean |error| halves (through the stages on all 5,504
 * prompts: docs/decisions.md).
 */
export function jackknifedCrossEntropy(
  target: readonly number[],
  rankings: readonly (readonly number[])[],
  plugIn: number,
  options: { smoothing: number; logBase: number } & SamplesOptions,
): number {
  const g = Math.min(JACKKNIFE_GROUPS, rankings.length);
  if (g < 2) return plugIn;
  let sum = 0;
  for (let j = 0; j < g; j++) {
    const q = samplesDistribution(
      target.length,
      rankings.filter((_, i) => i % g !== j),
      options,
    ).q;
    if (!q) return plugIn;
    sum += scoreMeasured(target, q, options).crossEntropy;
  }
  return g * plugIn - (g - 1) * (sum / g);
}

/**
 * The `samples` method on a model's answers: per sample asked at least twice (query.samples ≥ 2), q from the
 * Plackett–Luce fit of its rankings (the asks of every candidate order pooled, read as candidate ids), scored against
 * the target. Keyed by the sample id (`sampleOf` of its prompts' ids), as the folded score records are. `answers` are
 * those the score stage kept, one per prompt and ask (`ScoredAnswers.kept`).
 */
export function measuredSamplesScores(
  samples: readonly SampleRecord[],
  answers: readonly ResponseRecord[],
  sampleOf: (promptId: string) => string,
  options: { smoothing: number; logBase: number } & SamplesOptions,
): Map<string, MeasuredSamplesScore> {
  const reference = new Map<string, SampleRecord>();
  for (const s of samples) if (!reference.has(sampleOf(s.id))) reference.set(sampleOf(s.id), s);
  const rankings = new Map<string, number[][]>();
  for (const r of answers) {
    if (!reference.has(sampleOf(r.promptId))) continue;
    const id = sampleOf(r.promptId);
    const position = positionsOf(reference.get(id)!);
    const picks = r.ranked.map((c) => position.get(c)).filter((p): p is number => p !== undefined);
    const list = rankings.get(id);
    if (list) list.push(picks);
    else rankings.set(id, [picks]);
  }
  const out = new Map<string, MeasuredSamplesScore>();
  for (const [id, list] of rankings) {
    if (list.length < 2) continue;
    const sample = reference.get(id)!;
    const measured = samplesDistribution(sample.candidates.length, list, options);
    if (!measured.q || !measured.fit) continue;
    const plugIn = scoreMeasured(sample.target, measured.q, options);
    const used = list.filter((r) => r.length > 0);
    out.set(id, {
      ...plugIn,
      crossEntropy: jackknifedCrossEntropy(sample.target, used, plugIn.crossEntropy, options),
      plugInCrossEntropy: plugIn.crossEntropy,
      rankings: measured.fit.rankings,
      converged: measured.fit.converged,
    });
  }
  return out;
}

const positions = new WeakMap<SampleRecord, Map<string, number>>();

function positionsOf(sample: SampleRecord): Map<string, number> {
  let map = positions.get(sample);
  if (!map) positions.set(sample, (map = new Map(sample.candidates.map((c, i) => [c, i]))));
  return map;
}
