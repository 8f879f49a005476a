/**
 * Several answers per sample — candidate orders (sample.candidateOrders) and repeated asks (query.samples) — folded into
 * one score per sample, and how much of the cross-entropy's variance lies within samples.
 *
 * - Per sample: the mean cross-entropy over its answers (what the curves use) and their sample standard deviation
 *   (`crossEntropySpread`, null for a sample with one scored answer). When every sample has exactly one answer (the
 *   paper's design) the records are returned unchanged, so the default run writes the same bytes as before.
 * - Within-sample share: the one-way random-effects decomposition of the answer-level cross-entropies with the samples
 *   as groups. σ²_within = MSW; σ²_between = max(0, (MSB − MSW) / n0) with n0 = (N − Σ n_i² / N) / (k − 1), the
 *   unbalanced-design group size; share = σ²_within / (σ²_within + σ²_between). Unlike the share of sums of squares it
 *   is not biased down by the few answers per sample: answers that differ only by noise give a share near 1.
 */
import type { MeasuredElicitedScore } from './elicited';
import type { SampleRecord, ScoreRecord, Setup } from '../core/types';
import { baseSampleId } from '../sample/orders';
import type { MeasuredSamplesScore } from './measured';

/** A score record that may stand for several answers of one sample. */
export interface SampleScoreRecord extends ScoreRecord {
  /** Scored answers folded into this record (orders × asks that had valid picks). */
  answers?: number;
  /** Standard deviation (n − 1) of the answers' cross-entropies; null with one answer. */
  crossEntropySpread?: number | null;
  /** The model's own distribution as measured from its answers (query.samples ≥ 2), scored (lib/score/measured.ts). */
  measured?: { samples?: MeasuredSamplesScore; stated?: MeasuredElicitedScore; logprobs?: MeasuredElicitedScore };
}

export interface SpreadSummary {
  /** Samples and scored answers of the setup. */
  samples: number;
  answers: number;
  /** Mean over samples with at least two answers of their crossEntropySpread; null when none has two. */
  meanSpread: number | null;
  /** Variance components of the answer-level cross-entropy (see the file comment). */
  withinVariance: number | null;
  betweenVariance: number | null;
  /** σ²_within / (σ²_within + σ²_between); null when undefined (no sample with two answers, or no variance at all). */
  withinShare: number | null;
}

function mean(values: number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Sample standard deviation (n − 1); null for fewer than two values. */
export function sampleStandardDeviation(values: number[]): number | null {
  if (values.length < 2) return null;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return Math.sqrt(ss / (values.length - 1));
}

/** Answer-level score records grouped by the sample they belong to, in first-seen order. */
export function groupBySample(
  scores: ScoreRecord[],
  sampleOf: (promptId: string) => string,
): Map<string, ScoreRecord[]> {
  const groups = new Map<string, ScoreRecord[]>();
  for (const s of scores) {
    const id = sampleOf(s.promptId);
    const g = groups.get(id);
    if (g) g.push(s);
    else groups.set(id, [s]);
  }
  return groups;
}

/**
 * One record per sample: answer-level records (one per order and ask) folded by `sampleOf` (prompt id → sample id).
 * The folded record keeps the first answer's descriptive fields under the sample's id, the mean cross-entropy and
 * mean diagnostics, `smoothed` when any answer was smoothed, and the spread.
 */
export function aggregatePerSample(scores: ScoreRecord[], sampleOf: (promptId: string) => string): SampleScoreRecord[] {
  const groups = groupBySample(scores, sampleOf);
  if (groups.size === scores.length) return scores;
  const out: SampleScoreRecord[] = [];
  for (const [id, g] of groups) {
    const ce = g.map((s) => s.crossEntropy);
    out.push({
      ...g[0],
      promptId: id,
      crossEntropy: mean(ce),
      smoothed: g.some((s) => s.smoothed),
      validPicks: mean(g.map((s) => s.validPicks)),
      outsideCandidates: mean(g.map((s) => s.outsideCandidates)),
      duplicates: mean(g.map((s) => s.duplicates)),
      zeroMassPositive: mean(g.map((s) => s.zeroMassPositive)),
      jensenShannon: mean(g.map((s) => s.jensenShannon)),
      totalVariation: mean(g.map((s) => s.totalVariation)),
      answers: g.length,
      crossEntropySpread: sampleStandardDeviation(ce),
    });
  }
  return out;
}

/** Variance components of values grouped by sample (groups of any size >= 1). */
export function varianceComponents(groups: number[][]): {
  within: number | null;
  between: number | null;
  share: number | null;
} {
  const used = groups.filter((g) => g.length > 0);
  const k = used.length;
  const N = used.reduce((n, g) => n + g.length, 0);
  if (k === 0 || N - k === 0) return { within: null, between: null, share: null };
  const grand = mean(used.flat());
  let ssw = 0;
  let ssb = 0;
  let sumSq = 0;
  for (const g of used) {
    const m = mean(g);
    for (const v of g) ssw += (v - m) ** 2;
    ssb += g.length * (m - grand) ** 2;
    sumSq += g.length ** 2;
  }
  const within = ssw / (N - k);
  let between = 0;
  if (k > 1) {
    const n0 = (N - sumSq / N) / (k - 1);
    between = Math.max(0, (ssb / (k - 1) - within) / n0);
  }
  const total = within + between;
  return { within, between, share: total > 0 ? within / total : null };
}

/** The spread summary of one setup's answer-level records. */
export function summarizeSpread(scores: ScoreRecord[], sampleOf: (promptId: string) => string): SpreadSummary {
  const groups = [...groupBySample(scores, sampleOf).values()].map((g) => g.map((s) => s.crossEntropy));
  const spreads = groups.map(sampleStandardDeviation).filter((s): s is number => s !== null);
  const vc = varianceComponents(groups);
  return {
    samples: groups.length,
    answers: scores.length,
    meanSpread: spreads.length ? mean(spreads) : null,
    withinVariance: vc.within,
    betweenVariance: vc.between,
    withinShare: vc.share,
  };
}

/** Prompt id → the id of the sample it is an order or an ask of (itself when it is not in `samples`). */
export function sampleIdOf(samples: readonly SampleRecord[]): (promptId: string) => string {
  const ids = new Map(samples.map((s) => [s.id, baseSampleId(s)]));
  return (promptId) => ids.get(promptId) ?? promptId;
}

/**
 * The score stage's fold: per-sample records (unchanged when each sample has one answer) and, when some sample has
 * several answers, the spread summary of a setup's answers (null otherwise).
 */
export function foldAnswers(
  answerScores: ScoreRecord[],
  samples: SampleRecord[],
): { scores: SampleScoreRecord[]; spreadOf: (setup: Setup) => SpreadSummary | null } {
  const sampleOf = sampleIdOf(samples);
  const scores = aggregatePerSample(answerScores, sampleOf);
  const several = scores !== answerScores;
  return {
    scores,
    spreadOf: (setup) =>
      several
        ? summarizeSpread(
            answerScores.filter((s) => s.setup === setup),
            sampleOf,
          )
        : null,
  };
}
