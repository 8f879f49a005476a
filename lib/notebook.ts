/**
 * What a notebook needs around the stages: its configuration (defaults ⊕ UBP_CONFIG ⊕ the parameter cell's changes ⊕
 * the parameters upstream stages ran with, read from their stamps instead of repeated in every notebook), bringing
 * upstream stages up to date, and errors shown as one clean message with the fix.
 */
import { type ConfigChange, changesFromDefaults } from './core/config-diff';
import { type Config, ConfigError, type DomainName, loadConfig, mergeConfig } from './core/config';
import { redact } from './core/secrets';
import { readStamp } from './core/stamps';
import type { StageRef } from './core/stamps';
import * as stages from './stages';
import {
  STAGE_DEFINITIONS,
  type StageName,
  StageFailedError,
  StaleInputError,
  answeredModels,
  runStage,
  scoredModels,
  stampFile,
  staleness,
  withAnsweredModels,
} from './stages';

/** The domains to work on: UBP_DOMAIN (comma-separated) when set, else the configuration's `domains`. */
export function configuredDomains(config: Config, env: NodeJS.ProcessEnv = process.env): DomainName[] {
  const fromEnv = env.UBP_DOMAIN?.split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  const domains = fromEnv && fromEnv.length ? fromEnv : config.domains;
  const known = Object.keys(config.datasets);
  for (const d of domains)
    if (!known.includes(d)) throw new ConfigError(`UBP_DOMAIN: unknown domain "${d}" (known: ${known.join(', ')})`);
  return domains as DomainName[];
}

export interface NotebookOptions {
  stage: StageName;
  /** Default: the first configured domain (notebook 01 works on every configured domain). */
  domain?: DomainName;
  /** A named run (results under paths.runs/NAME/); null or undefined: the run of the configuration (default: none). */
  run?: string | null;
  /** What this notebook changes for this run, as plain values over the effective configuration. */
  changes?: Record<string, unknown>;
  /** Models of the upstream query stage (default: every model answered in this run). */
  models?: string[];
}

export interface NotebookSetup {
  config: Config;
  /** The models this stage works on (query: none chosen yet; score: answered ones; plot: scored ones). */
  models: string[];
  /** The effective configuration's difference from the defaults. */
  changes: ConfigChange[];
  /** Which stage each taken-over parameter came from. */
  inherited: { stage: StageName; keys: string[] }[];
}

/** Leaf keys of a parameter object; arrays and a domain's settings map are whole values (they are replaced, not merged). */
function leafKeys(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || /^sample\.settings\.[^.]+$/.test(prefix))
    return prefix ? [prefix] : [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    leafKeys(v, prefix ? `${prefix}.${k}` : k),
  );
}

