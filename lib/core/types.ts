/**
 * The records that flow between stages. Every JSON Lines record carries `v`, the format version.
 * These shapes are the stage contracts of DESIGN.md; change them only together with their readers.
 */
import type { DomainName } from './config';

export const FORMAT_VERSION = 1;

// ---------- preprocess → data/processed/<domain>/ ----------

/** users.jsonl: one kept user a line. Proxy values are display strings ("25-34", "Male", "clerical/admin"); null when unknown. */
export interface UserRecord {
  v: number;
  id: string;
  proxies: Record<string, string | null>;
}

/** items.jsonl: one item a line, in index order (interactions refer to items by this index). */
export interface ItemRecord {
  v: number;
  /** The dataset's own id as a string: MovieLens MovieID; Last.fm a stable id derived from artist and track names. */
  id: string;
  /** What the prompt shows: "Matrix, The (1999)" or "Track - Artist". */
  name: string;
}

/** interactions.jsonl: one kept user a line, in the order of users.jsonl. */
export interface InteractionRecord {
  v: number;
  user: string;
  /** Indices into items.jsonl, ascending, distinct. */
  items: number[];
  /** Listening events per item (Last.fm only), aligned with `items`. */
  counts?: number[];
}

export interface DropReason {
  reason: string;
  users?: number;
  items?: number;
  interactions?: number;
}

/** summary.json */
export interface ProcessedSummary {
  v: number;
  domain: DomainName;
  users: number;
  /** The whole catalogue (every movie of movies.dat; every track of the Last.fm events file). */
  items: number;
  /** Items some kept user interacted with (the others can only be C1 candidates or catalogue history). */
  interactedItems?: number;
  interactions: number;
  /** Per proxy setting (not "none"): distinct values (combinations for multi-proxy settings) present after filtering. */
  proxyValues: Record<string, number>;
  dropped: DropReason[];
  source: { dir: string; files: Record<string, { bytes: number; sha256?: string }> };
}

// ---------- sample → data/samples/<domain>/samples.jsonl ----------

export type Setup = 'A' | 'B' | 'C';

export interface SampleRecord {
  v: number;
  id: string;
  domain: DomainName;
  setup: Setup;
  /** Setting name: "none", "age", ..., "all", "gender+continent". */
  proxy: string;
  /** Proxy name → value; empty for no proxy. */
  demography: Record<string, string>;
  history: string[];
  candidates: string[];
  /** Aligned with candidates; sums to 1. */
  target: number[];
  targetEntropy: number;
  /** Number of matching users u_h. */
  groupSize: number;
  drawId: string;
  seed: string;
  /** Candidate order k >= 2 of a sample (lib/sample/orders.ts): id `<sample id>/o<k>`; absent on the drawn sample (order 1). */
  order?: number;
}

/** counts.json: { setting: { historyLength: count } } */
export type SampleCounts = Record<string, Record<string, number>>;

// ---------- query → data/responses/<model>/<domain>.jsonl ----------

export interface ParseDiagnostics {
  /** Number of list entries found in the answer. */
  returned: number;
  /** Strings that matched no candidate. */
  unmatched: string[];
  /** Candidate ids named more than once (kept once, at their first rank). */
  duplicates: string[];
  /** How each kept pick was matched. */
  matchKinds: ('exact' | 'normalized' | 'fuzzy')[];
  /** True when the answer held fewer than topN valid picks. */
  tooFew: boolean;
  /** True when the answer held more than topN entries. */
  tooMany: boolean;
  /** The answer could not be read as a list at all. */
  unparseable: boolean;
  /** How the list was read: a quoted list ('python' covers JSON arrays of strings too), a JSON array of objects, bulleted/numbered lines. */
  format?: 'python' | 'json' | 'lines' | 'none';
  /** The list was cut off (no closing bracket or an unterminated string); only its complete entries were read. */
  truncated?: boolean;
  /** Valid picks after the first topN, left out of `ranked`. */
  beyondTopN?: string[];
  /**
   * Why the answer holds less than asked, from the reply itself: "empty answer" (no text: a refusal, a content filter)
   * and "cut off by max tokens" (finish_reason "length"). Paid for, so stored and kept, but worth knowing.
   */
  answerIssues?: ('empty answer' | 'cut off by max tokens')[];
}

