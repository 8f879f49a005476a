/**
 * A local OpenAI-compatible server for tests and benchmarks: real HTTP on 127.0.0.1, scriptable per request.
 *
 * Chat completions answer by default with the first N candidate names of the prompt (or, with `picks: 'by-name'`, N chosen blind to their order; the last Python list in the last
 * user message), so parsing works end to end. A script can make any request answer malformed text, fail with a status
 * (429 with retry-after, 500 …), be slow, hang, or drop the connection. Every request is counted and logged.
 *
 * Routes live in a table (`server.route(method, pattern, handler)`, patterns like "/v1/batches/:id").
 *
 * The Batch API: POST /v1/files (multipart upload), GET /v1/files/:id[/content], POST /v1/batches, GET /v1/batches
 * (list, newest first), GET /v1/batches/:id, POST /v1/batches/:id/cancel. A batch moves on at each retrieve and
 * finishes after `batch.pollsToFinish` retrieves (and/or `finishAfterMs`); its lines are answered like chat requests,
 * or scripted per line (non-200 responses, error-file lines, lines never run), and it can end expired with part of
 * its output. Batch state survives reset() (which clears the request log); clearBatches() forgets it.
 *
 * Reasoning mode (`reasoning: {isReasoningModel, reasoningTokens}`): requests for a model it names are held to OpenAI's
 * reasoning-model rules with OpenAI's own error bodies — HTTP 400 unsupported_parameter for max_tokens and 400
 * unsupported_value for any temperature but 1 — and answers report reasoning tokens in
 * usage.completion_tokens_details (counted inside completion_tokens, as OpenAI does).
 *
 * Azure OpenAI: POST /openai/deployments/:deployment/chat/completions answers like chat completions; it requires an
 * `api-version` query parameter and an `api-key` header, as Azure does.
 *
 * Standalone: node build/test/helpers/fake-openai-server.js --port 0 --latency-ms 100
 * prints "listening on http://127.0.0.1:PORT/v1" and serves until killed; GET /__fake/stats returns request counts; POST /__fake/config {"latencyMs": N, "reset": true} adjusts it.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ChatRequestInfo {
  /** 1-based number of this request among all chat-completion requests. */
  n: number;
  /** 1-based number of this request among those with the same body (the same prompt's retries). */
  attempt: number;
  body: ChatBody;
  headers: http.IncomingHttpHeaders;
}

export interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  seed?: number;
  max_tokens?: number;
  [k: string]: unknown;
}

export type FakeAction =
  /**
   * A completion; `text` defaults to the picked candidates as a Python-style list. `content: null` is a refusal or a
   * content filter (with `finishReason` "content_filter" by default); `finishReason` "length" is an answer cut off.
   */
  | {
      kind: 'answer';
      text?: string;
      /** The first token's top logprobs, returned as OpenAI does (`choices[0].logprobs.content[0].top_logprobs`). */
      topLogprobs?: { token: string; logprob: number }[];
      content?: null;
      finishReason?: string;
      /** A request with `n`: the choices' texts (default: n draws), or fewer choices than asked (`choices`). */
      texts?: string[];
      choices?: number;
      latencyMs?: number;
      model?: string;
      fingerprint?: string | null;
      usage?: { prompt_tokens: number; completion_tokens: number };
    }
  /** An error status with an OpenAI-style error body. */
  | { kind: 'error'; status: number; headers?: Record<string, string>; message?: string; latencyMs?: number }
  /** HTTP 200 with a body that is not JSON. */
  | { kind: 'garbage'; latencyMs?: number }
  /** HTTP 200 with an HTML page, as a proxy or captive portal sends (`page`: its text; default a sign-in page). */
  | { kind: 'html'; latencyMs?: number; page?: string }
  /** HTTP 200, a JSON completion with no choices, whose usage says tokens were billed. */
  | { kind: 'empty-choices'; latencyMs?: number; usage?: { prompt_tokens: number; completion_tokens: number } }
  /** Destroy the socket without answering (a connection reset). */
  | { kind: 'drop'; latencyMs?: number }
  /** Never answer (until the client gives up or the server closes). */
  | { kind: 'hang' };

/**
 * 'first-listed': the first topN candidates in the order the prompt lists them (an extreme position bias).
 * 'by-name': the topN candidates with the smallest hash of name and request seed: blind to the order, but a new
 * seed gives a new answer (like sampling at temperature > 0).
 */
export type FakePicks = 'first-listed' | 'by-name';

export type FakeScript = (req: ChatRequestInfo) => FakeAction | undefined;

export interface LoggedRequest {
  method: string;
  path: string;
  /** The raw request text, headers included, so tests can check what crossed the wire. */
  headers: http.IncomingHttpHeaders;
  /** The query string without "?" ('' when none). */
  query: string;
  body: string;
  status: number | 'dropped' | 'hang';
  at: number;
}

export interface RouteContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  body: Buffer;
  params: Record<string, string>;
  query: URLSearchParams;
  server: FakeOpenAIServer;
  /** Records the outcome in the request log. */
  log: (status: LoggedRequest['status']) => void;
}

