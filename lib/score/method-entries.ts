/**
 * Method entries (issue 22): the distribution a model gave by each measured method (`samples`, `stated`, `logprobs`)
 * as an entry of its own, "<model>@<method>", with a score file and a summary entry like a model's. Through them each
 * method goes through the same curves, gap statistics, calibrated intervals, comparisons (paired with the model's
 * ranking and with the other models' methods), figures and tables as `ranking`, without a second copy of any of it.
 * A configured model id cannot hold "@", so an entry's id never meets a model's.
 */
import { type Config, type DomainName } from '../core/config';
import type { ScoreRecord, Setup } from '../core/types';
import { deriveSeed } from '../core/rng';
import { writeJsonl } from '../core/io';
import { elicitMethodsOf } from '../query/elicit';
import { scoresFile, SETUPS } from './files';
import { MEASURED_METHODS, type MeasuredMethod } from './measured';
import type { SampleScoreRecord } from './spread';
import { type ModelDomainSummary, type ScoreSummary, type SetupSummary, summarizeSetup } from './summary';

export const METHOD_ENTRY_SEPARATOR = '@';

/** The id of a model's entry for a method: "<model>@<method>". */
export function methodEntryId(modelId: string, method: MeasuredMethod): string {
  return `${modelId}${METHOD_ENTRY_SEPARATOR}${method}`;
}

/** The model and method of a method entry's id; null for a model's own id. */
export function methodEntryOf(id: string): { model: string; method: MeasuredMethod } | null {
  const at = id.lastIndexOf(METHOD_ENTRY_SEPARATOR);
  if (at <= 0) return null;
  const method = MEASURED_METHODS.find((m) => m === id.slice(at + 1));
  return method ? { model: id.slice(0, at), method } : null;
}

/** The measured methods of a model that get entries: those `query.elicitation` lists besides `ranking` and it was asked. */
export function measuredMethodsOf(config: Config, modelId: string): MeasuredMethod[] {
  const listed = config.query.elicitation ?? ['ranking'];
  const model = config.query.models.find((m) => m.id === modelId);
  return [...(listed.includes('samples') ? (['samples'] as const) : []), ...elicitMethodsOf(config, model)];
}

/**
 * A model's prompts as scored by a method: the ranking record's prompt fields with the measured H(p, q), JS and TV.
 * The ranking's pick counts say nothing of a distribution, so they are 0; `method` and `of` say where it came from.
 */
export function methodScoreRecords(scores: readonly SampleScoreRecord[], method: MeasuredMethod): ScoreRecord[] {
  const out: ScoreRecord[] = [];
  for (const r of scores) {
    const m = r.measured?.[method];
    if (!m) continue;
    out.push({
      v: r.v,
      promptId: r.promptId,
      modelId: methodEntryId(r.modelId, method),
      domain: r.domain,
      setup: r.setup,
      proxy: r.proxy,
      historyLength: r.historyLength,
      groupSize: r.groupSize,
      targetEntropy: r.targetEntropy,
      crossEntropy: m.crossEntropy,
      smoothed: m.smoothed,
      validPicks: 0,
      outsideCandidates: 0,
      duplicates: 0,
      zeroMassPositive: m.zeroMassPositive,
      jensenShannon: m.jensenShannon,
      totalVariation: m.totalVariation,
      method,
      of: r.modelId,
    });
  }
  return out;
}

/**
 * Writes the score file of each measured method of a model and returns its summary entries. A prompt the model's
 * ranking scored but the method could not measure (no answer, or an answer without a usable q) counts as missing.
 */
export function methodEntries(
  config: Config,
  domain: DomainName,
  modelId: string,
  scores: readonly SampleScoreRecord[],
  parent: ModelDomainSummary,
  ranges: Record<Setup, [number, number] | null>,
  clusterOf: (promptId: string) => string,
): { modelId: string; domain: DomainName; summary: ModelDomainSummary }[] {
  return measuredMethodsOf(config, modelId).map((method) => {
    const id = methodEntryId(modelId, method);
    const rows = methodScoreRecords(scores, method);
    const setups: Partial<Record<Setup, SetupSummary>> = {};
    let missing = parent.missing;
    for (const setup of SETUPS) {
      const inSetup = rows.filter((r) => r.setup === setup);
      const unmeasured = scores.filter((r) => r.setup === setup).length - inSetup.length;
      missing += unmeasured;
      if (!inSetup.length) continue;
      setups[setup] = {
        ...summarizeSetup(
          inSetup,
          config,
          deriveSeed(config.seed, 'bootstrap', id, domain, setup),
          { missing: (parent.setups[setup]?.missing ?? 0) + unmeasured, noPicks: 0 },
          ranges[setup],
          { clusterOf },
        ),
        // A distribution has no picks to count.
        validPicksMean: null,
        incompleteShare: null,
      };
    }
    writeJsonl(scoresFile(config, id, domain), rows);
    const summary: ModelDomainSummary = {
      ...parent,
      answers: rows.length,
      scored: rows.length,
      missing,
      noPicks: 0,
      smoothed: rows.filter((r) => r.smoothed).length,
      validPicksMean: null,
      incompleteShare: null,
      ignoredAnswers: 0,
      setups,
      positionBias: null,
      method: { name: method, of: modelId },
    };
    return { modelId: id, domain, summary };
  });
}

/**
 * A list of models with, after each, its method entries that the summary holds for the domain: what the plot stage
 * draws and tabulates for the models the score stage scored.
 */
export function withMethodEntries(summary: ScoreSummary | null, domain: DomainName, modelIds: string[]): string[] {
  const held = Object.keys(summary?.models ?? {}).filter((id) => summary!.models[id][domain]);
  return modelIds.flatMap((id) => [id, ...held.filter((e) => methodEntryOf(e)?.model === id && !modelIds.includes(e))]);
}
