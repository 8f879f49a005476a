/**
 * Adapting to a server that rejects a parameter: when a request answers HTTP 400 naming an unsupported parameter or value
 * (OpenAI's `unsupported_parameter` / `unsupported_value` errors), the request is sent again once with that parameter
 * mapped (`max_tokens` → `max_completion_tokens`) or removed, and the adaptation is kept for every later request to the
 * same server and model for the rest of the process (the run).
 *
 * So that a whole fan-out of concurrent requests does not each pay one rejected request, requests to a server and model
 * go one at a time until one has succeeded (the probe); after that they fan out. A new adaptation learned later sends
 * the next request alone again.
 *
 * The store key stays the key of the configured request: the adaptation is a fixed function of the configured request
 * and the server's rules, so a later run finds the answer under the same key without having to learn it again.
 */
import { APIError } from 'openai';

export interface Adaptation {
  param: string;
  action: 'rename' | 'remove';
  /** The new name, for a rename. */
  to?: string;
  /** The server's error code (unsupported_parameter, unsupported_value). */
  code: string;
}

/** Parameters with a successor of another name; any other rejected parameter is removed (the server's default applies). */
const RENAMES: Record<string, string> = { max_tokens: 'max_completion_tokens' };

const ADAPTABLE_CODES = new Set(['unsupported_parameter', 'unsupported_value']);

export function describeAdaptation(a: Adaptation): string {
  return a.action === 'rename' ? `"${a.param}" → "${a.to}"` : `"${a.param}" removed`;
}

/** The adaptation a failed request asks for, or undefined when the error is not an adaptable 400 about a parameter of `body`. */
export function adaptationFromError(err: unknown, body: Record<string, unknown>): Adaptation | undefined {
  if (!(err instanceof APIError) || err.status !== 400) return undefined;
  const detail = (err.error ?? {}) as { code?: unknown; param?: unknown };
  const code = typeof err.code === 'string' ? err.code : typeof detail.code === 'string' ? detail.code : undefined;
  const param = typeof err.param === 'string' ? err.param : typeof detail.param === 'string' ? detail.param : undefined;
  if (!code || !ADAPTABLE_CODES.has(code) || !param || !(param in body)) return undefined;
  const to = RENAMES[param];
  if (code === 'unsupported_parameter' && to && !(to in body)) return { param, action: 'rename', to, code };
  return { param, action: 'remove', code };
}

export function applyAdaptations<T extends Record<string, unknown>>(body: T, adaptations: readonly Adaptation[]): T {
  const out: Record<string, unknown> = { ...body };
  for (const a of adaptations) {
    if (!(a.param in out)) continue;
    const value = out[a.param];
    delete out[a.param];
    if (a.action === 'rename' && a.to && !(a.to in out)) out[a.to] = value;
  }
  return out as T;
}

/**
 * Sends `configured` with the adaptations in force; an adaptable rejection is learned and the request sent again at
 * once (not a retry: nothing about the server's state changed). Each adaptation removes or renames one parameter of the
 * body, so one request adapts at most once per parameter.
 */
export async function sendAdapting<B extends Record<string, unknown>, T>(
  adapter: RequestAdapter,
  configured: B,
  send: (body: B) => Promise<T>,
  onRejected: (adaptation: Adaptation, learned: boolean) => void,
): Promise<T> {
  let left = Object.keys(configured).length;
  for (;;) {
    const body = adapter.apply(configured);
    try {
      return await send(body);
    } catch (err) {
      const adaptation = left > 0 ? adaptationFromError(err, body) : undefined;
      if (!adaptation) throw err;
      left--;
      onRejected(adaptation, adapter.learn(adaptation));
    }
  }
}

/** What is known about one server and model: its adaptations, and whether a request has gone through with them. */
export class RequestAdapter {
  readonly adaptations: Adaptation[] = [];
  /** Requests the server rejected with an adaptable 400. */
  rejected = 0;
  private confirmed = false;
  private probe: Promise<unknown> | null = null;

  apply<T extends Record<string, unknown>>(body: T): T {
    return applyAdaptations(body, this.adaptations);
  }

  /** Records an adaptation; true when it is new (false when a concurrent request learned it first). */
  learn(a: Adaptation): boolean {
    this.rejected++;
    if (this.adaptations.some((x) => x.param === a.param && x.action === a.action && x.to === a.to)) return false;
    this.adaptations.push(a);
    this.confirmed = false;
    return true;
  }

  /** Resolves when no probe is in flight or the gate is open, so a caller can look at its abort signal before sending. */
  async settled(): Promise<void> {
    while (!this.confirmed && this.probe) await this.probe.catch(() => undefined);
  }

  /**
   * Runs one attempt alone while no attempt has settled with the current adaptations, concurrently after that. An
   * attempt that fails for another reason than a parameter (a timeout, a 5xx, a 401) also opens the gate: it says
   * nothing about the server's rules, and probing a dead server one request at a time would take `concurrency` times
   * as long to notice (the circuit breaker counts a wave of timeouts).
   */
  async run<T>(send: () => Promise<T>): Promise<T> {
    // Checked again after every wake-up (not through settled()): two callers woken together must not both probe.
    while (!this.confirmed && this.probe) await this.probe.catch(() => undefined);
    if (this.confirmed) return send();
    const attempt = send();
    this.probe = attempt;
    try {
      return await attempt;
    } finally {
      this.confirmed = true;
      if (this.probe === attempt) this.probe = null;
    }
  }
}

const adapters = new Map<string, RequestAdapter>();

/** The adapter for a server and model, shared by every responder of the process. */
export function adapterFor(baseURL: string, model: string): RequestAdapter {
  const key = `${baseURL}\u0000${model}`;
  let a = adapters.get(key);
  if (!a) {
    a = new RequestAdapter();
    adapters.set(key, a);
  }
  return a;
}

/** Forgets every learned adaptation (tests that start a fresh run in the same process). */
export function forgetAdaptations(): void {
  adapters.clear();
}
