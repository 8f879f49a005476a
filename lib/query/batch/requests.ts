// Request files: each missing prompt as one JSONL line, cut into batches within the server's limits.
import type { Config, ModelConfig } from '../../core/config';
import { chatRequestBody } from '../llm';
import type { ChatMessage } from '../models';

export const BATCH_ENDPOINT = '/v1/chat/completions';

export interface BatchJob {
  key: string;
  messages: ChatMessage[];
  /** The prompts sharing this request (for messages and summaries). */
  promptIds: string[];
}

/** One line of a request JSONL: the synchronous request body, addressed by the store key. */
export function batchRequestLine(model: ModelConfig, config: Config, job: Pick<BatchJob, 'key' | 'messages'>): string {
  return JSON.stringify({
    custom_id: job.key,
    method: 'POST',
    url: BATCH_ENDPOINT,
    body: chatRequestBody(model, config, job.messages),
  });
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
