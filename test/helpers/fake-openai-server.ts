/**
 * A local OpenAI-compatible server for tests and benchmarks: real HTTP on 127.0.0.1, scriptable per request.
 *
 * Chat completions answer by default with the first N candidate names of the prompt (the last Python list in the last
 * user message), so parsing works end to end. A script can make any request answer malformed text, fail with a status
 * (429 with retry-after, 500 …), be slow, hang, or drop the connection. Every request is counted and logged.
 *
 * Routes live in a table (`server.route(method, pattern, handler)`, patterns like "/v1/batches/:id"), so the Batch API
 * endpoints (/v1/files, /v1/batches) can be added without touching the chat route.
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
  /** A completion; `text` defaults to the picked candidates as a Python-style list. */
  | { kind: 'answer'; text?: string; latencyMs?: number; model?: string; fingerprint?: string | null; usage?: { prompt_tokens: number; completion_tokens: number } }
  /** An error status with an OpenAI-style error body. */
  | { kind: 'error'; status: number; headers?: Record<string, string>; message?: string; latencyMs?: number }
  /** HTTP 200 with a body that is not JSON. */
  | { kind: 'garbage'; latencyMs?: number }
  /** Destroy the socket without answering (a connection reset). */
  | { kind: 'drop'; latencyMs?: number }
  /** Never answer (until the client gives up or the server closes). */
  | { kind: 'hang' };

export type FakeScript = (req: ChatRequestInfo) => FakeAction | undefined;

export interface LoggedRequest {
  method: string;
  path: string;
  /** The raw request text, headers included, so tests can check what crossed the wire. */
  headers: http.IncomingHttpHeaders;
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
  script?: FakeScript;
  /** Model ids listed by GET /v1/models. */
  models?: string[];
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
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
  models: string[];
  private chatCount = 0;
  private readonly attemptsByBody = new Map<string, number>();
  private readonly routes: Route[] = [];
  private readonly sockets = new Set<Socket>();
  private server!: http.Server;
  port = 0;

  private constructor(opts: FakeServerOptions) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.model = opts.model ?? 'fake-model-2024-01-01';
    this.fingerprint = opts.fingerprint ?? 'fp_fake0001';
    this.topN = opts.topN ?? 10;
    this.script = opts.script;
    this.models = opts.models ?? [];
    this.route('POST', '/v1/chat/completions', (ctx) => this.chat(ctx));
    this.route('GET', '/v1/models', (ctx) => {
      const ids = this.models.length ? this.models : [this.model];
      ctx.log(200);
      sendJson(ctx.res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) });
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
    const entry: LoggedRequest = { method: req.method ?? 'GET', path: url.pathname, headers: req.headers, body: body.toString('utf8'), status: 0, at: Date.now() };
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
        if (!res.headersSent) sendJson(res, 500, { error: { message: `fake server: ${(e as Error).message}`, type: 'server_error' } });
      }
      return;
    }
    logStatus(404);
    sendJson(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: 'invalid_request_error' } });
  }

  /** The default completion text for a request: its first topN candidates as a list. */
  defaultAnswer(body: ChatBody): string {
    return pythonStyleList(candidatesOf(body).slice(0, this.topN));
  }

  private async chat(ctx: RouteContext): Promise<void> {
    let body: ChatBody;
    try {
      body = JSON.parse(ctx.body.toString('utf8')) as ChatBody;
      if (!Array.isArray(body.messages)) throw new Error('"messages" must be an array');
    } catch (e) {
      ctx.log(400);
      sendJson(ctx.res, 400, { error: { message: `invalid body: ${(e as Error).message}`, type: 'invalid_request_error' } });
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
    if (action.kind === 'error') {
      ctx.log(action.status);
      const type = action.status === 429 ? 'rate_limit_exceeded' : action.status >= 500 ? 'server_error' : 'invalid_request_error';
      sendJson(ctx.res, action.status, { error: { message: action.message ?? `fake error ${action.status}`, type, code: null } }, action.headers);
      return;
    }
    const text = action.text ?? this.defaultAnswer(body);
    const promptText = body.messages.map((m) => m.content).join('\n');
    ctx.log(200);
    sendJson(ctx.res, 200, {
      id: `chatcmpl-fake-${n}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: action.model ?? this.model,
      system_fingerprint: action.fingerprint === undefined ? this.fingerprint : action.fingerprint,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: action.usage ?? { prompt_tokens: roughTokens(promptText), completion_tokens: roughTokens(text), total_tokens: roughTokens(promptText) + roughTokens(text) },
    });
  }
}

// ---------- standalone ----------

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
    else throw new Error(`unknown argument ${a} (known: --port N --latency-ms MS --model NAME --top-n N)`);
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
