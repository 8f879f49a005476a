/**
 * OpenAI Batch API mode for the query stage: the same requests at batch prices, with the same store and resume
 * guarantees as synchronous requests.
 *
 * Every prompt without a stored answer becomes one line of a request JSONL (`custom_id` = its store key, `body` = the
 * exact synchronous request body, so the key is the same), which is uploaded and turned into a batch. Before and after
 * the batch is created a line is fsync'd to the model's batch ledger (`<paths.store>/batches/<provider>--<model>.jsonl`),
 * so a later run — after Ctrl-C, a crash or a reboot — finds the open batch and collects it instead of paying again:
 *   creating  (input file uploaded; keys reserved; the batch is being created)
 *   submitted (the batch id)
 *   closed    (final status, counts, the requests that failed) | abandoned (never created)
 * A crash between "creating" and "submitted" is resolved by looking the batch up by its `ubp_local_id` metadata.
 * Finished batches' output and error files are downloaded next to the ledger, every successful answer goes into the
 * response store (`via: 'batch'`, cost × config.query.batchDiscount), and failed or expired requests are listed in the
 * ledger and the log; they stay missing from the store, so the next run (batch or synchronous) sends only them.
 * The API key is read from the environment and never written to the ledger, the files or any message.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { domainDir, type Config, type ModelConfig } from '../core/config';
import { appendLineDurable, writeFileAtomic } from '../core/io';
import {
  answerFromCompletion,
  backoffMs,
  chatRequestBody,
  effectiveBaseURL,
  generationParams,
  redactSecrets,
  retryAfterMs,
  storedAnswerFor,
  type CompletionLike,
  type RetryPolicy,
} from './llm';
import type { ChatMessage } from './models';
import { Progress } from '../core/progress';
import { deriveSeed, makeRng } from '../core/rng';
import { storeFileName, type GenerationParams, type ResponseStore } from './store';
import { FORMAT_VERSION, type Usage } from '../core/types';

export const BATCH_ENDPOINT = '/v1/chat/completions';
/** Statuses after which a batch changes no more. */
export const TERMINAL_BATCH_STATUSES = ['completed', 'expired', 'cancelled', 'failed'] as const;

// ---------- the ledger ----------

interface LedgerBase {
  v: number;
  localId: string;
  /** When the line was written (ISO). */
  at: string;
}

/** The input file is uploaded and the batch is about to be created: its keys are reserved from here on. */
export interface LedgerCreating extends LedgerBase {
  event: 'creating';
  modelId: string;
  provider: ModelConfig['provider'];
  baseURL: string;
  /** The model name sent in every request body. */
  model: string;
  params: GenerationParams;
  inputFileId: string;
  requests: number;
  bytes: number;
  keys: string[];
  /** What the run was for (e.g. "movielens"); informational. */
  label: string;
}

export interface LedgerSubmitted extends LedgerBase {
  event: 'submitted';
  batchId: string;
  modelId: string;
  inputFileId: string;
  requests: number;
  /** The batch's creation time on the server (ISO). */
  createdAt: string;
  /** True when the batch was found on the server after the client lost the create response. */
  recovered?: boolean;
}

export interface LedgerFailure {
  key: string;
  status?: number;
  code?: string;
  message: string;
}

export interface LedgerClosed extends LedgerBase {
  event: 'closed';
  batchId: string;
  status: string;
  counts: { total: number; completed: number; failed: number };
  /** Answers stored from this batch (new ones plus keys that were already stored). */
  answered: number;
  failures: LedgerFailure[];
  outputFileId: string | null;
  errorFileId: string | null;
}

export interface LedgerAbandoned extends LedgerBase {
  event: 'abandoned';
  batchId: string | null;
  reason: string;
}

export type LedgerEvent = LedgerCreating | LedgerSubmitted | LedgerClosed | LedgerAbandoned;

/** One batch as the ledger knows it (its events folded). */
export interface LedgerBatch {
  localId: string;
  modelId: string;
  provider: ModelConfig['provider'];
  baseURL: string;
  model: string;
  params: GenerationParams;
  inputFileId: string;
  keys: string[];
  requests: number;
  bytes: number;
  label: string;
  /** When the ledger reserved the keys (ISO). */
  reservedAt: string;
  batchId: string | null;
  /** 'creating' (id not known yet), 'open' (submitted, not collected), a final status, or 'abandoned'. */
  state: 'creating' | 'open' | 'closed' | 'abandoned';
  closed?: LedgerClosed;
  abandoned?: LedgerAbandoned;
}

export interface LedgerProblem {
  file: string;
  line: number;
  reason: string;
}

export function batchDir(config: Config): string {
  return path.join(domainDir(config, 'store'), 'batches');
}

/** The ledger of one provider + model (the same naming as its response store file). */
export function batchLedgerFile(config: Config, model: Pick<ModelConfig, 'provider' | 'model'>): string {
  return path.join(batchDir(config), storeFileName(model.provider, model.model));
}

