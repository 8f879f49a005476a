/**
 * The client for OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio), through the
 * official `openai` package. The SDK's own retries are off: retries, backoff and `retry-after` are handled by
 * lib/query/retry.ts (shared with the Batch API client) so they are seeded, bounded by the configuration, and visible
 * in the run's summary.
 * The API key is read from the environment variable the model names and never appears in errors or logs.
 */
import { setMaxListeners } from 'node:events';
import OpenAI from 'openai';
import type { Config, ModelConfig } from '../core/config';
import type { ChatMessage, ModelAnswer, PromptJob, Responder } from './models';
import { deriveSeed, makeRng, type Rng } from '../core/rng';
import { CircuitBreaker, DEFAULT_BAD_REPLY_LIMIT, DEFAULT_SAME_FAILURE_LIMIT, type BreakerLimits } from './breaker';
import { classifyFailure, NotACompletionError, retryPolicy, withRetries, type FailureKind, type RetryPolicy } from './retry';
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

/**
 * Reads a 200 reply's body as a chat completion, or throws NotACompletionError with its content type, its first
 * 200 characters and any usage it reported (the reply was billed even when it holds no answer).
 */
export async function readCompletion(response: Response): Promise<CompletionLike> {
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  const start = text.slice(0, 200);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new NotACompletionError(`the body is not JSON (${(e as Error).message})`, contentType, start, null);
  }
  const completion = parsed as CompletionLike;
  if (completion === null || typeof completion !== 'object' || !Array.isArray(completion.choices) || completion.choices.length === 0) {
    throw new NotACompletionError('the body has no "choices"', contentType, start, completion && typeof completion === 'object' ? usageOf(completion) : null);
  }
  return completion;
}

function usageOf(completion: CompletionLike): Usage | null {
  const u = completion.usage;
  return u ? { inputTokens: u.prompt_tokens ?? 0, outputTokens: u.completion_tokens ?? 0 } : null;
}

export function answerFromCompletion(completion: CompletionLike, latencyMs: number): ModelAnswer {
  const choice = completion.choices?.[0];
  if (!choice) throw new Error('the server returned a completion without choices');
  // An empty or refused answer is still an answer (temperature 0 would give it again): it is stored and parses as unparseable.
  const text = choice.message?.content ?? choice.message?.refusal ?? '';
  return {
    text,
    usage: usageOf(completion) ?? { inputTokens: 0, outputTokens: 0 },
    model: completion.model ?? '',
    fingerprint: completion.system_fingerprint ?? null,
    latencyMs,
    finishReason: choice.finish_reason ?? null,
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
    finishReason: answer.finishReason ?? null,
    costUsd: costUsd(model, answer.usage, extra.discount ?? 1),
    via,
    answeredAt: (extra.answeredAt ?? new Date()).toISOString(),
    ...(extra.meta ? { meta: extra.meta } : {}),
  };
}

/** A signal that aborts when any of `parts` does (AbortSignal.any without the typings it lacks here). */
function eitherSignal(parts: (AbortSignal | undefined)[]): AbortSignal {
  const ac = new AbortController();
  // Every request in flight listens on it (and removes its listener when done): concurrency, not a leak.
  setMaxListeners(0, ac.signal);
  for (const p of parts) {
    if (!p) continue;
    if (p.aborted) ac.abort();
    else p.addEventListener('abort', () => ac.abort(), { once: true });
  }
  return ac.signal;
}

// ---------- secrets ----------

/**
 * Replaces every occurrence of each secret (and anything shaped like an OpenAI key) with a marker. A configured key is
 * redacted whatever its length: a short key is still a key (local servers take any string), and printing it is the leak.
 */
export function redactSecrets(text: string, secrets: (string | undefined | null)[]): string {
  let out = text;
  // Longest first, so a key that contains another is not half-redacted.
  for (const s of [...secrets].filter((x): x is string => !!x).sort((a, b) => b.length - a.length)) out = out.split(s).join('[REDACTED]');
  return out.replace(/\bsk-[A-Za-z0-9_*-]{8,}/g, 'sk-[REDACTED]');
}

