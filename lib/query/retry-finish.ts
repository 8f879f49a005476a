/**
 * `--retry-finish length,content_filter`: after raising query.maxTokens (which changes every request's key), re-ask only
 * the prompts whose earlier answer ended for one of those reasons, and keep the earlier answer of every other prompt
 * instead of paying for it again. Both answers stay in the store (under their own keys).
 */
import type { Config, ModelConfig } from '../core/config';
import { formatCount } from './format';
import { effectiveBaseURL, generationParams } from './llm';
import type { PromptJob } from './models';
import type { ChatMessage } from './models';
import { canonicalJson, storeKey, type GenerationParams, type ResponseStore } from './store';

export interface EarlierAnswers {
  /** Current key → key of the earlier answer kept for it. */
  reuse: Map<string, string>;
  /** Prompts (distinct requests) whose earlier answer ended for a reason in the list: asked again. */
  reask: number;
}

/**
 * For each request not stored under the current parameters, the most recent earlier answer of the same prompt from
 * the same model under other generation parameters (found by recomputing its key with each parameter set the
 * store holds for this model).
 */
export function earlierAnswers(
  store: ResponseStore,
  model: Pick<ModelConfig, 'provider' | 'model'>,
  baseURL: string,
  currentParams: GenerationParams,
  missing: [string, { job: { messages: ChatMessage[] } }][],
  retryFinish: ReadonlySet<string>,
): EarlierAnswers {
  const current = canonicalJson(currentParams);
  const paramSets = new Map<string, GenerationParams>();
  for (const e of store.all()) {
    if (e.request.provider !== model.provider || e.request.model !== model.model) continue;
    const c = canonicalJson(e.request.params);
    if (c !== current) paramSets.set(c, e.request.params);
  }
  // The most recently stored parameter set first: the latest earlier attempt is the one to judge.
  const candidates = [...paramSets.values()].reverse();
  const reuse = new Map<string, string>();
  let reask = 0;
  for (const [key, { job }] of missing) {
    for (const params of candidates) {
      const earlierKey = storeKey({
        provider: model.provider,
        baseURL,
        model: model.model,
        messages: job.messages,
        params,
      });
      const earlier = store.get(earlierKey);
      if (!earlier) continue;
      if (retryFinish.has(earlier.finishReason ?? '')) reask++;
      else reuse.set(key, earlierKey);
      break;
    }
  }
  return { reuse, reask };
}

/** Stored answers under the current parameters that ended for a reason in the list (asking again would repeat them). */
export function storedWithFinish(
  store: ResponseStore,
  keys: Iterable<string>,
  retryFinish: ReadonlySet<string>,
): number {
  let n = 0;
  for (const k of keys) if (retryFinish.has(store.get(k)?.finishReason ?? '')) n++;
  return n;
}

/** With --retry-finish: the earlier answers kept (current key → earlier key), after saying what is asked again. */
export function keepEarlierAnswers(
  config: Config,
  model: ModelConfig,
  store: ResponseStore,
  distinct: Map<string, { job: PromptJob; promptIds: string[] }>,
  missing: [string, { job: PromptJob; promptIds: string[] }][],
  retryFinish: Set<string>,
  log: (s: string) => void,
): Map<string, string> {
  const list = [...retryFinish].join(', ');
  const same = storedWithFinish(store, distinct.keys(), retryFinish);
  if (same) {
    log(
      `${model.id}: ${formatCount(same)} answers stored under the current settings ended with finish reason ${list}; ` +
        'the same request would give the same answer, so they are not asked again (raise query.maxTokens first)',
    );
  }
  const { reuse, reask } = earlierAnswers(
    store,
    model,
    effectiveBaseURL(model),
    generationParams(config),
    missing,
    retryFinish,
  );
  log(
    `${model.id}: --retry-finish ${list}: ${formatCount(reask)} earlier answers ended that way and are asked again; ${formatCount(reuse.size)} earlier answers are kept`,
  );
  return reuse;
}