/** Reads a ledger; unreadable lines (a torn append from a crash) are skipped and reported, never fatal. */
export function readBatchLedger(file: string): { batches: LedgerBatch[]; problems: LedgerProblem[] } {
  const problems: LedgerProblem[] = [];
  const byId = new Map<string, LedgerBatch>();
  if (!fs.existsSync(file)) return { batches: [], problems };
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    let e: LedgerEvent;
    try {
      e = JSON.parse(text) as LedgerEvent;
    } catch (err) {
      problems.push({ file, line: i + 1, reason: `not valid JSON (${(err as Error).message})` });
      return;
    }
    const problem = (reason: string) => problems.push({ file, line: i + 1, reason });
    if (typeof e?.localId !== 'string') return problem('field "localId" must be a string');
    const b = byId.get(e.localId);
    switch (e.event) {
      case 'creating':
        if (!Array.isArray(e.keys) || typeof e.inputFileId !== 'string') return problem('a "creating" line needs "keys" and "inputFileId"');
        if (b) return problem(`batch ${e.localId} is created twice`);
        byId.set(e.localId, {
          localId: e.localId,
          modelId: e.modelId,
          provider: e.provider,
          baseURL: e.baseURL,
          model: e.model,
          params: e.params,
          inputFileId: e.inputFileId,
          keys: e.keys,
          requests: e.requests,
          bytes: e.bytes,
          label: e.label,
          reservedAt: e.at,
          batchId: null,
          state: 'creating',
        });
        return;
      case 'submitted':
        if (!b) return problem(`"submitted" for unknown batch ${e.localId}`);
        if (typeof e.batchId !== 'string') return problem('field "batchId" must be a string');
        b.batchId = e.batchId;
        if (b.state === 'creating') b.state = 'open';
        return;
      case 'closed':
        if (!b) return problem(`"closed" for unknown batch ${e.localId}`);
        b.batchId = e.batchId;
        b.state = 'closed';
        b.closed = e;
        return;
      case 'abandoned':
        if (!b) return problem(`"abandoned" for unknown batch ${e.localId}`);
        b.state = 'abandoned';
        b.abandoned = e;
        return;
      default:
        return problem(`unknown event ${JSON.stringify((e as { event?: unknown }).event)}`);
    }
  });
  return { batches: [...byId.values()], problems };
}

/** Appends one event and fsyncs it; never glues onto a torn fragment left by a crash. */
function appendLedger(file: string, event: LedgerEvent): void {
  appendLineDurable(file, JSON.stringify(event));
}

/** Batches of this model at this base URL (a ledger file may also hold another server's batches of the same model name). */
function ledgerBatchesFor(config: Config, model: ModelConfig): { file: string; batches: LedgerBatch[]; problems: LedgerProblem[] } {
  const file = batchLedgerFile(config, model);
  const { batches, problems } = readBatchLedger(file);
  const baseURL = effectiveBaseURL(model);
  return { file, batches: batches.filter((b) => b.baseURL === baseURL && b.provider === model.provider && b.model === model.model), problems };
}

/** Keys waiting in open batches of the model (ledger only, no request): a run must not pay for them again. */
export function openBatchKeys(config: Config, model: ModelConfig): Set<string> {
  if (model.provider === 'baseline') return new Set();
  const keys = new Set<string>();
  for (const b of ledgerBatchesFor(config, model).batches) if (b.state === 'creating' || b.state === 'open') for (const k of b.keys) keys.add(k);
  return keys;
}

/** The batches the ledger records for a model (every state), oldest first. */
export function listBatches(config: Config, model: ModelConfig): LedgerBatch[] {
  return ledgerBatchesFor(config, model).batches;
}

