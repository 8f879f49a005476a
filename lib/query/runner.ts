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
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { Config, DomainName, ModelConfig } from '../core/config';
import { redact } from '../core/secrets';
import type { Usage } from '../core/types';
import { openBatchKeys, runBatches, type BatchJob, type BatchRunReport } from './batch';
import { estimateDryRun } from './dry-run';
import { formatCount, formatUsd } from './format';
import {
  countRecords,
  loadQueryInputs,
  resolveModels,
  responsesFile,
  storeDir,
  storeFile,
  type QueryInputs,
} from './inputs';
import { addUsage, requestKey } from './llm';
import { modelAvailability } from './availability';
import { cellOf, measuredAnswers, pilotSelection } from './pilot';
import { keepEarlierAnswers } from './retry-finish';
import type { PromptJob } from './models';
import { emptyParseSummary, finishNote, writeResponses, type KeyedJob, type ParseSummary } from './responses';
import type { RetryPolicy } from './retry';
import { sendMissing, type PromptFailure, type RunControl } from './send';
import { asksInOneRequest, querySamplesOf, repeatedJobs } from './repeats';
import { orderOf } from '../sample/orders';
import { ResponseStore, storeFileName } from './store';
import { assumedOutputTokens, elicitMethodsOf, elicitationPasses, jobRequest, methodLog } from './elicit';
import {
  keepUnstoredAnswers,
  lockStoreForRun,
  putBackAnswers,
  requireAppendable,
  storeWillBeWritten,
} from './store-guard';

import { runBaseline } from './baseline-run';
import type { BatchModeSummary, QueryOptions, QueryRunSummary } from './run-types';

export type { BatchModeSummary, QueryOptions, QueryRunSummary } from './run-types';

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
  const release = opts.dryRun ? () => {} : await lockStoreForRun(config, model, domain, control.stop, log);
  if (typeof release === 'string') {
    Object.assign(summary, {
      interrupted: true,
      unavailable: release,
      missing: summary.prompts,
      notSent: summary.distinctRequests,
    });
    return;
  }
  try {
    await queryLocked(config, domain, model, inputs, keyed, summary, control, opts, log);
  } finally {
    release();
  }
}

