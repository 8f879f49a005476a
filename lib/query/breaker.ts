/**
 * A circuit breaker per model and run: it stops asking a model once the replies show that no further request can
 * work, instead of spending the whole run on timeouts (a server that accepts and never answers would take about
 * 15 minutes per prompt with the default 120 s timeout and 6 retries) or on a revoked key (every prompt refused).
 *
 * It trips when
 * - no request of the run has succeeded and `concurrency` requests have timed out (the first wave all hung);
 * - `sameFailureLimit` requests in a row failed for the same non-retryable reason (401, 403, 404, a 400 with the same
 *   message): the next one will fail the same way;
 * - `badReplyLimit` replies in a row were HTTP 200s that are not chat completions (billed, and useless).
 * Observations are per HTTP request (retries included); any success resets the streaks.
 */
import type { ClassifiedFailure } from './retry';
import { NotACompletionError } from './retry';

export interface BreakerLimits {
  /** Timeouts with no success so far that stop the model (the configured concurrency: one full wave). */
  timeoutsWithoutSuccess: number;
  sameFailureLimit: number;
  badReplyLimit: number;
}

export const DEFAULT_SAME_FAILURE_LIMIT = 20;
export const DEFAULT_BAD_REPLY_LIMIT = 5;

export class CircuitBreaker {
  private readonly tripped = new AbortController();
  private readonly hung = new AbortController();
  private succeeded = false;
  private timeouts = 0;
  private sameFailure = { message: '', count: 0 };
  private badReplies = 0;
  /** Why the model was stopped (null while it is still asked). */
  reason: string | null = null;

  constructor(
    private readonly limits: BreakerLimits,
    /** Where the requests go, named in the message about replies that are not completions. */
    private readonly baseURL: string,
  ) {}

  /** Aborts when the breaker trips: no new request, and retry waits end. */
  get signal(): AbortSignal {
    return this.tripped.signal;
  }

  /**
   * Aborts when the breaker trips on timeouts: the requests in flight are hung too, so they are abandoned. On the
   * other trips they finish (a refusal comes back at once, and an abandoned request may still reach the server).
   */
  get abandonSignal(): AbortSignal {
    return this.hung.signal;
  }

  success(): void {
    this.succeeded = true;
    this.sameFailure = { message: '', count: 0 };
    this.badReplies = 0;
  }

  /** One failed HTTP request (`error` is what the client threw, for the details of a bad reply). */
  failure(failure: ClassifiedFailure, error: unknown): void {
    if (this.reason !== null || failure.kind === 'aborted') return;
    if (failure.kind === 'timeout' && failure.status === undefined && !this.succeeded) {
      if (++this.timeouts >= this.limits.timeoutsWithoutSuccess) {
        this.trip(
          `${this.timeouts} requests timed out and none has succeeded in this run (the server at ${this.baseURL} accepts connections but does not answer)`,
        );
        this.hung.abort();
      }
    }
    if (failure.kind === 'bad-response') {
      this.badReplies++;
      if (this.badReplies >= this.limits.badReplyLimit) {
        const detail =
          error instanceof NotACompletionError
            ? ` (content-type ${error.contentType || 'none'}; body starts ${JSON.stringify(error.bodyStart)})`
            : ` (${failure.message})`;
        this.trip(
          `${this.badReplies} replies in a row from ${this.baseURL} were HTTP 200 but not chat completions${detail}`,
        );
      }
    } else this.badReplies = 0;
    if (!failure.retryable) {
      if (failure.message === this.sameFailure.message) this.sameFailure.count++;
      else this.sameFailure = { message: failure.message, count: 1 };
      if (this.sameFailure.count >= this.limits.sameFailureLimit) {
        this.trip(`${this.sameFailure.count} requests in a row failed with the same error: ${failure.message}`);
      }
    } else this.sameFailure = { message: '', count: 0 };
  }

  private trip(reason: string): void {
    if (this.reason !== null) return;
    this.reason = reason;
    this.tripped.abort();
  }
}
