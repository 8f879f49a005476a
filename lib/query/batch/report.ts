// What a Batch API run reports, the options it takes, and the context its steps share.
import type { Config, ModelConfig } from '../../core/config';
import type { Usage } from '../../core/types';
import { formatCount } from '../format';
import type { RetryPolicy } from '../retry';
import type { ResponseStore } from '../store';
import type { BatchClient } from './client';

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
  open: {
    batchId: string | null;
    localId: string;
    status: string;
    requests: number;
    completed: number;
    failed: number;
  }[];
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

export interface CollectContext {
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

export function summarizeBatchFailures(failures: BatchRequestFailure[]): string[] {
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
