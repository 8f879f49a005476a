// runBatches: recover interrupted submissions, collect, submit, wait, and report what is still open.
import * as path from 'node:path';
import type { Config, ModelConfig } from '../../core/config';
import { Progress } from '../../core/progress';
import { FORMAT_VERSION } from '../../core/types';
import { formatCount } from '../format';
import { redactSecrets } from '../keys';
import { abortableSleep, AbortedError } from '../retry';
import type { ResponseStore } from '../store';
import { createBatchClient, type BatchObject } from './client';
import { poll, recordSubmitted } from './collect';
import { appendLedger, batchDir, batchLedgerFile, ledgerBatchesFor, type LedgerBatch } from './ledger';
import { acquireLock } from './lock';
import { summarizeBatchFailures, type BatchRunOptions, type BatchRunReport, type CollectContext } from './report';
import { removeBatchRequestFile, sweepBatchRequestFiles, type BatchJob } from './requests';
import { submit } from './submit';

function checkBatchConfig(config: Config): void {
  const q = config.query;
  if (!(Number.isInteger(q.batchMaxRequests) && q.batchMaxRequests >= 1))
    throw new Error(`config: "query.batchMaxRequests" must be a whole number >= 1, got ${q.batchMaxRequests}`);
  if (!(Number.isInteger(q.batchMaxBytes) && q.batchMaxBytes >= 1))
    throw new Error(`config: "query.batchMaxBytes" must be a whole number >= 1, got ${q.batchMaxBytes}`);
  if (!(q.batchPollSeconds > 0))
    throw new Error(`config: "query.batchPollSeconds" must be > 0, got ${q.batchPollSeconds}`);
  if (!(q.batchDiscount > 0 && q.batchDiscount <= 1))
    throw new Error(`config: "query.batchDiscount" must be in (0, 1], got ${q.batchDiscount}`);
}

/**
 * Sends `jobs` (requests without a stored answer) through the Batch API and/or collects the model's open batches.
 * Answers go into `store`; the caller writes the responses file from it.
 */
