/**
 * The `stated` and `logprobs` methods in the score stage: each answer read as the model's distribution q over its
 * prompt's candidates (measured.ts) and scored against the target. A sample listed in several candidate orders gets
 * the mean of its orders' q, per candidate: the model's distribution, whatever order it was shown.
 */
import * as fs from 'node:fs';
import { readJsonl } from '../core/io';
import type { ElicitedRecord, SampleRecord } from '../core/types';
import type { Config, DomainName } from '../core/config';
import { knownDistributionModel } from '../query/known-distribution';
import { entropy } from '../core/entropy';
import { OWN_REQUEST_METHODS, elicitJobs, statedEntries, type ElicitMethod } from '../query/elicit';
import { createBaseline } from '../query/baselines';
import { loadQueryInputs } from '../query/inputs';
import { promptTemplate, renderPromptText } from '../query/prompt';
import {
  type MeasuredDistribution,
  type MeasuredScore,
  logprobsDistribution,
  scoreMeasured,
  statedDistribution,
} from './measured';

/** One sample's measured distribution of a method, scored. */
export interface MeasuredElicitedScore extends MeasuredScore {
  /** Answers (candidate orders) read into q; answers whose q was empty are counted in `unusable`. */
  answers: number;
  unusable: number;
  /** Diagnostics of its answers (missing, duplicate, non-numeric … entries; labels that are none). */
  diagnostics: number;
  /** logprobs: the mean probability the top-k gave to the candidates' labels (1 = nothing was filled in). */
  covered?: number;
}

/** Reads data/responses/<model>/<domain>.<method>.jsonl; errors name the file and line. */
export function loadElicited(file: string, method: ElicitMethod): ElicitedRecord[] {
  if (!fs.existsSync(file))
    throw new Error(
      `${file} is missing: query.elicitation lists "${method}" but the query stage has not asked it; run the query stage`,
    );
  return readJsonl<ElicitedRecord>(file, (r, where) => {
    const rec = r as ElicitedRecord;
    if (typeof rec?.promptId !== 'string') throw new Error(`${where}: field "promptId" must be a string`);
    if (rec.method !== method)
      throw new Error(`${where}: field "method" must be "${method}", got ${JSON.stringify(rec.method)}`);
    if (typeof rec.raw !== 'string') throw new Error(`${where}: field "raw" must be a string`);
    return rec;
  }).records;
}

/** q of one answer, read as its method says. */
export function elicitedDistribution(record: ElicitedRecord, sample: SampleRecord): MeasuredDistribution {
  if (record.method === 'logprobs') return logprobsDistribution(sample.candidates.length, record.topLogprobs ?? []);
  const entries = statedEntries(record.raw);
  if (entries === null) {
    const measured = statedDistribution(sample.candidates, []);
    measured.diagnostics.unshift({ kind: 'no-mass', detail: 'the answer holds no JSON object' });
    return measured;
  }
  return statedDistribution(sample.candidates, entries);
}

/** Per sample id (`sampleOf` of its prompts' ids): the mean q of its answers, scored against the target. */
export function measuredElicitedScores(
  samples: readonly SampleRecord[],
  records: readonly ElicitedRecord[],
  sampleOf: (promptId: string) => string,
  options: { smoothing: number; logBase: number },
): Map<string, MeasuredElicitedScore> {
  const byPrompt = new Map(samples.map((s) => [s.id, s]));
  const reference = new Map<string, SampleRecord>();
  for (const s of samples) if (!reference.has(sampleOf(s.id))) reference.set(sampleOf(s.id), s);
  const pooled = new Map<
    string,
    { q: Map<string, number>; answers: number; unusable: number; diagnostics: number; covered: number[] }
  >();
  for (const r of records) {
    const sample = byPrompt.get(r.promptId);
    if (!sample) continue;
    const id = sampleOf(r.promptId);
    let acc = pooled.get(id);
    if (!acc) pooled.set(id, (acc = { q: new Map(), answers: 0, unusable: 0, diagnostics: 0, covered: [] }));
    const measured = elicitedDistribution(r, sample);
    acc.diagnostics += measured.diagnostics.length;
    if (!measured.q) {
      acc.unusable++;
      continue;
    }
    acc.answers++;
    if (measured.covered !== undefined) acc.covered.push(measured.covered);
    sample.candidates.forEach((c, i) => acc!.q.set(c, (acc!.q.get(c) ?? 0) + measured.q![i]));
  }
  const out = new Map<string, MeasuredElicitedScore>();
  for (const [id, acc] of pooled) {
    if (!acc.answers) continue;
    const sample = reference.get(id)!;
    const q = sample.candidates.map((c) => (acc.q.get(c) ?? 0) / acc.answers);
    out.set(id, {
      ...scoreMeasured(sample.target, q, options),
      answers: acc.answers,
      unusable: acc.unusable,
      diagnostics: acc.diagnostics,
      ...(acc.covered.length ? { covered: acc.covered.reduce((a, b) => a + b, 0) / acc.covered.length } : {}),
    });
  }
  return out;
}

