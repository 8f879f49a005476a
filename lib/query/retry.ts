/**
 * Retry mechanics shared by the synchronous client (llm.ts) and the Batch API client (batch/client.ts): what kind of
 * failure an error is, how long to wait before the next attempt, and a wait that a Ctrl-C cuts short.
 *
 * The `openai` SDK's own retries stay off (`maxRetries: 0`) in both clients because its jitter is unseeded, its limits
 * are not the configuration's (`query.maxRetries`), and its retries are invisible to the caller; here every retry is
 * drawn from a seeded generator, bounded by the configuration, logged, and counted in the run's summary.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { Config } from '../core/config';
import type { Rng } from '../core/rng';

export type FailureKind = 'rate-limit' | 'server' | 'timeout' | 'connection' | 'client' | 'bad-response' | 'aborted';

export interface ClassifiedFailure {
  kind: FailureKind;
  retryable: boolean;
  /** The HTTP status, when the server answered. */
  status?: number;
  /** What the server asked us to wait (`retry-after-ms` / `retry-after`). */
  retryAfterMs?: number;
  message: string;
  /** Fewer retries than the policy's for this kind (a 200 that is not a completion was billed: ask once more at most). */
  maxRetries?: number;
}

/**
 * An HTTP 200 whose body is not a chat completion (invalid JSON, a proxy's HTML page, no choices). It was billed:
 * `usage` holds what the body reported, when it reported any.
 */
export class NotACompletionError extends Error {
  constructor(
    readonly reason: string,
    readonly contentType: string,
    /** The body's first 200 characters, for the message that stops a model. */
    readonly bodyStart: string,
    readonly usage: { inputTokens: number; outputTokens: number } | null,
  ) {
    super(`HTTP 200 that is not a chat completion: ${reason} (content-type ${contentType || 'none'})`);
    this.name = 'NotACompletionError';
  }
}

const RETRYABLE_4XX = new Set([408, 409, 429]);

/** Whether an HTTP status is worth asking again (server errors, timeouts, conflicts, rate limits). */
export function retryableStatus(status: number): boolean {
  return status >= 500 || RETRYABLE_4XX.has(status);
}

