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
import type { Config, DomainName, ModelConfig } from '../core/config';
import { Progress } from '../core/progress';
import type { Usage } from '../core/types';
import { createBaseline } from './baselines';
import { openBatchKeys, runBatches, type BatchJob, type BatchRunReport } from './batch';
import { estimateDryRun, type DryRunEstimate } from './dry-run';
import { formatCount, formatUsd } from './format';
import { loadQueryInputs, resolveModels, storeDir, type QueryInputs } from './inputs';
import { createApiResponder, modelAvailability, requestKey, storedAnswerFor, RequestFailedError } from './llm';
import type { PromptJob } from './models';
import { emptyParseSummary, writeResponses, type AnswerForRecord, type KeyedJob, type ParseSummary } from './responses';
import type { FailureKind, RetryPolicy } from './retry';
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
  interrupted: boolean;
  /** Why the model could not be asked, when it could not. */
  unavailable?: string;
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
    answers.set(key, { raw: a.text, usage: a.usage, costUsd: 0, model: a.model, fingerprint: a.fingerprint, latencyMs: 0, via: 'baseline', answeredAt: '' });
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
  const store = ResponseStore.open(storeDir(config), { files: [storeFileName(model.provider, model.model)] });
  summary.tornStoreLines = store.tornLines;
  for (const p of store.problems) log(`response store: skipped unreadable line ${p.file}:${p.line} (${p.reason}); a torn append from an interrupted run, its answer will be asked again`);
  const distinct = distinctRequests(keyed);
  let missing = [...distinct].filter(([key]) => !store.has(key));
  summary.distinctRequests = distinct.size;
  summary.alreadyStored = distinct.size - missing.length;
  summary.toSend = missing.length;
  summary.fromStore = keyed.filter((k) => store.has(k.key)).length;

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

  const out = writeResponses(config, domain, model, keyed, inputs.itemName, (k) => {
    const e = store.get(k);
    return e && { raw: e.raw, usage: e.usage, costUsd: e.costUsd, model: e.model, fingerprint: e.fingerprint, latencyMs: e.latencyMs, via: e.via, answeredAt: e.answeredAt };
  });
  Object.assign(summary, { written: out.written, answered: out.written, missing: summary.prompts - out.written, outputFile: out.file, parse: out.parse });
  summary.failed = summary.failures.reduce((n, f) => n + f.promptIds.length, 0);
  log(`${model.id} ${domain}: ${formatCount(out.written)}/${formatCount(summary.prompts)} prompts answered → ${out.file}`);
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
  const worker = async () => {
    while (!control.stop.aborted) {
      const i = next++;
      if (i >= missing.length) return;
      const [key, { job, promptIds }] = missing[i];
      attempted++;
      try {
        const entry = await store.fetchOnce(key, async () => storedAnswerFor(model, config, key, await responder.answer(job, control.hard), 'sync'));
        summary.newAnswers++;
        summary.usage.inputTokens += entry.usage.inputTokens;
        summary.usage.outputTokens += entry.usage.outputTokens;
        summary.costUsd += entry.costUsd;
      } catch (e) {
        if (e instanceof RequestFailedError && e.kind === 'aborted') {
          attempted--;
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
  summary.httpRequests += responder.stats.requests;
  summary.retries += responder.stats.retries;
  summary.notSent += missing.length - attempted;
  summary.sent += attempted;
  if (summary.failures.length) {
    const n = summary.failures.reduce((s, f) => s + f.promptIds.length, 0);
    log(`${model.id}: ${formatCount(n)} prompts failed (not stored; a rerun asks them again):`);
    for (const line of summarizeFailures(summary.failures)) log(line);
  }
  if (control.stop.aborted) {
    summary.interrupted = true;
    log(
      `${model.id}: interrupted — ${formatCount(summary.newAnswers)} new answers stored, ${formatCount(summary.notSent)} prompts not sent; ` +
        'run the same command again to resume (stored answers are never requested again)',
    );
  }
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
