// `npm start [-- options]`: the whole analysis without Jupyter. Exit status 0 = everything requested ran,
// 1 = some stage or domain failed (reported with its reason), 2 = bad command line or configuration.
import {
  type Config,
  ConfigError,
  DOMAINS,
  type DomainName,
  RUN_NAME_RULE,
  isRunName,
  loadConfig,
  withCatalogueModels,
} from '../lib/core/config';
import { redact } from '../lib/core/secrets';
import { STAGES, type StageName, parseStages, runPipeline } from '../lib/pipeline';
import { checkElicitation } from '../lib/query/elicit';

const USAGE = `Usage: npm start -- [options]

Runs ${STAGES.join(' → ')} (and writes figures/report.html) for the configured domains. A requested stage is
recomputed when its code, parameters or inputs changed; a stage that is not requested is never recomputed, and a
later stage refuses its stale output with the file, what it no longer matches and the command that refreshes it.

Options:
  --config FILE       JSON merged over config/default.json (unknown keys and wrong types are rejected)
  --stages LIST       comma-separated subset of: ${STAGES.join(', ')}
  --domains LIST      comma-separated subset of: ${DOMAINS.join(', ')} and the domains added by --dataset
  --dataset FILE      add the domain a dataset description file names (datasets/*.json; may be repeated)
  --models LIST       model ids from the configuration or the catalogue config/models.json (default:
                      the offline baselines plus every configured API model whose key or server is available)
  --dry-run           query stage: print prompts to send, tokens and estimated cost; send nothing
                      (after a pilot: estimated from its measured tokens, with a 95 % interval)
  --limit N           a pilot: ask only the first N prompts of every (setting, history length); the
                      full run later asks only the rest (later stages do not run on a pilot)
  --batch             query stage: send OpenAI models' prompts through the Batch API (half price)
  --retry-finish LIST query stage: after raising query.maxTokens, ask again only the prompts whose earlier
                      answer ended with these finish reasons (length, content_filter); keep the others
  --force [LIST]      recompute stages even when up to date (all requested stages, or the listed ones);
                      with --run, also recompute a named run under a changed configuration
  --run NAME          a named run: samples, responses, scores, figures and the report go under
                      data/runs/NAME/ (paths.runs), and config.json there records the configuration
                      they were computed with; a later run under the name with other settings is
                      refused unless --force is given. Raw and processed data and the response
                      store stay shared
  --no-report         do not write figures/report.html
  -h, --help          this text

Environment: UBP_DATA_DIR (local dataset folder holding ml-1m/ and lastfm-1k/), UBP_CONFIG (a config file),
the API key variables named by each model's apiKeyEnv (e.g. OPENAI_API_KEY).`;

class UsageError extends Error {}

// What the command prints goes through the redaction of lib/core/secrets.ts: the API keys the run read (trimmed or
// not, whole or in pieces) and anything shaped like a provider's key never reach the terminal or a log file.
const say = (text: string) => console.log(redact(text));
const warn = (text: unknown) => console.error(redact(String(text)));

interface CliArgs {
  configFile?: string;
  stages?: StageName[];
  domains?: DomainName[];
  datasets: string[];
  models?: string[];
  dryRun: boolean;
  limit?: number;
  batch: boolean;
  retryFinish?: string[];
  force: boolean | StageName[];
  report?: boolean;
  run?: string;
  help: boolean;
}

function list(value: string | undefined, flag: string): string[] {
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseArgs(argv: string[]): CliArgs {
  const args: CliArgs = { datasets: [], dryRun: false, batch: false, force: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--config': {
        const v = value();
        if (!v) throw new UsageError('--config needs a file');
        args.configFile = v;
        break;
      }
      case '--stages':
        try {
          args.stages = parseStages(list(value(), '--stages').join(','));
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        break;
      case '--domains':
        // Checked once the configuration (and the --dataset files) are read: they define the known domains.
        args.domains = list(value(), '--domains');
        break;
      case '--dataset': {
        const v = value();
        if (!v || v.startsWith('--')) throw new UsageError('--dataset needs a description file');
        args.datasets.push(v);
        break;
      }
      case '--models':
        args.models = list(value(), '--models');
        break;
      case '--dry-run':
        args.dryRun = true;
        break;
      case '--batch':
        args.batch = true;
        break;
      case '--limit': {
        const v = value();
        const n = Number(v);
        if (v === undefined || !Number.isInteger(n) || n < 1)
          throw new UsageError(
            `--limit needs a whole number >= 1 (prompts per setting and history length), got ${v ?? 'nothing'}`,
          );
        args.limit = n;
        break;
      }
      case '--retry-finish':
        args.retryFinish = list(value(), '--retry-finish').map((r) => {
          if (!/^[a-z_]+$/.test(r))
            throw new UsageError(`--retry-finish: "${r}" is not a finish reason (e.g. length, content_filter)`);
          return r;
        });
        break;
      case '--force': {
        const next = inline ?? argv[i + 1];
        if (
          next !== undefined &&
          !next.startsWith('-') &&
          next.split(',').every((s) => (STAGES as readonly string[]).includes(s))
        ) {
          args.force = parseStages(next);
          if (inline === undefined) i++;
        } else args.force = true;
        break;
      }
      case '--run': {
        const v = value();
        if (!v || v.startsWith('--')) throw new UsageError('--run needs a name');
        if (!isRunName(v))
          throw new UsageError(
            `--run: "${v.length > 40 ? `${v.slice(0, 40)}…" (${v.length} characters)` : `${v}"`} is not a run name: ${RUN_NAME_RULE}`,
          );
        args.run = v;
        break;
      }
      case '--no-report':
        args.report = false;
        break;
      case '-h':
      case '--help':
        args.help = true;
        break;
      default:
        throw new UsageError(`unknown option "${a}"`);
    }
  }
  return args;
}

