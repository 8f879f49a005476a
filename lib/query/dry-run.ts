// The dry run's estimate: what the missing requests would cost (tokens counted locally, nothing sent or written).
import type { Config, DomainName, ModelConfig } from '../core/config';
import { openBatchKeys } from './batch';
import { formatCount, formatUsd } from './format';
import { costUsd } from './llm';
import type { PromptJob } from './models';
import { tokenizerFor } from './tokens';

export interface DryRunEstimate {
  tokenizer: string;
  /** False when the model's own tokenizer is unknown and o200k_base stands in. */
  tokenizerExact: boolean;
  inputTokens: number;
  outputTokensEstimate: number;
  costUsd: number;
  /** The same requests at Batch API prices. */
  batchCostUsd: number;
}

/**
 * Counts the input tokens of the requests a run would send (`missing`, by store key) and prices them with the
 * configured output estimate; logs the estimate. Returns how many would be sent and the estimate.
 */
export function estimateDryRun(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  missing: ReadonlyArray<readonly [string, { job: PromptJob }]>,
  alreadyStored: number,
  log: (s: string) => void,
): { toSend: number; estimate: DryRunEstimate } {
  // Prompts waiting in open batches are paid for already: they are not priced again (ledger only, no request).
  const waiting = openBatchKeys(config, model);
  const toPrice = waiting.size ? missing.filter(([key]) => !waiting.has(key)) : missing;
  if (toPrice.length < missing.length) {
    log(`[dry run] ${model.id} ${domain}: ${formatCount(missing.length - toPrice.length)} prompts wait in open batches (a run collects them; not priced)`);
  }
  const tokenizer = tokenizerFor(model);
  let inputTokens = 0;
  for (const [, { job }] of toPrice) inputTokens += tokenizer.countChat(job.messages);
  const outputTokensEstimate = toPrice.length * config.query.outputTokensEstimate;
  const cost = costUsd(model, { inputTokens, outputTokens: outputTokensEstimate });
  const estimate: DryRunEstimate = {
    tokenizer: tokenizer.name,
    tokenizerExact: tokenizer.exact,
    inputTokens,
    outputTokensEstimate,
    costUsd: cost,
    batchCostUsd: cost * config.query.batchDiscount,
  };
  log(
    `[dry run] ${model.id} ${domain}: ${formatCount(toPrice.length)} prompts to send (${formatCount(alreadyStored)} already stored); ` +
      `input ${formatCount(inputTokens)} tokens (${tokenizer.name}${tokenizer.exact ? '' : ', an estimate: the model’s own tokenizer is unknown'}), ` +
      `output ≈ ${formatCount(outputTokensEstimate)} tokens (${config.query.outputTokensEstimate}/prompt); ` +
      `estimated ${formatUsd(cost)} (Batch API ${formatUsd(cost * config.query.batchDiscount)})`,
  );
  return { toSend: toPrice.length, estimate };
}