/** runApiModel's work once the store lock is held (same arguments). */
async function queryLocked(...args: Parameters<typeof runApiModel>): Promise<void> {
  const [config, domain, model, inputs, keyed, summary, control, opts, runLog] = args;
  const log = methodLog(runLog, model, domain, summary.method);
  const file = storeFile(config, model);
  // A folder (or a device) in the store file's place cannot even be read.
  if (!opts.dryRun && fs.existsSync(file) && !fs.statSync(file).isFile()) requireAppendable(config, model, domain);
  const store = ResponseStore.open(storeDir(config), { files: [storeFileName(model.provider, model.model)] });
  summary.tornStoreLines = store.tornLines;
  summary.corruptStoreLines = store.corruptLines;
  for (const p of store.problems) {
    if (p.kind === 'torn')
      log(
        `response store: skipped unreadable line ${p.file}:${p.line} (${p.reason}); a torn append from an interrupted run`,
      );
    else
      log(
        `response store: line ${p.line} of ${p.file} is corrupt (${p.reason}): not a torn append (no crash leaves this); the file was edited or damaged — the line is skipped`,
      );
  }
  const distinct = distinctRequests(keyed);
  const unstored = [...distinct.keys()].filter((k) => !store.has(k));
  if (!opts.dryRun && storeWillBeWritten(config, model, domain, unstored.length > 0)) {
    // Nothing is sent, and nothing put back, into a store that cannot take it.
    requireAppendable(config, model, domain);
    summary.recovered = putBackAnswers(
      config,
      domain,
      model,
      store,
      new Map(unstored.map((k) => [k, distinct.get(k)!.job])),
      log,
    );
  }
  let missing = [...distinct].filter(([key]) => !store.has(key));
  const reuse = opts.retryFinish?.length
    ? keepEarlierAnswers(config, model, store, distinct, missing, new Set(opts.retryFinish), log)
    : new Map<string, string>();
  missing = missing.filter(([key]) => !reuse.has(key));
  const has = (key: string) => store.has(key) || reuse.has(key);
  summary.distinctRequests = distinct.size;
  summary.alreadyStored = distinct.size - missing.length;
  summary.toSend = missing.length;
  summary.fromStore = keyed.filter((k) => has(k.key)).length;

  if (opts.dryRun) {
    const measured = measuredAnswers(distinct, (key) => store.get(key)?.usage);
    // An elicitation method's answer is not a ranking's length: its own assumption prices it (a pilot measures it).
    // One request with `n` choices (samples) writes n answers: n times the output for one prompt's input.
    const perRequest = summary.method
      ? assumedOutputTokens(summary.method, config)
      : config.query.outputTokensEstimate * (asksInOneRequest(config, model) ? config.query.samples : 1);
    const priced = { ...config, query: { ...config.query, outputTokensEstimate: perRequest } };
    const { toSend, estimate } = estimateDryRun(priced, domain, model, missing, summary.alreadyStored, log, measured);
    Object.assign(summary, {
      toSend,
      estimate,
      answered: summary.fromStore,
      missing: summary.prompts - summary.fromStore,
    });
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
      const batchJobs: BatchJob[] = missing.map(([key, { job, promptIds }]) => ({
        key,
        messages: job.messages,
        promptIds,
        ...jobRequest(config, model, job),
      }));
      const batchOpts = {
        label: domain,
        env: opts.env,
        log,
        stop: control.stop,
        hard: control.hard,
        retry: opts.retry,
        progressIntervalMs: opts.progressIntervalMs,
      };
      if (opts.batch) {
        applyBatchReport(
          summary,
          await runBatches(config, model, store, batchJobs, { ...batchOpts, submit: true }),
          distinct,
        );
      } else {
        // Collect finished batches first, and never pay again for a prompt that still waits in an open one.
        const waiting = openBatchKeys(config, model);
        if (missing.some(([key]) => waiting.has(key))) {
          let pending = waiting;
          try {
            const report = await runBatches(config, model, store, batchJobs, {
              ...batchOpts,
              submit: false,
              wait: false,
            });
            applyBatchReport(summary, report, distinct);
            pending = new Set(report.pendingKeys);
          } catch (e) {
            log(`${model.id}: open batches not collected: ${(e as Error).message}`);
          }
          missing = missing.filter(([key]) => !store.has(key) && !pending.has(key));
          const waitingPrompts = [...pending].reduce((n, k) => n + (distinct.get(k)?.promptIds.length ?? 0), 0);
          if (waitingPrompts)
            log(
              `${model.id} ${domain}: ${formatCount(waitingPrompts)} prompts wait in open batches and are not sent synchronously; run with --batch to collect them`,
            );
        }
        if (missing.length && !store.broken)
          await sendMissing(config, model, store, missing, summary, control, opts, log);
      }
    }
  }
  if (store.broken) {
    // What was paid and not stored is kept and named; the responses file waits for the run that stores it.
    const { message, recoveryFile } = keepUnstoredAnswers(config, domain, model, store, summary.notSent);
    const answered = keyed.filter((k) => has(k.key)).length;
    Object.assign(summary, {
      unstored: store.unstored.length,
      recoveryFile,
      storeFailure: message,
      answered,
      missing: summary.prompts - answered,
      failed: summary.failures.reduce((n, f) => n + f.promptIds.length, 0),
      outputFile: responsesFile(config, model.id, domain, summary.method),
    });
    log(message);
    return;
  }

  if (summary.pilot) {
    summary.failed = summary.failures.reduce((n, f) => n + f.promptIds.length, 0);
    // A pilot leaves the responses file alone: it would hold a few prompts per cell, and later stages read it as the run.
    const answered = keyed.filter((k) => has(k.key)).length;
    Object.assign(summary, { answered, missing: summary.prompts - answered });
    log(
      `${model.id} ${domain}: pilot: ${formatCount(answered)}/${formatCount(summary.prompts)} pilot prompts answered and stored (responses file not written); ` +
        `\`--dry-run\` now estimates the full run from them, and the full run asks only the other ${formatCount(summary.pilot.ofPrompts - answered)}`,
    );
    return;
  }
  const failedRun =
    summary.failures.length > 0 ||
    summary.interrupted ||
    summary.unavailable !== undefined ||
    summary.stopped !== undefined;
  const previous = countRecords(responsesFile(config, model.id, domain, summary.method));
  const answerable = keyed.filter((k) => has(k.key)).length;
  if (failedRun && answerable < previous) {
    // The store (with what was recovered) holds fewer answers than the file: keep the file rather than shrink it.
    Object.assign(summary, {
      written: 0,
      answered: answerable,
      missing: summary.prompts - answerable,
      outputFile: responsesFile(config, model.id, domain, summary.method),
    });
    summary.failed = summary.failures.reduce((n, f) => n + f.promptIds.length, 0);
    log(
      `${model.id} ${domain}: the run did not complete and has ${formatCount(answerable)} answers, fewer than the ${formatCount(previous)} records of ${responsesFile(config, model.id, domain, summary.method)}; that file is left as it was`,
    );
    return;
  }
  // A prompt answered by an earlier answer (--retry-finish) is recorded under that answer's key.
  const recordKeys = reuse.size
    ? keyed.map((k) => (reuse.has(k.key) ? { ...k, key: reuse.get(k.key) as string } : k))
    : keyed;
  const out = writeResponses(config, domain, model, recordKeys, inputs.itemName, (k) => {
    const e = store.get(k);
    return (
      e && {
        raw: e.raw,
        usage: e.usage,
        costUsd: e.costUsd,
        model: e.model,
        fingerprint: e.fingerprint,
        latencyMs: e.latencyMs,
        finishReason: e.finishReason ?? null,
        via: e.via,
        answeredAt: e.answeredAt,
        ...(e.topLogprobs ? { topLogprobs: e.topLogprobs } : {}),
        ...(e.choices ? { choices: e.choices } : {}),
      }
    );
  });
  Object.assign(summary, {
    written: out.written,
    answered: out.written,
    missing: summary.prompts - out.written,
    outputFile: out.file,
    parse: out.parse,
  });
  summary.failed = summary.failures.reduce((n, f) => n + f.promptIds.length, 0);
  log(
    `${model.id} ${domain}: ${formatCount(out.written)}/${formatCount(summary.prompts)} prompts answered${finishNote(out.parse)} → ${out.file}`,
  );
}

