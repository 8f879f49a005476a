/**
 * The query stage: samples + model configuration → data/responses/<model>/<domain>.jsonl.
 *
 * Hosted and local API models answer through lib/query/llm.ts; every answer goes into the response store the moment it
 * arrives, and a rerun sends only the prompts whose key is not stored. Offline baselines answer in-process (free and
 * deterministic, so they are not stored). The responses file is rewritten atomically from the store at the end of
 * every run, interrupted or not.
 *
 * With `batch`, OpenAI and OpenAI-compatible models send their missing prompts through the Batch API (lib/query/batch/)
 * into the same store. Either way a run first collects the model's finished open batches and never sends a prompt
 * that still waits in an open batch.
 */
import { setMaxListeners } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config, DomainName, ModelConfig } from '../core/config';
import { Progress } from '../core/progress';
import type { Usage } from '../core/types';
import { createBaseline } from './baselines';
import { openBatchKeys, runBatches, type BatchJob, type BatchRunReport } from './batch';
import { estimateDryRun, type DryRunEstimate } from './dry-run';
import { formatCount, formatUsd } from './format';
import { loadQueryInputs, resolveModels, responsesFile, storeDir, type QueryInputs } from './inputs';
import { costUsd, createApiResponder, effectiveBaseURL, generationParams, modelAvailability, requestKey, storedAnswerFor, RequestFailedError } from './llm';
import { earlierAnswers, storedWithFinish } from './retry-finish';
import { recoverFromResponses } from './recover';
import type { PromptJob } from './models';
import { emptyParseSummary, formatFinishReasons, writeResponses, type AnswerForRecord, type KeyedJob, type ParseSummary } from './responses';
import type { FailureKind, RetryPolicy } from './retry';
import { acquireLock, LockHeldError } from './lock';
import { ResponseStore, storeFileName } from './store';

// What the query stage exported before its inputs, responses file and dry run moved to their own files.
export { modelAvailability } from './llm';
export { loadQueryInputs, loadResponses, resolveModels, responsesFile, storeDir, type QueryInputs } from './inputs';
export { writeResponses, type AnswerForRecord, type KeyedJob, type ParseSummary } from './responses';
export type { DryRunEstimate } from './dry-run';

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
}

export interface PromptFailure {
  /** The prompts that share this request (identical prompts share one). */
  promptIds: string[];
  key: string;
  kind: FailureKind | 'store' | 'batch';
  status?: number;
  attempts: number;
  message: string;
  /** Batch API failures: the batch (null when it was never created) and the error code (batch_expired …). */
  batchId?: string | null;
  code?: string;
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
  /** Answers missing from the store (torn line, damaged or deleted store) put back from the responses file. */
  recovered: number;
  interrupted: boolean;
  /** Why the model could not be asked, when it could not. */
  unavailable?: string;
  /** Why the run stopped asking the model part-way (its circuit breaker: hanging server, revoked key, bad replies). */
  stopped?: string;
  estimate?: DryRunEstimate;
  /** Batch API activity (submitted, collected, still open). */
  batch?: BatchModeSummary;
  seconds: number;
}

// ---------- the run ----------

/** One entry per distinct key, in sample order, with the prompt ids sharing it. */
function distinctRequests(keyed: KeyedJob[]): Map<string, { job: PromptJob; promptIds: string[] }> {
  const out = new Map<string, { job: PromptJob; promptIds: string[] }>();
  for (const k of keyed) {
    const e = out.get(k.key);
    if (e) e.promptIds.push(k.job.sample.id);
    else out.set(k.key, { job: k.job, promptIds: [k.job.sample.id] });
  }
  return out;
}

function summarizeFailures(failures: PromptFailure[]): string[] {
  const groups = new Map<string, PromptFailure[]>();
  for (const f of failures) {
    const g = groups.get(f.message) ?? [];
    g.push(f);
    groups.set(f.message, g);
  }
  const lines: string[] = [];
  for (const [message, fs_] of groups) {
    const ids = fs_.flatMap((f) => f.promptIds);
    lines.push(`  ${formatCount(ids.length)} × ${message} — prompts ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`);
  }
  return lines;
}

