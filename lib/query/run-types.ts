/** What a query run is asked to do and what it reports: the stage's options and its summary per model. */
import type { ModelConfig } from '../core/config';
import type { DomainName } from '../core/config';
import type { DryRunEstimate } from './dry-run';
import type { PilotSummary } from './pilot';
import type { ParseSummary } from './responses';
import type { RetryPolicy } from './retry';
import type { PromptFailure } from './send';
import type { Usage } from '../core/types';

export interface QueryOptions {
  /** Count what would be sent and what it would cost; send nothing, write nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Aborting stops sending new prompts (like the first Ctrl-C); in-flight requests finish and are stored. */
  signal?: AbortSignal;
  /** Where API keys are read from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Backoff tuning (tests use short delays); maxRetries defaults to config.query.maxRetries. */
  retry?: Partial<RetryPolicy>;
  /** Minimum ms between progress lines (default 2000). */
  progressIntervalMs?: number;
  /**
   * OpenAI Batch API mode (lib/query/batch/): API models' missing prompts are submitted as batches (at batch prices), and
   * the run waits for them when config.query.batchWait is true (else it returns and a later run collects them).
   * Baselines are answered offline as usual.
   */
  batch?: boolean;
  /**
   * Finish reasons ("length", "content_filter") whose answers are asked again after the settings changed (query.maxTokens
   * raised): a prompt whose current request is not stored keeps its earlier answer unless that one ended for one of
   * these reasons. Both answers are kept in the store.
   */
  retryFinish?: string[];
  /** Install a SIGINT handler for the run (default true): first Ctrl-C stops sending, a second aborts in-flight requests. */
  handleSigint?: boolean;
  /**
   * A pilot: ask only the first `limit` prompts of every (setting, history length) cell — the prompts the full run asks
   * first, so nothing is paid twice. A dry run afterwards estimates the full run from their measured tokens.
   */
  limit?: number;
}

/** What a run did with the Batch API (present when it submitted or collected batches). */
export interface BatchModeSummary {
  ledgerFile: string;
  /** Batches created by this run, and the requests in them. */
  submittedBatches: string[];
  submittedRequests: number;
  /** Batches collected by this run (they had finished). */
  collectedBatches: string[];
  /** Batches still open on the server (a later run collects them). */
  openBatches: string[];
  /** Prompts of this run waiting in open batches. */
  pendingPrompts: number;
}

export interface QueryRunSummary {
  modelId: string;
  /** The elicitation method these requests asked (lib/query/elicit.ts); absent for the paper's ranking prompt. */
  method?: 'stated' | 'logprobs';
  /** The same model's passes for the elicitation methods of their own request (the query stage's summary). */
  methods?: QueryRunSummary[];
  provider: ModelConfig['provider'];
  domain: DomainName;
  dryRun: boolean;
  /** Prompts (samples) in the domain. */
  prompts: number;
  /** Prompts with an answer after the run (= records written). */
  answered: number;
  /** Prompts still without an answer after the run (failed, not sent, or the model was unavailable). */
  missing: number;
  /** Prompts answered from the store without a request. */
  fromStore: number;
  /** Prompts whose request failed after retries (details in `failures`). */
  failed: number;
  /** Distinct requests among the prompts (identical prompts share one). */
  distinctRequests: number;
  /** Distinct requests already answered in the store when the run started. */
  alreadyStored: number;
  /** Distinct requests missing from the store when the run started (what a run sends, what a dry run prices). */
  toSend: number;
  /** Distinct requests sent by this run (answered or failed). */
  sent: number;
  /** New answers stored by this run. */
  newAnswers: number;
  /** Requests that still failed after retries; not stored, a rerun tries them again. */
  failures: PromptFailure[];
  /** Distinct requests not attempted (interrupted, or the model was unavailable). */
  notSent: number;
  /** HTTP requests made, retries included. */
  httpRequests: number;
  retries: number;
  /** Tokens and money spent by this run. */
  usage: Usage;
  costUsd: number;
  /** Records written to the responses file (prompts with an answer). */
  written: number;
  outputFile: string | null;
  parse: ParseSummary;
  /** Unreadable store lines skipped (torn appends from a crash). */
  tornStoreLines: number;
  /** Store lines that are neither answers nor torn appends (garbage, edits, damage): reported with line numbers. */
  corruptStoreLines: number;
  /**
   * Answers missing from the store put back without paying: from the responses file (torn line, damaged or deleted
   * store) and from the recovery file an earlier run wrote when the store broke.
   */
  recovered: number;
  /** Answers this run paid for and could not store (the store broke): kept in `recoveryFile`. */
  unstored: number;
  /** Where the unstored answers are kept (null when they could not be written anywhere). */
  recoveryFile?: string | null;
  /** Why the run stopped when the store refused a write: what was paid and not stored, where it is, the fix. */
  storeFailure?: string;
  interrupted: boolean;
  /** Why the model could not be asked, when it could not. */
  unavailable?: string;
  /** Why the run stopped asking the model part-way (its circuit breaker: hanging server, revoked key, bad replies). */
  stopped?: string;
  estimate?: DryRunEstimate;
  /** Batch API activity (submitted, collected, still open). */
  batch?: BatchModeSummary;
  /** Requests the server rejected for a parameter (HTTP 400 unsupported_parameter / unsupported_value), then adapted. */
  rejectedRequests: number;
  /** Adaptations to the server's parameter rules in force after the run, e.g. '"max_tokens" → "max_completion_tokens"'. */
  adaptations: string[];
  pilot?: PilotSummary;
  seconds: number;
}
