// Request files: each missing prompt as one JSONL line, cut into batches within the server's limits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config, ModelConfig } from '../../core/config';
import { forEachLine } from '../../core/io';
import { chatRequestBody } from '../llm';
import type { ChatMessage } from '../models';
import { storeFileName, type GenerationParams } from '../store';
import { batchDir } from './ledger';

export const BATCH_ENDPOINT = '/v1/chat/completions';

export interface BatchJob {
  key: string;
  messages: ChatMessage[];
  /** The prompts sharing this request (for messages and summaries). */
  promptIds: string[];
  /** The ask index its request carries (repeated samples), as in the synchronous request. */
  repeat?: number;
  /** What its elicitation method sets over the query defaults (lib/query/elicit.ts methodParams). */
  method?: GenerationParams;
}

/** One line of a request JSONL: the synchronous request body, addressed by the store key. */
export function batchRequestLine(
  model: ModelConfig,
  config: Config,
  job: Pick<BatchJob, 'key' | 'messages' | 'repeat' | 'method'>,
): string {
  return JSON.stringify({
    custom_id: job.key,
    method: 'POST',
    url: BATCH_ENDPOINT,
    body: chatRequestBody(model, config, job.messages, job.repeat ?? 0, job.method),
  });
}

/**
 * The request JSONL uploaded for a batch, kept until the batch is closed: its bodies are the exact parameters of
 * each request (a `stated` request's schema differs per prompt), which its answers are stored with. One folder per
 * provider + model, so a run holding that model's ledger lock can tell its own leftovers.
 */
export function batchRequestFile(
  config: Config,
  model: Pick<ModelConfig, 'provider' | 'model'>,
  localId: string,
): string {
  return path.join(batchRequestsDir(config, model), `${localId}.jsonl`);
}

function batchRequestsDir(config: Config, model: Pick<ModelConfig, 'provider' | 'model'>): string {
  return path.join(batchDir(config), 'requests', storeFileName(model.provider, model.model).replace(/\.jsonl$/, ''));
}

/**
 * The parameters of each request in a kept request file (its body without model and messages), by store key. A file
 * that is gone (a batch submitted before the files were kept, or removed by hand) gives none; an unreadable line is
 * counted and skipped, so its answer is still collected (with the batch's parameters) rather than the batch never.
 */
export function requestParamsByKey(file: string): { byKey: Map<string, GenerationParams>; unreadable: number } {
  const byKey = new Map<string, GenerationParams>();
  let unreadable = 0;
  if (!fs.existsSync(file)) return { byKey, unreadable };
  try {
    forEachLine(file, (line) => {
      if (line.trim() === '') return;
      try {
        const { custom_id: key, body } = JSON.parse(line) as { custom_id?: unknown; body?: unknown };
        if (typeof key !== 'string' || typeof body !== 'object' || body === null)
          throw new Error('no custom_id or body');
        const { model: _model, messages: _messages, ...params } = body as Record<string, unknown>;
        byKey.set(key, params as GenerationParams);
      } catch {
        unreadable++;
      }
    });
  } catch {
    unreadable++;
  }
  return { byKey, unreadable };
}

/** Removes a batch's kept request file once nothing more can be collected from the batch. */
export function removeBatchRequestFile(
  config: Config,
  model: Pick<ModelConfig, 'provider' | 'model'>,
  localId: string,
): void {
  fs.rmSync(batchRequestFile(config, model, localId), { force: true });
}

/**
 * Removes the model's request files that belong to no batch still open or being created: left by a run killed during
 * an upload, or before it could record the batch. Called under the model's ledger lock, so no run is writing one.
 */
export function sweepBatchRequestFiles(
  config: Config,
  model: Pick<ModelConfig, 'provider' | 'model'>,
  liveLocalIds: ReadonlySet<string>,
): string[] {
  const dir = batchRequestsDir(config, model);
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (liveLocalIds.has(name.replace(/\.jsonl$/, ''))) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Splits request lines into batches of at most `maxRequests` lines and `maxBytes` bytes (newlines included), in order.
 * A line that alone exceeds `maxBytes` cannot be sent and is returned in `tooLarge`.
 */
export function splitBatchLines(
  lines: string[],
  maxRequests: number,
  maxBytes: number,
): { chunks: number[][]; tooLarge: number[] } {
  const chunks: number[][] = [];
  const tooLarge: number[] = [];
  let current: number[] = [];
  let bytes = 0;
  lines.forEach((line, i) => {
    const size = Buffer.byteLength(line) + 1;
    if (size > maxBytes) {
      tooLarge.push(i);
      return;
    }
    if (current.length > 0 && (current.length >= maxRequests || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  });
  if (current.length) chunks.push(current);
  return { chunks, tooLarge };
}
