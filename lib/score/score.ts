/**
 * Scoring (paper section 4.2 "Evaluation", equations 1 and 2 of section 3.2): the target entropy of each prompt, the
 * cross-entropy of the model's optimistic distribution against the target, and the diagnostics that explain a value.
 *
 * Decisions (see also DESIGN.md and notebooks/04-score.ipynb):
 * - Optimistic distribution: the target probabilities sorted in descending order are handed out, the largest first,
 *   to the model's valid picks in its rank order, then to the remaining candidates sorted by their own target
 *   probability (descending; ties by candidate position).
 * - Zero model mass: a pick of a never-interacted item takes a large value from the sorted list, so some item with
 *   positive target ends up with q = 0 and H(p, q) = ∞. Only then q is smoothed, q' = (1 − λ)·q + λ/K, λ =
 *   `score.smoothing`; the record says `smoothed: true` and how many items had zero mass (`zeroMassPositive`).
 * - λ = 0 with such an answer leaves an infinite cross-entropy, which JSON cannot carry (it would become null):
 *   `runScore` then stops with an error naming the file, the prompts and the fix, and writes nothing for that model.
 * - Answers with no valid pick (unparseable, or every entry outside the candidates) are counted as `noPicks`, and
 *   prompts without any answer as `missing`, in the summary. Under `score.missingPicks: "worst"` (the default) such an
 *   answer is scored, every slot filled with the worst candidates; under `"best"` it is not scored, because the
 *   optimistic rule would give an empty list q = p, the oracle's perfect score.
 */
import * as fs from 'node:fs';
import { analysisParameters, type Config, type DomainName } from '../core/config';
import type { MissingPicksRule } from '../core/config-types';
import { scoresFile, scoreSummaryFile, SETUPS } from './files';
import { writeComparisons } from './pairs';
import {
  loadScoreSummary,
  type ModelDomainSummary,
  pickStats,
  SCORE_SUMMARY_VERSION,
  type ScoreSummary,
  setupRanges,
  type SetupSummary,
  summarizeSetup,
} from './summary';
import { writeJsonAtomic, writeJsonl } from '../core/io';
import { entropy } from '../core/entropy';
import { Progress } from '../core/progress';
import { deriveSeed } from '../core/rng';
import { loadResponses, responsesFile } from '../query/inputs';
import { loadSamples } from '../sample/sample';
import { FORMAT_VERSION, type ResponseRecord, type SampleRecord, type ScoreRecord, type Setup } from '../core/types';
import { positionBias, type PositionBias } from './position-bias';
import { foldAnswers, type SpreadSummary } from './spread';

// The files of the stage live in files.ts; re-exported so that callers keep one import.
export {
  loadComparisons,
  loadPower,
  loadScores,
  POWER_VERSION,
  type PowerFile,
  scoreComparisonsFile,
  scorePowerFile,
  scoresFile,
  scoreSummaryFile,
  SETUPS,
} from './files';

export {
  curveOptions,
  loadScoreSummary,
  type ModelDomainSummary,
  pickStats,
  SCORE_SUMMARY_VERSION,
  type ScoreSummary,
  setupRanges,
  type SetupSummary,
  summarizeSetup,
} from './summary';

function checkBase(logBase: number): number {
  if (!(logBase > 1)) throw new RangeError(`log base must be > 1, got ${logBase}`);
  return Math.log(logBase);
}

/** Name of the entropy unit for a log base: bits (2), nats (e), hartleys (10), else "log<base> units". */
export function entropyUnit(logBase: number): string {
  if (logBase === 2) return 'bits';
  if (Math.abs(logBase - Math.E) < 1e-12) return 'nats';
  if (logBase === 10) return 'hartleys';
  return `log${logBase} units`;
}

export { entropy } from '../core/entropy';

/** H(p, q) = −Σ p log q over items with p > 0; Infinity when some item with p > 0 has q = 0. */
export function crossEntropy(p: number[], q: number[], logBase: number): number {
  if (p.length !== q.length) throw new RangeError(`crossEntropy: p has ${p.length} entries but q has ${q.length}`);
  const lnBase = checkBase(logBase);
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) {
      if (!(q[i] > 0)) return Infinity;
      h -= p[i] * Math.log(q[i]);
    }
  }
  return h / lnBase;
}

