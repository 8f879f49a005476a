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
import { Progress } from '../core/progress';
import { deriveSeed } from '../core/rng';
import { loadResponses, responsesFile } from '../query/inputs';
import { loadSamples } from '../sample/sample';
import type { ResponseRecord, SampleRecord, Setup } from '../core/types';
import { positionBias } from './position-bias';
import { type SampleScoreRecord, foldAnswers, sampleIdOf } from './spread';
import { type MeasuredSamplesScore, measuredSamplesScores } from './measured';
import { loadElicited, measuredElicitedScores } from './elicited';
import { elicitMethodsOf } from '../query/elicit';
import { baseSampleId } from '../sample/orders';
import { noiseModelOf } from './calibration';
import { startCalibration } from './calibration-run';
import { methodEntries, methodEntryOf } from './method-entries';

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
import { entropyUnit } from './distribution';
import { type ScoredAnswers, clusterLabels, scoreResponses } from './answers';
export { clusterLabels, type ScoredAnswers, scorePrompt, scoreResponses } from './answers';
export { entropy } from '../core/entropy';

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
  // Each domain's calibration is collected last: comparisons and power need none of it, and this thread computes them
  // while the worker threads go on calibrating (collected first, they kept a core idle for ~2 s).
  const collectCalibrations: (() => void)[] = [];
  for (const domain of domains) {
    let samples: SampleRecord[];
    try {
      samples = loadSamples(config, domain);
    } catch (e) {
      failures.push((e as Error).message);
      continue;
    }
    const ranges = setupRanges(samples, config);
    // The calibration starts first, in worker threads, on the noise baseline's gaps, while the models are scored here.
    const planned = noiseModelOf(config.query.models, modelIds);
    // The noise baseline's answers, scored for the calibration, are not read and scored a second time.
    const scoredEarlier = new Map<string, ReadAndScored>();
    let finishCalibration = planned
      ? startDomainCalibration(config, domain, samples, planned, log, scoredEarlier)
      : null;
    const scored: typeof fresh = [];
    for (const modelId of modelIds) {
      try {
        const earlier = scoredEarlier.get(modelId);
        scoredEarlier.delete(modelId);
        scored.push(...scoreModelDomain(config, domain, modelId, samples, ranges, log, earlier));
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    // The planned baseline could not be scored: another realistic one of those scored.
    const fallback =
      !finishCalibration && planned
        ? noiseModelOf(
            config.query.models,
            scored.map((f) => f.modelId).filter((id) => id !== planned),
          )
        : null;
    if (fallback) finishCalibration = startDomainCalibration(config, domain, samples, fallback, log, new Map());
    if (finishCalibration) {
      const finish = finishCalibration;
      collectCalibrations.push(() => finish(scored));
    } else if (!planned && config.curves.calibration > 0 && config.curves.bootstrap >= 2)
      log(
        `[score] ${domain}: no baseline with realistic noise was scored (popularity, item-cf); coverage not measured`,
      );
    fresh.push(...scored);
    compareDomains.push({ domain, ranges, clusterOf: clusterLabels(samples, config.curves.resamplingUnit) });
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
  // The calibrations attach to the fresh entries, which the merged summary holds: it is written once they are in.
  for (const collect of collectCalibrations) collect();
  writeJsonAtomic(scoreSummaryFile(config), merged);
  if (failures.length)
    throw new Error(
      failures.length === 1
        ? failures[0]
        : `scoring failed for ${failures.length} model/domain pairs:\n${failures.join('\n')}`,
    );
  return merged;
}

/** λ values at which the high-entropy end of each curve is shown (the smoothing is ours, not the model's). */
export const SENSITIVITY_LAMBDAS = [1e-4, 1e-3, 1e-2];

/**
 * Per setup, the mean gap of the highest-entropy quarter of its prompts when the answers are scored with each λ of
 * SENSITIVITY_LAMBDAS: how much of the high end is the smoothing rather than the model. Which prompts form the quarter
 * does not depend on λ (nor does a prompt's score on the others'), so only they are scored again, and not at all for
 * the run's own λ, whose scores are `scores`.
 */
function highEndByLambda(
  samples: SampleRecord[],
  responses: ResponseRecord[],
  scores: SampleScoreRecord[],
  config: Config,
  modelId: string,
  file: string,
): Record<Setup, Record<string, number> | null> {
  const out = { A: null, B: null, C: null } as Record<Setup, Record<string, number> | null>;
  const topOf = (rows: SampleScoreRecord[], setup: Setup) => {
    const inSetup = rows.filter((r) => r.setup === setup).sort((a, b) => a.targetEntropy - b.targetEntropy);
    return inSetup.length < 4 ? null : inSetup.slice(Math.floor((inSetup.length * 3) / 4));
  };
  const tops = SETUPS.map((setup) => topOf(scores, setup));
  const top = new Set(tops.flatMap((t) => (t ?? []).map((r) => r.promptId)));
  const topSamples = samples.filter((s) => top.has(baseSampleId(s)));
  const topSampleIds = new Set(topSamples.map((s) => s.id));
  const topResponses = responses.filter((r) => topSampleIds.has(r.promptId));
  for (const lambda of SENSITIVITY_LAMBDAS) {
    const withLambda = { ...config, score: { ...config.score, smoothing: lambda } };
    const rescored =
      lambda === config.score.smoothing
        ? null
        : foldAnswers(scoreResponses(topSamples, topResponses, withLambda, modelId, file).scores, topSamples).scores;
    SETUPS.forEach((setup, k) => {
      if (!tops[k]) return;
      // The same rows in the same order as the quarter of the full set: the sums, and so the gaps, are identical.
      const rows = rescored
        ? rescored.filter((r) => r.setup === setup).sort((a, b) => a.targetEntropy - b.targetEntropy)
        : tops[k]!;
      const gap = rows.reduce((acc, r) => acc + r.crossEntropy - r.targetEntropy, 0) / rows.length;
      out[setup] = { ...(out[setup] ?? {}), [String(lambda)]: gap };
    });
  }
  return out;
}

/** A model's answers as read and scored (before folding), kept when they were needed before the model's turn. */
interface ReadAndScored {
  responses: ResponseRecord[];
  scored: ScoredAnswers;
}

function scoreModelDomain(
  config: Config,
  domain: DomainName,
  modelId: string,
  samples: SampleRecord[],
  ranges: Record<Setup, [number, number] | null>,
  log: (s: string) => void,
  earlier?: ReadAndScored,
): { modelId: string; domain: DomainName; summary: ModelDomainSummary }[] {
  const file = responsesFile(config, modelId, domain);
  const responses = earlier?.responses ?? loadResponses(config, modelId, domain);
  const scored = earlier?.scored ?? scoreResponses(samples, responses, config, modelId, file);
  const { missing, noPicks, ignoredAnswers, answers, infinite } = scored;
  // Candidate orders and repeated asks: one record per sample (mean and spread), the spread per setup (lib/score/spread.ts).
  const { scores, spreadOf } = foldAnswers(scored.scores, samples);
  // Asked several times (query.samples ≥ 2): the model's own distribution, measured from its rankings.
  const measured =
    config.query.samples >= 2
      ? measuredSamplesScores(samples, scored.kept, sampleIdOf(samples), {
          smoothing: config.score.smoothing,
          logBase: config.score.logBase,
        })
      : new Map<string, MeasuredSamplesScore>();
  for (const r of scores) {
    const m = measured.get(r.promptId);
    if (m) r.measured = { samples: m };
  }
  // The methods asked with prompts of their own (stated, logprobs): the distribution the model gave, scored.
  const elicitedNotes: string[] = [];
  for (const method of elicitMethodsOf(
    config,
    config.query.models.find((m) => m.id === modelId),
  )) {
    const methodFile = responsesFile(config, modelId, domain, method);
    const byId = measuredElicitedScores(samples, loadElicited(methodFile, method), sampleIdOf(samples), {
      smoothing: config.score.smoothing,
      logBase: config.score.logBase,
    });
    for (const r of scores) {
      const m = byId.get(r.promptId);
      if (m) r.measured = { ...r.measured, [method]: m };
    }
    elicitedNotes.push(`${byId.size} with a ${method} distribution`);
  }
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
  const highEnd = highEndByLambda(samples, responses, scores, config, modelId, file);
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
  const methods = methodEntries(config, domain, modelId, scores, summary, ranges, clusterOf);
  log(
    `[score] ${modelId}/${domain}: ${scores.length} scored, ${summary.missing} missing, ${summary.noPicks} without valid picks, ` +
      `${summary.smoothed} smoothed${measured.size ? `, ${measured.size} with a measured distribution (Plackett–Luce fit of ${config.query.samples} asks)` : ''}${elicitedNotes.map((n) => `, ${n}`).join('')} → ${scoresFile(config, modelId, domain)}`,
  );
  // Each measured method as an entry of its own ("<model>@<method>"): the same statistics, comparisons and figures.
  return [{ modelId, domain, summary }, ...methods];
}

/**
 * Starts measuring the coverage of the gap statistics' intervals on a domain's own design (lib/score/calibration.ts):
 * the noise is the residuals of one realistic baseline of the run, scored already. Returns the function that waits for
 * the measurement and attaches it to the domain's fresh entries (null when the domain has no such baseline or the
 * calibration is off).
 */
function startDomainCalibration(
  config: Config,
  domain: DomainName,
  samples: SampleRecord[],
  noise: string,
  log: (s: string) => void,
  scoredEarlier: Map<string, ReadAndScored>,
): ((entries: { modelId: string; domain: DomainName; summary: ModelDomainSummary }[]) => void) | null {
  const { calibration: replicates, bootstrap, confidence, minBinPrompts, profileBins, departureGap } = config.curves;
  if (!(replicates > 0) || bootstrap < 2) return null;
  const t0 = Date.now();
  // Its gaps as the score stage computes them (what it writes to its score file), without the summary's statistics.
  let scores: SampleScoreRecord[];
  try {
    const file = responsesFile(config, noise, domain);
    const responses = loadResponses(config, noise, domain);
    const answers = scoreResponses(samples, responses, config, noise, file);
    scoredEarlier.set(noise, { responses, scored: answers });
    scores = foldAnswers(answers.scores, samples).scores;
  } catch {
    return null; // scoring it reports why
  }
  if (scores.some((r) => !Number.isFinite(r.crossEntropy))) return null;
  const clusterOf = clusterLabels(samples, config.curves.resamplingUnit);
  const requests = SETUPS.flatMap((setup) => {
    const rows = scores.filter((r) => r.setup === setup);
    if (!rows.length) return [];
    const design = {
      x: rows.map((r) => r.targetEntropy),
      cluster: rows.map((r) => clusterOf(r.promptId)),
      noiseGap: rows.map((r) => r.crossEntropy - r.targetEntropy),
    };
    const opts = {
      minBinPrompts,
      maxBins: profileBins,
      threshold: departureGap,
      resamples: bootstrap,
      confidence,
      replicates,
      seed: deriveSeed(config.seed, 'calibration', domain, setup),
    };
    return [{ name: `${domain}-${setup}`, setup, design, noiseModel: noise, opts }];
  });
  // Beside the summary: a cache of measurements, never read by another stage.
  const collect = startCalibration(requests, path.join(path.dirname(scoreSummaryFile(config)), '.calibration'));
  return (entries) => {
    const measured = collect();
    const reused: Setup[] = [];
    for (const r of requests) {
      const got = measured.get(r.name)!;
      if (got.cached) reused.push(r.setup);
      for (const e of entries) {
        const entry = e.summary.setups[r.setup];
        if (entry) entry.gap.calibration = got.calibration;
      }
    }
    log(
      `[score] ${domain}: coverage of the intervals measured on ${replicates} simulated datasets per setup (noise: ${noise}) in ${((Date.now() - t0) / 1000).toFixed(1)} s, alongside the scoring${reused.length ? ` (setups ${reused.join(', ')}: unchanged design and options, read from the last measurement)` : ''}`,
    );
  };
}

/** The summary file's content with the fresh entries merged in (not written: their calibrations may still come). */
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
  // A re-scored model's method entries that were not computed again (a method no longer asked) would be stale: dropped.
  const freshKeys = new Set(fresh.map((f) => `${f.modelId}\n${f.domain}`));
  for (const { modelId, domain } of fresh)
    for (const id of Object.keys(merged.models))
      if (methodEntryOf(id)?.model === modelId && !freshKeys.has(`${id}\n${domain}`)) {
        delete merged.models[id][domain];
        if (!Object.keys(merged.models[id]).length) delete merged.models[id];
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
  return out;
}