// ---------- a lock, so two runs never submit the same keys ----------

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function acquireLock(ledgerFile: string): () => void {
  const lock = `${ledgerFile}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(lock, 'utf8') === String(process.pid)) fs.unlinkSync(lock);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
        throw new Error(`another run (pid ${holder}) is using the batch ledger ${ledgerFile}; wait for it to finish (or delete ${lock} if no run is active)`);
      }
      // Left by a run that died (kill -9, reboot): take it over.
      fs.rmSync(lock, { force: true });
    }
  }
  throw new Error(`cannot lock the batch ledger ${ledgerFile} (${lock})`);
}

// ---------- request files ----------

export interface BatchJob {
  key: string;
  messages: ChatMessage[];
  /** The prompts sharing this request (for messages and summaries). */
  promptIds: string[];
}

/** One line of a request JSONL: the synchronous request body, addressed by the store key. */
export function batchRequestLine(model: ModelConfig, config: Config, job: Pick<BatchJob, 'key' | 'messages'>): string {
  return JSON.stringify({ custom_id: job.key, method: 'POST', url: BATCH_ENDPOINT, body: chatRequestBody(model, config, job.messages) });
}

/**
 * Splits request lines into batches of at most `maxRequests` lines and `maxBytes` bytes (newlines included), in order.
 * A line that alone exceeds `maxBytes` cannot be sent and is returned in `tooLarge`.
 */
export function splitBatchLines(lines: string[], maxRequests: number, maxBytes: number): { chunks: number[][]; tooLarge: number[] } {
  const chunks: number[][] = [];
  const tooLarge: number[] = [];
  let current: number[] = [];
  let bytes = 0;
  lines.forEach((line, i) => {
    const size = Buffer.byteLength(line) + 1;
    if (size > maxBytes) {
      tooLarge.push(i);
      return;
    }
    if (current.length > 0 && (current.length >= maxRequests || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  });
  if (current.length) chunks.push(current);
  return { chunks, tooLarge };
}

// ---------- reading output and error files ----------

export interface BatchResultLine {
  key: string;
  /** The completion when the request succeeded (HTTP 200). */
  completion?: CompletionLike;
  requestId?: string;
  failure?: { status?: number; code?: string; message: string };
}

/** Parses a batch output or error file. Unreadable lines are reported, not fatal (their keys count as without result). */
export function parseBatchResults(text: string, where: string): { results: BatchResultLine[]; problems: LedgerProblem[] } {
  const results: BatchResultLine[] = [];
  const problems: LedgerProblem[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    let rec: {
      id?: string;
      custom_id?: unknown;
      response?: { status_code?: number; request_id?: string; body?: unknown } | null;
      error?: { code?: string | null; message?: string | null } | null;
    };
    try {
      rec = JSON.parse(raw);
    } catch (e) {
      problems.push({ file: where, line: i + 1, reason: `not valid JSON (${(e as Error).message})` });
      return;
    }
    if (typeof rec?.custom_id !== 'string') {
      problems.push({ file: where, line: i + 1, reason: 'field "custom_id" must be a string' });
      return;
    }
    const key = rec.custom_id;
    const requestId = rec.response?.request_id ?? rec.id;
    if (rec.error) {
      results.push({ key, requestId, failure: { code: rec.error.code ?? undefined, message: rec.error.message ?? 'error without message' } });
      return;
    }
    const status = rec.response?.status_code;
    const body = rec.response?.body as { error?: { message?: string; code?: string | null } } | undefined;
    if (status === 200 && body && typeof body === 'object' && !('error' in body && body.error)) {
      results.push({ key, requestId, completion: body as CompletionLike });
      return;
    }
    results.push({
      key,
      requestId,
      failure: { status, code: body?.error?.code ?? undefined, message: body?.error?.message ?? `HTTP ${status ?? '?'} without a completion` },
    });
  });
  return { results, problems };
}

// ---------- the API client ----------

export class BatchApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BatchApiError';
  }
}

interface Classified {
  retryable: boolean;
  aborted: boolean;
  status?: number;
  retryAfterMs?: number;
  message: string;
}

function classify(err: unknown): Classified {
  if (err instanceof APIUserAbortError) return { retryable: false, aborted: true, message: 'request aborted' };
  if (err instanceof APIConnectionError) {
    const cause = (err as { cause?: { code?: string; cause?: { code?: string } } }).cause;
    const code = cause?.cause?.code ?? cause?.code;
    return { retryable: true, aborted: false, message: `connection error${code ? ` (${code})` : ''}: ${err.message}` };
  }
  if (err instanceof APIError && typeof err.status === 'number') {
    const s = err.status;
    return { retryable: s >= 500 || s === 408 || s === 409 || s === 429, aborted: false, status: s, retryAfterMs: retryAfterMs(err.headers), message: `HTTP ${s}: ${err.message}` };
  }
  if (err instanceof Error && err.name === 'AbortError') return { retryable: false, aborted: true, message: 'request aborted' };
  return { retryable: true, aborted: false, message: `unreadable response (${err instanceof Error ? err.message : String(err)})` };
}

/** The server's batch object, as far as this module reads it. */
export interface BatchObject {
  id: string;
  status: string;
  input_file_id: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  created_at: number;
  completed_at?: number | null;
  expired_at?: number | null;
  cancelled_at?: number | null;
  failed_at?: number | null;
  request_counts?: { total: number; completed: number; failed: number } | null;
  errors?: { data?: { code?: string; line?: number | null; message?: string }[] } | null;
  metadata?: Record<string, string> | null;
}

export interface BatchClient {
  readonly stats: { requests: number; retries: number };
  upload(file: string): Promise<string>;
  create(inputFileId: string, metadata: Record<string, string>, sinceSec: number): Promise<BatchObject>;
  retrieve(batchId: string): Promise<BatchObject>;
  /** The batch created with `metadata.ubp_local_id === localId`, searching batches created since `sinceSec`. */
  find(localId: string, sinceSec: number): Promise<BatchObject | undefined>;
  download(fileId: string): Promise<Buffer>;
  cancel(batchId: string): Promise<BatchObject>;
}

export interface BatchClientOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  retry?: Partial<RetryPolicy>;
  /** Aborts requests in flight. */
  signal?: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export function createBatchClient(model: ModelConfig, config: Config, opts: BatchClientOptions = {}): BatchClient {
  if (model.provider === 'baseline') throw new Error(`model "${model.id}" is a baseline; it is answered offline, not through the Batch API`);
  const env = opts.env ?? process.env;
  const apiKey = model.apiKeyEnv ? env[model.apiKeyEnv] || undefined : undefined;
  if (model.provider === 'openai' && !apiKey) {
    throw new Error(`model "${model.id}" needs an API key: set the environment variable ${model.apiKeyEnv ?? '(none configured: add "apiKeyEnv" to the model entry)'}`);
  }
  const baseURL = effectiveBaseURL(model);
  const client = new OpenAI({ apiKey: apiKey ?? 'no-key', baseURL, maxRetries: 0, timeout: config.query.timeoutMs, logLevel: 'off' });
  const policy: RetryPolicy = {
    maxRetries: opts.retry?.maxRetries ?? config.query.maxRetries,
    baseDelayMs: opts.retry?.baseDelayMs ?? 1000,
    maxDelayMs: opts.retry?.maxDelayMs ?? 60_000,
  };
  const rng = makeRng(deriveSeed(config.seed, 'batch-retry-jitter', model.id));
  const log = opts.log ?? (() => {});
  const stats = { requests: 0, retries: 0 };
  const secrets = [apiKey];
  // Uploads and downloads of up to 200 MB take longer than one chat request.
  const transferTimeout = Math.max(config.query.timeoutMs, 30 * 60_000);

  async function call<T>(what: string, fn: () => Promise<T>, beforeRetry?: () => Promise<T | undefined>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (opts.signal?.aborted) throw new BatchApiError(`${model.id}: ${what}: aborted`);
      let failure: Classified;
      try {
        stats.requests++;
        return await fn();
      } catch (e) {
        failure = classify(e);
      }
      const message = redactSecrets(failure.message, secrets);
      if (failure.aborted || !failure.retryable || attempt > policy.maxRetries) {
        const why = failure.status === 404 && /POST \/files|create batch/.test(what) ? ` — does ${baseURL} implement the Batch API? Run without --batch to send synchronously` : '';
        throw new BatchApiError(`${model.id}: ${what}: ${message}${failure.retryable && !failure.aborted ? ` (gave up after ${attempt} attempts)` : ''}${why}`, failure.status);
      }
      if (beforeRetry) {
        const settled = await beforeRetry();
        if (settled !== undefined) return settled;
      }
      const wait = failure.retryAfterMs !== undefined ? failure.retryAfterMs * (1 + 0.1 * rng()) : backoffMs(policy, attempt, rng);
      stats.retries++;
      log(`${model.id}: ${what}: ${message}; retry ${attempt}/${policy.maxRetries} in ${(wait / 1000).toFixed(2)} s`);
      await sleep(wait, opts.signal);
    }
  }

  async function find(localId: string, sinceSec: number): Promise<BatchObject | undefined> {
    let page = await call('list batches', () => client.batches.list({ limit: 100 }, { signal: opts.signal }));
    for (;;) {
      const items = page.getPaginatedItems() as unknown as BatchObject[];
      const hit = items.find((b) => b.metadata?.ubp_local_id === localId);
      if (hit) return hit;
      // Lists are newest first: once past the time the keys were reserved, the batch was never created.
      if (!items.length || items[items.length - 1].created_at < sinceSec || !page.hasNextPage()) return undefined;
      const current = page;
      page = await call('list batches', () => current.getNextPage());
    }
  }

  return {
    stats,
    upload: (file) =>
      call('POST /files (upload the requests)', async () => {
        // A fresh stream per attempt; the server sees the local file's name (<localId>.jsonl).
        const created = await client.files.create({ file: fs.createReadStream(file), purpose: 'batch' }, { signal: opts.signal, timeout: transferTimeout });
        return created.id;
      }),
    create: (inputFileId, metadata, sinceSec) =>
      call(
        'create batch',
        async () =>
          (await client.batches.create(
            { input_file_id: inputFileId, endpoint: BATCH_ENDPOINT, completion_window: '24h', metadata },
            { signal: opts.signal },
          )) as unknown as BatchObject,
        // The request may have created the batch although its answer was lost: look before asking again.
        () => find(metadata.ubp_local_id, sinceSec).catch(() => undefined),
      ),
    retrieve: (batchId) => call(`GET batch ${batchId}`, async () => (await client.batches.retrieve(batchId, { signal: opts.signal })) as unknown as BatchObject),
    find,
    download: (fileId) =>
      call(`download file ${fileId}`, async () => {
        const res = await client.files.content(fileId, { signal: opts.signal, timeout: transferTimeout });
        return Buffer.from(await res.arrayBuffer());
      }),
    cancel: (batchId) => call(`cancel batch ${batchId}`, async () => (await client.batches.cancel(batchId, { signal: opts.signal })) as unknown as BatchObject),
  };
}

// ---------- running ----------

export interface BatchRequestFailure {
  key: string;
  /** Prompts of this run sharing the key (empty for keys of another run, e.g. another domain). */
  promptIds: string[];
  batchId: string | null;
  status?: number;
  code?: string;
  message: string;
}

export interface BatchRunReport {
  ledgerFile: string;
  /** Batches created by this run. */
  submitted: { batchId: string; localId: string; requests: number; bytes: number }[];
  /** Batches that reached a final status and were collected by this run. */
  collected: { batchId: string; status: string; newAnswers: number; alreadyStored: number; failed: number }[];
  /** Batches still open after the run (recorded in the ledger; a later run collects them). */
  open: { batchId: string | null; localId: string; status: string; requests: number; completed: number; failed: number }[];
  /** Requested keys that wait in open batches after the run. */
  pendingKeys: string[];
  /** Requested keys neither answered, waiting nor failed: not submitted (interrupted or an earlier failure). */
  notSubmitted: number;
  newAnswers: number;
  usage: Usage;
  costUsd: number;
  /** Requests that failed, expired or had no result, and requests that could not be submitted. */
  failures: BatchRequestFailure[];
  httpRequests: number;
  interrupted: boolean;
}

export interface BatchRunOptions {
  /** Submit the missing requests (a --batch run), or only collect finished open batches (a synchronous run). */
  submit: boolean;
  /** Poll until every batch holding a requested key has finished (default config.query.batchWait). */
  wait?: boolean;
  /** What the run is for (the domain), in the ledger and log lines. */
  label: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Stop submitting and waiting (Ctrl-C): open batches stay in the ledger. */
  stop?: AbortSignal;
  /** Abort requests in flight. */
  hard?: AbortSignal;
  retry?: Partial<RetryPolicy>;
  /** Minimum ms between progress lines while waiting (default 2000). */
  progressIntervalMs?: number;
}

function checkBatchConfig(config: Config): void {
  const q = config.query;
  if (!(Number.isInteger(q.batchMaxRequests) && q.batchMaxRequests >= 1)) throw new Error(`config: "query.batchMaxRequests" must be a whole number >= 1, got ${q.batchMaxRequests}`);
  if (!(Number.isInteger(q.batchMaxBytes) && q.batchMaxBytes >= 1)) throw new Error(`config: "query.batchMaxBytes" must be a whole number >= 1, got ${q.batchMaxBytes}`);
  if (!(q.batchPollSeconds > 0)) throw new Error(`config: "query.batchPollSeconds" must be > 0, got ${q.batchPollSeconds}`);
  if (!(q.batchDiscount > 0 && q.batchDiscount <= 1)) throw new Error(`config: "query.batchDiscount" must be in (0, 1], got ${q.batchDiscount}`);
}

let localCounter = 0;
function newLocalId(): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '').replace('T', '-').replace('Z', '');
  return `ubp-${stamp}-${process.pid}-${++localCounter}`;
}

function isoFromSeconds(s: number | null | undefined): string | undefined {
  return typeof s === 'number' && s > 0 ? new Date(s * 1000).toISOString() : undefined;
}

function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Sends `jobs` (requests without a stored answer) through the Batch API and/or collects the model's open batches.
 * Answers go into `store`; the caller writes the responses file from it.
 */
export async function runBatches(config: Config, model: ModelConfig, store: ResponseStore, jobs: BatchJob[], opts: BatchRunOptions): Promise<BatchRunReport> {
  checkBatchConfig(config);
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const wait = opts.wait ?? config.query.batchWait;
  const ledgerFile = batchLedgerFile(config, model);
  const report: BatchRunReport = {
    ledgerFile,
    submitted: [],
    collected: [],
    open: [],
    pendingKeys: [],
    notSubmitted: 0,
    newAnswers: 0,
    usage: { inputTokens: 0, outputTokens: 0 },
    costUsd: 0,
    failures: [],
    httpRequests: 0,
    interrupted: false,
  };
  const promptIdsOf = new Map(jobs.map((j) => [j.key, j.promptIds]));
  const wanted = new Set(jobs.map((j) => j.key));
  const secretEnv = opts.env ?? process.env;
  const secrets = [model.apiKeyEnv ? secretEnv[model.apiKeyEnv] : undefined];
  const safe = (s: string) => redactSecrets(s, secrets);
  const client = createBatchClient(model, config, { env: opts.env, log: (l) => log(safe(l)), retry: opts.retry, signal: opts.hard });
  const filesDir = path.join(batchDir(config), 'files');
  const release = acquireLock(ledgerFile);
  try {
    const { batches: known, problems } = ledgerBatchesFor(config, model);
    for (const p of problems) log(`batch ledger: skipped unreadable line ${p.file}:${p.line} (${p.reason})`);
    const live = known.filter((b) => b.state === 'creating' || b.state === 'open');

    // 1. A crash between "creating" and "submitted": find out whether the batch exists.
    for (const b of live.filter((x) => x.state === 'creating')) {
      try {
        const found = await client.find(b.localId, Math.floor(Date.parse(b.reservedAt) / 1000) - 3600);
        if (found) {
          recordSubmitted(ledgerFile, b, found, true);
          log(`${model.id}: batch ${found.id} (${formatCount(b.requests)} requests) was created before the last run stopped; collecting it instead of submitting again`);
        } else {
          b.state = 'abandoned';
          appendLedger(ledgerFile, { v: FORMAT_VERSION, event: 'abandoned', localId: b.localId, at: new Date().toISOString(), batchId: null, reason: 'never created: no batch with this ubp_local_id on the server' });
          log(`${model.id}: ${formatCount(b.requests)} requests reserved by an interrupted submission were never sent; they are free again`);
        }
      } catch (e) {
        log(safe(`${model.id}: cannot tell whether reserved batch ${b.localId} was created (${(e as Error).message}); its ${formatCount(b.requests)} requests stay reserved`));
      }
    }

    const ctx: CollectContext = { config, model, store, client, ledgerFile, filesDir, log, safe, promptIdsOf, report };
    const status = new Map<string, BatchObject>();

    // 2. One look at every open batch; collect the finished ones.
    const open = () => live.filter((b) => b.state === 'open');
    for (const b of open()) await poll(ctx, b, status);

    // 3. Submit what is neither stored nor waiting in an open batch.
    if (opts.submit) {
      const reserved = new Set(live.filter((b) => b.state === 'open' || b.state === 'creating').flatMap((b) => b.keys));
      const toSubmit = jobs.filter((j) => !store.has(j.key) && !reserved.has(j.key));
      const waiting = jobs.filter((j) => !store.has(j.key) && reserved.has(j.key)).length;
      if (waiting) log(`${model.id} ${opts.label}: ${formatCount(waiting)} requests already wait in open batches; not submitted again`);
      if (toSubmit.length) live.push(...(await submit(ctx, toSubmit, opts)));
    }

    // 4. Wait for the batches holding requested keys (or return at once with batchWait false).
    const relevant = () => open().filter((b) => b.keys.some((k) => wanted.has(k) && !store.has(k)));
    if (wait && relevant().length && !opts.stop?.aborted) {
      const pollMs = config.query.batchPollSeconds * 1000;
      const watched = relevant();
      const total = watched.reduce((n, b) => n + b.requests, 0);
      const progress = new Progress({
        label: `${model.id} ${opts.label} batches`,
        total,
        unit: 'requests',
        write: log,
        intervalMs: opts.progressIntervalMs ?? 2000,
        extra: () =>
          watched
            .map((b) => {
              const s = b.batchId ? status.get(b.batchId) : undefined;
              const c = s?.request_counts;
              return `${b.batchId ?? b.localId} ${b.state === 'closed' ? (b.closed?.status ?? 'closed') : (s?.status ?? 'submitted')}${c ? ` ${c.completed}+${c.failed}/${c.total}` : ''}`;
            })
            .join(', '),
      });
      const doneCount = () =>
        watched.reduce((n, b) => {
          if (b.state !== 'open') return n + b.requests;
          const c = b.batchId ? status.get(b.batchId)?.request_counts : undefined;
          return n + (c ? c.completed + c.failed : 0);
        }, 0);
      const unreachable = new Set<LedgerBatch>();
      const waitingFor = () => watched.filter((b) => b.state === 'open' && !unreachable.has(b));
      while (waitingFor().length) {
        await sleep(pollMs, opts.stop);
        if (opts.stop?.aborted) break;
        for (const b of waitingFor()) if (!(await poll(ctx, b, status))) unreachable.add(b);
        progress.set(doneCount());
      }
      progress.finish();
    }
    if (opts.stop?.aborted) report.interrupted = true;

    // 5. What is still open.
    for (const b of open()) {
      const s = b.batchId ? status.get(b.batchId) : undefined;
      report.open.push({
        batchId: b.batchId,
        localId: b.localId,
        status: s?.status ?? 'submitted',
        requests: b.requests,
        completed: s?.request_counts?.completed ?? 0,
        failed: s?.request_counts?.failed ?? 0,
      });
    }
    for (const b of live.filter((x) => x.state === 'creating' || x.state === 'open')) for (const k of b.keys) if (wanted.has(k) && !store.has(k)) report.pendingKeys.push(k);
    const pending = new Set(report.pendingKeys);
    // A request that failed in a batch collected above and was submitted again is waiting, not failed.
    report.failures = report.failures.filter((f) => !store.has(f.key) && !pending.has(f.key));
    const failedKeys = new Set(report.failures.map((f) => f.key));
    report.notSubmitted = opts.submit ? jobs.filter((j) => !store.has(j.key) && !pending.has(j.key) && !failedKeys.has(j.key)).length : 0;
    if (report.open.length) {
      const n = report.pendingKeys.length;
      log(
        `${model.id} ${opts.label}: ${report.open.length} batch${report.open.length > 1 ? 'es' : ''} still open (${report.open.map((o) => `${o.batchId ?? o.localId} ${o.status}`).join(', ')})` +
          `${n ? `, holding ${formatCount(n)} of the requested prompts` : ''}; recorded in ${ledgerFile}; run again with --batch to collect ${n ? 'them' : 'it'} (nothing is submitted twice)`,
      );
    }
    if (report.failures.length) {
      log(`${model.id} ${opts.label}: ${formatCount(report.failures.length)} batch requests failed (listed in ${ledgerFile}; not stored — the next run, batch or synchronous, sends only them):`);
      for (const line of summarizeBatchFailures(report.failures)) log(line);
    }
  } finally {
    report.httpRequests = client.stats.requests;
    release();
  }
  return report;
}

interface CollectContext {
  config: Config;
  model: ModelConfig;
  store: ResponseStore;
  client: BatchClient;
  ledgerFile: string;
  filesDir: string;
  log: (line: string) => void;
  safe: (s: string) => string;
  promptIdsOf: Map<string, string[]>;
  report: BatchRunReport;
}

function recordSubmitted(ledgerFile: string, b: LedgerBatch, batch: BatchObject, recovered: boolean): void {
  appendLedger(ledgerFile, {
    v: FORMAT_VERSION,
    event: 'submitted',
    localId: b.localId,
    at: new Date().toISOString(),
    batchId: batch.id,
    modelId: b.modelId,
    inputFileId: b.inputFileId,
    requests: b.requests,
    createdAt: isoFromSeconds(batch.created_at) ?? new Date().toISOString(),
    ...(recovered ? { recovered: true } : {}),
  });
  b.batchId = batch.id;
  b.state = 'open';
}

/**
 * Retrieves a batch; collects it when it has finished. Errors are logged and leave it open for the next poll or run.
 * Returns false when the server refuses to show the batch (e.g. 404: another account's batch), so waiting is pointless.
 */
async function poll(ctx: CollectContext, b: LedgerBatch, status: Map<string, BatchObject>): Promise<boolean> {
  const id = b.batchId as string;
  let batch: BatchObject;
  try {
    batch = await ctx.client.retrieve(id);
  } catch (e) {
    const s = (e as BatchApiError).status;
    const refused = s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 409 && s !== 429;
    ctx.log(
      ctx.safe(
        `${ctx.model.id}: ${(e as Error).message}; the batch stays open in the ledger and is asked again ${refused ? 'by the next run' : 'later'}` +
          (refused ? ` (if it can never be retrieved — another account's batch — forgetBatches(config, model, ['${id}'], reason) frees its requests)` : ''),
      ),
    );
    return !refused;
  }
  const before = status.get(id);
  status.set(id, batch);
  if (!before || before.status !== batch.status) {
    const c = batch.request_counts;
    ctx.log(`${ctx.model.id}: batch ${id}: ${batch.status}${c ? ` (${formatCount(c.completed)} completed, ${formatCount(c.failed)} failed of ${formatCount(c.total)})` : ''}`);
  }
  if (!(TERMINAL_BATCH_STATUSES as readonly string[]).includes(batch.status)) return true;
  try {
    await collect(ctx, b, batch);
  } catch (e) {
    ctx.log(ctx.safe(`${ctx.model.id}: collecting batch ${id} failed: ${(e as Error).message}; it stays open in the ledger and is collected again later`));
  }
  return true;
}

