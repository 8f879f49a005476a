/**
 * Cross-process locks: a file `<target>.lock` holding the holder's PID, created exclusively (O_EXCL), so two runs
 * never spend money on the same thing at once. A lock whose PID is no longer alive (kill -9, reboot) is taken over.
 * Runs inside one process (a notebook starting two queries) are told apart by a registry of the locks this process
 * holds, since they share a PID.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { abortableSleep } from './retry';

/** Lock files this process holds (two runs in one process share a PID, so the file alone cannot tell them apart). */
const heldHere = new Set<string>();

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LockHeldError extends Error {
  constructor(
    message: string,
    readonly holderPid: number,
    readonly lockFile: string,
  ) {
    super(message);
    this.name = 'LockHeldError';
  }
}

function readHolder(lock: string): number | null {
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Removes a lock left by a dead holder. Two runs may both find it stale: a second exclusive file serialises the
 * takeover, so the one that loses cannot delete the lock the winner just created.
 */
function takeOverStale(lock: string, deadPid: number | null): void {
  const guard = `${lock}.takeover`;
  try {
    fs.writeFileSync(guard, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    // A takeover guard older than a few seconds belongs to a run that died mid-takeover.
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > 5000) fs.rmSync(guard, { force: true });
    } catch {
      // gone already
    }
    return;
  }
  try {
    if (readHolder(lock) === deadPid) fs.rmSync(lock, { force: true });
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

/** One try: the release function, or the live holder's PID. */
function tryLock(lock: string): { release: () => void } | { holder: number } {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      heldHere.add(lock);
      return {
        release: () => {
          heldHere.delete(lock);
          try {
            if (fs.readFileSync(lock, 'utf8').trim() === String(process.pid)) fs.unlinkSync(lock);
          } catch {
            // already gone
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readHolder(lock);
      if (holder === process.pid ? heldHere.has(lock) : holder !== null && pidAlive(holder))
        return { holder: holder as number };
      // A half-written lock (holder null) is as stale as a dead PID's: its writer died between create and write.
      takeOverStale(lock, holder);
    }
  }
  return { holder: readHolder(lock) ?? 0 };
}

export interface LockOptions {
  /** Wait for a live holder (polling) instead of throwing LockHeldError. */
  wait?: boolean;
  /** Told once, when the lock is held by another run and this one starts waiting. */
  onWait?: (holderPid: number) => void;
  /** Ends the wait (the lock is not taken; LockHeldError is thrown). */
  signal?: AbortSignal;
  pollMs?: number;
  /** Names what is locked in the error ("the batch ledger …"). */
  what?: string;
}

/** Takes the lock on `target` (the file `${target}.lock`); returns its release. */
export async function acquireLock(target: string, opts: LockOptions = {}): Promise<() => void> {
  const lock = `${target}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  let told = false;
  for (;;) {
    const got = tryLock(lock);
    if ('release' in got) return got.release;
    const what = opts.what ?? target;
    if (!opts.wait || opts.signal?.aborted) throw heldError(got.holder, lock, what);
    if (!told) {
      opts.onWait?.(got.holder);
      told = true;
    }
    try {
      await abortableSleep(opts.pollMs ?? 200, opts.signal);
    } catch {
      throw new LockHeldError(`stopped waiting for run pid ${got.holder}, which holds ${what}`, got.holder, lock);
    }
  }
}

/** The synchronous form, for callers that never wait: takes the lock or throws LockHeldError. */
export function acquireLockNow(target: string, what?: string): () => void {
  const lock = `${target}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const got = tryLock(lock);
  if ('release' in got) return got.release;
  throw heldError(got.holder, lock, what ?? target);
}

function heldError(holder: number, lock: string, what: string): LockHeldError {
  return new LockHeldError(
    `another run (pid ${holder}) is using ${what}; wait for it to finish (or delete ${lock} if no run is active)`,
    holder,
    lock,
  );
}

/**
 * Takes a response store file's lock for a run, waiting (with one message naming the holder) while another run holds
 * it; when `stop` ends the wait, the reason as a string instead (the caller sends nothing).
 */
export async function lockStore(
  storeFile: string,
  modelId: string,
  stop: AbortSignal,
  log: (s: string) => void,
): Promise<(() => void) | string> {
  try {
    return await acquireLock(storeFile, {
      wait: true,
      signal: stop,
      what: `the response store of ${modelId}`,
      onWait: (pid) =>
        log(
          `${modelId}: another run (pid ${pid}) is querying this model on the same store ${storeFile}; waiting for it to finish (Ctrl-C to stop waiting)`,
        ),
    });
  } catch (e) {
    if (!(e instanceof LockHeldError)) throw e;
    log(`${modelId}: ${e.message}; nothing sent`);
    return e.message;
  }
}
