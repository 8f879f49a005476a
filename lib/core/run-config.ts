/**
 * A named run's `config.json` (`paths.runs/NAME/config.json`): the configuration its outputs were computed with. It is
 * written when one of the run's own stages finishes (a shared stage, such as preprocess, writes outside the run and
 * leaves it alone), and a later run under the same name with another configuration is refused before any work unless
 * it is forced, so the file never describes outputs it did not make.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type Config,
  ConfigError,
  type DomainName,
  isPlainObject,
  preprocessParameters,
  resolvePath,
  runConfigFile,
} from './config';
import { type ConfigChange, configChanges } from './config-diff';
import { readJson, writeJsonAtomic } from './io';

/**
 * Keys that change how a run proceeds, not what it computes (waiting, retrying, where data may come from): a run
 * under the same name may change them. `domains` is a selection, like --domains: each domain's outputs stand alone.
 */
const NOT_PARAMETERS = new Set([
  'domains',
  'download',
  'query.maxRetries',
  'query.timeoutMs',
  'query.outputTokensEstimate',
  'query.batchMaxRequests',
  'query.batchMaxBytes',
  'query.batchPollSeconds',
  'query.batchWait',
]);
/** The same for a model entry: how many requests it has in flight. */
const NOT_MODEL_PARAMETERS = ['concurrency'];

const own = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const only = <T>(map: Record<string, T>, keep: object): Record<string, T> =>
  Object.fromEntries(Object.entries(map).filter(([k]) => own(keep, k)));

/**
 * The part of `c` that `other` can be compared with: the domains, datasets and models both hold. A model, dataset or
 * domain that one of them lacks is not a change of the other's outputs (a run may add a model or a domain).
 */
function comparable(c: Config, other: Config): Record<string, unknown> {
  const ids = new Set(other.query.models.map((m) => m.id));
  return {
    ...c,
    datasets: only(c.datasets, other.datasets),
    preprocess: only(c.preprocess, other.preprocess),
    sample: { ...c.sample, settings: only(c.sample.settings, other.sample.settings) },
    query: { ...c.query, models: c.query.models.filter((m) => ids.has(m.id)) },
  };
}

/** The keys in which `config` differs from the configuration a run was computed with. */
export function runConfigChanges(saved: Config, config: Config): ConfigChange[] {
  return configChanges(comparable(saved, config), comparable(config, saved)).filter((c) => {
    if (NOT_PARAMETERS.has(c.key)) return false;
    if (c.key.startsWith('query.models.')) return !NOT_MODEL_PARAMETERS.some((k) => c.key.endsWith(`.${k}`));
    // A setting one of the two does not hold at all came or went with a version of this code, not with the user;
    // a stage whose output it changes sees it in its stamp. (A model's optional fields are choices: counted above.)
    return c.from !== undefined && c.to !== undefined;
  });
}

/** The configuration a named run's outputs were computed with; null without a run name or a saved file. */
export function savedRunConfig(config: Config): Config | null {
  const file = runConfigFile(config);
  if (!file || !fs.existsSync(file)) return null;
  const fix = `it says which configuration run "${config.run}" was computed with: repair it, or add --force to recompute the run and write it afresh`;
  let saved: unknown;
  try {
    saved = readJson(file);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}; ${fix}`);
  }
  const c = saved as Config;
  if (
    !isPlainObject(c) ||
    !Array.isArray(c.domains) ||
    !isPlainObject(c.datasets) ||
    !isPlainObject(c.preprocess) ||
    !isPlainObject(c.sample) ||
    !isPlainObject(c.sample.settings) ||
    !isPlainObject(c.query) ||
    !Array.isArray(c.query.models)
  )
    throw new ConfigError(`${file}: not a whole configuration (domains, datasets, preprocess, sample, query); ${fix}`);
  return c;
}

const shown = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

/**
 * Refuses (ConfigError) a named run whose configuration differs from the one its outputs were computed with, naming
 * the differing keys. `force` recomputes with the new configuration instead.
 */
export function checkRunConfig(config: Config, force: boolean): void {
  if (force || config.run === null) return;
  const saved = savedRunConfig(config);
  if (!saved) return;
  const changes = runConfigChanges(saved, config);
  if (!changes.length) return;
  const list = changes.map((c) => `${c.key}: ${shown(c.from)} → ${shown(c.to)}`);
  const shownList = list.length > 12 ? [...list.slice(0, 12), `… and ${list.length - 12} more`] : list;
  throw new ConfigError(
    `run "${config.run}" was computed with another configuration (${runConfigFile(config)}), which differs in ${changes.length} key${changes.length > 1 ? 's' : ''}:\n` +
      `${shownList.map((l) => `  ${l}`).join('\n')}\n` +
      `use another --run name for this configuration, or add --force to recompute run "${config.run}" with it`,
  );
}

/**
 * After a stage that wrote `outputFile` finished: when that file belongs to the named run (not to shared data), the
 * run's config.json becomes this configuration, keeping the models, datasets and domains of earlier runs under the
 * name that this one does not hold (their outputs are still there).
 */
export function recordRunConfig(config: Config, outputFile: string): void {
  const file = runConfigFile(config);
  if (!file) return;
  const relative = path.relative(path.dirname(file), resolvePath(outputFile));
  if (relative.startsWith('..') || path.isAbsolute(relative)) return;
  let saved: Config | null = null;
  try {
    saved = savedRunConfig(config);
  } catch {
    // An unreadable record is replaced by the configuration that just made an output.
  }
  writeJsonAtomic(file, saved ? withEarlierEntries(config, saved) : config);
}

function withEarlierEntries(config: Config, saved: Config): Config {
  const ids = new Set(config.query.models.map((m) => m.id));
  return {
    ...config,
    domains: [...new Set([...config.domains, ...saved.domains])],
    datasets: { ...saved.datasets, ...config.datasets },
    preprocess: { ...saved.preprocess, ...config.preprocess },
    sample: { ...config.sample, settings: { ...saved.sample.settings, ...config.sample.settings } },
    query: { ...config.query, models: [...config.query.models, ...saved.query.models.filter((m) => !ids.has(m.id))] },
  };
}

/** Every analysis parameter a domain's results depend on, written into summary.json, figure-data.json and the report. */
export function analysisParameters(config: Config, domain: DomainName, models: string[]): Record<string, unknown> {
  const { models: _all, ...query } = config.query;
  return {
    run: config.run,
    seed: config.seed,
    preprocess: preprocessParameters(config, domain),
    sample: { ...config.sample, settings: config.sample.settings[domain] },
    query,
    models,
    score: config.score,
    curves: config.curves,
  };
}