export type RouteHandler = (ctx: RouteContext) => void | Promise<void>;

export interface FakeServerOptions {
  port?: number;
  /** Default latency of every chat completion, in ms. */
  latencyMs?: number;
  /** Model snapshot reported in answers. */
  model?: string;
  fingerprint?: string;
  /** How many candidates a default answer names. */
  topN?: number;
  /** Which candidates a default answer names (see FakePicks); default 'first-listed'. */
  picks?: FakePicks;
  script?: FakeScript;
  /** Model ids listed by GET /v1/models. */
  models?: string[];
  /** Batch API behaviour (see FakeBatchBehavior). */
  batch?: FakeBatchBehavior;
  reasoning?: FakeReasoningMode;
  /** GET /v1/models answers this status with an error body instead of the list (gateways without /models: 404, 501). */
  modelsStatus?: number;
}

export interface FakeReasoningMode {
  /** Which model names the server treats as reasoning models. */
  isReasoningModel: (model: string) => boolean;
  /** Hidden reasoning tokens reported per answer (default 120), or a function of the request. */
  reasoningTokens?: number | ((body: ChatBody) => number);
}

/** OpenAI's error bodies for reasoning models, as the API returns them. */
export const REASONING_ERRORS = {
  maxTokens: {
    error: {
      message:
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      type: 'invalid_request_error',
      param: 'max_tokens',
      code: 'unsupported_parameter',
    },
  },
  temperature: (value: unknown) => ({
    error: {
      message: `Unsupported value: 'temperature' does not support ${JSON.stringify(value)} with this model. Only the default (1) value is supported.`,
      type: 'invalid_request_error',
      param: 'temperature',
      code: 'unsupported_value',
    },
  }),
};

export function sendJson(
  res: http.ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

// ---------- reading the prompt ----------

/** All Python list-of-string literals in a text (single- or double-quoted items, backslash escapes). */
export function findPythonLists(text: string): string[][] {
  const lists: string[][] = [];
  let i = 0;
  while ((i = text.indexOf('[', i)) !== -1) {
    const parsed = parseListAt(text, i);
    if (parsed) {
      lists.push(parsed.items);
      i = parsed.end;
    } else i++;
  }
  return lists;
}

function parseListAt(text: string, start: number): { items: string[]; end: number } | null {
  let i = start + 1;
  const items: string[] = [];
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  skipSpace();
  if (text[i] === ']') return { items, end: i + 1 };
  for (;;) {
    skipSpace();
    const q = text[i];
    if (q !== "'" && q !== '"') return null;
    i++;
    let s = '';
    for (;;) {
      if (i >= text.length) return null;
      const ch = text[i];
      if (ch === q) {
        i++;
        break;
      }
      if (ch === '\\') {
        const nx = text[i + 1];
        const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"' };
        if (nx in simple) {
          s += simple[nx];
          i += 2;
        } else if (nx === 'x' || nx === 'u' || nx === 'U') {
          const len = nx === 'x' ? 2 : nx === 'u' ? 4 : 8;
          s += String.fromCodePoint(parseInt(text.slice(i + 2, i + 2 + len), 16));
          i += 2 + len;
        } else {
          s += ch;
          i++;
        }
        continue;
      }
      s += ch;
      i++;
    }
    items.push(s);
    skipSpace();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === ']') return { items, end: i + 1 };
    return null;
  }
}

/** The candidate names of a prompt: the list after "Candidates:", else the last list in the last user message. */
export function candidatesOf(body: ChatBody): string[] {
  const user = [...body.messages].reverse().find((m) => m.role === 'user');
  if (!user) return [];
  const marker = user.content.lastIndexOf('Candidates:');
  const lists = findPythonLists(marker >= 0 ? user.content.slice(marker) : user.content);
  return lists.length ? lists[lists.length - 1] : [];
}

/** A JSON array is also a Python list with double-quoted strings, as the prompt's rules ask. */
export function pythonStyleList(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
}

function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

// ---------- the server ----------

interface Route {
  method: string;
  parts: string[];
  handler: RouteHandler;
}

