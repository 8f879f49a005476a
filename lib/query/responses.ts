// The responses file: one parsed record per answered prompt, in sample order.
import * as path from 'node:path';
import type { Config, DomainName, ModelConfig } from '../core/config';
import { writeJsonLines } from '../core/io';
import {
  type ElicitedRecord,
  FORMAT_VERSION,
  type ParseDiagnostics,
  type ResponseRecord,
  type Usage,
} from '../core/types';
import { responsesFile, storeDir } from './inputs';
import type { AnswerChoice, ChatMessage, PromptJob } from './models';
import { parseAnswer } from './parse-answer';
import { formatCount } from './format';

export interface KeyedJob {
  job: PromptJob;
  key: string;
}

export interface ParseSummary {
  /** Answers with no text at all (refusals, content filters). */
  empty: number;
  /** Answers cut off by max tokens (finish_reason "length"). */
  cutOff: number;
  /** Records per finish reason ("unknown" when the server reported none). */
  byFinishReason: Record<string, number>;
  unparseable: number;
  tooFew: number;
  tooMany: number;
  withUnmatched: number;
  withDuplicates: number;
}

export function emptyParseSummary(): ParseSummary {
  return {
    empty: 0,
    cutOff: 0,
    byFinishReason: {},
    unparseable: 0,
    tooFew: 0,
    tooMany: 0,
    withUnmatched: 0,
    withDuplicates: 0,
  };
}

/** "stop 5400, length 100, content_filter 19": the counts by finish reason, most frequent first. */
export function formatFinishReasons(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
}

/** What the reply itself says is wrong with it (independent of whether its list could be read). */
function answerIssues(raw: string, finishReason: string | null): NonNullable<ParseDiagnostics['answerIssues']> {
  const issues: NonNullable<ParseDiagnostics['answerIssues']> = [];
  if (raw.trim() === '') issues.push('empty answer');
  if (finishReason === 'length') issues.push('cut off by max tokens');
  return issues;
}

function addDiagnostics(s: ParseSummary, d: ParseDiagnostics): void {
  if (d.answerIssues?.includes('empty answer')) s.empty++;
  if (d.answerIssues?.includes('cut off by max tokens')) s.cutOff++;
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
  finishReason: string | null;
  via: ResponseRecord['via'];
  answeredAt: string;
  topLogprobs?: { token: string; logprob: number }[];
  choices?: AnswerChoice[];
}

/**
 * The answer of a job: the stored answer itself, or, for an ask of a request with `n` (every ask of the prompt shares
 * its key), its own choice; an ask whose choice the server did not return has no answer (it is counted missing).
 */
function askOf(a: AnswerForRecord | undefined, job: PromptJob): AnswerForRecord | undefined {
  if (!a?.choices || job.elicit) return a;
  const choice = a.choices[job.repeat ?? 0];
  return choice && { ...a, raw: choice.text, finishReason: choice.finishReason };
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
  const file = responsesFile(config, model.id, domain, keyed[0]?.job.elicit);
  if (path.resolve(path.dirname(file)) === path.resolve(storeDir(config))) {
    throw new Error(
      `model id "${model.id}" would write its responses into the response store folder ${storeDir(config)}; rename the model`,
    );
  }
  let written = 0;
  const parse = emptyParseSummary();
  writeJsonLines(file, recordLines());
  return { file, written, parse };

  // Generated while the file is written: 5,504 prompts × 50 samples of records with their messages are never held at once.
  function* recordLines(): Generator<string> {
    const costed = new Set<string>();
    for (const { job, key } of keyed) {
      const a = askOf(answerFor(key), job);
      if (!a) continue;
      const reason = a.finishReason ?? 'unknown';
      parse.byFinishReason[reason] = (parse.byFinishReason[reason] ?? 0) + 1;
      // Identical prompts share one paid answer: its cost is counted once, so the file's costs sum to what was spent.
      const cost = costed.has(key) ? 0 : a.costUsd;
      costed.add(key);
      if (job.elicit) {
        written++;
        yield withMessages(JSON.stringify(elicitedRecord(job, key, model, a, cost)), job.messages);
        continue;
      }
      const candidates = job.sample.candidates.map((id) => ({ id, name: itemName(id) }));
      const parsed = parseAnswer(a.raw, candidates, config.query.topN);
      const issues = answerIssues(a.raw, a.finishReason);
      const diagnostics = issues.length ? { ...parsed.diagnostics, answerIssues: issues } : parsed.diagnostics;
      const ranked = parsed.ranked;
      addDiagnostics(parse, diagnostics);
      const record: Omit<ResponseRecord, 'messages'> & { messages: string } = {
        v: FORMAT_VERSION,
        promptId: job.sample.id,
        ...(job.repeat === undefined ? {} : { sample: job.repeat }),
        key,
        modelId: model.id,
        messages: MESSAGES_SLOT,
        raw: a.raw,
        ranked,
        diagnostics,
        ...answerFields(a, cost),
      };
      written++;
      yield withMessages(JSON.stringify(record), job.messages);
    }
  }
}