/**
 * The optimistic model distribution over the candidates. `rankedIdx` are the model's valid picks as candidate
 * positions, best first (distinct, in range). Returns q aligned with the candidates.
 *
 * `worst`: the answer has `topN` slots, filled by the picks in rank order (at most topN), then by the unpicked
 * candidates of lowest target probability (lowest first, ties by candidate position). The slots take the topN largest
 * target values in slot order; every other candidate takes the remaining values in descending order of its own target
 * probability (ties by candidate position). `best`: every pick is a slot, nothing is filled, the rest as above.
 */
export function optimisticDistribution(
  target: number[],
  rankedIdx: number[],
  rule: { missingPicks: MissingPicksRule; topN: number },
): number[] {
  const K = target.length;
  const seen = new Set<number>();
  for (const i of rankedIdx) {
    if (!(Number.isInteger(i) && i >= 0 && i < K))
      throw new RangeError(`optimisticDistribution: pick ${i} is not a candidate position (0..${K - 1})`);
    if (seen.has(i)) throw new RangeError(`optimisticDistribution: candidate ${i} is picked twice`);
    seen.add(i);
  }
  if (!(Number.isInteger(rule.topN) && rule.topN >= 1))
    throw new RangeError(`optimisticDistribution: topN must be a whole number >= 1, got ${rule.topN}`);
  const values = target.slice().sort((a, b) => b - a);
  const slots = rule.missingPicks === 'worst' ? rankedIdx.slice(0, rule.topN) : rankedIdx.slice();
  if (rule.missingPicks === 'worst' && slots.length < rule.topN) {
    const inSlot = new Set(slots);
    const worstFirst: number[] = [];
    for (let i = 0; i < K; i++) if (!inSlot.has(i)) worstFirst.push(i);
    worstFirst.sort((a, b) => target[a] - target[b] || a - b);
    slots.push(...worstFirst.slice(0, Math.min(rule.topN, K) - slots.length));
  }
  const inSlot = new Set(slots);
  const rest: number[] = [];
  for (let i = 0; i < K; i++) if (!inSlot.has(i)) rest.push(i);
  rest.sort((a, b) => target[b] - target[a] || a - b);
  const q = new Array<number>(K);
  slots.forEach((idx, r) => (q[idx] = values[r]));
  rest.forEach((idx, r) => (q[idx] = values[slots.length + r]));
  return q;
}

/** The terms −p_i·log q_i of H(p, q), one per item (0 where p_i = 0; Infinity where p_i > 0 and q_i = 0). */
export function crossEntropyTerms(p: number[], q: number[], logBase: number): number[] {
  if (p.length !== q.length) throw new RangeError(`crossEntropyTerms: p has ${p.length} entries but q has ${q.length}`);
  const lnBase = checkBase(logBase);
  // 0 − x rather than −x: a term with q = 1 is 0, not −0.
  return p.map((pi, i) => (pi > 0 ? (q[i] > 0 ? 0 - (pi * Math.log(q[i])) / lnBase : Infinity) : 0));
}

/** q' = (1 − λ)·q + λ/K. */
export function smoothDistribution(q: number[], lambda: number): number[] {
  const K = q.length;
  return q.map((v) => (1 - lambda) * v + lambda / K);
}

/** Number of items with positive target probability that get zero model mass. */
export function zeroMassPositive(p: number[], q: number[]): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0 && !(q[i] > 0)) n++;
  return n;
}