function apiKeyFor(model: ModelConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (!model.apiKeyEnv) return undefined;
  const v = env[model.apiKeyEnv];
  return v === undefined || v.trim() === '' ? undefined : v;
}

/** Why a model's key cannot be used: "is not set" and "is empty" are different mistakes with different fixes. */
export function missingKeyReason(model: ModelConfig, env: NodeJS.ProcessEnv): string {
  if (!model.apiKeyEnv) return `model "${model.id}" names no "apiKeyEnv" to read its API key from`;
  const v = env[model.apiKeyEnv];
  return v === undefined ? `environment variable ${model.apiKeyEnv} is not set` : `environment variable ${model.apiKeyEnv} is empty`;
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
  /** When to stop asking the model (defaults: one wave of `concurrency` timeouts, 20 same errors, 5 bad 200s). */
  breaker?: Partial<BreakerLimits>;
}

export interface ApiResponder extends Responder {
  /** HTTP requests made so far, retries included; `unansweredUsage`: tokens billed by 200s that held no completion. */
  readonly stats: { requests: number; retries: number; failures: number; unansweredUsage: Usage };
  /** Why the model is no longer asked (its circuit breaker tripped), or null. */
  readonly stopped: string | null;
  keyFor(messages: ChatMessage[]): string;
  /**
   * `signal` aborts the request in flight (a second Ctrl-C); `retrySignal` only stops further attempts and ends
   * retry waits (the first Ctrl-C), letting the request in flight finish.
   */
  answer(job: PromptJob, signal?: AbortSignal, retrySignal?: AbortSignal): Promise<ModelAnswer>;
}

