/**
 * Reading a chat-completions reply: its answer text, its usage (reasoning tokens counted once), the first token's top
 * logprobs when asked for, and a 200 that is no completion told apart from one that is (its billed usage kept).
 */
import type { ModelAnswer } from './models';
import { NotACompletionError } from './retry';
import type { Usage } from '../core/types';
import { redact } from '../core/secrets';
import type { TokenLogprob } from './known-distribution';

/** Shape of a chat completion as far as we read it (the SDK's type, or a Batch API output line's body). */
export interface CompletionLike {
  model?: string;
  system_fingerprint?: string | null;
  usage?: {
    prompt_tokens?: number;
    completion_tokens?: number;
    total_tokens?: number;
    completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  } | null;
  choices?: {
    index?: number;
    message?: { content?: string | null; refusal?: string | null } | null;
    finish_reason?: string | null;
    logprobs?: { content?: { token?: string; top_logprobs?: { token?: string; logprob?: number }[] }[] | null } | null;
  }[];
}

/**
 * Tokens of a completion. OpenAI counts reasoning tokens inside completion_tokens; a server that reports them only in
 * total_tokens (total = prompt + completion + reasoning) has them added, so output always includes what is billed.
 */
export function usageFromCompletion(usage: CompletionLike['usage']): Usage {
  const inputTokens = usage?.prompt_tokens ?? 0;
  let outputTokens = usage?.completion_tokens ?? 0;
  const reasoning = usage?.completion_tokens_details?.reasoning_tokens;
  if (typeof reasoning !== 'number') return { inputTokens, outputTokens };
  if (reasoning > 0 && usage?.total_tokens === inputTokens + outputTokens + reasoning) outputTokens += reasoning;
  return { inputTokens, outputTokens, reasoningTokens: reasoning };
}

/** How much of a reply that is not a completion its error message quotes. */
const BODY_START_CHARS = 200;

/**
 * Reads a 200 reply's body as a chat completion, or throws NotACompletionError with its content type, its first
 * 200 characters and any usage it reported (the reply was billed even when it holds no answer). The body is redacted
 * (`secrets`, and every key the process read) before it is cut: a key the cut went through would leave a piece.
 */
export async function readCompletion(
  response: Response,
  secrets: (string | undefined | null)[] = [],
): Promise<CompletionLike> {
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  const start = () => redact(text, secrets).slice(0, BODY_START_CHARS);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new NotACompletionError(`the body is not JSON (${(e as Error).message})`, contentType, start(), null);
  }
  const completion = parsed as CompletionLike;
  if (
    completion === null ||
    typeof completion !== 'object' ||
    !Array.isArray(completion.choices) ||
    completion.choices.length === 0
  ) {
    throw new NotACompletionError(
      'the body has no "choices"',
      contentType,
      start(),
      completion && typeof completion === 'object' && completion.usage ? usageFromCompletion(completion.usage) : null,
    );
  }
  return completion;
}

export function answerFromCompletion(completion: CompletionLike, latencyMs: number): ModelAnswer {
  const choice = completion.choices?.[0];
  if (!choice) throw new Error('the server returned a completion without choices');
  // An empty or refused answer is still an answer (temperature 0 would give it again): it is stored and parses as unparseable.
  const textOf = (c: typeof choice) => c.message?.content ?? c.message?.refusal ?? '';
  const text = textOf(choice);
  const topLogprobs = firstTokenTopLogprobs(choice);
  // A request with `n` (the samples method) is answered by several choices: each is an ask, kept in `index` order.
  const all = completion.choices ?? [];
  const choices =
    all.length > 1
      ? all
          .map((c, i) => ({ c, at: c.index ?? i }))
          .sort((a, b) => a.at - b.at)
          .map(({ c }) => ({ text: textOf(c), finishReason: c.finish_reason ?? null }))
      : undefined;
  return {
    text,
    usage: usageFromCompletion(completion.usage),
    model: completion.model ?? '',
    fingerprint: completion.system_fingerprint ?? null,
    latencyMs,
    finishReason: choice.finish_reason ?? null,
    ...(topLogprobs ? { topLogprobs } : {}),
    ...(choices ? { choices } : {}),
  };
}

/**
 * The first answer token's top logprobs (`choices[0].logprobs.content[0].top_logprobs`), or undefined when the reply
 * has none (a server that ignores `logprobs`). Leading tokens that are only white space are skipped: a model that
 * answers " 7" as " " then "7" names its pick with the second token.
 */
export function firstTokenTopLogprobs(
  choice: NonNullable<CompletionLike['choices']>[number],
): TokenLogprob[] | undefined {
  const content = choice.logprobs?.content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const first = content.find((t) => typeof t?.token === 'string' && t.token.trim() !== '') ?? content[0];
  const top = first?.top_logprobs;
  if (!Array.isArray(top)) return undefined;
  return top
    .filter((t) => typeof t?.token === 'string' && typeof t.logprob === 'number')
    .map((t) => ({ token: t.token as string, logprob: t.logprob as number }));
}
