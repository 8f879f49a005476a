/**
 * Whether a model can be used now: its key is set, and its server answers (GET /models, or one chat request where a
 * server has no /models). Answers are never stored from here; an error names the server, not the key.
 */
import OpenAI from 'openai';
import type { ModelConfig } from '../core/config';
import { readApiKey, missingKeyReason, redactSecrets } from './keys';
import { azureTarget, effectiveBaseURL } from './llm';
import { classifyFailure } from './retry';

/**
 * One real chat request of one token, for servers without `GET /models`. A 400 still shows that the endpoint, the key
 * and the model exist (a reasoning model refuses `max_tokens`, for instance), so only other failures refuse the model.
 */
async function probeChat(
  model: ModelConfig,
  baseURL: string,
  apiKey: string | undefined,
  timeoutMs: number,
  why: string,
): Promise<Availability> {
  const client = new OpenAI({
    apiKey: apiKey ?? 'no-key',
    baseURL,
    maxRetries: 0,
    timeout: Math.max(timeoutMs, 10_000),
    logLevel: 'off',
  });
  try {
    await client.chat.completions.create({
      model: model.model,
      messages: [{ role: 'user', content: 'Reply with OK.' }],
      max_tokens: 1,
    });
    return { available: true, reason: `${why}; a one-token chat request to ${baseURL} answered, so the model is used` };
  } catch (e) {
    const failure = classifyFailure(e);
    if (failure.status === 400)
      return {
        available: true,
        reason: `${why}; a one-token chat request answered HTTP 400 (${redactSecrets(failure.message, [apiKey])}), so the endpoint exists`,
      };
    return {
      available: false,
      reason: redactSecrets(`${why}, and a one-token chat request to ${baseURL} failed: ${failure.message}`, [apiKey]),
    };
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
  const apiKey = readApiKey(model, env);
  if (model.provider === 'openai' || model.provider === 'azure-openai') {
    if (!apiKey) return { available: false, reason: missingKeyReason(model, env) };
    if (model.provider === 'azure-openai') {
      try {
        azureTarget(model, env);
      } catch (e) {
        return { available: false, reason: (e as Error).message };
      }
    }
    return { available: true };
  }
  let baseURL: string;
  try {
    baseURL = effectiveBaseURL(model, env);
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
      if (res.status === 404 || res.status === 501)
        return await probeChat(model, baseURL, apiKey, timeoutMs, `GET ${url} answered HTTP ${res.status}`);
      return { available: false, reason: `GET ${url} answered HTTP ${res.status}` };
    }
    const listed = (await res.json().catch(() => null)) as { data?: { id?: string }[] } | null;
    const ids = (listed?.data ?? []).map((d) => d.id).filter((x): x is string => typeof x === 'string');
    if (ids.length && !ids.includes(model.model)) {
      // Some servers (llama.cpp) serve one model whatever name is asked for, so this is a warning, not a refusal.
      return {
        available: true,
        reason: `server lists ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''} but not "${model.model}"`,
      };
    }
    return { available: true };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const why = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
    return { available: false, reason: redactSecrets(`GET ${url} failed: ${why}`, [apiKey]) };
  }
}