/** Milliseconds from `retry-after-ms`, or `retry-after` in seconds or as an HTTP date; undefined when absent. */
export function retryAfterMs(
  headers: { get(name: string): string | null } | undefined,
  now = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (ra === null || ra.trim() === '') return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Sorts an error thrown by an `openai` SDK call into a failure kind, and says whether to try again. */
export function classifyFailure(err: unknown): ClassifiedFailure {
  if (err instanceof APIUserAbortError) return { kind: 'aborted', retryable: false, message: 'request aborted' };
  if (err instanceof APIConnectionTimeoutError)
    return { kind: 'timeout', retryable: true, message: 'request timed out' };
  if (err instanceof APIConnectionError) {
    const cause = (err as { cause?: { message?: string; code?: string; cause?: { code?: string; message?: string } } })
      .cause;
    const detail = cause?.cause?.code ?? cause?.code ?? cause?.cause?.message ?? cause?.message;
    return { kind: 'connection', retryable: true, message: `connection error${detail ? ` (${detail})` : ''}` };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const status = err.status;
    const kind: FailureKind =
      status === 429 ? 'rate-limit' : status >= 500 ? 'server' : status === 408 ? 'timeout' : 'client';
    return {
      kind,
      retryable: retryableStatus(status),
      status,
      retryAfterMs: retryAfterMs(err.headers),
      message: `HTTP ${status}: ${err.message}`,
    };
  }
  if (err instanceof Error && err.name === 'AbortError')
    return { kind: 'aborted', retryable: false, message: 'request aborted' };
  if (err instanceof NotACompletionError)
    return { kind: 'bad-response', retryable: true, maxRetries: 1, message: err.message };
  // Anything else unreadable (truncated JSON): the server misbehaved; the reply may have been billed, so ask once more only.
  return {
    kind: 'bad-response',
    retryable: true,
    maxRetries: 1,
    message: `unreadable response (${err instanceof Error ? err.message : String(err)})`,
  };
}

export interface RetryPolicy {
  maxRetries: number;
  /** Backoff before retry n (1-based) is baseDelayMs·2^(n−1), capped at maxDelayMs, scaled by a jitter in [0.5, 1). */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The configuration's policy (query.maxRetries, 1 s doubling up to 60 s), with the caller's overrides. */
export function retryPolicy(config: Config, override: Partial<RetryPolicy> = {}): RetryPolicy {
  return {
    maxRetries: override.maxRetries ?? config.query.maxRetries,
    baseDelayMs: override.baseDelayMs ?? 1000,
    maxDelayMs: override.maxDelayMs ?? 60_000,
  };
}

export function backoffMs(policy: RetryPolicy, retry: number, rng: Rng): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return exp * (0.5 + 0.5 * rng());
}

/**
 * The wait before retry `retry` (1-based): what the server asked for plus up to 10 % (so clients told the same
 * moment do not all come back at once), else the policy's backoff.
 */
export function retryDelayMs(
  failure: Pick<ClassifiedFailure, 'retryAfterMs'>,
  policy: RetryPolicy,
  retry: number,
  rng: Rng,
): number {
  return failure.retryAfterMs !== undefined ? failure.retryAfterMs * (1 + 0.1 * rng()) : backoffMs(policy, retry, rng);
}

/** The rejection of a sleep (or retry loop) cut short by its signal. */
export class AbortedError extends Error {
  constructor(message = 'aborted') {
    super(message);
    this.name = 'AbortError';
  }
}

/**
 * Waits `ms`; rejects with an AbortedError as soon as `signal` aborts (at once when it already has), so an interrupt
 * ends a retry wait or a poll interval instead of sitting it out.
 */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryLoop<T> {
  policy: RetryPolicy;
  /** Jitter source (seeded by the caller, so waits are reproducible). */
  rng: Rng;
  /** Aborting stops the loop before the next attempt and during a wait. */
  signal?: AbortSignal;
  /** Default classifyFailure; a caller may refine it (e.g. any failure after its signal aborted is an abort). */
  classify?: (err: unknown) => ClassifiedFailure;
  /** The error thrown when the failure is not retryable or the retries are used up. */
  giveUp(failure: ClassifiedFailure, attempts: number): Error;
  /** The error thrown when the signal aborts between attempts. */
  aborted(attempts: number): Error;
  /** Called before each wait; a value settles the call without another attempt (e.g. the lost answer is found). */
  beforeRetry?: () => Promise<T | undefined>;
  /** Told about each retry before its wait (for logs and counters). */
  onRetry?: (failure: ClassifiedFailure, retry: number, waitMs: number) => void;
}

/** Calls `attempt` until it succeeds, the failure is not retryable, `policy.maxRetries` retries are spent, or abort. */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, loop: RetryLoop<T>): Promise<T> {
  const classify = loop.classify ?? classifyFailure;
  for (let n = 1; ; n++) {
    if (loop.signal?.aborted) throw loop.aborted(n - 1);
    let failure: ClassifiedFailure;
    try {
      return await attempt(n);
    } catch (err) {
      // An attempt may find the abort before it sends anything (after waiting at a gate): it was never made.
      if (err instanceof AbortedError) throw loop.aborted(n - 1);
      failure = classify(err);
    }
    if (!failure.retryable || n > Math.min(loop.policy.maxRetries, failure.maxRetries ?? Infinity))
      throw loop.giveUp(failure, n);
    if (loop.beforeRetry) {
      const settled = await loop.beforeRetry();
      if (settled !== undefined) return settled;
    }
    const wait = retryDelayMs(failure, loop.policy, n, loop.rng);
    loop.onRetry?.(failure, n, wait);
    try {
      await abortableSleep(wait, loop.signal);
    } catch (e) {
      if (e instanceof AbortedError) throw loop.aborted(n);
      throw e;
    }
  }
}