export class FakeOpenAIServer {
  readonly log: LoggedRequest[] = [];
  script: FakeScript | undefined;
  latencyMs: number;
  model: string;
  fingerprint: string;
  topN: number;
  picks: FakePicks;
  models: string[];
  modelsStatus: number | undefined;
  private chatCount = 0;
  private readonly attemptsByBody = new Map<string, number>();
  private readonly routes: Route[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly files = new Map<string, FakeFile>();
  private readonly batches = new Map<string, FakeBatch>();
  private fileCount = 0;
  private batchCount = 0;
  private createAttempts = 0;
  /** How batches progress and answer; tests may replace it at any time. */
  batch: FakeBatchBehavior;
  /** Reasoning-model rules (see the header); tests may set or clear it at any time. */
  reasoning: FakeReasoningMode | undefined;
  private server!: http.Server;
  port = 0;

  private constructor(opts: FakeServerOptions) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.model = opts.model ?? 'fake-model-2024-01-01';
    this.fingerprint = opts.fingerprint ?? 'fp_fake0001';
    this.topN = opts.topN ?? 10;
    this.picks = opts.picks ?? 'first-listed';
    this.script = opts.script;
    this.models = opts.models ?? [];
    this.modelsStatus = opts.modelsStatus;
    this.batch = opts.batch ?? {};
    this.reasoning = opts.reasoning;
    this.route('POST', '/v1/chat/completions', (ctx) => this.chat(ctx));
    this.route('POST', '/openai/deployments/:deployment/chat/completions', (ctx) => {
      if (!ctx.query.get('api-version')) {
        ctx.log(404);
        return sendJson(ctx.res, 404, { error: { code: '404', message: 'Resource not found' } });
      }
      if (!ctx.req.headers['api-key']) {
        ctx.log(401);
        return sendJson(ctx.res, 401, {
          error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' },
        });
      }
      return this.chat(ctx);
    });
    this.installBatchRoutes();
    this.route('GET', '/v1/models', (ctx) => {
      if (this.modelsStatus !== undefined) {
        ctx.log(this.modelsStatus);
        return sendJson(ctx.res, this.modelsStatus, {
          error: { message: `fake: /models answers ${this.modelsStatus}`, type: 'invalid_request_error' },
        });
      }
      const ids = this.models.length ? this.models : [this.model];
      ctx.log(200);
      sendJson(ctx.res, 200, {
        object: 'list',
        data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
      });
    });
    this.route('GET', '/__fake/stats', (ctx) => sendJson(ctx.res, 200, this.stats()));
    // Lets a benchmark or test driving a standalone server change its latency or reset its counters.
    this.route('POST', '/__fake/config', (ctx) => {
      const body = JSON.parse(ctx.body.toString('utf8') || '{}') as { latencyMs?: number; reset?: boolean };
      if (typeof body.latencyMs === 'number') this.latencyMs = body.latencyMs;
      if (body.reset) this.reset();
      sendJson(ctx.res, 200, { latencyMs: this.latencyMs });
    });
  }

  static async start(opts: FakeServerOptions = {}): Promise<FakeOpenAIServer> {
    const s = new FakeOpenAIServer(opts);
    s.server = http.createServer((req, res) => void s.dispatch(req, res));
    s.server.keepAliveTimeout = 30_000;
    s.server.on('connection', (sock) => {
      s.sockets.add(sock);
      sock.on('close', () => s.sockets.delete(sock));
    });
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    s.port = (s.server.address() as AddressInfo).port;
    return s;
  }

  /** The base URL clients use (with /v1). */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Adds (or, for the same method and pattern, replaces) a route. Pattern segments starting with ":" are parameters. */
  route(method: string, pattern: string, handler: RouteHandler): void {
    const parts = pattern.split('/').filter(Boolean);
    const i = this.routes.findIndex((r) => r.method === method && r.parts.join('/') === parts.join('/'));
    const route = { method, parts, handler };
    if (i >= 0) this.routes[i] = route;
    else this.routes.push(route);
  }

  /** Requests received on a path (all paths when omitted), dropped and failed ones included. */
  requestCount(path?: string): number {
    return path === undefined ? this.log.length : this.log.filter((r) => r.path === path).length;
  }

  get chatRequests(): number {
    return this.requestCount('/v1/chat/completions');
  }

  stats(): { requests: number; chat: number; byStatus: Record<string, number> } {
    const byStatus: Record<string, number> = {};
    const chat = this.log.filter((r) => r.path === '/v1/chat/completions');
    for (const r of chat) byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
    return { requests: this.log.length, chat: chat.length, byStatus };
  }