export function createApiResponder(model: ModelConfig, config: Config, opts: ApiResponderOptions = {}): ApiResponder {
  if (model.provider === 'baseline') throw new Error(`model "${model.id}" is a baseline; it is answered offline, not through an API`);
  const env = opts.env ?? process.env;
  const apiKey = apiKeyFor(model, env);
  if (model.provider === 'openai' && !apiKey) throw new Error(`model "${model.id}" needs an API key: ${missingKeyReason(model, env)}`);
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
  const stats = { requests: 0, retries: 0, failures: 0, unansweredUsage: { inputTokens: 0, outputTokens: 0 } };
  const breaker = new CircuitBreaker(
    {
      timeoutsWithoutSuccess: opts.breaker?.timeoutsWithoutSuccess ?? model.concurrency,
      sameFailureLimit: opts.breaker?.sameFailureLimit ?? DEFAULT_SAME_FAILURE_LIMIT,
      badReplyLimit: opts.breaker?.badReplyLimit ?? DEFAULT_BAD_REPLY_LIMIT,
    },
    baseURL,
  );
  // One combined signal per set of run-long signals, not one per prompt (each would add listeners to the run's signals).
  const combined: { parts: (AbortSignal | undefined)[]; signal: AbortSignal }[] = [];
  const anyOf = (...parts: (AbortSignal | undefined)[]): AbortSignal => {
    const known = combined.find((c) => c.parts.length === parts.length && c.parts.every((p, i) => p === parts[i]));
    if (known) return known.signal;
    const signal = eitherSignal(parts);
    combined.push({ parts, signal });
    return signal;
  };

  // The reason may quote a server's error message, which may echo the key.
  const stoppedReason = () => (breaker.reason === null ? null : redactSecrets(breaker.reason, secrets));

  async function answer(job: PromptJob, signal?: AbortSignal, retrySignal?: AbortSignal): Promise<ModelAnswer> {
    const body = chatRequestBody(model, config, job.messages);
    const inFlight = anyOf(signal, breaker.abandonSignal);
    const between = anyOf(signal, retrySignal, breaker.signal);
    return withRetries(
      async () => {
        const started = Date.now();
        // The SDK never removes the listener it adds to a request's signal, so each request gets its own short-lived
        // signal linked to the run's (one listener per request on a run-long signal would pile up).
        const perRequest = new AbortController();
        const onAbort = () => perRequest.abort();
        inFlight.addEventListener('abort', onAbort, { once: true });
        try {
          stats.requests++;
          // The raw reply, so a 200 that is not a completion is seen with its content type and body (and its usage kept).
          const response = await client.chat.completions.create(body, { signal: perRequest.signal }).asResponse();
          const completion = await readCompletion(response);
          breaker.success();
          return answerFromCompletion(completion, Date.now() - started);
        } catch (e) {
          if (e instanceof NotACompletionError && e.usage) {
            stats.unansweredUsage.inputTokens += e.usage.inputTokens;
            stats.unansweredUsage.outputTokens += e.usage.outputTokens;
          }
          throw e;
        } finally {
          inFlight.removeEventListener('abort', onAbort);
        }
      },
      {
        policy,
        rng,
        signal: between,
        classify: (err) => {
          if (inFlight.aborted) return { kind: 'aborted', retryable: false, message: breaker.reason ? `${model.id}: model stopped: ${stoppedReason()}` : 'request aborted' };
          const failure = classifyFailure(err);
          breaker.failure(failure, err);
          return failure;
        },
        aborted: (attempts) => new RequestFailedError(breaker.reason ? `${model.id}: model stopped: ${stoppedReason()}` : 'request aborted', 'aborted', undefined, attempts),
        giveUp: (failure, attempts) => {
          stats.failures++;
          const why = failure.retryable ? `gave up after ${attempts} attempts` : 'not retryable';
          return new RequestFailedError(`${model.id}: ${redactSecrets(failure.message, secrets)} (${why})`, failure.kind, failure.status, attempts);
        },
        onRetry: (failure, retry, wait) => {
          stats.retries++;
          log(`${model.id}: ${redactSecrets(failure.message, secrets)}; retry ${retry}/${Math.min(policy.maxRetries, failure.maxRetries ?? Infinity)} in ${(wait / 1000).toFixed(2)} s`);
        },
      },
    );
  }

  return {
    config: model,
    stats,
    get stopped() {
      return stoppedReason();
    },
    answer,
    keyFor: (messages) => requestKey(model, config, messages),
  };
}

// ---------- availability ----------

/**
 * One real chat request of one token, for servers without `GET /models`. A 400 still shows that the endpoint, the key
 * and the model exist (a reasoning model refuses `max_tokens`, for instance), so only other failures refuse the model.
 */
async function probeChat(model: ModelConfig, baseURL: string, apiKey: string | undefined, timeoutMs: number, why: string): Promise<Availability> {
  const client = new OpenAI({ apiKey: apiKey ?? 'no-key', baseURL, maxRetries: 0, timeout: Math.max(timeoutMs, 10_000), logLevel: 'off' });
  try {
    await client.chat.completions.create({ model: model.model, messages: [{ role: 'user', content: 'Reply with OK.' }], max_tokens: 1 });
    return { available: true, reason: `${why}; a one-token chat request to ${baseURL} answered, so the model is used` };
  } catch (e) {
    const failure = classifyFailure(e);
    if (failure.status === 400) return { available: true, reason: `${why}; a one-token chat request answered HTTP 400 (${redactSecrets(failure.message, [apiKey])}), so the endpoint exists` };
    return { available: false, reason: redactSecrets(`${why}, and a one-token chat request to ${baseURL} failed: ${failure.message}`, [apiKey]) };
  }
}

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
    return apiKey ? { available: true } : { available: false, reason: missingKeyReason(model, env) };
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
      // Gateways and several vendors have no /models: the chat endpoint itself is the test.
      if (res.status === 404 || res.status === 501) return await probeChat(model, baseURL, apiKey, timeoutMs, `GET ${url} answered HTTP ${res.status}`);
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