/** Downloads a finished batch's files, stores every answer, records the failures and closes the batch in the ledger. */
async function collect(ctx: CollectContext, b: LedgerBatch, batch: BatchObject): Promise<void> {
  const { config, model, store, client, report } = ctx;
  const results: BatchResultLine[] = [];
  for (const [kind, fileId] of [['output', batch.output_file_id], ['errors', batch.error_file_id]] as const) {
    if (!fileId) continue;
    const bytes = await client.download(fileId);
    const local = path.join(ctx.filesDir, `${batch.id}.${kind}.jsonl`);
    writeFileAtomic(local, bytes);
    const parsed = parseBatchResults(bytes.toString('utf8'), local);
    for (const p of parsed.problems) ctx.log(`${model.id}: batch ${batch.id}: skipped unreadable line ${p.file}:${p.line} (${p.reason})`);
    results.push(...parsed.results);
  }
  const keys = new Set(b.keys);
  const answeredAt = new Date((batch.completed_at ?? batch.expired_at ?? batch.cancelled_at ?? batch.failed_at ?? batch.created_at) * 1000);
  const failures = new Map<string, LedgerFailure>();
  const seen = new Set<string>();
  let newAnswers = 0;
  let alreadyStored = 0;
  for (const r of results) {
    if (!keys.has(r.key)) {
      ctx.log(`${model.id}: batch ${batch.id}: ignoring a result for ${r.key}, which this batch did not hold`);
      continue;
    }
    if (r.completion) {
      let entry;
      try {
        entry = storedAnswerFor(model, config, r.key, answerFromCompletion(r.completion, 0), 'batch', {
          discount: config.query.batchDiscount,
          meta: { batchId: batch.id, ...(r.requestId ? { requestId: r.requestId } : {}) },
          answeredAt,
        });
      } catch (e) {
        if (!seen.has(r.key)) failures.set(r.key, { key: r.key, status: 200, message: ctx.safe((e as Error).message) });
        continue;
      }
      seen.add(r.key);
      failures.delete(r.key);
      // The request as it was submitted (the configuration may have changed since).
      entry.request = { provider: b.provider, baseURL: b.baseURL, model: b.model, params: b.params };
      if (store.has(r.key)) {
        alreadyStored++;
        continue;
      }
      await store.putDurable(entry);
      newAnswers++;
      report.newAnswers++;
      report.usage.inputTokens += entry.usage.inputTokens;
      report.usage.outputTokens += entry.usage.outputTokens;
      report.costUsd += entry.costUsd;
    } else if (r.failure && !seen.has(r.key)) {
      seen.add(r.key);
      failures.set(r.key, { key: r.key, ...(r.failure.status !== undefined ? { status: r.failure.status } : {}), ...(r.failure.code ? { code: r.failure.code } : {}), message: ctx.safe(r.failure.message) });
    }
  }
  const batchError = batch.errors?.data?.map((d) => `${d.code ?? 'error'}${d.line ? ` (line ${d.line})` : ''}: ${d.message ?? ''}`).join('; ');
  for (const k of b.keys) {
    if (seen.has(k)) continue;
    const code = batch.status === 'expired' ? 'batch_expired' : batch.status === 'cancelled' ? 'batch_cancelled' : batch.status === 'failed' ? 'batch_failed' : 'no_result';
    const message =
      batch.status === 'failed'
        ? `the batch failed${batchError ? `: ${batchError}` : ''}`
        : batch.status === 'completed'
          ? 'the batch completed without a result for this request'
          : `not run before the batch was ${batch.status}`;
    failures.set(k, { key: k, code, message: ctx.safe(message) });
  }
  const list = [...failures.values()];
  for (const f of list) report.failures.push({ key: f.key, promptIds: ctx.promptIdsOf.get(f.key) ?? [], batchId: batch.id, status: f.status, code: f.code, message: f.message });
  const c = batch.request_counts ?? { total: b.requests, completed: newAnswers + alreadyStored, failed: list.length };
  appendLedger(ctx.ledgerFile, {
    v: FORMAT_VERSION,
    event: 'closed',
    localId: b.localId,
    at: new Date().toISOString(),
    batchId: batch.id,
    status: batch.status,
    counts: { total: c.total, completed: c.completed, failed: c.failed },
    answered: newAnswers + alreadyStored,
    failures: list,
    outputFileId: batch.output_file_id ?? null,
    errorFileId: batch.error_file_id ?? null,
  });
  b.state = 'closed';
  report.collected.push({ batchId: batch.id, status: batch.status, newAnswers, alreadyStored, failed: list.length });
  ctx.log(
    `${model.id}: batch ${batch.id} ${batch.status}: ${formatCount(newAnswers)} answers stored` +
      `${alreadyStored ? ` (${formatCount(alreadyStored)} were stored already)` : ''}, ${formatCount(list.length)} failed or without result`,
  );
}

