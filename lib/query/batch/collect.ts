// Polling open batches and collecting the finished ones into the response store.
import * as path from 'node:path';
import { writeFileAtomic } from '../../core/io';
import { FORMAT_VERSION } from '../../core/types';
import { formatCount } from '../format';
import { addUsage, answerFromCompletion, storedAnswerFor } from '../llm';
import { refusedOutright, TERMINAL_BATCH_STATUSES, type BatchApiError, type BatchObject } from './client';
import { appendLedger, type LedgerBatch, type LedgerFailure } from './ledger';
import type { CollectContext } from './report';
import { batchRequestFile, removeBatchRequestFile, requestParamsByKey } from './requests';
import { readBatchResults, type BatchResultLine } from './results';

function isoFromSeconds(s: number | null | undefined): string | undefined {
  return typeof s === 'number' && s > 0 ? new Date(s * 1000).toISOString() : undefined;
}

export function recordSubmitted(ledgerFile: string, b: LedgerBatch, batch: BatchObject, recovered: boolean): void {
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
export async function poll(ctx: CollectContext, b: LedgerBatch, status: Map<string, BatchObject>): Promise<boolean> {
  const id = b.batchId as string;
  let batch: BatchObject;
  try {
    batch = await ctx.client.retrieve(id);
  } catch (e) {
    const s = (e as BatchApiError).status;
    const refused = refusedOutright(s);
    ctx.log(
      ctx.safe(
        `${ctx.model.id}: ${(e as Error).message}; the batch stays open in the ledger and is asked again ${refused ? 'by the next run' : 'later'}` +
          (refused
            ? ` (if it can never be retrieved — another account's batch — forgetBatches(config, model, ['${id}'], reason) frees its requests)`
            : ''),
      ),
    );
    return !refused;
  }
  const before = status.get(id);
  status.set(id, batch);
  if (!before || before.status !== batch.status) {
    const c = batch.request_counts;
    ctx.log(
      `${ctx.model.id}: batch ${id}: ${batch.status}${c ? ` (${formatCount(c.completed)} completed, ${formatCount(c.failed)} failed of ${formatCount(c.total)})` : ''}`,
    );
  }
  if (!(TERMINAL_BATCH_STATUSES as readonly string[]).includes(batch.status)) return true;
  try {
    await collect(ctx, b, batch);
  } catch (e) {
    ctx.log(
      ctx.safe(
        `${ctx.model.id}: collecting batch ${id} failed: ${(e as Error).message}; it stays open in the ledger and is collected again later`,
      ),
    );
  }
  return true;
}

/** Downloads a finished batch's files, stores every answer, records the failures and closes the batch in the ledger. */
async function collect(ctx: CollectContext, b: LedgerBatch, batch: BatchObject): Promise<void> {
  const { config, model, store, client, report } = ctx;
  const results: BatchResultLine[] = [];
  for (const [kind, fileId] of [
    ['output', batch.output_file_id],
    ['errors', batch.error_file_id],
  ] as const) {
    if (!fileId) continue;
    const bytes = await client.download(fileId);
    const local = path.join(ctx.filesDir, `${batch.id}.${kind}.jsonl`);
    writeFileAtomic(local, bytes);
    const parsed = readBatchResults(local);
    for (const p of parsed.problems)
      ctx.log(`${model.id}: batch ${batch.id}: skipped unreadable line ${p.file}:${p.line} (${p.reason})`);
    results.push(...parsed.results);
  }
  const keys = new Set(b.keys);
  const submitted = requestParamsByKey(batchRequestFile(config, model, b.localId));
  if (submitted.unreadable)
    ctx.log(
      `${model.id}: batch ${batch.id}: ${formatCount(submitted.unreadable)} unreadable lines in its kept request file; those answers are stored with the batch's parameters`,
    );
  const answeredAt = new Date(
    (batch.completed_at ?? batch.expired_at ?? batch.cancelled_at ?? batch.failed_at ?? batch.created_at) * 1000,
  );
  const failures = new Map<string, LedgerFailure>();
  const seen = new Set<string>();
  let newAnswers = 0;
  let alreadyStored = 0;
  for (const r of results) {
    if (!keys.has(r.key)) {
      // The key cut short: 64 hex digits are also the shape of a Together API key, which every message redacts.
      ctx.log(
        `${model.id}: batch ${batch.id}: ignoring a result for ${r.key.slice(0, 12)}…, which this batch did not hold`,
      );
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
      // The request as it was submitted (the configuration may have changed since): its own body where the request
      // file was kept, else the batch's parameters, marked when its requests' parameters differed.
      const own = submitted.byKey.get(r.key);
      entry.request = { provider: b.provider, baseURL: b.baseURL, model: b.model, params: own ?? b.params };
      if (!own && b.paramsVary) entry.meta = { ...entry.meta, paramsOf: 'the batch’s first request' };
      if (store.has(r.key)) {
        alreadyStored++;
        continue;
      }
      await store.putDurable(entry);
      newAnswers++;
      report.newAnswers++;
      addUsage(report.usage, entry.usage);
      report.costUsd += entry.costUsd;
    } else if (r.failure && !seen.has(r.key)) {
      seen.add(r.key);
      failures.set(r.key, {
        key: r.key,
        ...(r.failure.status !== undefined ? { status: r.failure.status } : {}),
        ...(r.failure.code ? { code: r.failure.code } : {}),
        message: ctx.safe(r.failure.message),
      });
    }
  }
  const batchError = batch.errors?.data
    ?.map((d) => `${d.code ?? 'error'}${d.line ? ` (line ${d.line})` : ''}: ${d.message ?? ''}`)
    .join('; ');
  for (const k of b.keys) {
    if (seen.has(k)) continue;
    const code =
      batch.status === 'expired'
        ? 'batch_expired'
        : batch.status === 'cancelled'
          ? 'batch_cancelled'
          : batch.status === 'failed'
            ? 'batch_failed'
            : 'no_result';
    const message =
      batch.status === 'failed'
        ? `the batch failed${batchError ? `: ${batchError}` : ''}`
        : batch.status === 'completed'
          ? 'the batch completed without a result for this request'
          : `not run before the batch was ${batch.status}`;
    failures.set(k, { key: k, code, message: ctx.safe(message) });
  }
  const list = [...failures.values()];
  for (const f of list)
    report.failures.push({
      key: f.key,
      promptIds: ctx.promptIdsOf.get(f.key) ?? [],
      batchId: batch.id,
      status: f.status,
      code: f.code,
      message: f.message,
    });
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
  removeBatchRequestFile(config, model, b.localId);
  report.collected.push({ batchId: batch.id, status: batch.status, newAnswers, alreadyStored, failed: list.length });
  ctx.log(
    `${model.id}: batch ${batch.id} ${batch.status}: ${formatCount(newAnswers)} answers stored` +
      `${alreadyStored ? ` (${formatCount(alreadyStored)} were stored already)` : ''}, ${formatCount(list.length)} failed or without result`,
  );
}