/** One method's prompt for a sample, a simulated model's answer to it, and the distribution read from that answer. */
export interface ElicitationExample {
  method: ElicitMethod;
  sampleId: string;
  setup: string;
  prompt: string;
  answer: string;
  /** The candidates of largest measured q, with the group's probability p beside it. */
  top: { name: string; q: number; p: number }[];
  crossEntropy: number;
  targetEntropy: number;
  diagnostics: string[];
}

/**
 * The `stated` and `logprobs` prompts of one sample of the run (the first of `setup` with a history), answered offline
 * by the simulated `known-distribution` model (its q* as a model would state it, or its top-20 first-token
 * logprobs), and the distribution each answer gives: what notebook 03 shows before anything is paid.
 */
export async function elicitationExamples(
  config: Config,
  domain: DomainName,
  opts: { setup?: 'A' | 'B' | 'C'; top?: number } = {},
): Promise<ElicitationExample[]> {
  const inputs = loadQueryInputs(config, domain);
  const setup = opts.setup ?? 'A';
  const job =
    inputs.jobs.find((j) => j.sample.setup === setup && (setup === 'C' || j.sample.history.length > 0)) ??
    inputs.jobs[0];
  if (!job) throw new Error(`elicitationExamples: ${domain} has no samples; run the sample stage`);
  const responder = createBaseline(knownDistributionModel(), inputs.data, config);
  const template = promptTemplate(config, domain);
  const sample = job.sample;
  const out: ElicitationExample[] = [];
  for (const method of OWN_REQUEST_METHODS) {
    const [methodJob] = elicitJobs(method, [job], inputs.itemName, config, domain, template);
    const answer = await responder.answer(methodJob);
    const record = { method, raw: answer.text, topLogprobs: answer.topLogprobs } as ElicitedRecord;
    const measured = elicitedDistribution(record, sample);
    const q = measured.q ?? sample.candidates.map(() => 0);
    const scored = scoreMeasured(sample.target, q, {
      smoothing: config.score.smoothing,
      logBase: config.score.logBase,
    });
    out.push({
      method,
      sampleId: sample.id,
      setup: sample.setup,
      prompt: renderPromptText(methodJob.messages),
      answer: answer.topLogprobs
        ? `${answer.text}  (top logprobs: ${answer.topLogprobs
            .slice(0, 5)
            .map((t) => `${t.token} ${t.logprob.toFixed(2)}`)
            .join(', ')}, …)`
        : answer.text,
      top: sample.candidates
        .map((id, i) => ({ name: inputs.itemName(id), q: q[i], p: sample.target[i] }))
        .sort((a, b) => b.q - a.q)
        .slice(0, opts.top ?? 5),
      crossEntropy: scored.crossEntropy,
      targetEntropy: entropy(sample.target, config.score.logBase),
      diagnostics: measured.diagnostics.map((d) => `${d.kind}${d.key ? ` ${d.key}` : ''}`),
    });
  }
  return out;
}
