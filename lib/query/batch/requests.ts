// Request files: each missing prompt as one JSONL line, cut into batches within the server's limits.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config, ModelConfig } from '../../core/config';
import { forEachLine } from '../../core/io';
import { chatRequestBody } from '../llm';
import type { ChatMessage } from '../models';
import type { GenerationParams } from '../store';
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
 * each request (a `stated` request's schema differs per prompt), which its answers are stored with.
 */
export function batchRequestFile(config: Config, localId: string): string {
  return path.join(batchDir(config), 'requests', `${localId}.jsonl`);
}

/**
 * The parameters of each request in a kept request file (its body without model and messages), by store key; empty
 * when the file is gone (a batch submitted before the files were kept, or removed by hand).
 */
export function requestParamsByKey(file: string): Map<string, GenerationParams> {
  const byKey = new Map<string, GenerationParams>();
  if (!fs.existsSync(file)) return byKey;
  forEachLine(file, (line) => {
    if (line.trim() === '') return;
    const { custom_id: key, body } = JSON.parse(line) as { custom_id: string; body: Record<string, unknown> };
    const { model: _model, messages: _messages, ...params } = body;
    byKey.set(key, params as GenerationParams);
  });
  return byKey;
}

/** Removes a batch's kept request file once nothing more can be collected from the batch. */
export function removeBatchRequestFile(config: Config, localId: string): void {
  fs.rmSync(batchRequestFile(config, localId), { force: true });
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