  reset(): void {
    this.log.length = 0;
    this.chatCount = 0;
    this.attemptsByBody.clear();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const pathParts = url.pathname.split('/').filter(Boolean);
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      headers: req.headers,
      query: url.search.replace(/^\?/, ''),
      body: body.toString('utf8'),
      status: 0,
      at: Date.now(),
    };
    if (!url.pathname.startsWith('/__fake/')) this.log.push(entry);
    const logStatus = (status: LoggedRequest['status']) => {
      entry.status = status;
    };
    for (const r of this.routes) {
      if (r.method !== req.method || r.parts.length !== pathParts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let k = 0; k < r.parts.length; k++) {
        if (r.parts[k].startsWith(':')) params[r.parts[k].slice(1)] = decodeURIComponent(pathParts[k]);
        else if (r.parts[k] !== pathParts[k]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      try {
        await r.handler({ req, res, body, params, query: url.searchParams, server: this, log: logStatus });
        if (entry.status === 0 && res.headersSent) entry.status = res.statusCode;
      } catch (e) {
        logStatus(500);
        if (!res.headersSent)
          sendJson(res, 500, { error: { message: `fake server: ${(e as Error).message}`, type: 'server_error' } });
      }
      return;
    }
    logStatus(404);
    sendJson(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: 'invalid_request_error' } });
  }

  /** The default completion text for a request: its first topN candidates as a list. */
  defaultAnswer(body: ChatBody, choice = 0): string {
    const listed = candidatesOf(body);
    if (this.picks === 'first-listed') return pythonStyleList(listed.slice(0, this.topN));
    // Choice i > 0 of a request with `n` is another draw (choice 0 is the answer of the same request without `n`).
    const rank = (name: string) =>
      createHash('sha256')
        .update(`${name}\u0000${body.seed ?? ''}${choice ? `\u0000${choice}` : ''}`)
        .digest('hex');
    const ranked = listed.map((name) => ({ name, r: rank(name) })).sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0));
    return pythonStyleList(ranked.slice(0, this.topN).map((x) => x.name));
  }

  private async chat(ctx: RouteContext): Promise<void> {
    let body: ChatBody;
    try {
      body = JSON.parse(ctx.body.toString('utf8')) as ChatBody;
      if (!Array.isArray(body.messages)) throw new Error('"messages" must be an array');
    } catch (e) {
      ctx.log(400);
      sendJson(ctx.res, 400, {
        error: { message: `invalid body: ${(e as Error).message}`, type: 'invalid_request_error' },
      });
      return;
    }
    const rejection = this.reasoningRejection(body);
    if (rejection) {
      ctx.log(400);
      sendJson(ctx.res, 400, rejection);
      return;
    }
    const n = ++this.chatCount;
    const bodyHash = createHash('sha256').update(ctx.body).digest('hex');
    const attempt = (this.attemptsByBody.get(bodyHash) ?? 0) + 1;
    this.attemptsByBody.set(bodyHash, attempt);
    const action: FakeAction = this.script?.({ n, attempt, body, headers: ctx.req.headers }) ?? { kind: 'answer' };
    if (action.kind === 'hang') {
      ctx.log('hang');
      return;
    }
    await delay(action.latencyMs ?? this.latencyMs);
    if (action.kind === 'drop') {
      ctx.log('dropped');
      ctx.req.socket.destroy();
      return;
    }
    if (action.kind === 'garbage') {
      ctx.log(200);
      ctx.res.writeHead(200, { 'content-type': 'application/json' });
      ctx.res.end('{"id": "chatcmpl-broken", "choices": [');
      return;
    }
    if (action.kind === 'html') {
      ctx.log(200);
      const page =
        action.page ??
        '<!DOCTYPE html><html><head><title>Gateway</title></head><body><h1>Please sign in to continue</h1></body></html>';
      ctx.res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      ctx.res.end(page);
      return;
    }
    if (action.kind === 'empty-choices') {
      ctx.log(200);
      const usage = action.usage ?? { prompt_tokens: 100, completion_tokens: 20 };
      sendJson(ctx.res, 200, {
        id: `chatcmpl-empty-${n}`,
        object: 'chat.completion',
        created: 0,
        model: this.model,
        choices: [],
        usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
      });
      return;
    }
    if (action.kind === 'error') {
      ctx.log(action.status);
      const type =
        action.status === 429 ? 'rate_limit_exceeded' : action.status >= 500 ? 'server_error' : 'invalid_request_error';
      sendJson(
        ctx.res,
        action.status,
        { error: { message: action.message ?? `fake error ${action.status}`, type, code: null } },
        action.headers,
      );
      return;
    }
    ctx.log(200);
    sendJson(ctx.res, 200, this.completion(body, `chatcmpl-fake-${n}`, action));
  }

  /** OpenAI's 400 body when `body` breaks the reasoning-model rules for its model (max_tokens first, as OpenAI checks). */
  reasoningRejection(body: ChatBody): Record<string, unknown> | undefined {
    if (!this.reasoning?.isReasoningModel(body.model)) return undefined;
    if ('max_tokens' in body) return REASONING_ERRORS.maxTokens;
    if ('temperature' in body && body.temperature !== 1) return REASONING_ERRORS.temperature(body.temperature);
    return undefined;
  }

  /** Reasoning tokens an answer to `body` reports (0 for other models). */
  reasoningTokensFor(body: ChatBody): number {
    if (!this.reasoning?.isReasoningModel(body.model)) return 0;
    const r = this.reasoning.reasoningTokens ?? 120;
    return typeof r === 'function' ? r(body) : r;
  }

  /** A chat.completion object answering `body` (the default text names its first topN candidates). */
  completion(
    body: ChatBody,
    id: string,
    action: {
      text?: string;
      topLogprobs?: { token: string; logprob: number }[];
      content?: null;
      finishReason?: string;
      texts?: string[];
      choices?: number;
      model?: string;
      fingerprint?: string | null;
      usage?: { prompt_tokens: number; completion_tokens: number };
    } = {},
  ): Record<string, unknown> {
    const text = action.content === null ? '' : (action.text ?? this.defaultAnswer(body));
    const finish = action.finishReason ?? (action.content === null ? 'content_filter' : 'stop');
    const promptText = body.messages.map((m) => m.content).join('\n');
    const reasoning = this.reasoningTokensFor(body);
    // As OpenAI: `n` choices, each a draw, their output tokens summed in the usage (the prompt counted once).
    const asked = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
    const extraTexts = Array.from(
      { length: Math.min(asked, action.choices ?? asked) - 1 },
      (_, i) => action.texts?.[i + 1] ?? this.defaultAnswer(body, i + 1),
    );
    const visible = {
      prompt_tokens: roughTokens(promptText),
      completion_tokens: [action.texts?.[0] ?? text, ...extraTexts].reduce((n, t) => n + roughTokens(t), 0),
    };
    // As OpenAI: completion_tokens counts the hidden reasoning tokens too; the details say how many they were.
    const usage = action.usage ?? { ...visible, completion_tokens: visible.completion_tokens + reasoning };
    const details =
      reasoning > 0
        ? {
            completion_tokens_details: {
              reasoning_tokens: reasoning,
              accepted_prediction_tokens: 0,
              rejected_prediction_tokens: 0,
            },
          }
        : {};
    return {
      id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: action.model ?? this.model,
      system_fingerprint: action.fingerprint === undefined ? this.fingerprint : action.fingerprint,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: action.content === null ? null : (action.texts?.[0] ?? text),
            refusal: null,
          },
          logprobs: action.topLogprobs
            ? {
                content: [
                  {
                    token: action.topLogprobs[0]?.token ?? text,
                    logprob: action.topLogprobs[0]?.logprob ?? 0,
                    bytes: null,
                    top_logprobs: action.topLogprobs.map((t) => ({ ...t, bytes: null })),
                  },
                ],
                refusal: null,
              }
            : null,
          finish_reason: finish,
        },
        ...extraTexts.map((t, i) => ({
          index: i + 1,
          message: { role: 'assistant', content: t, refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        })),
      ],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens, ...details },
    };
  }

  // ---------- Batch API: /v1/files and /v1/batches ----------

  /** Requests received for a method and route pattern ("/v1/batches/:id"), failed ones included. */
  routeCount(method: string, pattern: string): number {
    const parts = pattern.split('/').filter(Boolean);
    return this.log.filter((r) => {
      if (r.method !== method) return false;
      const got = r.path.split('/').filter(Boolean);
      return got.length === parts.length && parts.every((p, i) => p.startsWith(':') || p === got[i]);
    }).length;
  }

  /** Forgets every file and batch (the request log is cleared by reset()). */
  clearBatches(): void {
    this.files.clear();
    this.batches.clear();
    this.fileCount = 0;
    this.batchCount = 0;
    this.createAttempts = 0;
  }

  /** The stored bytes of a file (uploads and outputs), for tests. */
  fileText(id: string): string | undefined {
    return this.files.get(id)?.bytes.toString('utf8');
  }

  /** The batch objects as the API would return them, oldest first. */
  listBatches(): FakeBatchObject[] {
    return [...this.batches.values()].map((b) => b.obj);
  }

  private addFile(purpose: string, filename: string, bytes: Buffer): FakeFile {
    const file: FakeFile = {
      id: `file-fake${String(++this.fileCount).padStart(4, '0')}`,
      purpose,
      filename,
      bytes,
      created_at: Math.floor(Date.now() / 1000),
    };
    this.files.set(file.id, file);
    return file;
  }

  private fileObject(f: FakeFile): Record<string, unknown> {
    return {
      id: f.id,
      object: 'file',
      bytes: f.bytes.length,
      created_at: f.created_at,
      filename: f.filename,
      purpose: f.purpose,
      status: 'processed',
    };
  }

  private installBatchRoutes(): void {
    this.route('POST', '/v1/files', async (ctx) => {
      const type = ctx.req.headers['content-type'] ?? '';
      if (!type.startsWith('multipart/form-data')) {
        sendJson(ctx.res, 400, { error: { message: 'expected multipart/form-data', type: 'invalid_request_error' } });
        return;
      }
      const form = await new Response(ctx.body, { headers: { 'content-type': type } }).formData();
      const purpose = form.get('purpose');
      const file = form.get('file');
      if (typeof purpose !== 'string' || file === null || typeof file === 'string') {
        sendJson(ctx.res, 400, {
          error: { message: 'fields "file" and "purpose" are required', type: 'invalid_request_error' },
        });
        return;
      }
      const stored = this.addFile(purpose, file.name, Buffer.from(await file.arrayBuffer()));
      sendJson(ctx.res, 200, this.fileObject(stored));
    });
    this.route('GET', '/v1/files/:id', (ctx) => {
      const f = this.files.get(ctx.params.id);
      if (!f)
        return sendJson(ctx.res, 404, {
          error: { message: `no file ${ctx.params.id}`, type: 'invalid_request_error' },
        });
      sendJson(ctx.res, 200, this.fileObject(f));
    });
    this.route('GET', '/v1/files/:id/content', (ctx) => {
      const f = this.files.get(ctx.params.id);
      if (!f)
        return sendJson(ctx.res, 404, {
          error: { message: `no file ${ctx.params.id}`, type: 'invalid_request_error' },
        });
      ctx.res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.bytes.length });
      ctx.res.end(f.bytes);
    });
    this.route('POST', '/v1/batches', (ctx) => {
      const req = JSON.parse(ctx.body.toString('utf8') || '{}') as {
        input_file_id?: string;
        endpoint?: string;
        completion_window?: string;
        metadata?: Record<string, string>;
      };
      const input = req.input_file_id ? this.files.get(req.input_file_id) : undefined;
      if (!input)
        return sendJson(ctx.res, 400, {
          error: { message: `input_file_id ${req.input_file_id} not found`, type: 'invalid_request_error' },
        });
      if (input.purpose !== 'batch')
        return sendJson(ctx.res, 400, {
          error: {
            message: `file ${input.id} has purpose ${input.purpose}, expected batch`,
            type: 'invalid_request_error',
          },
        });
      if (req.endpoint !== '/v1/chat/completions' || req.completion_window !== '24h') {
        return sendJson(ctx.res, 400, {
          error: {
            message: 'endpoint must be /v1/chat/completions and completion_window 24h',
            type: 'invalid_request_error',
          },
        });
      }
      const refusal = this.batch.failCreate?.(++this.createAttempts);
      if (refusal) {
        const type =
          refusal.status === 429
            ? 'rate_limit_exceeded'
            : refusal.status >= 500
              ? 'server_error'
              : 'invalid_request_error';
        return sendJson(ctx.res, refusal.status, {
          error: { message: refusal.message ?? `fake error ${refusal.status}`, type, code: null },
        });
      }
      const n = ++this.batchCount;
      const { lines, errors } = parseBatchInput(input.bytes.toString('utf8'), req.endpoint);
      const obj: FakeBatchObject = {
        id: `batch_fake${String(n).padStart(4, '0')}`,
        object: 'batch',
        endpoint: req.endpoint,
        errors: null,
        input_file_id: input.id,
        completion_window: '24h',
        status: 'validating',
        output_file_id: null,
        error_file_id: null,
        created_at: Math.floor(Date.now() / 1000),
        expires_at: Math.floor(Date.now() / 1000) + 86400,
        request_counts: { total: lines.length, completed: 0, failed: 0 },
        metadata: req.metadata ?? null,
      };
      this.batches.set(obj.id, { obj, lines, errors, retrieves: 0, createdMs: Date.now(), cancelRequested: false });
      if (this.batch.dropCreateResponse?.(n)) {
        // The batch exists, but the client never hears of it: what a crash or a reset connection right after creation looks like.
        ctx.log('dropped');
        ctx.req.socket.destroy();
        return;
      }
      sendJson(ctx.res, 200, obj);
    });
    this.route('GET', '/v1/batches', (ctx) => {
      const newestFirst = [...this.batches.values()].map((b) => b.obj).reverse();
      const after = ctx.query.get('after');
      const start = after ? newestFirst.findIndex((b) => b.id === after) + 1 : 0;
      const limit = Math.max(1, Math.min(100, Number(ctx.query.get('limit') ?? 20)));
      const page = newestFirst.slice(start, start + limit);
      sendJson(ctx.res, 200, {
        object: 'list',
        data: page,
        first_id: page[0]?.id ?? null,
        last_id: page.at(-1)?.id ?? null,
        has_more: start + limit < newestFirst.length,
      });
    });
    this.route('GET', '/v1/batches/:id', (ctx) => {
      const b = this.batches.get(ctx.params.id);
      if (!b)
        return sendJson(ctx.res, 404, {
          error: { message: `no batch ${ctx.params.id}`, type: 'invalid_request_error' },
        });
      this.advance(b);
      sendJson(ctx.res, 200, b.obj);
    });
    this.route('POST', '/v1/batches/:id/cancel', (ctx) => {
      const b = this.batches.get(ctx.params.id);
      if (!b)
        return sendJson(ctx.res, 404, {
          error: { message: `no batch ${ctx.params.id}`, type: 'invalid_request_error' },
        });
      if (!TERMINAL.has(b.obj.status)) {
        b.cancelRequested = true;
        b.obj.status = 'cancelling';
        b.obj.cancelling_at = Math.floor(Date.now() / 1000);
      }
      sendJson(ctx.res, 200, b.obj);
    });
  }

  /** Moves a batch along at each retrieve: validating → in_progress (counts growing) → its final status. */
  private advance(b: FakeBatch): void {
    if (TERMINAL.has(b.obj.status)) return;
    b.retrieves++;
    const polls = this.batch.pollsToFinish ?? (this.batch.finishAfterMs === undefined ? 1 : 0);
    const pollsDone = b.retrieves > polls;
    const timeDone = this.batch.finishAfterMs === undefined || Date.now() - b.createdMs >= this.batch.finishAfterMs;
    const final =
      pollsDone && timeDone
        ? typeof this.batch.finalStatus === 'function'
          ? this.batch.finalStatus(b.obj)
          : (this.batch.finalStatus ?? 'completed')
        : null;
    if (final === 'failed') b.errors.push({ code: 'fake_failure', line: null, message: 'the batch failed (scripted)' });
    if (b.errors.length) {
      b.obj.status = 'failed';
      b.obj.failed_at = Math.floor(Date.now() / 1000);
      b.obj.errors = { object: 'list', data: b.errors };
      b.obj.request_counts = { total: 0, completed: 0, failed: 0 };
      return;
    }
    if (b.cancelRequested) return this.finish(b, 'cancelled');
    if (final === 'completed' || final === 'expired') return this.finish(b, final);
    b.obj.status = 'in_progress';
    b.obj.in_progress_at ??= Math.floor(Date.now() / 1000);
    const total = b.lines.length;
    b.obj.request_counts = {
      total,
      completed: Math.min(total, Math.floor((total * b.retrieves) / (polls + 2))),
      failed: 0,
    };
  }

  private finish(b: FakeBatch, status: 'completed' | 'expired' | 'cancelled'): void {
    const stopped = status !== 'completed';
    const ran = stopped ? (this.batch.processedBeforeStop ?? Math.floor(b.lines.length / 2)) : b.lines.length;
    const out: string[] = [];
    const errs: string[] = [];
    let completed = 0;
    let failed = 0;
    b.lines.forEach((line, index) => {
      const reqId = `batch_req_${b.obj.id}_${index}`;
      const action: BatchLineAction = this.batch.line?.({
        batchId: b.obj.id,
        index,
        customId: line.custom_id,
        body: line.body,
      }) ?? { kind: 'answer' };
      if (action.kind === 'unprocessed' || index >= ran) {
        if (!stopped) return; // a completed batch that silently lost a line: the client must notice the missing result
        failed++;
        const code = status === 'expired' ? 'batch_expired' : 'batch_cancelled';
        errs.push(
          JSON.stringify({
            id: reqId,
            custom_id: line.custom_id,
            response: null,
            error: { code, message: `This request could not be executed before the batch was ${status}.` },
          }),
        );
        return;
      }
      const rejection = action.kind === 'answer' ? this.reasoningRejection(line.body) : undefined;
      if (rejection) {
        failed++;
        out.push(
          JSON.stringify({
            id: reqId,
            custom_id: line.custom_id,
            response: { status_code: 400, request_id: `req_${index}`, body: rejection },
            error: null,
          }),
        );
      } else if (action.kind === 'answer') {
        completed++;
        out.push(
          JSON.stringify({
            id: reqId,
            custom_id: line.custom_id,
            response: {
              status_code: 200,
              request_id: `req_${index}`,
              body: this.completion(line.body, `chatcmpl-batch-${index}`, action),
            },
            error: null,
          }),
        );
      } else if (action.kind === 'status') {
        failed++;
        const body = {
          error: {
            message: action.message ?? `fake error ${action.status}`,
            type: 'invalid_request_error',
            code: action.code ?? null,
          },
        };
        out.push(
          JSON.stringify({
            id: reqId,
            custom_id: line.custom_id,
            response: { status_code: action.status, request_id: `req_${index}`, body },
            error: null,
          }),
        );
      } else {
        failed++;
        errs.push(
          JSON.stringify({
            id: reqId,
            custom_id: line.custom_id,
            response: null,
            error: { code: action.code ?? 'server_error', message: action.message ?? 'fake batch error' },
          }),
        );
      }
    });
    const now = Math.floor(Date.now() / 1000);
    if (out.length)
      b.obj.output_file_id = this.addFile(
        'batch_output',
        `${b.obj.id}_output.jsonl`,
        Buffer.from(`${out.join('\n')}\n`),
      ).id;
    if (errs.length)
      b.obj.error_file_id = this.addFile(
        'batch_output',
        `${b.obj.id}_error.jsonl`,
        Buffer.from(`${errs.join('\n')}\n`),
      ).id;
    b.obj.status = status;
    b.obj.finalizing_at = now;
    b.obj[`${status}_at`] = now;
    b.obj.request_counts = { total: b.lines.length, completed, failed };
  }
}

