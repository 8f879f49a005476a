// The Batch API client: files and batches through the `openai` SDK, with the shared retry mechanics (../retry.ts).
import * as fs from 'node:fs';
import OpenAI from 'openai';
import type { Config, ModelConfig } from '../../core/config';
import { deriveSeed, makeRng } from '../../core/rng';
import { effectiveBaseURL } from '../llm';
import { readApiKey, redactSecrets } from '../keys';
import { retryableStatus, retryPolicy, withRetries, type RetryPolicy } from '../retry';
import { BATCH_ENDPOINT } from './requests';

/** Statuses after which a batch changes no more. */
export const TERMINAL_BATCH_STATUSES = ['completed', 'expired', 'cancelled', 'failed'] as const;

export class BatchApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'BatchApiError';
  }
}

/** A 4xx that asking again cannot change (the batch or file does not exist, the request is malformed). */
export function refusedOutright(status: number | undefined): boolean {
  return status !== undefined && status >= 400 && status < 500 && !retryableStatus(status);
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

export function createBatchClient(model: ModelConfig, config: Config, opts: BatchClientOptions = {}): BatchClient {
  if (model.provider === 'baseline')
    throw new Error(`model "${model.id}" is a baseline; it is answered offline, not through the Batch API`);
  // Azure's batch jobs need a Global-Batch deployment and its own file endpoints, which this client does not speak.
  if (model.provider === 'azure-openai')
    throw new Error(
      `model "${model.id}" is an Azure OpenAI deployment; Batch API mode is not supported for it, run without --batch`,
    );
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const apiKey = readApiKey(model, env, log);
  if (model.provider === 'openai' && !apiKey) {
    throw new Error(
      `model "${model.id}" needs an API key: set the environment variable ${model.apiKeyEnv ?? '(none configured: add "apiKeyEnv" to the model entry)'}`,
    );
  }
  const baseURL = effectiveBaseURL(model);
  const client = new OpenAI({
    apiKey: apiKey ?? 'no-key',
    baseURL,
    maxRetries: 0,
    timeout: config.query.timeoutMs,
    logLevel: 'off',
  });
  const policy = retryPolicy(config, opts.retry);
  const rng = makeRng(deriveSeed(config.seed, 'batch-retry-jitter', model.id));
  const stats = { requests: 0, retries: 0 };
  const secrets = [apiKey];
  // Uploads and downloads of up to 200 MB take longer than one chat request.
  const transferTimeout = Math.max(config.query.timeoutMs, 30 * 60_000);

  function call<T>(what: string, fn: () => Promise<T>, beforeRetry?: () => Promise<T | undefined>): Promise<T> {
    return withRetries(
      () => {
        stats.requests++;
        return fn();
      },
      {
        policy,
        rng,
        signal: opts.signal,
        beforeRetry,
        aborted: () => new BatchApiError(`${model.id}: ${what}: aborted`),
        giveUp: (failure, attempts) => {
          const message = redactSecrets(failure.message, secrets);
          const why =
            failure.status === 404 && /POST \/files|create batch/.test(what)
              ? ` — does ${baseURL} implement the Batch API? Run without --batch to send synchronously`
              : '';
          return new BatchApiError(
            `${model.id}: ${what}: ${message}${failure.retryable ? ` (gave up after ${attempts} attempts)` : ''}${why}`,
            failure.status,
          );
        },
        onRetry: (failure, retry, wait) => {
          stats.retries++;
          log(
            `${model.id}: ${what}: ${redactSecrets(failure.message, secrets)}; retry ${retry}/${policy.maxRetries} in ${(wait / 1000).toFixed(2)} s`,
          );
        },
      },
    );
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
        const created = await client.files.create(
          { file: fs.createReadStream(file), purpose: 'batch' },
          { signal: opts.signal, timeout: transferTimeout },
        );
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
    retrieve: (batchId) =>
      call(
        `GET batch ${batchId}`,
        async () => (await client.batches.retrieve(batchId, { signal: opts.signal })) as unknown as BatchObject,
      ),
    find,
    download: (fileId) =>
      call(`download file ${fileId}`, async () => {
        const res = await client.files.content(fileId, { signal: opts.signal, timeout: transferTimeout });
        return Buffer.from(await res.arrayBuffer());
      }),
    cancel: (batchId) =>
      call(
        `cancel batch ${batchId}`,
        async () => (await client.batches.cancel(batchId, { signal: opts.signal })) as unknown as BatchObject,
      ),
  };
}