export async function runBatches(
  config: Config,
  model: ModelConfig,
  store: ResponseStore,
  jobs: BatchJob[],
  opts: BatchRunOptions,
): Promise<BatchRunReport> {
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
  // The key's raw and trimmed forms (and its pieces) go; the ledger's failure messages are written through this too.
  const safe = (s: string) => redactSecrets(s, secrets);
  const client = createBatchClient(model, config, {
    env: opts.env,
    log: (l) => log(safe(l)),
    retry: opts.retry,
    signal: opts.hard,
  });
  const filesDir = path.join(batchDir(config), 'files');
  const release = acquireLock(ledgerFile);
  try {
    const { batches: known, problems } = ledgerBatchesFor(config, model);
    for (const p of problems) log(`batch ledger: skipped unreadable line ${p.file}:${p.line} (${p.reason})`);
    const live = known.filter((b) => b.state === 'creating' || b.state === 'open');
    const swept = sweepBatchRequestFiles(config, model, new Set(live.map((b) => b.localId)));
    if (swept.length)
      log(`${model.id}: removed ${swept.length} request files of batches that were never recorded or are closed`);

    // 1. A crash between "creating" and "submitted": find out whether the batch exists.
    for (const b of live.filter((x) => x.state === 'creating')) {
      try {
        const found = await client.find(b.localId, Math.floor(Date.parse(b.reservedAt) / 1000) - 3600);
        if (found) {
          recordSubmitted(ledgerFile, b, found, true);
          log(
            `${model.id}: batch ${found.id} (${formatCount(b.requests)} requests) was created before the last run stopped; collecting it instead of submitting again`,
          );
        } else {
          b.state = 'abandoned';
          appendLedger(ledgerFile, {
            v: FORMAT_VERSION,
            event: 'abandoned',
            localId: b.localId,
            at: new Date().toISOString(),
            batchId: null,
            reason: 'never created: no batch with this ubp_local_id on the server',
          });
          removeBatchRequestFile(config, model, b.localId);
          log(
            `${model.id}: ${formatCount(b.requests)} requests reserved by an interrupted submission were never sent; they are free again`,
          );
        }
      } catch (e) {
        log(
          safe(
            `${model.id}: cannot tell whether reserved batch ${b.localId} was created (${(e as Error).message}); its ${formatCount(b.requests)} requests stay reserved`,
          ),
        );
      }
    }

    const ctx: CollectContext = { config, model, store, client, ledgerFile, filesDir, log, safe, promptIdsOf, report };
    const status = new Map<string, BatchObject>();

    // 2. One look at every open batch; collect the finished ones.
    const open = () => live.filter((b) => b.state === 'open');
    // A store that refused a write takes no more answers: the batches stay open and the next run collects them.
    for (const b of open()) if (!store.broken) await poll(ctx, b, status);

    // 3. Submit what is neither stored nor waiting in an open batch (never into a store that refused a write).
    if (opts.submit && !store.broken) {
      const reserved = new Set(live.filter((b) => b.state === 'open' || b.state === 'creating').flatMap((b) => b.keys));
      const toSubmit = jobs.filter((j) => !store.has(j.key) && !reserved.has(j.key));
      const waiting = jobs.filter((j) => !store.has(j.key) && reserved.has(j.key)).length;
      if (waiting)
        log(
          `${model.id} ${opts.label}: ${formatCount(waiting)} requests already wait in open batches; not submitted again`,
        );
      if (toSubmit.length) live.push(...(await submit(ctx, toSubmit, opts)));
    }

    // 4. Wait for the batches holding requested keys (or return at once with batchWait false).
    const relevant = () => open().filter((b) => b.keys.some((k) => wanted.has(k) && !store.has(k)));
    if (wait && relevant().length && !opts.stop?.aborted && !store.broken) {
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
      while (waitingFor().length && !store.broken) {
        try {
          await abortableSleep(pollMs, opts.stop);
        } catch (e) {
          // Ctrl-C while waiting: stop polling; the open batches stay in the ledger for the next run.
          if (e instanceof AbortedError) break;
          throw e;
        }
        for (const b of waitingFor()) if (!store.broken && !(await poll(ctx, b, status))) unreachable.add(b);
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
    for (const b of live.filter((x) => x.state === 'creating' || x.state === 'open'))
      for (const k of b.keys) if (wanted.has(k) && !store.has(k)) report.pendingKeys.push(k);
    const pending = new Set(report.pendingKeys);
    // A request that failed in a batch collected above and was submitted again is waiting, not failed.
    report.failures = report.failures.filter((f) => !store.has(f.key) && !pending.has(f.key));
    const failedKeys = new Set(report.failures.map((f) => f.key));
    report.notSubmitted = opts.submit
      ? jobs.filter((j) => !store.has(j.key) && !pending.has(j.key) && !failedKeys.has(j.key)).length
      : 0;
    if (report.open.length) {
      const n = report.pendingKeys.length;
      log(
        `${model.id} ${opts.label}: ${report.open.length} batch${report.open.length > 1 ? 'es' : ''} still open (${report.open.map((o) => `${o.batchId ?? o.localId} ${o.status}`).join(', ')})` +
          `${n ? `, holding ${formatCount(n)} of the requested prompts` : ''}; recorded in ${ledgerFile}; run again with --batch to collect ${n ? 'them' : 'it'} (nothing is submitted twice)`,
      );
    }
    if (report.failures.length) {
      log(
        `${model.id} ${opts.label}: ${formatCount(report.failures.length)} batch requests failed (listed in ${ledgerFile}; not stored — the next run, batch or synchronous, sends only them):`,
      );
      for (const line of summarizeBatchFailures(report.failures)) log(line);
    }
  } finally {
    report.httpRequests = client.stats.requests;
    release();
  }
  return report;
}