const TERMINAL = new Set(['completed', 'expired', 'cancelled', 'failed']);

export interface FakeFile {
  id: string;
  purpose: string;
  filename: string;
  bytes: Buffer;
  created_at: number;
}

/** A batch as the API returns it (the fields the client reads, plus timestamps). */
export interface FakeBatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  status: string;
  input_file_id: string;
  output_file_id: string | null;
  error_file_id: string | null;
  completion_window: string;
  created_at: number;
  expires_at: number;
  request_counts: { total: number; completed: number; failed: number };
  errors: { object: string; data: { code: string; line: number | null; message: string }[] } | null;
  metadata: Record<string, string> | null;
  [timestamp: string]: unknown;
}

interface FakeBatch {
  obj: FakeBatchObject;
  lines: { custom_id: string; body: ChatBody }[];
  errors: { code: string; line: number | null; message: string }[];
  retrieves: number;
  createdMs: number;
  cancelRequested: boolean;
}

export interface BatchLineInfo {
  batchId: string;
  /** 0-based line of the input file. */
  index: number;
  customId: string;
  body: ChatBody;
}

export type BatchLineAction =
  /** A 200 response in the output file, as a synchronous answer (text defaults to the first topN candidates). */
  | ({ kind: 'answer' } & Omit<Extract<FakeAction, { kind: 'answer' }>, 'kind' | 'latencyMs'>)
  /** A non-200 response in the output file. */
  | { kind: 'status'; status: number; code?: string; message?: string }
  /** A line in the error file. */
  | { kind: 'error'; code?: string; message?: string }
  /** Not run: in the error file as expired/cancelled when the batch stops early, absent altogether from a completed batch. */
  | { kind: 'unprocessed' };