/** Writes, uploads and creates one batch per chunk; every step is in the ledger before the next begins. */
async function submit(ctx: CollectContext, jobs: BatchJob[], opts: BatchRunOptions): Promise<LedgerBatch[]> {
  const { config, model, client, report } = ctx;
  const lines = jobs.map((j) => batchRequestLine(model, config, j));
  const { chunks, tooLarge } = splitBatchLines(lines, config.query.batchMaxRequests, config.query.batchMaxBytes);
  for (const i of tooLarge) {
    report.failures.push({
      key: jobs[i].key,
      promptIds: jobs[i].promptIds,
      batchId: null,
      code: 'too_large',
      message: `the request line has ${formatCount(Buffer.byteLength(lines[i]) + 1)} bytes, more than query.batchMaxBytes (${formatCount(config.query.batchMaxBytes)})`,
    });
  }
  ctx.log(
    `${model.id} ${opts.label}: submitting ${formatCount(jobs.length - tooLarge.length)} requests as ${chunks.length} batch${chunks.length === 1 ? '' : 'es'} ` +
      `(at most ${formatCount(config.query.batchMaxRequests)} requests and ${formatCount(config.query.batchMaxBytes)} bytes each)`,
  );
  const created: LedgerBatch[] = [];
  const requestsDir = path.join(batchDir(config), 'requests');
  for (let c = 0; c < chunks.length; c++) {
    if (opts.stop?.aborted) {
      ctx.log(`${model.id} ${opts.label}: interrupted; ${chunks.length - c} of ${chunks.length} batches not submitted`);
      break;
    }
    const chunk = chunks[c];
    const localId = newLocalId();
    const text = `${chunk.map((i) => lines[i]).join('\n')}\n`;
    const bytes = Buffer.byteLength(text);
    const file = path.join(requestsDir, `${localId}.jsonl`);
    const keys = chunk.map((i) => jobs[i].key);
    const fail = (message: string) => {
      for (const i of chunk) report.failures.push({ key: jobs[i].key, promptIds: jobs[i].promptIds, batchId: null, code: 'not_submitted', message: ctx.safe(message) });
    };
    writeFileAtomic(file, text);
    let inputFileId: string;
    try {
      inputFileId = await client.upload(file);
    } catch (e) {
      fs.rmSync(file, { force: true });
      fail((e as Error).message);
      ctx.log(ctx.safe(`${model.id}: ${(e as Error).message}; ${chunks.length - c} of ${chunks.length} batches not submitted`));
      break;
    }
    const reservedAt = new Date();
    const entry: LedgerCreating = {
      v: FORMAT_VERSION,
      event: 'creating',
      localId,
      at: reservedAt.toISOString(),
      modelId: model.id,
      provider: model.provider,
      baseURL: effectiveBaseURL(model),
      model: model.model,
      params: generationParams(config),
      inputFileId,
      requests: chunk.length,
      bytes,
      keys,
      label: opts.label,
    };
    appendLedger(ctx.ledgerFile, entry);
    const b: LedgerBatch = {
      localId,
      modelId: model.id,
      provider: model.provider,
      baseURL: entry.baseURL,
      model: model.model,
      params: entry.params,
      inputFileId,
      keys,
      requests: chunk.length,
      bytes,
      label: opts.label,
      reservedAt: entry.at,
      batchId: null,
      state: 'creating',
    };
    try {
      const batch = await client.create(inputFileId, { ubp_local_id: localId, ubp_model_id: model.id.slice(0, 512) }, Math.floor(reservedAt.getTime() / 1000) - 3600);
      recordSubmitted(ctx.ledgerFile, b, batch, false);
      created.push(b);
      report.submitted.push({ batchId: batch.id, localId, requests: chunk.length, bytes });
      ctx.log(`${model.id}: submitted batch ${batch.id} (${formatCount(chunk.length)} requests, ${formatCount(bytes)} bytes, part ${c + 1}/${chunks.length}); recorded in ${ctx.ledgerFile}`);
    } catch (e) {
      const message = (e as Error).message;
      const status = (e as BatchApiError).status;
      if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429) {
        // Refused outright: no batch exists, the keys are free again.
        appendLedger(ctx.ledgerFile, { v: FORMAT_VERSION, event: 'abandoned', localId, at: new Date().toISOString(), batchId: null, reason: ctx.safe(message) });
        fail(message);
      } else {
        // Unknown outcome: the keys stay reserved, and the next run looks the batch up by its local id.
        created.push(b);
        ctx.log(ctx.safe(`${model.id}: ${message}; the requests stay reserved in the ledger and the next run checks whether the batch exists`));
      }
      if (c + 1 < chunks.length) ctx.log(`${model.id}: ${chunks.length - c - 1} further batches not submitted`);
      break;
    } finally {
      fs.rmSync(file, { force: true });
    }
  }
  return created;
}

