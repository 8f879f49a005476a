/**
 * OpenAI Batch API mode for the query stage: the same requests at batch prices, with the same store and resume
 * guarantees as synchronous requests.
 *
 * Every prompt without a stored answer becomes one line of a request JSONL (`custom_id` = its store key, `body` = the
 * exact synchronous request body, so the key is the same), which is uploaded and turned into a batch. Before and after
 * the batch is created a line is fsync'd to the model's batch ledger (`<paths.store>/batches/<provider>--<model>.jsonl`),
 * so a later run — after Ctrl-C, a crash or a reboot — finds the open batch and collects it instead of paying again:
 *   creating  (input file uploaded; keys reserved; the batch is being created)
 *   submitted (the batch id)
 *   closed    (final status, counts, the requests that failed) | abandoned (never created)
 * A crash between "creating" and "submitted" is resolved by looking the batch up by its `ubp_local_id` metadata.
 * Finished batches' output and error files are downloaded next to the ledger, every successful answer goes into the
 * response store (`via: 'batch'`, cost × config.query.batchDiscount), and failed or expired requests are listed in the
 * ledger and the log; they stay missing from the store, so the next run (batch or synchronous) sends only them.
 * The API key is read from the environment and never written to the ledger, the files or any message.
 */
// Internals (the lock, the steps of a run, the ledger's append) stay out: the notebooks see what batch.ts exported.
export {
  BatchApiError,
  createBatchClient,
  TERMINAL_BATCH_STATUSES,
  type BatchClient,
  type BatchClientOptions,
  type BatchObject,
} from './client';
export {
  batchDir,
  batchLedgerFile,
  listBatches,
  openBatchKeys,
  readBatchLedger,
  type LedgerAbandoned,
  type LedgerBatch,
  type LedgerClosed,
  type LedgerCreating,
  type LedgerEvent,
  type LedgerFailure,
  type LedgerProblem,
  type LedgerSubmitted,
} from './ledger';
export { cancelOpenBatches, forgetBatches, type BatchMaintenanceOptions } from './maintenance';
export type { BatchRequestFailure, BatchRunOptions, BatchRunReport } from './report';
export { BATCH_ENDPOINT, batchRequestLine, splitBatchLines, type BatchJob } from './requests';
export { parseBatchResults, type BatchResultLine } from './results';
export { runBatches } from './run';
