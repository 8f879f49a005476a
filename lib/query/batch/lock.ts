// A lock, so two runs never submit the same keys: a pid file next to the ledger, taken over when its holder died.
import * as fs from 'node:fs';
import * as path from 'node:path';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the ledger's lock or throws naming the run that holds it; returns the release. */
export function acquireLock(ledgerFile: string): () => void {
  const lock = `${ledgerFile}.lock`;
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => {
        try {
          if (fs.readFileSync(lock, 'utf8') === String(process.pid)) fs.unlinkSync(lock);
        } catch {
          // already gone
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(fs.readFileSync(lock, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
        throw new Error(`another run (pid ${holder}) is using the batch ledger ${ledgerFile}; wait for it to finish (or delete ${lock} if no run is active)`);
      }
      // Left by a run that died (kill -9, reboot): take it over.
      fs.rmSync(lock, { force: true });
    }
  }
  throw new Error(`cannot lock the batch ledger ${ledgerFile} (${lock})`);
}