function summarizeBatchFailures(failures: BatchRequestFailure[]): string[] {
  const groups = new Map<string, BatchRequestFailure[]>();
  for (const f of failures) {
    const why = `${f.status !== undefined ? `HTTP ${f.status} ` : ''}${f.code ? `${f.code}: ` : ''}${f.message}`;
    const g = groups.get(why) ?? [];
    g.push(f);
    groups.set(why, g);
  }
  const out: string[] = [];
  for (const [why, fs_] of groups) {
    const ids = fs_.flatMap((f) => (f.promptIds.length ? f.promptIds : [f.key.slice(0, 12)]));
    out.push(`  ${formatCount(fs_.length)} × ${why} — ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
  }
  return out;
}

// ---------- maintenance ----------

export interface BatchMaintenanceOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  retry?: Partial<RetryPolicy>;
}

/**
 * Asks the server to cancel the model's open batches (what already ran is still collected, at batch prices, by the
 * next run). Returns the batch ids cancelled.
 */
export async function cancelOpenBatches(config: Config, model: ModelConfig, opts: BatchMaintenanceOptions = {}): Promise<string[]> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const client = createBatchClient(model, config, { env: opts.env, log, retry: opts.retry });
  const ledgerFile = batchLedgerFile(config, model);
  const release = acquireLock(ledgerFile);
  const cancelled: string[] = [];
  try {
    for (const b of ledgerBatchesFor(config, model).batches) {
      if (b.state !== 'open' || !b.batchId) continue;
      const batch = await client.cancel(b.batchId);
      cancelled.push(b.batchId);
      log(`${model.id}: batch ${b.batchId}: ${batch.status}; the next run collects what it answered`);
    }
  } finally {
    release();
  }
  return cancelled;
}

/**
 * Closes batches in the ledger without collecting them (e.g. they belong to another account and can never be
 * retrieved): their requests become free to send again. Nothing is asked of the server. Returns the local ids closed.
 */
export function forgetBatches(config: Config, model: ModelConfig, batchIds: string[], reason: string): string[] {
  const ledgerFile = batchLedgerFile(config, model);
  const release = acquireLock(ledgerFile);
  const closed: string[] = [];
  try {
    for (const b of ledgerBatchesFor(config, model).batches) {
      if ((b.state !== 'open' && b.state !== 'creating') || !(batchIds.includes(b.batchId ?? '') || batchIds.includes(b.localId))) continue;
      appendLedger(ledgerFile, { v: FORMAT_VERSION, event: 'abandoned', localId: b.localId, at: new Date().toISOString(), batchId: b.batchId, reason: `forgotten: ${reason}` });
      closed.push(b.localId);
    }
  } finally {
    release();
  }
  return closed;
}
