/**
 * Answers the store lost (a torn last line, a deleted or damaged store file) that the model's responses file still
 * holds: put back into the store instead of being paid for again. A responses record carries everything a store entry
 * needs, and its key is the hash of the same request, so a record whose key is asked for is that request's answer.
 */
import * as fs from 'node:fs';
import type { Config, DomainName, ModelConfig } from '../core/config';
import type { ResponseRecord } from '../core/types';
import { responsesFile } from './inputs';
import { effectiveBaseURL, generationParams } from './llm';
import type { ResponseStore, StoredAnswer } from './store';

/** Re-stores the answers for `wanted` keys found in the responses file; returns how many. */
export function recoverFromResponses(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  store: ResponseStore,
  wanted: Set<string>,
): number {
  const file = responsesFile(config, model.id, domain);
  if (wanted.size === 0 || !fs.existsSync(file)) return 0;
  let recovered = 0;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let rec: ResponseRecord;
    try {
      rec = JSON.parse(line) as ResponseRecord;
    } catch {
      continue; // a damaged responses file offers nothing on this line; the prompt is asked again
    }
    if (
      !wanted.has(rec.key) ||
      store.has(rec.key) ||
      (rec.via !== 'sync' && rec.via !== 'batch') ||
      typeof rec.raw !== 'string'
    )
      continue;
    const entry: StoredAnswer = {
      v: 1,
      key: rec.key,
      request: {
        provider: model.provider,
        baseURL: effectiveBaseURL(model),
        model: model.model,
        params: generationParams(config),
      },
      raw: rec.raw,
      usage: rec.usage,
      model: rec.model,
      fingerprint: rec.fingerprint,
      latencyMs: rec.latencyMs,
      finishReason: rec.finishReason ?? null,
      costUsd: rec.costUsd,
      via: rec.via,
      answeredAt: rec.answeredAt,
      meta: { recoveredFrom: file },
    };
    store.put(entry);
    recovered++;
  }
  return recovered;
}