interface RunControl {
  /** Stop taking new prompts. */
  stop: AbortSignal;
  /** Abort requests in flight. */
  hard: AbortSignal;
}

async function runBaseline(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  inputs: QueryInputs,
  keyed: KeyedJob[],
  summary: QueryRunSummary,
  control: RunControl,
  log: (s: string) => void,
): Promise<void> {
  const responder = createBaseline(model, inputs.data, config);
  const answers = new Map<string, AnswerForRecord>();
  for (const { job, key } of keyed) {
    if (control.stop.aborted) {
      summary.interrupted = true;
      break;
    }
    if (answers.has(key)) continue;
    const a = await responder.answer(job, control.hard);
    // Baselines are pure functions of the sample: no timestamp or timing, so reruns write identical bytes.
    answers.set(key, { raw: a.text, usage: a.usage, costUsd: 0, model: a.model, fingerprint: a.fingerprint, latencyMs: 0, finishReason: 'stop', via: 'baseline', answeredAt: '' });
  }
  summary.newAnswers = answers.size;
  if (summary.interrupted) {
    // A partial baseline run would replace a complete file with a shorter one; baselines are cheap to rerun instead.
    Object.assign(summary, { newAnswers: 0, missing: summary.prompts });
    log(`${model.id} ${domain}: interrupted; responses file left as it was (rerun to answer all prompts)`);
    return;
  }
  const out = writeResponses(config, domain, model, keyed, inputs.itemName, (k) => answers.get(k));
  Object.assign(summary, { written: out.written, answered: out.written, missing: summary.prompts - out.written, outputFile: out.file, parse: out.parse });
  log(`${model.id} ${domain}: ${formatCount(out.written)} answers (offline baseline) → ${out.file}`);
}

async function runApiModel(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  inputs: QueryInputs,
  keyed: KeyedJob[],
  summary: QueryRunSummary,
  control: RunControl,
  opts: QueryOptions,
  log: (s: string) => void,
): Promise<void> {
  // One run at a time per store file: a second run waits, then finds the first run's answers stored instead of paying again.
  let release = () => {};
  if (!opts.dryRun) {
    try {
      release = await acquireLock(storeFile(config, model), {
        wait: true,
        signal: control.stop,
        what: `the response store of ${model.id}`,
        onWait: (pid) => log(`${model.id}: another run (pid ${pid}) is querying this model on the same store ${storeFile(config, model)}; waiting for it to finish (Ctrl-C to stop waiting)`),
      });
    } catch (e) {
      if (!(e instanceof LockHeldError)) throw e;
      Object.assign(summary, { interrupted: true, unavailable: e.message, missing: summary.prompts, notSent: summary.distinctRequests });
      log(`${model.id}: ${e.message}; nothing sent`);
      return;
    }
  }
  try {
    await queryLocked(config, domain, model, inputs, keyed, summary, control, opts, log);
  } finally {
    release();
  }
}

