/**
 * The client for OpenAI and every OpenAI-compatible server (vLLM, Ollama, llama.cpp server, LM Studio), through the
 * official `openai` package. The SDK's own retries are off: retries, backoff and `retry-after` are handled by
 * lib/query/retry.ts (shared with the Batch API client) so they are seeded, bounded by the configuration, and visible
 * in the run's summary.
 * The API key is read from the environment variable the model names and never appears in errors or logs.
 */
import { setMaxListeners } from 'node:events';
import OpenAI, { AzureOpenAI } from 'openai';
import type { Config, ModelConfig } from '../core/config';
import { adapterFor, describeAdaptation, sendAdapting } from './adapt';
import { modelFamily } from './families';
import type { ChatMessage, ModelAnswer, PromptJob, Responder } from './models';
import { deriveSeed, makeRng, type Rng } from '../core/rng';
import { CircuitBreaker, DEFAULT_BAD_REPLY_LIMIT, DEFAULT_SAME_FAILURE_LIMIT, type BreakerLimits } from './breaker';
import {
  AbortedError,
  classifyFailure,
  NotACompletionError,
  retryPolicy,
  withRetries,
  type FailureKind,
  type RetryPolicy,
} from './retry';
import { normalizeBaseURL, storeKey, type GenerationParams, type StoredAnswer } from './store';
import type { Usage } from '../core/types';
import { jobRequest } from './elicit';
import { answerFromCompletion, readCompletion } from './completion';

export { answerFromCompletion, readCompletion, usageFromCompletion, type CompletionLike } from './completion';
import { missingKeyReason, readApiKey, redactSecrets } from './keys';

export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** Azure OpenAI's endpoint, deployment and api-version, read from the variables the entry names. */
export function azureTarget(
  model: ModelConfig,
  env: NodeJS.ProcessEnv = process.env,
): { endpoint: string; deployment: string; apiVersion: string; baseURL: string } {
  const a = model.azure;
  if (!a) throw new Error(`model "${model.id}" has provider azure-openai but no "azure" block in its entry`);
  const read = (name: string, what: string) => {
    const v = env[name];
    if (v === undefined || v.trim() === '')
      throw new Error(`model "${model.id}" needs its Azure ${what}: set the environment variable ${name}`);
    return v.trim();
  };
  const endpoint = read(a.endpointEnv, 'endpoint (https://RESOURCE.openai.azure.com)').replace(/\/+$/, '');
  const deployment = read(a.deploymentEnv, 'deployment name');
  const apiVersion = read(a.apiVersionEnv, 'api-version');
  return {
    endpoint,
    deployment,
    apiVersion,
    baseURL: `${endpoint}/openai/deployments/${encodeURIComponent(deployment)}`,
  };
}

/** The base URL requests go to (OpenAI's own when a model of provider "openai" names none; Azure's deployment URL). */
export function effectiveBaseURL(model: ModelConfig, env: NodeJS.ProcessEnv = process.env): string {
  const url = normalizeBaseURL(model.baseURL);
  if (url) return url;
  if (model.provider === 'openai') return OPENAI_BASE_URL;
  if (model.provider === 'azure-openai') return azureTarget(model, env).baseURL;
  throw new Error(`model "${model.id}" (provider ${model.provider}) has no baseURL in the configuration`);
}

/**
 * The generation parameters sent for a model: the query defaults, then the rules of its family (lib/query/families.ts),
 * then the entry's own `params` (null removes a parameter). Without a model (or for a plain chat model with no
 * `params`) this is exactly {temperature, seed, max_tokens}, so existing store keys are unchanged.
 */
export function generationParams(
  config: Config,
  model?: Pick<ModelConfig, 'model' | 'params'>,
  repeat = 0,
  method?: GenerationParams,
): GenerationParams {
  // Ask `repeat` (query.samples > 1) of a prompt moves the seed by the ask index, so the asks differ.
  const params: Record<string, unknown> = {
    temperature: config.query.temperature,
    seed: config.query.seed + repeat,
    max_tokens: config.query.maxTokens,
    // An elicitation method's own parameters (lib/query/elicit.ts), before the family's rules rename or drop them.
    ...method,
  };
  const family = model ? modelFamily(model.model) : undefined;
  if (family) {
    if (family.maxTokensParam) {
      params[family.maxTokensParam] = params.max_tokens;
      delete params.max_tokens;
    }
    for (const p of family.omit) delete params[p];
  }
  for (const [k, v] of Object.entries(model?.params ?? {})) {
    if (v === null) delete params[k];
    else params[k] = v;
  }
  return params as GenerationParams;
}

/** The exact chat-completions body sent for a prompt (also the body of a Batch API request line). */
export function chatRequestBody(
  model: ModelConfig,
  config: Config,
  messages: ChatMessage[],
  repeat = 0,
  method?: GenerationParams,
) {
  return {
    model: model.model,
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    ...generationParams(config, model, repeat, method),
  };
}