/** The model distribution a response implies, before and after smoothing, with the picks as candidate positions. */
export function modelDistribution(
  sample: SampleRecord,
  response: ResponseRecord | null,
  score: { smoothing: number; missingPicks: MissingPicksRule; topN: number },
): { ranked: number[]; q: number[]; zeroMass: number; smoothed: boolean } {
  const position = new Map<string, number>();
  sample.candidates.forEach((id, i) => position.set(id, i));
  const ranked: number[] = [];
  for (const id of response?.ranked ?? []) {
    const i = position.get(id);
    if (i === undefined) {
      throw new Error(
        `prompt ${sample.id}: pick "${id}" is not among the sample's candidates — the answers do not belong to these samples (re-run the query stage)`,
      );
    }
    if (ranked.includes(i))
      throw new Error(
        `prompt ${sample.id}: pick "${id}" appears twice in "ranked" (the parse stage keeps each candidate once)`,
      );
    ranked.push(i);
  }
  const raw = optimisticDistribution(sample.target, ranked, score);
  const zeroMass = zeroMassPositive(sample.target, raw);
  const smoothed = zeroMass > 0;
  return { ranked, q: smoothed ? smoothDistribution(raw, score.smoothing) : raw, zeroMass, smoothed };
}

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
  };
}

function sortedKeys<T>(obj: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return out;
}

export interface ScoreOptions {
  log?: (s: string) => void;
}

/**
 * Scores every (model, domain): reads samples and answers, writes data/scores/<model>/<domain>.jsonl (one ScoreRecord per
 * scored prompt, in sample order) and merges the run's entries into data/scores/summary.json (entries of other models
 * and domains are kept). Same inputs and config ⇒ byte-identical files. Returns the whole merged summary.
 */
