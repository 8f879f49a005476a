/**
 * The five stages, listed once, and the one way to run any of them: check whether it is up to date, refuse stale
 * inputs, mark its stamp "running" before it touches an output, and stamp the outcome (done, pending or failed).
 * What each stage reads, writes and computes is declared in its own folder (lib/<folder>/stage.ts); nothing here
 * knows one stage from another except by its definition.
 */
import * as fs from 'node:fs';
import { type Config, ConfigError, type DomainName, type ModelConfig, domainDir } from './core/config';
import { recordRunConfig } from './core/run-config';
import { redact } from './core/secrets';
import type { StageDefinition, StageOutcome } from './core/stage';
import * as stamps from './core/stamps';
import type { StageRef, StageSpecs } from './core/stamps';
import { preprocessStage } from './data/stage';
import { sampleStage } from './sample/stage';
import { queryStage } from './query/stage';
import { scoreStage } from './score/stage';
import { plotStage } from './plot/stage';

export { StaleInputError } from './core/stamps';
export type { StageRef } from './core/stamps';
export type { StageOutcome } from './core/stage';

/** The stages in data-flow order. */
export const STAGE_DEFINITIONS = {
  preprocess: preprocessStage,
  sample: sampleStage,
  query: queryStage,
  score: scoreStage,
  plot: plotStage,
} as const;

type Definitions = typeof STAGE_DEFINITIONS;
export type StageName = keyof Definitions;
export const STAGES = Object.keys(STAGE_DEFINITIONS) as StageName[];
export type StageOptions<S extends StageName> = Definitions[S] extends StageDefinition<infer O, infer _R> ? O : never;
export type StageResult<S extends StageName> = Definitions[S] extends StageDefinition<infer _O, infer R> ? R : never;

const SPECS: StageSpecs = STAGE_DEFINITIONS;

export const staleness = (config: Config, ref: StageRef) => stamps.staleness(SPECS, config, ref);
export const requireFreshInputs = (config: Config, ref: StageRef) => stamps.requireFreshInputs(SPECS, config, ref);
export const stampFile = (config: Config, ref: StageRef) => SPECS[ref.stage].stampFile(config, ref);
export const readStageStamp = (config: Config, ref: StageRef) => stamps.readStamp(stampFile(config, ref));
/** Starts a stage's stamp by hand (tests that stamp fixture files as if the stage had written them). */
export const beginStage = (config: Config, ref: StageRef, external?: unknown) =>
  stamps.beginStage(SPECS, config, ref, external);

/** A stage that ran and did not finish: its reason (and its result as far as it got, e.g. a query summary). */
export class StageFailedError extends Error {
  constructor(
    readonly ref: StageRef,
    readonly outcome: StageOutcome<unknown>,
  ) {
    super(`${ref.stage} ${ref.domain}${ref.model ? ` ${ref.model}` : ''}: ${outcome.detail}`);
    this.name = 'StageFailedError';
  }
}

export interface RunStageOptions {
  /** Recompute even when up to date. */
  force?: boolean;
  log?: (line: string) => void;
}

/**
 * Runs one stage for one ref. Not forced and up to date: nothing is recomputed (`up-to-date`). Otherwise the stage
 * runs and its stamp records the outcome; an exception marks the stamp failed and is rethrown.
 */
export async function runStage<S extends StageName>(
  config: Config,
  ref: StageRef & { stage: S },
  opts: StageOptions<S>,
  how: RunStageOptions = {},
): Promise<StageOutcome<StageResult<S>>> {
  const def = STAGE_DEFINITIONS[ref.stage] as unknown as StageDefinition<StageOptions<S>, StageResult<S>>;
  const print =
    how.log ?? (opts as { log?: (line: string) => void }).log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const log = (line: string) => print(redact(line));
  let prepared: { external: unknown; opts: StageOptions<S> } = { external: undefined, opts };
  if (def.prepare) {
    try {
      prepared = await def.prepare(config, ref, opts, log);
    } catch (e) {
      stamps.markStageFailed(SPECS, config, ref, e);
      throw e;
    }
  }
  const code = stamps.codeVersion(def);
  if (def.makesOutput && !def.makesOutput(prepared.opts)) {
    stamps.requireFreshInputs(SPECS, config, ref);
    const r = await def.run({ config, ref, opts: prepared.opts, code, log });
    return r.status === 'done' ? { status: 'done', result: r.result, detail: r.detail } : r;
  }
  if (!how.force && stamps.isStageUpToDate(SPECS, config, ref, prepared.external))
    return { status: 'up-to-date', detail: 'up to date' };
  const run = stamps.beginStage(SPECS, config, ref, prepared.external);
  let r;
  try {
    r = await def.run({ config, ref, opts: prepared.opts, code, log });
  } catch (e) {
    run.fail(e);
    throw e;
  }
  if (r.status === 'done') {
    run.finish(r.files, r.external);
    // A named run's config.json says what its outputs were computed with: written when one of them is (not by shared stages).
    recordRunConfig(config, stampFile(config, ref));
  } else if (r.status === 'pending') run.pending(r.detail);
  else run.fail(r.detail);
  return r.status === 'done' ? { status: 'done', result: r.result, detail: r.detail } : r;
}