/** The record of a `stated` or `logprobs` answer: kept as returned, read by the score stage. */
function elicitedRecord(
  job: PromptJob,
  key: string,
  model: ModelConfig,
  a: AnswerForRecord,
  cost: number,
): Omit<ElicitedRecord, 'messages'> & { messages: string } {
  // A logprobs answer is read from its first token: being cut off after it (max_tokens 2) is no fault.
  const issues = answerIssues(a.raw, a.finishReason).filter(
    (issue) => job.elicit !== 'logprobs' || issue !== 'cut off by max tokens',
  );
  return {
    v: FORMAT_VERSION,
    promptId: job.sample.id,
    method: job.elicit!,
    key,
    modelId: model.id,
    messages: MESSAGES_SLOT,
    raw: a.raw,
    ...(a.topLogprobs ? { topLogprobs: a.topLogprobs } : {}),
    ...(issues.length ? { answerIssues: issues } : {}),
    ...answerFields(a, cost),
  };
}

/** What every record says of the reply it holds, in the order the files have always written it. */
function answerFields(a: AnswerForRecord, cost: number) {
  return {
    usage: a.usage,
    costUsd: cost,
    model: a.model,
    fingerprint: a.fingerprint,
    latencyMs: a.latencyMs,
    finishReason: a.finishReason,
    via: a.via,
    answeredAt: a.answeredAt,
  };
}

// The prompt's messages are ~90 % of a record and the same for every model: their JSON is made once per prompt and
// put in place of this slot (the bytes are those of stringifying the whole record).
const MESSAGES_SLOT = '\u0000messages\u0000';
const SLOT_AFTER_KEY = `,"messages":${JSON.stringify(MESSAGES_SLOT)}`;
const messagesJson = new WeakMap<readonly ChatMessage[], string>();

function withMessages(json: string, messages: readonly ChatMessage[]): string {
  let text = messagesJson.get(messages);
  if (text === undefined) {
    text = JSON.stringify(messages.map((m) => ({ role: m.role, content: m.content })));
    messagesJson.set(messages, text);
  }
  // Inside a JSON string a quote is escaped, so the key and its slot can only be the field itself.
  const at = json.indexOf(SLOT_AFTER_KEY);
  return `${json.slice(0, at)},"messages":${text}${json.slice(at + SLOT_AFTER_KEY.length)}`;
}

/** " (finish: stop 10, length 2; 2 cut off by max tokens, 1 empty answer)": what the answers' replies say. */
export function finishNote(parse: ParseSummary): string {
  const counts = formatFinishReasons(parse.byFinishReason);
  if (!counts) return '';
  const issues = [
    parse.cutOff
      ? `${formatCount(parse.cutOff)} cut off by max tokens (raise query.maxTokens, rerun with --retry-finish length)`
      : '',
    parse.empty ? `${formatCount(parse.empty)} empty answer${parse.empty > 1 ? 's' : ''}` : '',
  ].filter(Boolean);
  return ` (finish: ${counts}${issues.length ? `; ${issues.join(', ')}` : ''})`;
}