/**
 * The store key of a prompt (ask `repeat` of it) for a model: what the answer depends on (exactly the parameters
 * sent), never the API key.
 */
export function requestKey(
  model: ModelConfig,
  config: Config,
  messages: ChatMessage[],
  env: NodeJS.ProcessEnv = process.env,
  repeat = 0,
  method?: GenerationParams,
): string {
  const baseURL = model.provider === 'baseline' ? null : effectiveBaseURL(model, env);
  return storeKey({
    provider: model.provider,
    baseURL,
    model: model.model,
    messages,
    params: generationParams(config, model, repeat, method),
    repeat,
  });
}

/**
 * USD for a usage. Reasoning tokens are billed as output and are already part of `outputTokens` (answerFromCompletion
 * makes sure of that), so they are not added again.
 */
export function costUsd(
  model: Pick<ModelConfig, 'inputPricePerMTok' | 'outputPricePerMTok'>,
  usage: Usage,
  discount = 1,
): number {
  return (
    ((usage.inputTokens * model.inputPricePerMTok + usage.outputTokens * model.outputPricePerMTok) / 1e6) * discount
  );
}

/** Adds `u` to a running total (reasoning tokens counted once any answer reports them). */
export function addUsage(total: Usage, u: Usage): void {
  total.inputTokens += u.inputTokens;
  total.outputTokens += u.outputTokens;
  if (u.reasoningTokens !== undefined) total.reasoningTokens = (total.reasoningTokens ?? 0) + u.reasoningTokens;
}

/** A store entry for an answer to `messages` from `model`. */
export function storedAnswerFor(
  model: ModelConfig,
  config: Config,
  key: string,
  answer: ModelAnswer,
  via: 'sync' | 'batch',
  extra: {
    discount?: number;
    meta?: Record<string, unknown>;
    answeredAt?: Date;
    repeat?: number;
    method?: GenerationParams;
  } = {},
): StoredAnswer {
  const adapted = answer.adaptations?.length ? { adapted: answer.adaptations } : {};
  const meta = extra.meta || answer.adaptations?.length ? { ...extra.meta, ...adapted } : undefined;
  return {
    v: 1,
    key,
    request: {
      provider: model.provider,
      baseURL: effectiveBaseURL(model),
      model: model.model,
      params: generationParams(config, model, extra.repeat, extra.method),
    },
    raw: answer.text,
    ...(answer.topLogprobs ? { topLogprobs: answer.topLogprobs } : {}),
    ...(answer.choices ? { choices: answer.choices } : {}),
    usage: answer.usage,
    model: answer.model,
    fingerprint: answer.fingerprint,
    latencyMs: answer.latencyMs,
    finishReason: answer.finishReason ?? null,
    costUsd: costUsd(model, answer.usage, extra.discount ?? 1),
    via,
    answeredAt: (extra.answeredAt ?? new Date()).toISOString(),
    ...(meta ? { meta } : {}),
  };
}