function getKey(obj: unknown, key: string): unknown {
  return key
    .split('.')
    .reduce<unknown>(
      (o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
      obj,
    );
}

function overlay(key: string, value: unknown): Record<string, unknown> {
  return key.split('.').reduceRight<unknown>((v, k) => ({ [k]: v }), value) as Record<string, unknown>;
}

const covers = (owner: string, key: string) =>
  key === owner || key.startsWith(`${owner}.`) || owner.startsWith(`${key}.`);

/** Upstream stages of a stage in data-flow order (furthest first), with the query stage once per model. */
export function upstreamChain(ref: StageRef): StageRef[] {
  const seen = new Map<string, StageRef>();
  const visit = (r: StageRef) => {
    for (const up of STAGE_DEFINITIONS[r.stage as StageName].upstream(r)) {
      visit(up);
      seen.set(`${up.stage}:${up.model ?? ''}`, up);
    }
  };
  visit(ref);
  return [...seen.values()];
}

/**
 * A notebook's configuration: defaults ⊕ UBP_CONFIG ⊕ the parameter cell's `changes`, with every parameter an upstream
 * stage owns taken from that stage's stamp (so 05 draws with the curves 04 scored with, and 04 scores with the seed and
 * K of 02). Changing an upstream stage's parameter here is refused: it must be changed where that stage runs.
 */
export function notebookConfig(opts: NotebookOptions): NotebookSetup {
  try {
    return setupOf(opts);
  } catch (e) {
    throw cleanError(e);
  }
}

function setupOf(opts: NotebookOptions): NotebookSetup {
  const changes = opts.changes ?? {};
  const over = opts.run !== undefined && opts.run !== null ? { ...changes, run: opts.run } : changes;
  let config = loadConfig({ overrides: over });
  const domain = opts.domain ?? configuredDomains(config)[0];
  const inherited: NotebookSetup['inherited'] = [];
  // A model defined once (notebook 03's changes, or --models from the catalogue) is taken from its query stamp.
  if (opts.stage === 'score' || opts.stage === 'plot') config = withAnsweredModels(config, domain);
  // Scoring before any query defaults to the offline baselines (free, answered on the spot).
  const baselines = () => config.query.models.filter((m) => m.provider === 'baseline').map((m) => m.id);
  const answered = answeredModels(config, domain).map((m) => m.id);
  let models =
    opts.models ??
    (opts.stage === 'plot'
      ? scoredModels(config, domain)
      : opts.stage === 'score'
        ? answered.length
          ? answered
          : baselines()
        : []);
  const chain = opts.stage === 'preprocess' ? [] : upstreamChain({ stage: opts.stage, domain, models });
  const owned = new Set<string>();
  for (const up of chain) {
    const stamp = readStamp(stampFile(config, up));
    if (!stamp || stamp.status !== 'done') continue;
    // A parameter read by several stages belongs to the first (seed: sample, not query; score.logBase: sample, not
    // score): the chain runs from the furthest upstream stage, and a key taken once is not taken again.
    const keys = leafKeys(stamp.params.config).filter((k) => !owned.has(k));
    for (const k of keys) owned.add(k);
    const clash = leafKeys(changes).find((c) => keys.some((k) => covers(k, c)));
    if (clash) {
      throw new ConfigError(
        `"${clash}" is a parameter of the ${up.stage} stage (${STAGE_DEFINITIONS[up.stage as StageName].notebook}), which already ran with ${JSON.stringify(getKey(stamp.params.config, clash))}; ` +
          `change it there and re-run that notebook, so every later result is computed from the same value`,
      );
    }
    const taken = keys.filter(
      (k) => JSON.stringify(getKey(config, k)) !== JSON.stringify(getKey(stamp.params.config, k)),
    );
    for (const k of taken)
      config = mergeConfig(config, overlay(k, getKey(stamp.params.config, k)), `${up.stage} stamp`);
    if (keys.length && !inherited.some((i) => i.stage === up.stage))
      inherited.push({
        stage: up.stage as StageName,
        keys: [...new Set(keys.map((k) => k.split('.').slice(0, 2).join('.')))],
      });
  }
  if (opts.stage === 'plot' && !opts.models) models = scoredModels(config, domain);
  return { config, models, changes: changesFromDefaults(config), inherited };
}

export function formatChanges(changes: ConfigChange[]): string {
  if (changes.length === 0) return 'no changes from config/default.json';
  return changes.map((c) => `${c.key}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`).join('\n');
}

/** What a notebook's setup cell prints: the run, the changes from the defaults, and what was taken from upstream stamps. */
export function describeSetup(setup: NotebookSetup): string {
  const lines = [`run: ${setup.config.run ?? '(default layout, no named run)'}`, 'changes from config/default.json:'];
  lines.push(
    ...formatChanges(setup.changes)
      .split('\n')
      .map((l) => `  ${l}`),
  );
  for (const i of setup.inherited) lines.push(`from the ${i.stage} stage's stamp: ${i.keys.join(', ')}`);
  if (setup.models.length) lines.push(`models: ${setup.models.join(', ')}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- bringing upstream stages up to date

/**
 * Runs every upstream stage of `stage` that is not up to date, furthest first, as `npm start` would: one that has not
 * run, or whose inputs or parameters changed, is recomputed. The query stage is recomputed here only for offline
 * baselines (free); an API model's missing or stale answers are refused with the command that refreshes them, so no
 * notebook but 03 ever pays.
 */
export function bringUpToDate(
  config: Config,
  stage: StageName,
  domain: DomainName,
  models: string[] = [],
  log: (s: string) => void = console.log,
): Promise<void> {
  return step(() => upToDate(config, stage, domain, models, log));
}

async function upToDate(
  config: Config,
  stage: StageName,
  domain: DomainName,
  models: string[],
  log: (s: string) => void,
): Promise<void> {
  const configWithModels = withAnsweredModels(config, domain);
  for (const up of upstreamChain({ stage, domain, models })) {
    if (up.stage === 'query') {
      const model = configWithModels.query.models.find((m) => m.id === up.model);
      const problem = staleness(configWithModels, up);
      if (!problem) continue;
      if (model?.provider !== 'baseline') throw new StaleInputError({ stage, domain, models }, problem);
    }
    const outcome = await runStage(configWithModels, up as StageRef & { stage: StageName }, { log } as never, { log });
    if (outcome.status === 'failed' || outcome.status === 'pending') throw new StageFailedError(up, outcome);
    if (outcome.status === 'done')
      log(`[${up.stage}] ${up.domain}${up.model ? ` ${up.model}` : ''}: ${outcome.detail}`);
  }
}

/**
 * Runs a notebook step; a known failure (stale input, bad configuration, failed stage, missing data) becomes one error
 * whose whole text is its message and fix: the kernel prints it without a stack trace or a dump of the error's fields.
 */
export async function step<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw cleanError(e);
  }
}

const KNOWN_ERRORS = [
  'StaleInputError',
  'ConfigError',
  'StageFailedError',
  'DatasetUnavailableError',
  'DescriptionError',
  'DataFormatError',
  'ChecksumError',
  'StoreRefusedError',
];

/** An error that prints as its message alone (no stack, no own fields), for what the user can fix. */
export function cleanError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  if (!KNOWN_ERRORS.includes(e.name) && !KNOWN_ERRORS.includes(e.constructor.name)) {
    // Printed by the kernel with its stack: neither may show a key.
    e.message = redact(e.message);
    if (e.stack) e.stack = redact(e.stack);
    return e;
  }
  const fix = (e as { fix?: string }).fix;
  const text = redact(`${e.message}${fix && !e.message.includes(fix) ? `\n  Fix: ${fix}` : ''}`);
  const clean = new Error(text);
  clean.name = e.name;
  // The kernel prints `stack`; without the frames it is the message and its fix, nothing else.
  clean.stack = `${e.name}: ${text}`;
  return clean;
}

// ---------------------------------------------------------------- the stages, as a notebook cell runs them

/** Runs the preprocess stage (always) and returns its summary; errors come out clean. */
export const preprocess = (...args: Parameters<typeof stages.preprocess>) => step(() => stages.preprocess(...args));
export const sample = (...args: Parameters<typeof stages.sample>) => step(() => stages.sample(...args));
export const query = (...args: Parameters<typeof stages.query>) => step(() => stages.query(...args));
export const score = (...args: Parameters<typeof stages.score>) => step(() => stages.score(...args));
export const plot = (...args: Parameters<typeof stages.plot>) => step(() => stages.plot(...args));
/** Throws (clean) unless every input of the stage is a fresh, finished upstream output. */
export const requireFreshInputs = (...args: Parameters<typeof stages.requireFreshInputs>) => {
  try {
    stages.requireFreshInputs(...args);
  } catch (e) {
    throw cleanError(e);
  }
};
