/**
 * The client for OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio), through the
 * official `openai` package. The SDK's own retries are off: retries, backoff and `retry-after` are handled by
 * lib/query/retry.ts (shared with the Batch API client) so they are seeded, bounded by the configuration, and visible
 * in the run's summary.
 * The API key is read from the environment variable the model names and never appears in errors or logs.
 */
import OpenAI from 'openai';
import type { Config, ModelConfig } from '../core/config';
import type { ChatMessage, ModelAnswer, PromptJob, Responder } from './models';
import { deriveSeed, makeRng, type Rng } from '../core/rng';
import { classifyFailure, retryPolicy, withRetries, type FailureKind, type RetryPolicy } from './retry';
import { normalizeBaseURL, storeKey, type GenerationParams, type StoredAnswer } from './store';
import type { Usage } from '../core/types';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** The base URL requests go to (OpenAI's own when a model of provider "openai" names none). */
export function effectiveBaseURL(model: ModelConfig): string {
  const url = normalizeBaseURL(model.baseURL);
  if (url) return url;
  if (model.provider === 'openai') return OPENAI_BASE_URL;
  throw new Error(`model "${model.id}" (provider ${model.provider}) has no baseURL in the configuration`);
}

export function generationParams(config: Config): GenerationParams {
  return { temperature: config.query.temperature, seed: config.query.seed, max_tokens: config.query.maxTokens };
}

/** The exact chat-completions body sent for a prompt (also the body of a Batch API request line). */
export function chatRequestBody(model: ModelConfig, config: Config, messages: ChatMessage[]) {
  return { model: model.model, messages: messages.map((m) => ({ role: m.role, content: m.content })), ...generationParams(config) };
}

/** The store key of a prompt for a model: what the answer depends on, never the API key. */
export function requestKey(model: ModelConfig, config: Config, messages: ChatMessage[]): string {
  const baseURL = model.provider === 'baseline' ? null : effectiveBaseURL(model);
  return storeKey({ provider: model.provider, baseURL, model: model.model, messages, params: generationParams(config) });
}

export function costUsd(model: Pick<ModelConfig, 'inputPricePerMTok' | 'outputPricePerMTok'>, usage: Usage, discount = 1): number {
  return ((usage.inputTokens * model.inputPricePerMTok + usage.outputTokens * model.outputPricePerMTok) / 1e6) * discount;
}

/** Shape of a chat completion as far as we read it (the SDK's type, or a Batch API output line's body). */
export interface CompletionLike {
  model?: string;
  system_fingerprint?: string | null;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  choices?: { message?: { content?: string | null; refusal?: string | null } | null; finish_reason?: string | null }[];
}

export function answerFromCompletion(completion: CompletionLike, latencyMs: number): ModelAnswer {
  const choice = completion.choices?.[0];
  if (!choice) throw new Error('the server returned a completion without choices');
  // An empty or refused answer is still an answer (temperature 0 would give it again): it is stored and parses as unparseable.
  const text = choice.message?.content ?? choice.message?.refusal ?? '';
  return {
    text,
    usage: { inputTokens: completion.usage?.prompt_tokens ?? 0, outputTokens: completion.usage?.completion_tokens ?? 0 },
    model: completion.model ?? '',
    fingerprint: completion.system_fingerprint ?? null,
    latencyMs,
  };
}

/** A store entry for an answer to `messages` from `model`. */
export function storedAnswerFor(
  model: ModelConfig,
  config: Config,
  key: string,
  answer: ModelAnswer,
  via: 'sync' | 'batch',
  extra: { discount?: number; meta?: Record<string, unknown>; answeredAt?: Date } = {},
): StoredAnswer {
  return {
    v: 1,
    key,
    request: { provider: model.provider, baseURL: effectiveBaseURL(model), model: model.model, params: generationParams(config) },
    raw: answer.text,
    usage: answer.usage,
    model: answer.model,
    fingerprint: answer.fingerprint,
    latencyMs: answer.latencyMs,
    costUsd: costUsd(model, answer.usage, extra.discount ?? 1),
    via,
    answeredAt: (extra.answeredAt ?? new Date()).toISOString(),
    ...(extra.meta ? { meta: extra.meta } : {}),
  };
}

// ---------- secrets ----------

/** Replaces every occurrence of each secret (and anything shaped like an OpenAI key) with a marker. */
export function redactSecrets(text: string, secrets: (string | undefined | null)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out.replace(/\bsk-[A-Za-z0-9_*-]{8,}/g, 'sk-[REDACTED]');
}

function apiKeyFor(model: ModelConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (!model.apiKeyEnv) return undefined;
  const v = env[model.apiKeyEnv];
  return v === undefined || v === '' ? undefined : v;
}

// ---------- errors ----------

/** A request that failed for good (after retries, or at once when not retryable). The message never holds the key. */
export class RequestFailedError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly status: number | undefined,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'RequestFailedError';
  }
}

