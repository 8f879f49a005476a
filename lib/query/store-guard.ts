/**
 * No paying into a store that cannot take the answers. Before the first request of a model the store file must accept
 * an append (`requireAppendable`; its lock file too, `lockStoreForRun`), and the answers an earlier run paid for and
 * could not store are stored first (`putBackAnswers`). After the first failed write (ResponseStore.broken) sending stops,
 * and `keepUnstoredAnswers` puts what was paid and not stored into the recovery file and says so.
 */
import * as fs from 'node:fs';
import type { Config, DomainName, ModelConfig } from '../core/config';
import { formatCount } from './format';
import { recoveryFile, responsesFile, storeFile } from './inputs';
import { lockStore } from './lock';
import type { PromptJob } from './models';
import { keepUnstored, recoverFromResponses, restoreRecovered } from './recover';
import { checkAppendable, storeWriteError, StoreWriteError, storeWriteFix, type ResponseStore } from './store';

const again = 'then run the same command again';

/** The run stopped before sending because the store cannot take answers: the message names the file and the fix. */
export class StoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreRefusedError';
  }
}

/** The store file's lock for a run (see lockStore); a folder that refuses the lock file stops the run, naming it. */
export async function lockStoreForRun(
  config: Config,
  model: ModelConfig,
  domain: DomainName,
  stop: AbortSignal,
  log: (s: string) => void,
): Promise<(() => void) | string> {
  const file = storeFile(config, model);
  try {
    return await lockStore(file, model.id, stop, log);
  } catch (e) {
    // The lock file is created next to the store file: a folder that refuses it refuses the answers too.
    if (!(e as NodeJS.ErrnoException).code) throw e;
    const err = storeWriteError(`${file}.lock`, e);
    throw new StoreRefusedError(
      `${model.id} ${domain}: ${err.message}, so the store's folder cannot take answers; nothing was sent. Fix: ${storeWriteFix(err.code)}, ${again}`,
    );
  }
}

/** Stops the run before anything is sent (or put back) when the model's store file cannot be appended to. */
export function requireAppendable(config: Config, model: ModelConfig, domain: DomainName): void {
  try {
    checkAppendable(storeFile(config, model));
  } catch (e) {
    if (!(e instanceof StoreWriteError)) throw e;
    const recovery = recoveryFile(config, model.id, domain);
    throw new StoreRefusedError(
      `${model.id} ${domain}: ${e.message}; nothing was sent. Fix: ${storeWriteFix(e.code)}, ${again}` +
        (fs.existsSync(recovery) ? ` (the answers waiting in ${recovery} are stored first)` : ''),
    );
  }
}

/** Whether a run must write to the store before it sends: answers are missing, or a recovery file waits. */
export function storeWillBeWritten(config: Config, model: ModelConfig, domain: DomainName, missing: boolean): boolean {
  return missing || fs.existsSync(recoveryFile(config, model.id, domain));
}

/**
 * Stores, before anything is sent, the answers an earlier run kept in the recovery file, then those of the `wanted`
 * keys (with the job asking each) the responses file still holds; returns how many. A write that fails stops the run
 * (the files are kept).
 */
export function putBackAnswers(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  store: ResponseStore,
  wanted: ReadonlyMap<string, PromptJob>,
  log: (s: string) => void,
): number {
  const recovery = recoveryFile(config, model.id, domain);
  const responses = responsesFile(config, model.id, domain);
  let restored = 0;
  let recovered = 0;
  let from = recovery;
  try {
    restored = restoreRecovered(config, domain, model.id, store);
    from = responses;
    recovered = recoverFromResponses(
      config,
      domain,
      model,
      store,
      new Map([...wanted].filter(([key]) => !store.has(key))),
    );
  } catch (e) {
    if (!(e instanceof StoreWriteError)) throw e;
    throw new StoreRefusedError(
      `${model.id} ${domain}: ${e.message} while putting back the answers kept in ${from} (the file is kept); nothing was sent. Fix: ${storeWriteFix(e.code)}, ${again}`,
    );
  }
  if (restored)
    log(
      `${model.id} ${domain}: ${formatCount(restored)} answers paid for by an earlier run that could not store them were stored from ${recovery} (not paid again)`,
    );
  if (recovered)
    log(
      `${model.id} ${domain}: ${formatCount(recovered)} answers missing from the store were recovered from ${responses} (not paid again)`,
    );
  return restored + recovered;
}

/**
 * After the store refused a write: the answers paid for and not stored go to the recovery file (or the temp folder),
 * and the message says how many, where they are and the fix; it is the stage's failure reason.
 */
export function keepUnstoredAnswers(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  store: ResponseStore,
  notSent: number,
): { message: string; recoveryFile: string | null } {
  const broken = store.broken as StoreWriteError;
  const n = store.unstored.length;
  let kept = '';
  let file: string | null = null;
  if (n > 0) {
    const where = keepUnstored(config, domain, model, store.unstored);
    file = where.file;
    const paid = `${formatCount(n)} answer${n === 1 ? ' was' : 's were'} paid for and could not be stored in ${broken.file}: ${broken.code}`;
    if (where.file === where.recoveryFile)
      kept = `; ${paid}; they are kept in ${where.file} and will be stored by the next run`;
    else if (where.file !== null)
      kept = `; ${paid}; ${where.problems.join('; ')}, so they are kept in ${where.file}: move it to ${where.recoveryFile} and the next run stores them`;
    else kept = `; ${paid}, and could not be kept anywhere (${where.problems.join('; ')}): a rerun pays for them again`;
  }
  const message =
    `${model.id} ${domain}: stopped sending at the first failed write to the response store (${broken.code}: ${broken.reason})` +
    `${kept}; ${formatCount(notSent)} requests not sent. Fix: ${storeWriteFix(broken.code)}, ${again} (the responses file is written by that run)`;
  return { message, recoveryFile: file };
}
