// Maintenance: cancel open batches on the server, or forget batches that can never be collected.
import type { Config, ModelConfig } from '../../core/config';
import { FORMAT_VERSION } from '../../core/types';
import type { RetryPolicy } from '../retry';
import { createBatchClient } from './client';
import { appendLedger, batchLedgerFile, ledgerBatchesFor } from './ledger';
import { acquireLock } from './lock';
import { removeBatchRequestFile } from './requests';

export interface BatchMaintenanceOptions {
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  retry?: Partial<RetryPolicy>;
}

/**
 * Asks the server to cancel the model's open batches (what already ran is still collected, at batch prices, by the
 * next run). Returns the batch ids cancelled.
 */
export async function cancelOpenBatches(
  config: Config,
  model: ModelConfig,
  opts: BatchMaintenanceOptions = {},
): Promise<string[]> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const client = createBatchClient(model, config, { env: opts.env, log, retry: opts.retry });
  const ledgerFile = batchLedgerFile(config, model);
  const release = acquireLock(ledgerFile);
  const cancelled: string[] = [];
  try {
    for (const b of ledgerBatchesFor(config, model).batches) {
      if (b.state !== 'open' || !b.batchId) continue;
      const batch = await client.cancel(b.batchId);
      cancelled.push(b.batchId);
      log(`${model.id}: batch ${b.batchId}: ${batch.status}; the next run collects what it answered`);
    }
  } finally {
    release();
  }
  return cancelled;
}

/**
 * Closes batches in the ledger without collecting them (e.g. they belong to another account and can never be
 * retrieved): their requests become free to send again. Nothing is asked of the server. Returns the local ids closed.
 */
export function forgetBatches(config: Config, model: ModelConfig, batchIds: string[], reason: string): string[] {
  const ledgerFile = batchLedgerFile(config, model);
  const release = acquireLock(ledgerFile);
  const closed: string[] = [];
  try {
    for (const b of ledgerBatchesFor(config, model).batches) {
      if (
        (b.state !== 'open' && b.state !== 'creating') ||
        !(batchIds.includes(b.batchId ?? '') || batchIds.includes(b.localId))
      )
        continue;
      appendLedger(ledgerFile, {
        v: FORMAT_VERSION,
        event: 'abandoned',
        localId: b.localId,
        at: new Date().toISOString(),
        batchId: b.batchId,
        reason: `forgotten: ${reason}`,
      });
      removeBatchRequestFile(config, model, b.localId);
      closed.push(b.localId);
    }
  } finally {
    release();
  }
  return closed;
}