/** Adds what a Batch API run did to the model's summary. */
function applyBatchReport(
  summary: QueryRunSummary,
  report: BatchRunReport,
  distinct: Map<string, { promptIds: string[] }>,
): void {
  const submittedRequests = report.submitted.reduce((n, b) => n + b.requests, 0);
  summary.sent += submittedRequests;
  summary.newAnswers += report.newAnswers;
  addUsage(summary.usage, report.usage);
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

/** What candidate orders (m) and repeated samples (n) multiply the requests by: the dry run's prices include both. */
function logMultipliers(inputs: QueryInputs, asks: number, domain: DomainName, log: (s: string) => void): void {
  const drawn = inputs.samples.filter((s) => orderOf(s) === 1).length;
  const orders = drawn ? inputs.samples.length / drawn : 1;
  if (orders === 1 && asks === 1) return;
  log(
    `[dry run] ${domain}: ${formatCount(drawn)} samples × ${Number.isInteger(orders) ? orders : orders.toFixed(2)} candidate orders × ${asks} asks = ` +
      `${formatCount(inputs.samples.length * asks)} requests per model`,
  );
}

/**
 * Runs the query stage for the named models on one domain and writes data/responses/<model>/<domain>.jsonl.
 * With `dryRun`, only counts prompts to send, their tokens and their estimated cost.
 */
export async function runQuery(
  config: Config,
  domain: DomainName,
  modelIds: string[],
  opts: QueryOptions = {},
): Promise<QueryRunSummary[]> {
  const print = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  // Every line of the stage (the clients', the batch code's, the store's) leaves without a key in it.
  const log = (line: string) => print(redact(line));
  const models = resolveModels(config, modelIds);
  const inputs = loadQueryInputs(config, domain);
  const asks = querySamplesOf(config);
  const jobs = repeatedJobs(inputs.jobs, config);
  if (opts.dryRun) logMultipliers(inputs, asks, domain, log);
  const passes = elicitationPasses(config, domain, inputs, jobs, models);

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
    const passesOf = (m: ModelConfig) =>
      passes.filter((p) => !p.method || elicitMethodsOf(config, m).includes(p.method));
    for (const [model, { method, jobs }] of models.flatMap((m) => passesOf(m).map((p) => [m, p] as const))) {
      const started = Date.now();
      const all = jobs.map((job) => {
        const request = jobRequest(config, model, job);
        return { job, key: requestKey(model, config, job.messages, opts.env, request.repeat, request.method) };
      });
      const keyed = opts.limit === undefined ? all : pilotSelection(all, (k) => k.job.sample, opts.limit);
      const summary: QueryRunSummary = {
        modelId: model.id,
        ...(method ? { method } : {}),
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
        unstored: 0,
        interrupted: false,
        rejectedRequests: 0,
        adaptations: [],
        seconds: 0,
      };
      if (opts.limit !== undefined) {
        summary.pilot = {
          limit: opts.limit,
          cells: new Set(keyed.map((k) => cellOf(k.job.sample))).size,
          prompts: keyed.length,
          ofPrompts: all.length,
        };
        log(
          `${model.id} ${domain}: pilot of ${opts.limit} prompts per (setting, history length): ${formatCount(keyed.length)} of ${formatCount(all.length)} prompts in ${summary.pilot.cells} cells`,
        );
      }
      const control = { stop: stop.signal, hard: hard.signal };
      if (model.provider === 'baseline' && summary.pilot) {
        log(`${model.id} ${domain}: an offline baseline (free): nothing to pilot`);
      } else if (model.provider === 'baseline') {
        if (opts.dryRun)
          log(
            `[dry run] ${model.id} ${domain}: ${formatCount(keyed.length)} prompts, answered offline (free, nothing sent)`,
          );
        else
          await runBaseline(
            config,
            domain,
            model,
            inputs,
            keyed,
            summary,
            control,
            methodLog(log, model, domain, method),
          );
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