/** A signal that aborts when any of `parts` does (AbortSignal.any without the typings it lacks here). */
export function eitherSignal(parts: (AbortSignal | undefined)[]): AbortSignal {
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
  /**
   * HTTP requests made so far, retries included; `rejected`: requests answered 400 for a parameter, then adapted;
   * `unansweredUsage`: tokens billed by 200s that held no completion.
   */
  readonly stats: { requests: number; retries: number; failures: number; rejected: number; unansweredUsage: Usage };
  /** Adaptations in force for this server and model (learned by this or an earlier responder of the run). */
  adaptations(): string[];
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
  if (model.provider === 'baseline')
    throw new Error(`model "${model.id}" is a baseline; it is answered offline, not through an API`);
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const apiKey = readApiKey(model, env, log);
  if ((model.provider === 'openai' || model.provider === 'azure-openai') && !apiKey) {
    throw new Error(`model "${model.id}" needs an API key: ${missingKeyReason(model, env)}`);
  }
  const baseURL = effectiveBaseURL(model, env);
  const policy = retryPolicy(config, opts.retry);
  const rng = opts.rng ?? makeRng(deriveSeed(config.seed, 'retry-jitter', model.id));
  const secrets = [apiKey];
  const client = apiClient(model, { apiKey, env, timeoutMs: opts.timeoutMs ?? config.query.timeoutMs });
  const adapter = adapterFor(baseURL, model.model);
  const stats = {
    requests: 0,
    retries: 0,
    failures: 0,
    rejected: 0,
    unansweredUsage: { inputTokens: 0, outputTokens: 0 },
  };
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
    const { repeat, method } = jobRequest(config, model, job);
    const configured = chatRequestBody(model, config, job.messages, repeat, method);
    const inFlight = anyOf(signal, breaker.abandonSignal);
    const between = anyOf(signal, retrySignal, breaker.signal);
    // Wait out a probe before the retry loop, so a prompt stopped meanwhile counts as never sent.
    await adapter.settled();
    return withRetries(
      // Each attempt passes the adapter's gate: the first one goes alone, so a rule it learns spares the others a 400.
      () =>
        adapter.run(async () => {
          const started = Date.now();
          // The SDK never removes the listener it adds to a request's signal, so each request gets its own short-lived
          // signal linked to the run's (one listener per request on a run-long signal would pile up).
          const perRequest = new AbortController();
          const onAbort = () => perRequest.abort();
          inFlight.addEventListener('abort', onAbort, { once: true });
          try {
            // An attempt that waited at the gate may start after the abort, when the listener can no longer fire.
            if (inFlight.aborted) throw new AbortedError();
            const completion = await sendAdapting(
              adapter,
              configured,
              async (body) => {
                stats.requests++;
                // The raw reply, so a 200 that is not a completion is seen with its content type and body (and its usage kept).
                const response = await client.chat.completions.create(body, { signal: perRequest.signal }).asResponse();
                return readCompletion(response, secrets);
              },
              (adaptation, learned) => {
                stats.rejected++;
                if (learned)
                  log(
                    `${model.id}: the server rejected ${adaptation.code} "${adaptation.param}"; adapting for the rest of the run: ${describeAdaptation(adaptation)}`,
                  );
              },
            );
            breaker.success();
            const answered = answerFromCompletion(completion, Date.now() - started);
            return adapter.adaptations.length
              ? { ...answered, adaptations: adapter.adaptations.map(describeAdaptation) }
              : answered;
          } catch (e) {
            if (e instanceof NotACompletionError && e.usage) {
              stats.unansweredUsage.inputTokens += e.usage.inputTokens;
              stats.unansweredUsage.outputTokens += e.usage.outputTokens;
            }
            throw e;
          } finally {
            inFlight.removeEventListener('abort', onAbort);
          }
        }),
      {
        policy,
        rng,
        signal: between,
        classify: (err) => {
          if (inFlight.aborted)
            return {
              kind: 'aborted',
              retryable: false,
              message: breaker.reason ? `${model.id}: model stopped: ${stoppedReason()}` : 'request aborted',
            };
          const failure = classifyFailure(err);
          breaker.failure(failure, err);
          return failure;
        },
        aborted: (attempts) =>
          new RequestFailedError(
            breaker.reason ? `${model.id}: model stopped: ${stoppedReason()}` : 'request aborted',
            'aborted',
            undefined,
            attempts,
          ),
        giveUp: (failure, attempts) => {
          stats.failures++;
          const why = failure.retryable ? `gave up after ${attempts} attempts` : 'not retryable';
          return new RequestFailedError(
            `${model.id}: ${redactSecrets(failure.message, secrets)} (${why})`,
            failure.kind,
            failure.status,
            attempts,
          );
        },
        onRetry: (failure, retry, wait) => {
          stats.retries++;
          log(
            `${model.id}: ${redactSecrets(failure.message, secrets)}; retry ${retry}/${Math.min(policy.maxRetries, failure.maxRetries ?? Infinity)} in ${(wait / 1000).toFixed(2)} s`,
          );
        },
      },
    );
  }

  return {
    config: model,
    stats,
    adaptations: () => adapter.adaptations.map(describeAdaptation),
    get stopped() {
      return stoppedReason();
    },
    answer,
    keyFor: (messages) => requestKey(model, config, messages, env),
  };
}

/**
 * The SDK client for a model: AzureOpenAI for provider azure-openai (deployment URL and api-version from the variables
 * the entry names, key sent as the api-key header), OpenAI otherwise. The SDK's own retries are off (see above).
 */
export function apiClient(
  model: ModelConfig,
  opts: { apiKey?: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): OpenAI {
  const common = { maxRetries: 0, timeout: opts.timeoutMs, logLevel: 'off' as const };
  if (model.provider === 'azure-openai') {
    const azure = azureTarget(model, opts.env ?? process.env);
    // baseURL is given explicitly (not `endpoint`) so an OPENAI_BASE_URL in the environment cannot redirect it.
    return new AzureOpenAI({
      ...common,
      apiKey: opts.apiKey ?? 'no-key',
      baseURL: `${azure.endpoint}/openai`,
      deployment: azure.deployment,
      apiVersion: azure.apiVersion,
    });
  }
  // Local servers take any key; the SDK insists on one.
  return new OpenAI({ ...common, apiKey: opts.apiKey ?? 'no-key', baseURL: effectiveBaseURL(model, opts.env) });
}
