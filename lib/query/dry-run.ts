// The dry run's estimate: what the missing requests would cost (nothing sent or written). With stored answers of a
// pilot (--limit N) the estimate comes from their measured tokens (lib/query/pilot.ts); without, input tokens are
// counted locally and the output is an assumption (config.query.outputTokensEstimate per answer).
import type { Config, DomainName, ModelConfig } from '../core/config';
import { openBatchKeys } from './batch';
import { formatCount, formatUsd } from './format';
import { costUsd } from './llm';
import type { PromptJob } from './models';
import { cellOf, estimateFromPilot, type MeasuredAnswer, type PilotEstimate } from './pilot';
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
  /** "pilot": from stored answers' measured tokens (`pilot` holds the details); "assumed": output assumed per answer. */
  basis: 'pilot' | 'assumed';
  pilot?: PilotEstimate;
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
  /** Stored answers to this domain's prompts (a pilot's): what the estimate is measured from. */
  measured: MeasuredAnswer[] = [],
): { toSend: number; estimate: DryRunEstimate } {
  // Prompts waiting in open batches are paid for already: they are not priced again (ledger only, no request).
  const waiting = openBatchKeys(config, model);
  const toPrice = waiting.size ? missing.filter(([key]) => !waiting.has(key)) : missing;
  if (toPrice.length < missing.length) {
    log(
      `[dry run] ${model.id} ${domain}: ${formatCount(missing.length - toPrice.length)} prompts wait in open batches (a run collects them; not priced)`,
    );
  }
  const tokenizer = tokenizerFor(model);
  let inputTokens = 0;
  for (const [, { job }] of toPrice) inputTokens += tokenizer.countChat(job.messages);
  const outputTokensEstimate = toPrice.length * config.query.outputTokensEstimate;
  const stored = `(${formatCount(alreadyStored)} already stored)`;
  const tokens = `${tokenizer.name}${tokenizer.exact ? '' : ', approximate: the model’s own tokenizer is unknown'}`;
  if (measured.length && toPrice.length) {
    const pilot = estimateFromPilot(
      model,
      measured,
      toPrice.map(([, { job }]) => cellOf(job.sample)),
    );
    const discount = config.query.batchDiscount;
    const interval = (f: number) =>
      pilot.lowUsd === null || pilot.highUsd === null
        ? 'no interval: measure at least 2 answers in some cell'
        : `95 % interval ${formatUsd(pilot.lowUsd * f)} – ${formatUsd(pilot.highUsd * f)}`;
    log(
      `[dry run] ${model.id} ${domain}: ${formatCount(toPrice.length)} prompts to send ${stored}; estimated from the pilot's ${formatCount(pilot.answers)} measured answers ` +
        `in ${pilot.cells} cells (per answer: input ${pilot.meanInputTokens.toFixed(0)}, output ${pilot.meanOutputTokens.toFixed(0)} tokens, of which reasoning ${pilot.meanReasoningTokens.toFixed(0)}): ` +
        `${formatUsd(pilot.costUsd)} (${interval(1)}); Batch API ${formatUsd(pilot.costUsd * discount)} (${interval(discount)})` +
        (pilot.unmeasuredCells
          ? `; ${pilot.unmeasuredCells} cells had no pilot answer and are priced at the overall mean`
          : '') +
        ` [local count for comparison: input ${formatCount(inputTokens)} tokens, ${tokens}]`,
    );
    return {
      toSend: toPrice.length,
      estimate: {
        tokenizer: tokenizer.name,
        tokenizerExact: tokenizer.exact,
        inputTokens,
        outputTokensEstimate: Math.round(pilot.meanOutputTokens * toPrice.length),
        costUsd: pilot.costUsd,
        batchCostUsd: pilot.costUsd * discount,
        basis: 'pilot',
        pilot,
      },
    };
  }
  const cost = costUsd(model, { inputTokens, outputTokens: outputTokensEstimate });
  const estimate: DryRunEstimate = {
    tokenizer: tokenizer.name,
    tokenizerExact: tokenizer.exact,
    inputTokens,
    outputTokensEstimate,
    costUsd: cost,
    batchCostUsd: cost * config.query.batchDiscount,
    basis: 'assumed',
  };
  log(
    `[dry run] ${model.id} ${domain}: ${formatCount(toPrice.length)} prompts to send ${stored}; ` +
      `input ${formatCount(inputTokens)} tokens (${tokens}), ` +
      `output ≈ ${formatCount(outputTokensEstimate)} tokens — an assumption of ${config.query.outputTokensEstimate}/answer (reasoning models can use several times more; ` +
      `measure it with a pilot: --limit N); estimated ${formatUsd(cost)} (Batch API ${formatUsd(cost * config.query.batchDiscount)})`,
  );
  return { toSend: toPrice.length, estimate };
}