/** Runs a stage (always, as a notebook cell does) and returns its result; a failed or pending stage throws. */
export async function runStageResult<S extends StageName>(
  config: Config,
  ref: StageRef & { stage: S },
  opts: StageOptions<S>,
): Promise<StageResult<S>> {
  const outcome = await runStage(config, ref, opts, { force: true });
  if (outcome.status === 'failed') throw new StageFailedError(ref, outcome);
  return outcome.result as StageResult<S>;
}

// ---------------------------------------------------------------- which models a stage works on

/** The model entries answered by the query stage of a domain (finished stamps), as recorded there. */
export function answeredModels(config: Config, domain: DomainName): ModelConfig[] {
  const dir = domainDir(config, 'responses');
  if (!fs.existsSync(dir)) return [];
  const found: ModelConfig[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const stamp = stamps.readStamp(stampFile(config, { stage: 'query', domain, model: entry.name }));
    if (stamp?.status === 'done' && stamp.params.model && stamp.params.model.id === entry.name)
      found.push(stamp.params.model);
  }
  // In configuration order first (the order a user listed them), then the rest by id.
  const order = config.query.models.map((m) => m.id);
  const rank = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  return found.sort((a, b) => rank(a.id) - rank(b.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The configuration with every answered model of a domain that it does not define (a model defined once, in notebook
 * 03 or on the command line), so the score and plot stages find the entry its answers were made with.
 */
export function withAnsweredModels(config: Config, domain: DomainName): Config {
  const missing = answeredModels(config, domain).filter((m) => !config.query.models.some((c) => c.id === m.id));
  return missing.length
    ? { ...config, query: { ...config.query, models: [...config.query.models, ...missing] } }
    : config;
}

/** The models the score stage of a domain last scored, from its stamp (empty when it has not run). */
export function scoredModels(config: Config, domain: DomainName): string[] {
  return readStageStamp(config, { stage: 'score', domain })?.params.models ?? [];
}

// ---------------------------------------------------------------- one function per stage, for notebooks and scripts

type Log = { log?: (line: string) => void };

export const preprocess = (config: Config, domain: DomainName, opts: StageOptions<'preprocess'> = {}) =>
  runStageResult(config, { stage: 'preprocess', domain }, opts);

export const sample = (config: Config, domain: DomainName, opts: StageOptions<'sample'> = {}) =>
  runStageResult(config, { stage: 'sample', domain }, opts);

/** Queries each model in turn (its own stamp); a dry run or a pilot writes no stamp. */
export async function query(config: Config, domain: DomainName, modelIds: string[], opts: StageOptions<'query'> = {}) {
  const out: StageResult<'query'>[] = [];
  for (const model of modelIds) out.push(await runStageResult(config, { stage: 'query', domain, model }, opts));
  return out;
}

/** Scores the given models (default: every model answered for the domain). */
export function score(config: Config, domain: DomainName, models?: string[], opts: StageOptions<'score'> & Log = {}) {
  const withModels = withAnsweredModels(config, domain);
  return runStageResult(
    withModels,
    { stage: 'score', domain, models: models ?? answeredModels(config, domain).map((m) => m.id) },
    opts,
  );
}

/** Draws the figures of the given models (default: the models the score stage scored). */
export function plot(config: Config, domain: DomainName, opts: StageOptions<'plot'> & { models?: string[] } = {}) {
  const { models, ...rest } = opts;
  if (rest.figure?.curve)
    throw new ConfigError(
      'plot: curve options belong to the score stage (curves.* in the configuration, notebook 04), so figures and summary.json agree',
    );
  return runStageResult(
    withAnsweredModels(config, domain),
    { stage: 'plot', domain, models: models ?? scoredModels(config, domain) },
    rest,
  );
}