export interface FakeBatchBehavior {
  /** Retrieves that still see the batch running (default 1: the first retrieve says in_progress, the second finishes it). */
  pollsToFinish?: number;
  /** Milliseconds after creation before the batch may finish (combined with pollsToFinish when both are set). */
  finishAfterMs?: number;
  /** How a batch ends (default completed); "failed" ends it without output, with an error in `errors`. */
  finalStatus?: 'completed' | 'expired' | 'failed' | ((batch: FakeBatchObject) => 'completed' | 'expired' | 'failed');
  /** For an expired or cancelled batch: how many lines ran before it stopped (default half). */
  processedBeforeStop?: number;
  /** Per request line: how it is answered (default a 200 answer). */
  line?: (info: BatchLineInfo) => BatchLineAction | undefined;
  /** Create the nth batch (1-based) but drop the connection instead of answering. */
  dropCreateResponse?: (n: number) => boolean;
  /** Refuse the nth create request (1-based, counting refused ones) with this status and message; no batch is created. */
  failCreate?: (n: number) => { status: number; message?: string } | undefined;
}

/** Reads a batch input file; problems are reported the way the API does (errors with line numbers). */
function parseBatchInput(
  text: string,
  endpoint: string,
): {
  lines: { custom_id: string; body: ChatBody }[];
  errors: { code: string; line: number | null; message: string }[];
} {
  const lines: { custom_id: string; body: ChatBody }[] = [];
  const errors: { code: string; line: number | null; message: string }[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    const line = i + 1;
    let rec: { custom_id?: unknown; method?: unknown; url?: unknown; body?: ChatBody };
    try {
      rec = JSON.parse(raw);
    } catch {
      errors.push({ code: 'invalid_json_line', line, message: 'not valid JSON' });
      return;
    }
    if (typeof rec.custom_id !== 'string' || rec.custom_id === '')
      errors.push({ code: 'missing_required_parameter', line, message: 'custom_id is required' });
    else if (seen.has(rec.custom_id))
      errors.push({ code: 'duplicate_custom_id', line, message: `duplicate custom_id ${rec.custom_id}` });
    else if (rec.method !== 'POST' || rec.url !== endpoint)
      errors.push({ code: 'invalid_url', line, message: `method must be POST and url ${endpoint}` });
    else if (!rec.body || !Array.isArray(rec.body.messages) || typeof rec.body.model !== 'string')
      errors.push({ code: 'invalid_body', line, message: 'body needs model and messages' });
    else {
      seen.add(rec.custom_id);
      lines.push({ custom_id: rec.custom_id, body: rec.body });
    }
  });
  if (lines.length + errors.length > 50_000)
    errors.push({ code: 'too_many_requests', line: null, message: 'a batch holds at most 50,000 requests' });
  return { lines, errors };
}

