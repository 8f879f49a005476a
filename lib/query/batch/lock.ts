// A lock, so two runs never submit the same keys: the shared pid lock (lib/query/lock.ts) on the ledger file.
import { acquireLockNow } from '../lock';

/** Takes the ledger's lock or throws naming the run that holds it; returns the release. */
export function acquireLock(ledgerFile: string): () => void {
  return acquireLockNow(ledgerFile, `the batch ledger ${ledgerFile}`);
}
