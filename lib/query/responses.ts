// The responses file: one parsed record per answered prompt, in sample order.
import * as path from 'node:path';
import type { Config, DomainName, ModelConfig } from '../core/config';
import { writeJsonl } from '../core/io';
import { FORMAT_VERSION, type ParseDiagnostics, type ResponseRecord, type Usage } from '../core/types';
import { responsesFile, storeDir } from './inputs';
import type { PromptJob } from './models';
import { parseAnswer } from './parse-answer';

export interface KeyedJob {
  job: PromptJob;
  key: string;
}

export interface ParseSummary {
  unparseable: number;
  tooFew: number;
  tooMany: number;
  withUnmatched: number;
  withDuplicates: number;
}

export function emptyParseSummary(): ParseSummary {
  return { unparseable: 0, tooFew: 0, tooMany: 0, withUnmatched: 0, withDuplicates: 0 };
}

function addDiagnostics(s: ParseSummary, d: ParseDiagnostics): void {
  if (d.unparseable) s.unparseable++;
  if (d.tooFew) s.tooFew++;
  if (d.tooMany) s.tooMany++;
  if (d.unmatched.length) s.withUnmatched++;
  if (d.duplicates.length) s.withDuplicates++;
}

/** What a responses record takes from an answer (a stored one or a baseline's). */
export interface AnswerForRecord {
  raw: string;
  usage: Usage;
  costUsd: number;
  model: string;
  fingerprint: string | null;
  latencyMs: number;
  via: ResponseRecord['via'];
  answeredAt: string;
}

/** Builds and writes the responses file: one parsed record per prompt that has an answer, in sample order. */
export function writeResponses(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  keyed: KeyedJob[],
  itemName: (id: string) => string,
  answerFor: (key: string) => AnswerForRecord | undefined,
): { file: string; written: number; parse: ParseSummary } {
  const records: ResponseRecord[] = [];
  const parse = emptyParseSummary();
  const costed = new Set<string>();
  for (const { job, key } of keyed) {
    const a = answerFor(key);
    if (!a) continue;
    const candidates = job.sample.candidates.map((id) => ({ id, name: itemName(id) }));
    const { ranked, diagnostics } = parseAnswer(a.raw, candidates, config.query.topN);
    addDiagnostics(parse, diagnostics);
    // Identical prompts share one paid answer: its cost is counted once, so the file's costs sum to what was spent.
    const cost = costed.has(key) ? 0 : a.costUsd;
    costed.add(key);
    records.push({
      v: FORMAT_VERSION,
      promptId: job.sample.id,
      key,
      modelId: model.id,
      messages: job.messages.map((m) => ({ role: m.role, content: m.content })),
      raw: a.raw,
      ranked,
      diagnostics,
      usage: a.usage,
      costUsd: cost,
      model: a.model,
      fingerprint: a.fingerprint,
      latencyMs: a.latencyMs,
      via: a.via,
      answeredAt: a.answeredAt,
    });
  }
  const file = responsesFile(config, model.id, domain);
  if (path.resolve(path.dirname(file)) === path.resolve(storeDir(config))) {
    throw new Error(`model id "${model.id}" would write its responses into the response store folder ${storeDir(config)}; rename the model`);
  }
  writeJsonl(file, records);
  return { file, written: records.length, parse };
}