// ---------- standalone ----------

/** Misbehaviours a standalone server can be started in, for trying a run against a broken server by hand. */
const MODES: Record<string, FakeScript> = {
  hang: () => ({ kind: 'hang' }),
  '401': () => ({ kind: 'error', status: 401, message: 'Incorrect API key provided' }),
  html: () => ({ kind: 'html' }),
  'empty-choices': () => ({ kind: 'empty-choices' }),
  length: () => ({ kind: 'answer', finishReason: 'length' }),
  'content-null': () => ({ kind: 'answer', content: null }),
};

function standaloneMode(name: string): FakeScript {
  const script = MODES[name];
  if (!script) throw new Error(`unknown --mode ${name} (modes: ${Object.keys(MODES).join(', ')})`);
  return script;
}

function parseArgs(argv: string[]): FakeServerOptions {
  const opts: FakeServerOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port') opts.port = Number(next());
    else if (a === '--latency-ms') opts.latencyMs = Number(next());
    else if (a === '--model') opts.model = next();
    else if (a === '--top-n') opts.topN = Number(next());
    else if (a === '--mode') opts.script = standaloneMode(next());
    else if (a === '--models-status') opts.modelsStatus = Number(next());
    else
      throw new Error(
        `unknown argument ${a} (known: --port N --latency-ms MS --model NAME --top-n N --mode ${Object.keys(MODES).join('|')} --models-status S)`,
      );
  }
  return opts;
}

if (require.main === module) {
  FakeOpenAIServer.start(parseArgs(process.argv.slice(2)))
    .then((s) => {
      process.stdout.write(`listening on ${s.url}\n`);
      const stop = () => void s.close().then(() => process.exit(0));
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    })
    .catch((e) => {
      process.stderr.write(`fake-openai-server: ${(e as Error).message}\n`);
      process.exit(1);
    });
}