export function runScore(
  config: Config,
  domains: DomainName[],
  modelIds: string[],
  opts: ScoreOptions = {},
): ScoreSummary {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const fresh: { modelId: string; domain: DomainName; summary: ModelDomainSummary }[] = [];
  const compareDomains: { domain: DomainName; ranges: Record<Setup, [number, number] | null> }[] = [];
  const failures: string[] = [];
  for (const domain of domains) {
    let samples: SampleRecord[];
    try {
      samples = loadSamples(config, domain);
    } catch (e) {
      failures.push((e as Error).message);
      continue;
    }
    const ranges = setupRanges(samples, config);
    for (const modelId of modelIds) {
      try {
        fresh.push(scoreModelDomain(config, domain, modelId, samples, ranges, log));
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    compareDomains.push({ domain, ranges });
  }
  // The summary records what did succeed, so it always agrees with the score files on disk.
  const merged = mergeSummary(
    config,
    fresh,
    Object.fromEntries(compareDomains.map(({ domain }) => [domain, analysisParameters(config, domain, modelIds)])),
    log,
  );
  writeComparisons(
    config,
    compareDomains.map((d) => ({
      ...d,
      models: Object.keys(merged.models).filter(
        (id) => merged.models[id][d.domain] && fs.existsSync(scoresFile(config, id, d.domain)),
      ),
    })),
    log,
  );
  if (failures.length)
    throw new Error(
      failures.length === 1
        ? failures[0]
        : `scoring failed for ${failures.length} model/domain pairs:\n${failures.join('\n')}`,
    );
  return merged;
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
  for (const sample of samples) {
    const asks = byPrompt.get(sample.id);
    if (!asks) {
      missing[sample.setup]++;
      continue;
    }
    for (const found of [...asks.entries()].sort(([a], [b]) => a - b).map(([, f]) => f)) {
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
  return { scores, missing, noPicks, ignoredAnswers, answers, infinite };
}

function scoreModelDomain(
  config: Config,
  domain: DomainName,
  modelId: string,
  samples: SampleRecord[],
  ranges: Record<Setup, [number, number] | null>,
  log: (s: string) => void,
): { modelId: string; domain: DomainName; summary: ModelDomainSummary } {
  const file = responsesFile(config, modelId, domain);
  const responses = loadResponses(config, modelId, domain);
  const scored = scoreResponses(samples, responses, config, modelId, file);
  const { missing, noPicks, ignoredAnswers, answers, infinite } = scored;
  // Candidate orders and repeated asks: one record per sample (mean and spread), the spread per setup (lib/score/spread.ts).
  const { scores, spreadOf } = foldAnswers(scored.scores, samples);
  if (ignoredAnswers)
    log(`[score] ${file}: ${ignoredAnswers} answers are for prompts not in the current samples; ignored`);
  if (infinite.length) {
    throw new Error(
      `${file}: ${infinite.length} answers of "${modelId}" have infinite cross-entropy (some item with positive target got zero model mass) ` +
        `because score.smoothing is ${config.score.smoothing} (e.g. prompt ${infinite.slice(0, 3).join(', ')}); ` +
        'set score.smoothing > 0 (default 0.001). Nothing was written for this model and domain.',
    );
  }

  const progress = new Progress({
    label: `[score] bootstrap ${modelId}/${domain}`,
    total: SETUPS.length,
    unit: 'setups',
    write: log,
    intervalMs: 5000,
  });
  const setups = {} as Record<Setup, SetupSummary>;
  for (const setup of SETUPS) {
    setups[setup] = summarizeSetup(
      scores.filter((s) => s.setup === setup),
      config,
      deriveSeed(config.seed, 'bootstrap', modelId, domain, setup),
      { missing: missing[setup], noPicks: noPicks[setup] },
      ranges[setup],
    );
    const spread = spreadOf(setup);
    if (spread) setups[setup].spread = spread;
    progress.tick();
  }
  const sum = (f: (s: SetupSummary) => number) => SETUPS.reduce((acc, s) => acc + f(setups[s]), 0);
  const summary: ModelDomainSummary = {
    samples: samples.length,
    answers,
    scored: scores.length,
    missing: sum((s) => s.missing),
    noPicks: sum((s) => s.noPicks),
    smoothed: sum((s) => s.smoothed),
    ...pickStats(
      scores,
      config,
      sum((s) => s.noPicks),
    ),
    ignoredAnswers,
    logBase: config.score.logBase,
    unit: entropyUnit(config.score.logBase),
    smoothing: config.score.smoothing,
    missingPicks: config.score.missingPicks,
    topN: config.query.topN,
    seed: config.seed,
    curves: { ...config.curves },
    setups,
    positionBias: positionBias(samples, responses),
  };
  writeJsonl(scoresFile(config, modelId, domain), scores);
  log(
    `[score] ${modelId}/${domain}: ${scores.length} scored, ${summary.missing} missing, ${summary.noPicks} without valid picks, ` +
      `${summary.smoothed} smoothed → ${scoresFile(config, modelId, domain)}`,
  );
  return { modelId, domain, summary };
}

function mergeSummary(
  config: Config,
  fresh: { modelId: string; domain: DomainName; summary: ModelDomainSummary }[],
  parameters: Record<string, Record<string, unknown>>,
  log: (s: string) => void,
): ScoreSummary {
  const summaryFile = scoreSummaryFile(config);
  let merged: ScoreSummary = { v: SCORE_SUMMARY_VERSION, models: {} };
  if (fs.existsSync(summaryFile)) {
    try {
      merged = loadScoreSummary(config);
    } catch (e) {
      log(`[score] ${summaryFile} cannot be merged (${(e as Error).message}); starting a new summary`);
    }
  }
  for (const { modelId, domain, summary } of fresh)
    merged.models[modelId] = { ...(merged.models[modelId] ?? {}), [domain]: summary };
  const out: ScoreSummary = { v: SCORE_SUMMARY_VERSION, models: {} };
  for (const [id, perDomain] of Object.entries(sortedKeys(merged.models)))
    out.models[id] = sortedKeys(perDomain as Record<string, ModelDomainSummary>);
  // A domain's parameters are those of its latest scoring; its model list is every model the summary holds for it,
  // the ones just scored first in their order.
  const withModels = Object.fromEntries(
    Object.entries(parameters).map(([domain, p]) => {
      const scored = p.models as string[];
      const held = Object.keys(out.models).filter((id) => out.models[id][domain]);
      return [
        domain,
        { ...p, models: [...scored.filter((id) => held.includes(id)), ...held.filter((id) => !scored.includes(id))] },
      ];
    }),
  );
  out.parameters = sortedKeys({ ...merged.parameters, ...withModels });
  writeJsonAtomic(summaryFile, out);
  return out;
}
