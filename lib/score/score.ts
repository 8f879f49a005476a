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
import * as path from 'node:path';
import { type Config, type DomainName } from '../core/config';
import { analysisParameters } from '../core/run-config';
import type { MissingPicksRule } from '../core/config-types';
import { loadScores as loadScoresOf, scoresFile, scoreSummaryFile, SETUPS } from './files';
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
import { baseSampleId } from '../sample/orders';
import { calibrateSetupCached, noiseModelOf } from './calibration';

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

export {
  crossEntropy,
  crossEntropyTerms,
  entropyUnit,
  jensenShannon,
  type MissingPicksRule,
  modelDistribution,
  optimisticDistribution,
  smoothDistribution,
  totalVariation,
  zeroMassPositive,
} from './distribution';
import { crossEntropy, entropyUnit, jensenShannon, modelDistribution, totalVariation } from './distribution';
export { entropy } from '../core/entropy';

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
  const compareDomains: {
    domain: DomainName;
    ranges: Record<Setup, [number, number] | null>;
    clusterOf: (id: string) => string;
  }[] = [];
  const failures: string[] = [];
  const samplesByDomain = new Map<DomainName, SampleRecord[]>();
  for (const domain of domains) {
    let samples: SampleRecord[];
    try {
      samples = loadSamples(config, domain);
    } catch (e) {
      failures.push((e as Error).message);
      continue;
    }
    samplesByDomain.set(domain, samples);
    const ranges = setupRanges(samples, config);
    for (const modelId of modelIds) {
      try {
        fresh.push(scoreModelDomain(config, domain, modelId, samples, ranges, log));
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    compareDomains.push({ domain, ranges, clusterOf: clusterLabels(samples, config.curves.resamplingUnit) });
  }
  calibrate(config, fresh, samplesByDomain, log);
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

/** λ values at which the high-entropy end of each curve is shown (the smoothing is ours, not the model's). */
export const SENSITIVITY_LAMBDAS = [1e-4, 1e-3, 1e-2];

/**
 * Per setup, the mean gap of the highest-entropy quarter of its prompts when the answers are scored with each λ of
 * SENSITIVITY_LAMBDAS: how much of the high end is the smoothing rather than the model.
 */
function highEndByLambda(
  samples: SampleRecord[],
  responses: ResponseRecord[],
  config: Config,
  modelId: string,
  file: string,
): Record<Setup, Record<string, number> | null> {
  const out = { A: null, B: null, C: null } as Record<Setup, Record<string, number> | null>;
  for (const lambda of SENSITIVITY_LAMBDAS) {
    const withLambda = { ...config, score: { ...config.score, smoothing: lambda } };
    const { scores } = foldAnswers(scoreResponses(samples, responses, withLambda, modelId, file).scores, samples);
    for (const setup of SETUPS) {
      const rows = scores.filter((r) => r.setup === setup).sort((a, b) => a.targetEntropy - b.targetEntropy);
      if (rows.length < 4) continue;
      const top = rows.slice(Math.floor((rows.length * 3) / 4));
      const gap = top.reduce((acc, r) => acc + r.crossEntropy - r.targetEntropy, 0) / top.length;
      out[setup] = { ...(out[setup] ?? {}), [String(lambda)]: gap };
    }
  }
  return out;
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
  const setups: Partial<Record<Setup, SetupSummary>> = {};
  const clusterOf = clusterLabels(samples, config.curves.resamplingUnit);
  const highEnd = highEndByLambda(samples, responses, config, modelId, file);
  for (const setup of SETUPS) {
    const rows = scores.filter((s) => s.setup === setup);
    progress.tick();
    // A setup without scored prompts has no statistic to show; its missing answers still count in the totals below.
    if (!rows.length) continue;
    setups[setup] = summarizeSetup(
      rows,
      config,
      deriveSeed(config.seed, 'bootstrap', modelId, domain, setup),
      { missing: missing[setup], noPicks: noPicks[setup] },
      ranges[setup],
      { clusterOf, highEndByLambda: highEnd[setup] },
    );
    const spread = spreadOf(setup);
    if (spread) setups[setup]!.spread = spread;
  }
  const sum = (counts: Record<Setup, number>) => SETUPS.reduce((acc, s) => acc + counts[s], 0);
  const summary: ModelDomainSummary = {
    samples: samples.length,
    answers,
    scored: scores.length,
    missing: sum(missing),
    noPicks: sum(noPicks),
    smoothed: scores.filter((s) => s.smoothed).length,
    ...pickStats(scores, config, sum(noPicks)),
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

/**
 * Measures the coverage of the gap statistics' intervals on each domain's own design (lib/score/calibration.ts) and
 * attaches it to every fresh entry's setups: the noise is the residuals of one realistic baseline of the run.
 */
function calibrate(
  config: Config,
  fresh: { modelId: string; domain: DomainName; summary: ModelDomainSummary }[],
  samplesByDomain: Map<DomainName, SampleRecord[]>,
  log: (s: string) => void,
): void {
  const { calibration: replicates, bootstrap, confidence, minBinPrompts, profileBins, departureGap } = config.curves;
  if (!(replicates > 0) || bootstrap < 2) return;
  for (const [domain, samples] of samplesByDomain) {
    const entries = fresh.filter((f) => f.domain === domain);
    const noise = noiseModelOf(
      config.query.models,
      entries.map((e) => e.modelId),
    );
    if (!noise) {
      log(
        `[score] ${domain}: no baseline with realistic noise was scored (popularity, item-cf); coverage not measured`,
      );
      continue;
    }
    const t0 = Date.now();
    const reused: Setup[] = [];
    const scores = foldAnswers(loadScoresOf(config, noise, domain), samples).scores;
    const clusterOf = clusterLabels(samples, config.curves.resamplingUnit);
    for (const setup of SETUPS) {
      const rows = scores.filter((r) => r.setup === setup);
      if (!rows.length) continue;
      const design = {
        x: rows.map((r) => r.targetEntropy),
        cluster: rows.map((r) => clusterOf(r.promptId)),
        noiseGap: rows.map((r) => r.crossEntropy - r.targetEntropy),
      };
      const { calibration: measured, cached } = calibrateSetupCached(
        design,
        noise,
        {
          minBinPrompts,
          maxBins: profileBins,
          threshold: departureGap,
          resamples: bootstrap,
          confidence,
          replicates,
          seed: deriveSeed(config.seed, 'calibration', domain, setup),
        },
        // Beside the summary: a cache of measurements, never read by another stage.
        { dir: path.join(path.dirname(scoreSummaryFile(config)), '.calibration'), name: `${domain}-${setup}` },
      );
      if (cached) reused.push(setup);
      for (const e of entries) {
        const entry = e.summary.setups[setup];
        if (entry) entry.gap.calibration = measured;
      }
    }
    log(
      `[score] ${domain}: coverage of the intervals measured on ${replicates} simulated datasets per setup (noise: ${noise}) in ${((Date.now() - t0) / 1000).toFixed(1)} s${reused.length ? ` (setups ${reused.join(', ')}: unchanged design and options, read from the last measurement)` : ''}`,
    );
  }
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
