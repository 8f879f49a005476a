/**
 * Runs one Batch API query in a separate process, for the test that kills it (kill -9) after it has submitted.
 * Usage: node batch-child.js '<json {overrides, domain, models}>'; prints the summaries as JSON on stdout.
 */
import { loadConfig, type DomainName } from '../../lib/config';
import { runQuery } from '../../lib/query';

interface ChildArgs {
  overrides: unknown;
  domain: DomainName;
  models: string[];
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
  const config = loadConfig({ env: {}, overrides: args.overrides });
  const summaries = await runQuery(config, args.domain, args.models, {
    batch: true,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    progressIntervalMs: 50,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stdout.write(`${JSON.stringify(summaries)}\n`);
}

main().catch((e) => {
  process.stderr.write(`batch-child: ${(e as Error).message}\n`);
  process.exit(1);
});
