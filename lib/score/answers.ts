/**
 * One model's answers scored against the samples, prompt by prompt (equations 1 and 2 of the paper's section 3.2, with
 * the decisions listed in score.ts), and the resampling unit of each prompt. No files: runScore reads and writes.
 */
import type { Config } from '../core/config';
import { entropy } from '../core/entropy';
import { FORMAT_VERSION, type ResponseRecord, type SampleRecord, type ScoreRecord, type Setup } from '../core/types';
import { baseSampleId } from '../sample/orders';
import { crossEntropy, jensenShannon, modelDistribution, totalVariation } from './distribution';

/**
 * Scores one prompt. `response` null (or without valid picks) is scored by the paper's rule literally — q = the sorted
 * target, i.e. q = p, the oracle's score — which is why runScore counts such prompts instead of scoring them.
 * The cross-entropy is Infinity when smoothing is needed and `score.smoothing` is 0.
 */
export function scorePrompt(sample: SampleRecord, response: ResponseRecord | null, config: Config): ScoreRecord {
  const { logBase, smoothing, missingPicks } = config.score;
  const { ranked, q, zeroMass, smoothed } = modelDistribution(sample, response, {
    smoothing,
    missingPicks,
    topN: config.query.topN,
  });
  return {
    v: FORMAT_VERSION,
    promptId: sample.id,
    modelId: response?.modelId ?? '',
    domain: sample.domain,
    setup: sample.setup,
    proxy: sample.proxy,
    historyLength: sample.history.length,
    groupSize: sample.groupSize,
    targetEntropy: entropy(sample.target, logBase),
    crossEntropy: crossEntropy(sample.target, q, logBase),
    smoothed,
    validPicks: ranked.length,
    outsideCandidates: response?.diagnostics?.unmatched?.length ?? 0,
    duplicates: response?.diagnostics?.duplicates?.length ?? 0,
    zeroMassPositive: zeroMass,
    jensenShannon: jensenShannon(sample.target, q, logBase),
    totalVariation: totalVariation(sample.target, q),
  };
}

export interface ScoredAnswers {
  /** One record per scored prompt, in sample order (may hold Infinity when smoothing is 0 — see `infinite`). */
  scores: ScoreRecord[];
  /** Per setup: prompts without an answer, and answers without a valid pick (not scored). */
  missing: Record<Setup, number>;
  noPicks: Record<Setup, number>;
  /** Answers for prompt ids that are not in the samples. */
  ignoredAnswers: number;
  /** Answers read for prompts in the samples (a later answer for the same prompt replaces an earlier one). */
  answers: number;
  /** Prompt ids whose cross-entropy is infinite (zero model mass on a positive item and smoothing 0). */
  infinite: string[];
  /** The answer kept per prompt and ask (a later one replaces an earlier one), in sample and ask order. */
  kept: ResponseRecord[];
}

/**
 * Scores a model's answers against the samples in memory (what runScore does before writing), e.g. to compare
 * smoothing values without touching the score files. `source` names the answers in error messages.
 */
export function scoreResponses(
  samples: SampleRecord[],
  responses: ResponseRecord[],
  config: Config,
  modelId: string,
  source = 'responses',
): ScoredAnswers {
  const sampleIds = new Set(samples.map((s) => s.id));
  // Per prompt, its answers by ask index (query.samples > 1 asks each prompt several times; absent = the only ask).
  const byPrompt = new Map<string, Map<number, { r: ResponseRecord; line: number }>>();
  let ignoredAnswers = 0;
  let answers = 0;
  responses.forEach((r, i) => {
    if (!sampleIds.has(r.promptId)) ignoredAnswers++;
    else {
      const asks = byPrompt.get(r.promptId) ?? new Map<number, { r: ResponseRecord; line: number }>();
      if (!asks.has(r.sample ?? 0)) answers++;
      asks.set(r.sample ?? 0, { r, line: i + 1 });
      byPrompt.set(r.promptId, asks);
    }
  });
  const scores: ScoreRecord[] = [];
  const missing: Record<Setup, number> = { A: 0, B: 0, C: 0 };
  const noPicks: Record<Setup, number> = { A: 0, B: 0, C: 0 };
  const infinite: string[] = [];
  const kept: ResponseRecord[] = [];
  for (const sample of samples) {
    const asks = byPrompt.get(sample.id);
    if (!asks) {
      missing[sample.setup]++;
      continue;
    }
    for (const found of [...asks.entries()].sort(([a], [b]) => a - b).map(([, f]) => f)) {
      kept.push(found.r);
      if (found.r.ranked.length === 0) {
        noPicks[sample.setup]++;
        // Under "best" an empty answer would get q = p, the oracle's score; under "worst" it gets the worst one.
        if (config.score.missingPicks === 'best') continue;
      }
      let rec: ScoreRecord;
      try {
        rec = scorePrompt(sample, found.r, config);
      } catch (e) {
        throw new Error(`${source}:${found.line}: answer for prompt ${sample.id}: ${(e as Error).message}`);
      }
      if (!Number.isFinite(rec.crossEntropy)) infinite.push(sample.id);
      scores.push({ ...rec, modelId });
    }
  }
  return { scores, missing, noPicks, ignoredAnswers, answers, infinite, kept };
}

/**
 * The resampling unit of every prompt (after candidate orders are folded into their base sample): its draw (all
 * prompts of one trajectory share a group and a history), the prompt itself, or its demographic group.
 */
export function clusterLabels(
  samples: SampleRecord[],
  unit: Config['curves']['resamplingUnit'],
): (promptId: string) => string {
  const label = new Map<string, string>();
  for (const s of samples) {
    const group = `${s.setup}/${s.proxy}/${JSON.stringify(s.demography)}`;
    label.set(baseSampleId(s), unit === 'draw' ? s.drawId : unit === 'group' ? group : baseSampleId(s));
  }
  return (promptId) => label.get(promptId) ?? promptId;
}