export interface Usage {
  inputTokens: number;
  /** Billed output tokens, reasoning tokens included. */
  outputTokens: number;
  /** Hidden reasoning tokens (part of outputTokens), when the server reports them (usage.completion_tokens_details). */
  reasoningTokens?: number;
}

export interface ResponseRecord {
  v: number;
  promptId: string;
  /** The ask index (0-based) when each prompt is asked several times (query.samples > 1); absent when asked once. */
  sample?: number;
  /** Content-addressed key of the answer in the response store. */
  key: string;
  modelId: string;
  messages: { role: 'system' | 'user'; content: string }[];
  raw: string;
  ranked: string[];
  diagnostics: ParseDiagnostics;
  usage: Usage;
  costUsd: number;
  /** Model snapshot reported by the server. */
  model: string;
  fingerprint: string | null;
  latencyMs: number;
  /**
   * The reply's finish_reason ("stop", "length" = cut off, "content_filter" …); null when the server reported none.
   * Always written by the query stage; optional only so files written before it was kept still load.
   */
  finishReason?: string | null;
  /** How the answer was obtained: synchronous request, Batch API, or offline baseline. */
  via: 'sync' | 'batch' | 'baseline';
  answeredAt: string;
}

/**
 * data/responses/<model>/<domain>.<method>.jsonl: the answer to a `stated` or `logprobs` prompt (lib/query/elicit.ts),
 * kept as returned; the score stage reads the model's distribution from it.
 */
export interface ElicitedRecord {
  v: number;
  promptId: string;
  method: 'stated' | 'logprobs';
  key: string;
  modelId: string;
  messages: { role: 'system' | 'user'; content: string }[];
  raw: string;
  /** The first answer token's top logprobs (`logprobs`); absent when the server returned none. */
  topLogprobs?: { token: string; logprob: number }[];
  /** "empty answer", "cut off by max tokens": what the reply itself says is wrong with it. */
  answerIssues?: string[];
  usage: Usage;
  costUsd: number;
  model: string;
  fingerprint: string | null;
  latencyMs: number;
  finishReason: string | null;
  via: 'sync' | 'batch' | 'baseline';
  answeredAt: string;
}

// ---------- score → data/scores/<model>/<domain>.jsonl ----------

export interface ScoreRecord {
  v: number;
  promptId: string;
  modelId: string;
  domain: DomainName;
  setup: Setup;
  proxy: string;
  historyLength: number;
  groupSize: number;
  targetEntropy: number;
  crossEntropy: number;
  /** Whether some item with positive target got zero model mass, so the smoothing was needed. */
  smoothed: boolean;
  validPicks: number;
  outsideCandidates: number;
  duplicates: number;
  /** Items with positive target probability that got zero model mass before smoothing. */
  zeroMassPositive: number;
  /** Jensen–Shannon divergence and total variation between p and the (smoothed) q: bounded, unlike H(p, q). */
  jensenShannon: number;
  totalVariation: number;
  /** A method entry's record (lib/score/method-entries.ts): the measuring method and the model whose answer it read. */
  method?: 'samples' | 'stated' | 'logprobs';
  of?: string;
}

// ---------- the stages and what a run reports of them (plain data: the report reads it without importing the pipeline) ----------

/** `pending`: answers are waiting in open Batch API jobs; a later run collects them and continues. */
export type StepStatus = 'ran' | 'up-to-date' | 'skipped' | 'failed' | 'pending';

export interface StepResult {
  /** A stage's name, or "report". */
  stage: string;
  domain?: DomainName;
  model?: string;
  status: StepStatus;
  seconds: number;
  detail?: string;
}

export interface SkippedModel {
  id: string;
  reason: string;
}

export interface FailedDomain {
  domain: DomainName;
  reason: string;
  fix?: string;
}
