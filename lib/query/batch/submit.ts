// Submitting: write, upload and create one batch per chunk, each step in the ledger before the next begins.
import * as fs from 'node:fs';
import { writeFileAtomic } from '../../core/io';
import { FORMAT_VERSION } from '../../core/types';
import { formatCount } from '../format';
import { effectiveBaseURL, generationParams } from '../llm';
import { refusedOutright, type BatchApiError } from './client';
import { appendLedger, batchFromCreating, type LedgerBatch, type LedgerCreating } from './ledger';
import { recordSubmitted } from './collect';
import type { BatchRunOptions, CollectContext } from './report';
import { batchRequestFile, batchRequestLine, splitBatchLines, type BatchJob } from './requests';

let localCounter = 0;
function newLocalId(): string {
  const stamp = new Date().toISOString().replace(/[-:.]/g, '').replace('T', '-').replace('Z', '');
  return `ubp-${stamp}-${process.pid}-${++localCounter}`;
}

/** Writes, uploads and creates one batch per chunk; every step is in the ledger before the next begins. */
export async function submit(ctx: CollectContext, jobs: BatchJob[], opts: BatchRunOptions): Promise<LedgerBatch[]> {
  const { config, model, client, report } = ctx;
  const lines = jobs.map((j) => batchRequestLine(model, config, j));
  const { chunks, tooLarge } = splitBatchLines(lines, config.query.batchMaxRequests, config.query.batchMaxBytes);
  for (const i of tooLarge) {
    report.failures.push({
      key: jobs[i].key,
      promptIds: jobs[i].promptIds,
      batchId: null,
      code: 'too_large',
      message: `the request line has ${formatCount(Buffer.byteLength(lines[i]) + 1)} bytes, more than query.batchMaxBytes (${formatCount(config.query.batchMaxBytes)})`,
    });
  }
  ctx.log(
    `${model.id} ${opts.label}: submitting ${formatCount(jobs.length - tooLarge.length)} requests as ${chunks.length} batch${chunks.length === 1 ? '' : 'es'} ` +
      `(at most ${formatCount(config.query.batchMaxRequests)} requests and ${formatCount(config.query.batchMaxBytes)} bytes each)`,
  );
  const created: LedgerBatch[] = [];
  for (let c = 0; c < chunks.length; c++) {
    if (opts.stop?.aborted) {
      ctx.log(`${model.id} ${opts.label}: interrupted; ${chunks.length - c} of ${chunks.length} batches not submitted`);
      break;
    }
    const chunk = chunks[c];
    const localId = newLocalId();
    const text = `${chunk.map((i) => lines[i]).join('\n')}\n`;
    const bytes = Buffer.byteLength(text);
    const file = batchRequestFile(config, model, localId);
    const keys = chunk.map((i) => jobs[i].key);
    const fail = (message: string) => {
      for (const i of chunk)
        report.failures.push({
          key: jobs[i].key,
          promptIds: jobs[i].promptIds,
          batchId: null,
          code: 'not_submitted',
          message: ctx.safe(message),
        });
    };
    writeFileAtomic(file, text);
    let inputFileId: string;
    try {
      inputFileId = await client.upload(file);
    } catch (e) {
      fs.rmSync(file, { force: true });
      fail((e as Error).message);
      ctx.log(
        ctx.safe(
          `${model.id}: ${(e as Error).message}; ${chunks.length - c} of ${chunks.length} batches not submitted`,
        ),
      );
      break;
    }
    const reservedAt = new Date();
    const entry: LedgerCreating = {
      v: FORMAT_VERSION,
      event: 'creating',
      localId,
      at: reservedAt.toISOString(),
      modelId: model.id,
      provider: model.provider,
      baseURL: effectiveBaseURL(model),
      model: model.model,
      ...chunkParams(chunk.map((i) => jobs[i])),
      inputFileId,
      requests: chunk.length,
      bytes,
      keys,
      label: opts.label,
    };
    try {
      appendLedger(ctx.ledgerFile, entry);
    } catch (e) {
      // Not reserved, so never to be created: the uploaded file is all that exists of it.
      fs.rmSync(file, { force: true });
      throw e;
    }
    const b = batchFromCreating(entry);
    try {
      const batch = await client.create(
        inputFileId,
        { ubp_local_id: localId, ubp_model_id: model.id.slice(0, 512) },
        Math.floor(reservedAt.getTime() / 1000) - 3600,
      );
      recordSubmitted(ctx.ledgerFile, b, batch, false);
      created.push(b);
      report.submitted.push({ batchId: batch.id, localId, requests: chunk.length, bytes });
      ctx.log(
        `${model.id}: submitted batch ${batch.id} (${formatCount(chunk.length)} requests, ${formatCount(bytes)} bytes, part ${c + 1}/${chunks.length}); recorded in ${ctx.ledgerFile}`,
      );
    } catch (e) {
      const message = (e as Error).message;
      const status = (e as BatchApiError).status;
      if (refusedOutright(status)) {
        // Refused outright: no batch exists, the keys are free again.
        appendLedger(ctx.ledgerFile, {
          v: FORMAT_VERSION,
          event: 'abandoned',
          localId,
          at: new Date().toISOString(),
          batchId: null,
          reason: ctx.safe(message),
        });
        fs.rmSync(file, { force: true });
        fail(message);
      } else {
        // Unknown outcome: the keys stay reserved, and the next run looks the batch up by its local id.
        created.push(b);
        ctx.log(
          ctx.safe(
            `${model.id}: ${message}; the requests stay reserved in the ledger and the next run checks whether the batch exists`,
          ),
        );
      }
      if (c + 1 < chunks.length) ctx.log(`${model.id}: ${chunks.length - c - 1} further batches not submitted`);
      break;
    }
  }
  return created;

  /**
   * The ledger's record of how a batch's requests were made: the first request's parameters, and whether the others
   * differ from them (a method's per-prompt schema, a repeat's seed), whose own are in the kept request file.
   */
  function chunkParams(chunkJobs: BatchJob[]): Pick<LedgerCreating, 'params' | 'paramsVary'> {
    const paramsOf = (j: BatchJob) => generationParams(config, model, j.repeat ?? 0, j.method);
    const first = paramsOf(chunkJobs[0]);
    const firstJson = JSON.stringify(first);
    const vary = chunkJobs.some((j) => JSON.stringify(paramsOf(j)) !== firstJson);
    return { params: first, ...(vary ? { paramsVary: true } : {}) };
  }
}