async function main(): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    warn(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    say(USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = withCatalogueModels(
      loadConfig({
        configFile: args.configFile,
        datasets: args.datasets,
        overrides: args.run !== undefined ? { run: args.run } : undefined,
      }),
      args.models ?? [],
    );
  } catch (e) {
    if (e instanceof ConfigError) {
      warn(`configuration error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const known = config.query.models.map((m) => m.id);
  const unknownModels = (args.models ?? []).filter((id) => !known.includes(id));
  if (unknownModels.length) {
    warn(
      `--models: ${unknownModels.map((id) => `"${id}"`).join(', ')} ${unknownModels.length > 1 ? 'are' : 'is'} not configured (configured models: ${known.join(', ')})\n\n${USAGE}`,
    );
    return 2;
  }
  const unknown = (args.domains ?? []).filter((d) => !Object.hasOwn(config.datasets, d));
  if (unknown.length) {
    warn(
      `unknown domain "${unknown[0]}" (domains: ${Object.keys(config.datasets).join(', ')}; add one with --dataset FILE)\n\n${USAGE}`,
    );
    return 2;
  }
  try {
    // A method a model cannot serve is refused before any stage runs, so nothing is sent (lib/query/elicit.ts).
    checkElicitation(config, args.models ?? known);
  } catch (e) {
    if (e instanceof ConfigError) {
      warn(`configuration error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const t0 = Date.now();
  let result: Awaited<ReturnType<typeof runPipeline>>;
  try {
    result = await runPipeline(config, {
      stages: args.stages,
      domains: args.domains,
      models: args.models,
      dryRun: args.dryRun,
      limit: args.limit,
      batch: args.batch,
      retryFinish: args.retryFinish,
      force: args.force,
      report: args.report,
    });
  } catch (e) {
    // The pipeline refuses a configuration (a named run's changed settings) before any stage runs.
    if (e instanceof ConfigError) {
      warn(`configuration error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  say('');
  const outcome = !result.ok
    ? 'some steps failed'
    : result.pending
      ? 'some steps are pending (a later run finishes them)'
      : 'everything requested ran';
  say(`Finished in ${secs}s: ${outcome}.`);
  for (const s of result.steps.filter((x) => x.status === 'pending'))
    say(`Pending: ${s.stage} ${s.domain ?? ''}${s.model ? ` ${s.model}` : ''}: ${s.detail ?? ''}`);
  const counts = new Map<string, number>();
  for (const s of result.steps) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
  say(`Steps: ${[...counts].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}.`);
  for (const s of result.steps.filter((x) => x.stage === 'query' && x.status === 'ran' && x.detail))
    say(`Query ${s.domain} ${s.model}: ${s.detail}`);
  for (const m of result.skippedModels) say(`Model skipped: ${m.id}: ${m.reason}`);
  for (const f of result.failedDomains)
    say(`Domain ${f.domain} failed: ${f.reason}${f.fix ? `\n  Fix: ${f.fix}` : ''}`);
  for (const s of result.steps.filter(
    (x) => x.status === 'failed' && !result.failedDomains.some((f) => f.domain === x.domain),
  )) {
    say(`Failed: ${s.stage}${s.domain ? ` ${s.domain}` : ''}${s.model ? ` ${s.model}` : ''}: ${s.detail}`);
  }
  if (result.reportFile) say(`Report: ${result.reportFile}`);
  return result.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    warn(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  },
);
