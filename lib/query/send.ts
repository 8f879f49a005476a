/**
 * Sending a model's missing prompts synchronously: `concurrency` workers, each answer stored the moment it arrives,
 * failures listed, and the run told when the model's circuit breaker stopped it or an interrupt came. The first write
 * the store refuses stops sending at once: no new request starts (retries neither), the requests in flight are awaited
 * and their answers kept in the store's `unstored` list for the runner's recovery file.
 */
import type { Config, ModelConfig } from '../core/config';
import { Progress } from '../core/progress';
import type { Usage } from '../core/types';
import { formatCount, formatUsd } from './format';
import { addUsage, costUsd, createApiResponder, eitherSignal, RequestFailedError, storedAnswerFor } from './llm';
import { jobRequest } from './elicit';
import type { PromptJob } from './models';
import type { FailureKind, RetryPolicy } from './retry';
import { StoreWriteError, type ResponseStore } from './store';

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

export interface RunControl {
  /** Stop taking new prompts. */
  stop: AbortSignal;
  /** Abort requests in flight. */
  hard: AbortSignal;
}

/** The part of a model's run summary that sending fills in (QueryRunSummary has it all). */
export interface SendTally {
  domain: string;
  usage: Usage;
  costUsd: number;
  failures: PromptFailure[];
  newAnswers: number;
  httpRequests: number;
  retries: number;
  /** Requests the server answered 400 for a parameter before the request was adapted (lib/query/adapt.ts). */
  rejectedRequests: number;
  adaptations: string[];
  notSent: number;
  sent: number;
  interrupted: boolean;
  stopped?: string;
}

export interface SendOptions {
  env?: NodeJS.ProcessEnv;
  retry?: Partial<RetryPolicy>;
  progressIntervalMs?: number;
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
    lines.push(
      `  ${formatCount(ids.length)} × ${message} — prompts ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`,
    );
  }
  return lines;
}

export async function sendMissing(
  config: Config,
  model: ModelConfig,
  store: ResponseStore,
  missing: [string, { job: PromptJob; promptIds: string[] }][],
  summary: SendTally,
  control: RunControl,
  opts: SendOptions,
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
  // Retries and waits end on an interrupt or when the store breaks; the request in flight still finishes.
  const stop = eitherSignal([control.stop, store.brokenSignal]);
  let inFlight = 0;
  let toldBroken = false;
  const worker = async () => {
    while (!stop.aborted && responder.stopped === null) {
      const i = next++;
      if (i >= missing.length) return;
      const [key, { job, promptIds }] = missing[i];
      attempted++;
      inFlight++;
      try {
        const entry = await store.fetchOnce(key, async () =>
          storedAnswerFor(
            model,
            config,
            key,
            await responder.answer(job, control.hard, stop),
            'sync',
            jobRequest(config, model, job),
          ),
        );
        summary.newAnswers++;
        addUsage(summary.usage, entry.usage);
        summary.costUsd += entry.costUsd;
      } catch (e) {
        if (e instanceof StoreWriteError && !e.entry) {
          // Refused before it was sent: the store had broken meanwhile.
          attempted--;
          unsentPrompts += promptIds.length;
        } else if (e instanceof StoreWriteError && e.entry) {
          // Paid for and not stored: counted in what the run spent; the runner keeps it in the recovery file.
          addUsage(summary.usage, e.entry.usage);
          summary.costUsd += e.entry.costUsd;
          if (!toldBroken) {
            toldBroken = true;
            log(
              `${model.id}: ${store.broken?.message ?? e.message}: no new request is sent; waiting for the ${inFlight - 1} requests in flight, whose answers are kept for recovery`,
            );
          }
        } else if (e instanceof RequestFailedError && e.kind === 'aborted' && e.attempts === 0) {
          attempted--;
          unsentPrompts += promptIds.length;
        } else if (e instanceof RequestFailedError) {
          summary.failures.push({
            promptIds,
            key,
            kind: e.kind,
            status: e.status,
            attempts: e.attempts,
            message: e.message,
          });
        } else {
          summary.failures.push({
            promptIds,
            key,
            kind: 'store',
            attempts: 1,
            message: `${model.id}: ${(e as Error).message}`,
          });
        }
      } finally {
        inFlight--;
      }
      progress.tick();
    }
  };
  await Promise.all(Array.from({ length: Math.min(model.concurrency, missing.length) }, worker));
  progress.finish();
  unsentPrompts += missing.slice(next).reduce((n, [, e]) => n + e.promptIds.length, 0);
  summary.httpRequests += responder.stats.requests;
  summary.retries += responder.stats.retries;
  summary.rejectedRequests += responder.stats.rejected;
  summary.adaptations = responder.adaptations();
  if (summary.adaptations.length) {
    log(
      `${model.id}: adapted to the server's parameter rules (${summary.adaptations.join(', ')}) after ${summary.rejectedRequests} rejected requests; set them in the entry's "params" to skip the rejections`,
    );
  }
  // Replies that were billed but held no answer: their tokens were paid for, so they count in what the run spent.
  const unanswered = responder.stats.unansweredUsage;
  addUsage(summary.usage, unanswered);
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