/** Lines of a JSONL file (0 when it does not exist), without parsing them. */
function countRecords(file: string): number {
  if (!fs.existsSync(file)) return 0;
  const text = fs.readFileSync(file, 'utf8');
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

/** "size:mtime" of a model's store file ("none" for baselines and before the first answer): cheap to take at every run. */
export function storeIdentity(config: Config, model: ModelConfig): string {
  if (model.provider === 'baseline') return 'none';
  try {
    const st = fs.statSync(storeFile(config, model));
    return `${st.size}:${Math.round(st.mtimeMs)}`;
  } catch {
    return 'none';
  }
}

/** The store file of a model: provider + model, shared by every model id that names the same one. */
export function storeFile(config: Config, model: Pick<ModelConfig, 'provider' | 'model'>): string {
  return path.join(storeDir(config), storeFileName(model.provider, model.model));
}

/** runApiModel's work once the store lock is held (same arguments). */
async function queryLocked(...args: Parameters<typeof runApiModel>): Promise<void> {
  const [config, domain, model, inputs, keyed, summary, control, opts, log] = args;
  const store = ResponseStore.open(storeDir(config), { files: [storeFileName(model.provider, model.model)] });
  summary.tornStoreLines = store.tornLines;
  summary.corruptStoreLines = store.corruptLines;
  for (const p of store.problems) {
    if (p.kind === 'torn') log(`response store: skipped unreadable line ${p.file}:${p.line} (${p.reason}); a torn append from an interrupted run`);
    else log(`response store: line ${p.line} of ${p.file} is corrupt (${p.reason}): not a torn append (no crash leaves this); the file was edited or damaged — the line is skipped`);
  }
  const distinct = distinctRequests(keyed);
  if (!opts.dryRun) {
    const recovered = recoverFromResponses(config, domain, model, store, new Set([...distinct.keys()].filter((k) => !store.has(k))));
    summary.recovered = recovered;
    if (recovered) log(`${model.id} ${domain}: ${formatCount(recovered)} answers missing from the store were recovered from ${responsesFile(config, model.id, domain)} (not paid again)`);
  }
  let missing = [...distinct].filter(([key]) => !store.has(key));
  const reuse = opts.retryFinish?.length ? keepEarlierAnswers(config, model, store, distinct, missing, new Set(opts.retryFinish), log) : new Map<string, string>();
  missing = missing.filter(([key]) => !reuse.has(key));
  const has = (key: string) => store.has(key) || reuse.has(key);
  summary.distinctRequests = distinct.size;
  summary.alreadyStored = distinct.size - missing.length;
  summary.toSend = missing.length;
  summary.fromStore = keyed.filter((k) => has(k.key)).length;

  if (opts.dryRun) {
    const { toSend, estimate } = estimateDryRun(config, domain, model, missing, summary.alreadyStored, log);
    Object.assign(summary, { toSend, estimate, answered: summary.fromStore, missing: summary.prompts - summary.fromStore });
    return;
  }

  log(
    `${model.id} ${domain}: ${formatCount(summary.prompts)} prompts, ${formatCount(distinct.size)} distinct, ` +
      `${formatCount(summary.alreadyStored)} already stored, ${formatCount(missing.length)} to send ${opts.batch ? '(Batch API)' : `(concurrency ${model.concurrency})`}`,
  );

  if (missing.length > 0) {
    const availability = await modelAvailability(model, opts.env ?? process.env);
    if (!availability.available) {
      summary.unavailable = availability.reason ?? 'unavailable';
      summary.notSent = missing.length;
      log(`${model.id}: cannot be asked: ${summary.unavailable}; nothing sent`);
    } else {
      if (availability.reason) log(`${model.id}: note: ${availability.reason}`);
      const batchJobs: BatchJob[] = missing.map(([key, { job, promptIds }]) => ({ key, messages: job.messages, promptIds }));
      const batchOpts = { label: domain, env: opts.env, log, stop: control.stop, hard: control.hard, retry: opts.retry, progressIntervalMs: opts.progressIntervalMs };
      if (opts.batch) {
        applyBatchReport(summary, await runBatches(config, model, store, batchJobs, { ...batchOpts, submit: true }), distinct);
      } else {
        // Collect finished batches first, and never pay again for a prompt that still waits in an open one.
        const waiting = openBatchKeys(config, model);
        if (missing.some(([key]) => waiting.has(key))) {
          let pending = waiting;
          try {
            const report = await runBatches(config, model, store, batchJobs, { ...batchOpts, submit: false, wait: false });
            applyBatchReport(summary, report, distinct);
            pending = new Set(report.pendingKeys);
          } catch (e) {
            log(`${model.id}: open batches not collected: ${(e as Error).message}`);
          }
          missing = missing.filter(([key]) => !store.has(key) && !pending.has(key));
          const waitingPrompts = [...pending].reduce((n, k) => n + (distinct.get(k)?.promptIds.length ?? 0), 0);
          if (waitingPrompts) log(`${model.id} ${domain}: ${formatCount(waitingPrompts)} prompts wait in open batches and are not sent synchronously; run with --batch to collect them`);
        }
        if (missing.length) await sendMissing(config, model, store, missing, summary, control, opts, log);
      }
    }
  }

  const failedRun = summary.failures.length > 0 || summary.interrupted || summary.unavailable !== undefined || summary.stopped !== undefined;
  const previous = countRecords(responsesFile(config, model.id, domain));
  const answerable = keyed.filter((k) => has(k.key)).length;
  if (failedRun && answerable < previous) {
    // The store (with what was recovered) holds fewer answers than the file: keep the file rather than shrink it.
    Object.assign(summary, { written: 0, answered: answerable, missing: summary.prompts - answerable, outputFile: responsesFile(config, model.id, domain) });
    summary.failed = summary.failures.reduce((n, f) => n + f.promptIds.length, 0);
    log(`${model.id} ${domain}: the run did not complete and has ${formatCount(answerable)} answers, fewer than the ${formatCount(previous)} records of ${responsesFile(config, model.id, domain)}; that file is left as it was`);
    return;
  }
  // A prompt answered by an earlier answer (--retry-finish) is recorded under that answer's key.
  const recordKeys = reuse.size ? keyed.map((k) => (reuse.has(k.key) ? { ...k, key: reuse.get(k.key) as string } : k)) : keyed;
  const out = writeResponses(config, domain, model, recordKeys, inputs.itemName, (k) => {
    const e = store.get(k);
    return e && { raw: e.raw, usage: e.usage, costUsd: e.costUsd, model: e.model, fingerprint: e.fingerprint, latencyMs: e.latencyMs, finishReason: e.finishReason ?? null, via: e.via, answeredAt: e.answeredAt };
  });
  Object.assign(summary, { written: out.written, answered: out.written, missing: summary.prompts - out.written, outputFile: out.file, parse: out.parse });
  summary.failed = summary.failures.reduce((n, f) => n + f.promptIds.length, 0);
  log(`${model.id} ${domain}: ${formatCount(out.written)}/${formatCount(summary.prompts)} prompts answered${finishNote(out.parse)} → ${out.file}`);
}

async function sendMissing(
  config: Config,
  model: ModelConfig,
  store: ResponseStore,
  missing: [string, { job: PromptJob; promptIds: string[] }][],
  summary: QueryRunSummary,
  control: RunControl,
  opts: QueryOptions,
  log: (s: string) => void,
): Promise<void> {
  const responder = createApiResponder(model, config, { env: opts.env, retry: opts.retry, log });
  const progress = new Progress({
    label: `${model.id} ${summary.domain}`,
    total: missing.length,
    unit: 'prompts',
    write: log,
    intervalMs: opts.progressIntervalMs ?? 2000,
    extra: () =>
      `tokens in ${formatCount(summary.usage.inputTokens)} out ${formatCount(summary.usage.outputTokens)}, ${formatUsd(summary.costUsd)}` +
      (summary.failures.length ? `, ${summary.failures.length} failed` : ''),
  });
  let next = 0;
  let attempted = 0;
  let unsentPrompts = 0;
  const worker = async () => {
    while (!control.stop.aborted && responder.stopped === null) {
      const i = next++;
      if (i >= missing.length) return;
      const [key, { job, promptIds }] = missing[i];
      attempted++;
      try {
        const entry = await store.fetchOnce(key, async () => storedAnswerFor(model, config, key, await responder.answer(job, control.hard, control.stop), 'sync'));
        summary.newAnswers++;
        summary.usage.inputTokens += entry.usage.inputTokens;
        summary.usage.outputTokens += entry.usage.outputTokens;
        summary.costUsd += entry.costUsd;
      } catch (e) {
        if (e instanceof RequestFailedError && e.kind === 'aborted' && e.attempts === 0) {
          attempted--;
          unsentPrompts += promptIds.length;
        } else if (e instanceof RequestFailedError) {
          summary.failures.push({ promptIds, key, kind: e.kind, status: e.status, attempts: e.attempts, message: e.message });
        } else {
          summary.failures.push({ promptIds, key, kind: 'store', attempts: 1, message: `${model.id}: ${(e as Error).message}` });
        }
      }
      progress.tick();
    }
  };
  await Promise.all(Array.from({ length: Math.min(model.concurrency, missing.length) }, worker));
  progress.finish();
  unsentPrompts += missing.slice(next).reduce((n, [, e]) => n + e.promptIds.length, 0);
  summary.httpRequests += responder.stats.requests;
  summary.retries += responder.stats.retries;
  // Replies that were billed but held no answer: their tokens were paid for, so they count in what the run spent.
  const unanswered = responder.stats.unansweredUsage;
  summary.usage.inputTokens += unanswered.inputTokens;
  summary.usage.outputTokens += unanswered.outputTokens;
  summary.costUsd += costUsd(model, unanswered);
  summary.notSent += missing.length - attempted;
  summary.sent += attempted;
  if (summary.failures.length) {
    const n = summary.failures.reduce((s, f) => s + f.promptIds.length, 0);
    log(`${model.id}: ${formatCount(n)} prompts failed (not stored; a rerun asks them again):`);
    for (const line of summarizeFailures(summary.failures)) log(line);
  }
  if (responder.stopped !== null) {
    summary.stopped = responder.stopped;
    log(
      `${model.id}: stopped asking this model: ${responder.stopped}. ${formatCount(summary.newAnswers)} new answers stored, ` +
        `${formatCount(unsentPrompts)} prompts not sent; fix the cause and run the same command again`,
    );
  }
  if (control.stop.aborted) {
    summary.interrupted = true;
    log(
      `${model.id}: interrupted — ${formatCount(summary.newAnswers)} new answers stored, ${formatCount(summary.notSent)} prompts not sent` +
        `${summary.failures.length ? `, ${formatCount(summary.failures.length)} failed or cut short` : ''}; ` +
        'run the same command again to resume (stored answers are never requested again)',
    );
  }
}

/** With --retry-finish: the earlier answers kept (current key → earlier key), after saying what is asked again. */
function keepEarlierAnswers(
  config: Config,
  model: ModelConfig,
  store: ResponseStore,
  distinct: Map<string, { job: PromptJob; promptIds: string[] }>,
  missing: [string, { job: PromptJob; promptIds: string[] }][],
  retryFinish: Set<string>,
  log: (s: string) => void,
): Map<string, string> {
  const list = [...retryFinish].join(', ');
  const same = storedWithFinish(store, distinct.keys(), retryFinish);
  if (same) {
    log(
      `${model.id}: ${formatCount(same)} answers stored under the current settings ended with finish reason ${list}; ` +
        'the same request would give the same answer, so they are not asked again (raise query.maxTokens first)',
    );
  }
  const { reuse, reask } = earlierAnswers(store, model, effectiveBaseURL(model), generationParams(config), missing, retryFinish);
  log(`${model.id}: --retry-finish ${list}: ${formatCount(reask)} earlier answers ended that way and are asked again; ${formatCount(reuse.size)} earlier answers are kept`);
  return reuse;
}

/** " (finish: stop 10, length 2; 2 cut off by max tokens, 1 empty answer)": what the answers' replies say. */
function finishNote(parse: ParseSummary): string {
  const counts = formatFinishReasons(parse.byFinishReason);
  if (!counts) return '';
  const issues = [
    parse.cutOff ? `${formatCount(parse.cutOff)} cut off by max tokens (raise query.maxTokens, rerun with --retry-finish length)` : '',
    parse.empty ? `${formatCount(parse.empty)} empty answer${parse.empty > 1 ? 's' : ''}` : '',
  ].filter(Boolean);
  return ` (finish: ${counts}${issues.length ? `; ${issues.join(', ')}` : ''})`;
}

/** Adds what a Batch API run did to the model's summary. */
function applyBatchReport(summary: QueryRunSummary, report: BatchRunReport, distinct: Map<string, { promptIds: string[] }>): void {
  const submittedRequests = report.submitted.reduce((n, b) => n + b.requests, 0);
  summary.sent += submittedRequests;
  summary.newAnswers += report.newAnswers;
  summary.usage.inputTokens += report.usage.inputTokens;
  summary.usage.outputTokens += report.usage.outputTokens;
  summary.costUsd += report.costUsd;
  summary.httpRequests += report.httpRequests;
  summary.notSent += report.notSubmitted;
  if (report.interrupted) summary.interrupted = true;
  for (const f of report.failures) {
    // Failures of other runs' requests (another domain's prompts in a shared batch) are logged, not counted here.
    if (!f.promptIds.length) continue;
    const why = `${f.status !== undefined ? `HTTP ${f.status} ` : ''}${f.code ? `${f.code}: ` : ''}${f.message}`;
    summary.failures.push({
      promptIds: f.promptIds,
      key: f.key,
      kind: 'batch',
      status: f.status,
      attempts: 1,
      message: `${summary.modelId}: ${f.batchId ? `batch ${f.batchId}` : 'batch submission'}: ${why}`,
      batchId: f.batchId,
      code: f.code,
    });
  }
  const prev = summary.batch;
  summary.batch = {
    ledgerFile: report.ledgerFile,
    submittedBatches: [...(prev?.submittedBatches ?? []), ...report.submitted.map((b) => b.batchId)],
    submittedRequests: (prev?.submittedRequests ?? 0) + submittedRequests,
    collectedBatches: [...(prev?.collectedBatches ?? []), ...report.collected.map((b) => b.batchId)],
    openBatches: report.open.map((b) => b.batchId ?? b.localId),
    pendingPrompts: report.pendingKeys.reduce((n, k) => n + (distinct.get(k)?.promptIds.length ?? 0), 0),
  };
}

/**
 * Runs the query stage for the named models on one domain and writes data/responses/<model>/<domain>.jsonl.
 * With `dryRun`, only counts prompts to send, their tokens and their estimated cost.
 */
export async function runQuery(config: Config, domain: DomainName, modelIds: string[], opts: QueryOptions = {}): Promise<QueryRunSummary[]> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const models = resolveModels(config, modelIds);
  const inputs = loadQueryInputs(config, domain);

  const stop = new AbortController();
  const hard = new AbortController();
  // Every request in flight listens on `hard` (and removes its listener when done): concurrency, not a leak.
  setMaxListeners(0, stop.signal, hard.signal);
  const onExternalAbort = () => stop.abort();
  if (opts.signal?.aborted) stop.abort();
  opts.signal?.addEventListener('abort', onExternalAbort, { once: true });
  const onSigint = () => {
    if (!stop.signal.aborted) {
      log('interrupt: no new prompts are sent; waiting for requests in flight (Ctrl-C again to abort them)');
      stop.abort();
    } else {
      log('interrupt: aborting requests in flight');
      hard.abort();
    }
  };
  const handleSigint = opts.handleSigint ?? true;
  if (handleSigint) process.on('SIGINT', onSigint);

  const summaries: QueryRunSummary[] = [];
  try {
    for (const model of models) {
      const started = Date.now();
      const keyed = inputs.jobs.map((job) => ({ job, key: requestKey(model, config, job.messages) }));
      const summary: QueryRunSummary = {
        modelId: model.id,
        provider: model.provider,
        domain,
        dryRun: !!opts.dryRun,
        prompts: keyed.length,
        distinctRequests: new Set(keyed.map((k) => k.key)).size,
        alreadyStored: 0,
        toSend: 0,
        answered: 0,
        missing: 0,
        fromStore: 0,
        failed: 0,
        sent: 0,
        newAnswers: 0,
        failures: [],
        notSent: 0,
        httpRequests: 0,
        retries: 0,
        usage: { inputTokens: 0, outputTokens: 0 },
        costUsd: 0,
        written: 0,
        outputFile: null,
        parse: emptyParseSummary(),
        tornStoreLines: 0,
        corruptStoreLines: 0,
        recovered: 0,
        interrupted: false,
        seconds: 0,
      };
      const control = { stop: stop.signal, hard: hard.signal };
      if (model.provider === 'baseline') {
        if (opts.dryRun) log(`[dry run] ${model.id} ${domain}: ${formatCount(keyed.length)} prompts, answered offline (free, nothing sent)`);
        else await runBaseline(config, domain, model, inputs, keyed, summary, control, log);
      } else {
        await runApiModel(config, domain, model, inputs, keyed, summary, control, opts, log);
      }
      summary.seconds = (Date.now() - started) / 1000;
      summaries.push(summary);
      if (stop.signal.aborted && !opts.dryRun) {
        summary.interrupted = true;
        break;
      }
    }
  } finally {
    if (handleSigint) process.off('SIGINT', onSigint);
    opts.signal?.removeEventListener('abort', onExternalAbort);
  }
  return summaries;
}
