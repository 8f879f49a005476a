// The batch ledger: one fsync'd JSONL of events per provider + model, folded into the batches it knows.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { domainDir, type Config, type ModelConfig } from '../../core/config';
import { appendLineDurable } from '../../core/io';
import { effectiveBaseURL } from '../llm';
import { storeFileName, type GenerationParams } from '../store';

interface LedgerBase {
  v: number;
  localId: string;
  /** When the line was written (ISO). */
  at: string;
}

/** What a batch holds and how its requests were made: its "creating" line, and the batch folded from its events. */
interface BatchContents {
  localId: string;
  modelId: string;
  provider: ModelConfig['provider'];
  baseURL: string;
  /** The model name sent in every request body. */
  model: string;
  /** The first request's parameters; with `paramsVary`, each request's own are in its body (requests.ts). */
  params: GenerationParams;
  paramsVary?: boolean;
  inputFileId: string;
  requests: number;
  bytes: number;
  keys: string[];
  /** What the run was for (e.g. "movielens"); informational. */
  label: string;
}

/** The input file is uploaded and the batch is about to be created: its keys are reserved from here on. */
export interface LedgerCreating extends LedgerBase, BatchContents {
  event: 'creating';
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
export interface LedgerBatch extends BatchContents {
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

/** A batch whose "creating" line was just written (or read): its keys are reserved, its batch id not known yet. */
export function batchFromCreating(e: LedgerCreating): LedgerBatch {
  return {
    localId: e.localId,
    modelId: e.modelId,
    provider: e.provider,
    baseURL: e.baseURL,
    model: e.model,
    params: e.params,
    ...(e.paramsVary ? { paramsVary: true } : {}),
    inputFileId: e.inputFileId,
    keys: e.keys,
    requests: e.requests,
    bytes: e.bytes,
    label: e.label,
    reservedAt: e.at,
    batchId: null,
    state: 'creating',
  };
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
        if (!Array.isArray(e.keys) || typeof e.inputFileId !== 'string')
          return problem('a "creating" line needs "keys" and "inputFileId"');
        if (b) return problem(`batch ${e.localId} is created twice`);
        byId.set(e.localId, batchFromCreating(e));
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
export function appendLedger(file: string, event: LedgerEvent): void {
  appendLineDurable(file, JSON.stringify(event));
}

/** Batches of this model at this base URL (a ledger file may also hold another server's batches of the same model name). */
export function ledgerBatchesFor(
  config: Config,
  model: ModelConfig,
): { file: string; batches: LedgerBatch[]; problems: LedgerProblem[] } {
  const file = batchLedgerFile(config, model);
  const { batches, problems } = readBatchLedger(file);
  const baseURL = effectiveBaseURL(model);
  return {
    file,
    batches: batches.filter((b) => b.baseURL === baseURL && b.provider === model.provider && b.model === model.model),
    problems,
  };
}

/** Keys waiting in open batches of the model (ledger only, no request): a run must not pay for them again. */
export function openBatchKeys(config: Config, model: ModelConfig): Set<string> {
  if (model.provider === 'baseline') return new Set();
  const keys = new Set<string>();
  for (const b of ledgerBatchesFor(config, model).batches)
    if (b.state === 'creating' || b.state === 'open') for (const k of b.keys) keys.add(k);
  return keys;
}

/** The batches the ledger records for a model (every state), oldest first. */
export function listBatches(config: Config, model: ModelConfig): LedgerBatch[] {
  return ledgerBatchesFor(config, model).batches;
}
