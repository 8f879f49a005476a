/**
 * Runs one query in a separate process, for the tests that kill it (kill -9) or interrupt it (SIGINT) mid-run,
 * synchronously or through the Batch API.
 * Usage: node query-child.js '<json {overrides, domain, models, retry, batch, progressIntervalMs}>'; prints the
 * summaries as JSON on stdout.
 */
import { loadConfig, type DomainName } from '../../lib/core/config';
import { runQuery } from '../../lib/query/runner';

interface ChildArgs {
  overrides: unknown;
  domain: DomainName;
  models: string[];
  retry?: { baseDelayMs?: number; maxDelayMs?: number };
  batch?: boolean;
  progressIntervalMs?: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
  const config = loadConfig({ env: {}, overrides: args.overrides });
  const summaries = await runQuery(config, args.domain, args.models, {
    retry: args.retry,
    batch: args.batch,
    progressIntervalMs: args.progressIntervalMs ?? 100,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(`${JSON.stringify(summaries)}\n`);
}

main().catch((e) => {
  process.stderr.write(`query-child: ${(e as Error).message}\n`);
  process.exit(1);
});