export interface ApiResponderOptions {
  env?: NodeJS.ProcessEnv;
  /** Per-attempt notes (retries, waits); never contains the key. */
  log?: (line: string) => void;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  /** Jitter source; default seeded from config.seed and the model id. */
  rng?: Rng;
}

export interface ApiResponder extends Responder {
  /** HTTP requests made so far, retries included. */
  readonly stats: { requests: number; retries: number; failures: number };
  keyFor(messages: ChatMessage[]): string;
}

export function createApiResponder(model: ModelConfig, config: Config, opts: ApiResponderOptions = {}): ApiResponder {
  if (model.provider === 'baseline') throw new Error(`model "${model.id}" is a baseline; it is answered offline, not through an API`);
  const env = opts.env ?? process.env;
  const apiKey = apiKeyFor(model, env);
  if (model.provider === 'openai' && !apiKey) {
    throw new Error(
      `model "${model.id}" needs an API key: set the environment variable ${model.apiKeyEnv ?? '(none configured: add "apiKeyEnv" to the model entry)'}`,
    );
  }
  const baseURL = effectiveBaseURL(model);
  const policy = retryPolicy(config, opts.retry);
  const rng = opts.rng ?? makeRng(deriveSeed(config.seed, 'retry-jitter', model.id));
  const log = opts.log ?? (() => {});
  const secrets = [apiKey];
  const client = new OpenAI({
    // Local servers take any key; the SDK insists on one.
    apiKey: apiKey ?? 'no-key',
    baseURL,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? config.query.timeoutMs,
    logLevel: 'off',
  });
  const stats = { requests: 0, retries: 0, failures: 0 };

  async function answer(job: PromptJob, signal?: AbortSignal): Promise<ModelAnswer> {
    const body = chatRequestBody(model, config, job.messages);
    return withRetries(
      async () => {
        const started = Date.now();
        // The SDK never removes the listener it adds to a request's signal, so each request gets its own short-lived
        // signal linked to the run's (one listener per request on a run-long signal would pile up).
        const perRequest = new AbortController();
        const onAbort = () => perRequest.abort();
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          stats.requests++;
          const completion = await client.chat.completions.create(body, { signal: perRequest.signal });
          return answerFromCompletion(completion as CompletionLike, Date.now() - started);
        } finally {
          signal?.removeEventListener('abort', onAbort);
        }
      },
      {
        policy,
        rng,
        signal,
        classify: (err) => (signal?.aborted ? { kind: 'aborted', retryable: false, message: 'request aborted' } : classifyFailure(err)),
        aborted: (attempts) => new RequestFailedError('request aborted', 'aborted', undefined, attempts),
        giveUp: (failure, attempts) => {
          stats.failures++;
          const why = failure.retryable ? `gave up after ${attempts} attempts` : 'not retryable';
          return new RequestFailedError(`${model.id}: ${redactSecrets(failure.message, secrets)} (${why})`, failure.kind, failure.status, attempts);
        },
        onRetry: (failure, retry, wait) => {
          stats.retries++;
          log(`${model.id}: ${redactSecrets(failure.message, secrets)}; retry ${retry}/${policy.maxRetries} in ${(wait / 1000).toFixed(2)} s`);
        },
      },
    );
  }

  return {
    config: model,
    stats,
    answer,
    keyFor: (messages) => requestKey(model, config, messages),
  };
}

// ---------- availability ----------

export interface Availability {
  available: boolean;
  reason?: string;
}

/**
 * Whether a model can answer now: baselines always; OpenAI models when their key variable is set;
 * OpenAI-compatible servers when `GET {baseURL}/models` answers within `timeoutMs`.
 */
export async function modelAvailability(
  model: ModelConfig,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 3000,
): Promise<Availability> {
  if (model.provider === 'baseline') return { available: true };
  const apiKey = apiKeyFor(model, env);
  if (model.provider === 'openai') {
    if (!model.apiKeyEnv) return { available: false, reason: `model "${model.id}" names no "apiKeyEnv" to read its API key from` };
    return apiKey ? { available: true } : { available: false, reason: `environment variable ${model.apiKeyEnv} is not set` };
  }
  let baseURL: string;
  try {
    baseURL = effectiveBaseURL(model);
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
  const url = `${baseURL}/models`;
  try {
    const res = await fetch(url, {
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return { available: false, reason: `GET ${url} answered HTTP ${res.status}` };
    }
    const listed = (await res.json().catch(() => null)) as { data?: { id?: string }[] } | null;
    const ids = (listed?.data ?? []).map((d) => d.id).filter((x): x is string => typeof x === 'string');
    if (ids.length && !ids.includes(model.model)) {
      // Some servers (llama.cpp) serve one model whatever name is asked for, so this is a warning, not a refusal.
      return { available: true, reason: `server lists ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''} but not "${model.model}"` };
    }
    return { available: true };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
    return { available: false, reason: redactSecrets(`GET ${url} failed: ${why}`, [apiKey]) };
  }
}
