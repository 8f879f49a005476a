/**
 * Answers paid for that are not in the store, put back instead of being paid for again:
 * - answers the store lost (a torn last line, a deleted or damaged store file) that the model's responses file still
 *   holds. A responses record carries everything a store entry needs, and its key is the hash of the same request, so
 *   a record whose key is asked for is that request's answer;
 * - answers that arrived after the store broke (a full disk, an immutable file): kept in a recovery file by the run
 *   that paid for them (`keepUnstored`) and stored by the next run before it sends anything (`restoreRecovered`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config, DomainName, ModelConfig } from '../core/config';
import { forEachLine, readJsonl, writeFileAtomic } from '../core/io';
import type { ElicitedRecord } from '../core/types';
import { recoveryFile, responsesFile } from './inputs';
import { effectiveBaseURL, generationParams } from './llm';
import { jobRequest } from './elicit';
import type { AnswerChoice, PromptJob } from './models';
import { asksInOneRequest } from './repeats';
import { storeFileName, StoreWriteError, type ResponseStore, type StoredAnswer } from './store';

/**
 * Re-stores the answers for `wanted` keys (each with a job asking it) found in the responses file of their pass (the
 * ranking's, or a method's own); returns how many. Each entry gets the parameters of its own request, and a request
 * with `n` (every ask of a prompt sharing one key) gets its choices back from its asks' records, in ask order.
 */
export function recoverFromResponses(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  store: ResponseStore,
  wanted: ReadonlyMap<string, PromptJob>,
): number {
  const first = wanted.values().next();
  if (first.done) return 0;
  const file = responsesFile(config, model.id, domain, first.value.elicit);
  if (!fs.existsSync(file)) return 0;
  const found = new Map<string, RecoverableRecord[]>();
  forEachLine(file, (line) => {
    if (line.trim() === '') return;
    let rec: RecoverableRecord;
    try {
      rec = JSON.parse(line) as RecoverableRecord;
    } catch {
      return; // a damaged responses file offers nothing on this line; the prompt is asked again
    }
    if (
      !wanted.has(rec.key) ||
      store.has(rec.key) ||
      (rec.via !== 'sync' && rec.via !== 'batch') ||
      typeof rec.raw !== 'string'
    )
      return;
    const records = found.get(rec.key);
    if (records) records.push(rec);
    else found.set(rec.key, [rec]);
  });
  let recovered = 0;
  for (const [key, records] of found) {
    const job = wanted.get(key)!;
    const { repeat, method } = jobRequest(config, model, job);
    records.sort((a, b) => (a.sample ?? 0) - (b.sample ?? 0));
    const [rec] = records;
    const choices = !job.elicit && asksInOneRequest(config, model) ? choicesOf(records) : undefined;
    const entry: StoredAnswer = {
      v: 1,
      key,
      request: {
        provider: model.provider,
        baseURL: effectiveBaseURL(model),
        model: model.model,
        params: generationParams(config, model, repeat, method),
      },
      raw: rec.raw,
      ...(rec.topLogprobs ? { topLogprobs: rec.topLogprobs } : {}),
      ...(choices ? { choices } : {}),
      usage: rec.usage,
      model: rec.model,
      fingerprint: rec.fingerprint,
      latencyMs: rec.latencyMs,
      finishReason: rec.finishReason ?? null,
      // The answer's cost is on one of the records that share it (the first ask's); the others say 0.
      costUsd: Math.max(...records.map((r) => r.costUsd)),
      via: rec.via as StoredAnswer['via'],
      answeredAt: rec.answeredAt,
      meta: { recoveredFrom: file },
    };
    store.put(entry);
    recovered++;
  }
  return recovered;
}

type RecoverableRecord = Pick<
  ElicitedRecord,
  'key' | 'raw' | 'topLogprobs' | 'usage' | 'costUsd' | 'model' | 'fingerprint' | 'latencyMs' | 'via' | 'answeredAt'
> & { sample?: number; finishReason?: string | null };

/** The choices of a request with `n`: its asks' answers in ask order, up to the first ask the server did not return. */
function choicesOf(records: readonly RecoverableRecord[]): AnswerChoice[] {
  const choices: AnswerChoice[] = [];
  for (const r of records) {
    if ((r.sample ?? 0) !== choices.length) break;
    choices.push({ text: r.raw, finishReason: r.finishReason ?? null });
  }
  return choices;
}

/**
 * Stores the answers a run kept in the recovery file of (model, domain), then removes the file; returns how many were
 * new to the store. Every answer is stored, wanted by this run or not: each was paid for. A write that fails throws
 * (the store's StoreWriteError) and leaves the file as it was.
 */
export function restoreRecovered(config: Config, domain: DomainName, modelId: string, store: ResponseStore): number {
  const file = recoveryFile(config, modelId, domain);
  if (!fs.existsSync(file)) return 0;
  const { records } = readJsonl<StoredAnswer>(file);
  let restored = 0;
  for (const [i, entry] of records.entries()) {
    if (store.has(entry?.key)) continue;
    try {
      store.put(entry);
    } catch (e) {
      if (e instanceof StoreWriteError) throw e;
      throw new Error(`${file}: answer ${i + 1}: ${(e as Error).message}`);
    }
    restored++;
  }
  fs.rmSync(file, { force: true });
  return restored;
}

/** Where `keepUnstored` put the answers, or why it could not. */
export interface KeptAnswers {
  /** The file holding them (the recovery file, or a file in the system's temp folder when that could not be written). */
  file: string | null;
  /** The recovery file the next run reads (differs from `file` when they went to the temp folder). */
  recoveryFile: string;
  /** Why the recovery file (and the temp folder, when `file` is null) could not be written. */
  problems: string[];
}

/**
 * Writes the answers the store could not take into the recovery file of (model, domain), atomically and merged with
 * any answers already waiting there. When that fails too (the disk is full), into the system's temp folder, which is
 * often another disk: the caller names both files, so the user can move it where the next run looks.
 */
export function keepUnstored(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  answers: StoredAnswer[],
): KeptAnswers {
  const target = recoveryFile(config, model.id, domain);
  const byKey = new Map<string, StoredAnswer>();
  try {
    if (fs.existsSync(target)) for (const e of readJsonl<StoredAnswer>(target).records) byKey.set(e.key, e);
  } catch {
    // An unreadable earlier recovery file is not overwritten: the new answers go to the temp folder below.
    return writeElsewhere(target, model, domain, answers, [`${target} exists and cannot be read`]);
  }
  for (const a of answers) if (!byKey.has(a.key)) byKey.set(a.key, a);
  try {
    writeFileAtomic(target, linesOf([...byKey.values()]));
    return { file: target, recoveryFile: target, problems: [] };
  } catch (e) {
    return writeElsewhere(target, model, domain, [...byKey.values()], [`${target}: ${(e as Error).message}`]);
  }
}

function linesOf(answers: StoredAnswer[]): string {
  return answers.map((a) => `${JSON.stringify(a)}\n`).join('');
}

function writeElsewhere(
  target: string,
  model: ModelConfig,
  domain: DomainName,
  answers: StoredAnswer[],
  problems: string[],
): KeptAnswers {
  const name = `${storeFileName(model.id, domain).replace(/\.jsonl$/, '')}-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`;
  const file = path.join(os.tmpdir(), 'ubp-recovered', name);
  try {
    writeFileAtomic(file, linesOf(answers));
    return { file, recoveryFile: target, problems };
  } catch (e) {
    return { file: null, recoveryFile: target, problems: [...problems, `${file}: ${(e as Error).message}`] };
  }
}
