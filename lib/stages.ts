/**
 * The five stages as the CLI and the notebooks run them: each refuses stale inputs, marks its stamp "running" before it
 * touches an output, stamps what it wrote (or marks the stamp failed), and records every analysis parameter in the
 * files a reader sees (summary.json, figure-data.json). The stage functions of lib/data, lib/sample, lib/query,
 * lib/score and lib/plot compute; these wrappers decide whether they may.
 *
 * `notebookConfig` is how a notebook starts: the effective configuration (defaults ⊕ UBP_CONFIG), the parameter cell's
 * changes, and the parameters upstream stages ran with, read from their stamps instead of repeated in every notebook.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ConfigChange, changesFromDefaults } from './core/config-diff';
import {
  type Config,
  ConfigError,
  DOMAINS,
  type DomainName,
  type ModelConfig,
  domainDir,
  loadConfig,
  mergeConfig,
  runConfigFile,
} from './core/config';
import { readJson, writeJsonAtomic } from './core/io';
import {
  type StageRef,
  type StageRun,
  STAGE_NOTEBOOKS,
  beginStage,
  fileIdentity,
  isStageUpToDate,
  readStamp,
  requireFreshInputs,
  stampFile,
  upstreamRefs,
} from './core/stamps';
import type { ProcessedSummary, StageName } from './core/types';
import { type LocatedDataset, locateDataset } from './data/datasets';
import { type PreprocessOptions, runPreprocess } from './data/preprocess';
import type { SampleOptions, SampleResult } from './sample/algorithm';
import { SAMPLES_FILE, SAMPLE_COUNTS_FILE, SAMPLE_STOPS_FILE, runSample } from './sample/sample';
import { type QueryOptions, type QueryRunSummary, resolveModels, responsesFile, runQuery, storeIdentity } from './query/runner';
import { type ScoreOptions, type ScoreSummary, runScore, scoreSummaryFile, scoresFile } from './score/score';
import { type PlotOptions, type PlotResult, FIGURE_DATA_FILE, runPlot } from './plot/figures';

export { StaleInputError, staleness, isStageUpToDate, requireFreshInputs, stampFile, type StageRef } from './core/stamps';

const PROCESSED_FILES = ['users.jsonl', 'items.jsonl', 'interactions.jsonl', 'summary.json'];

/** Every analysis parameter a domain's results depend on, written into summary.json, figure-data.json and the report. */
export function analysisParameters(config: Config, domain: DomainName, models: string[]): Record<string, unknown> {
  const { models: _all, ...query } = config.query;
  return {
    run: config.run,
    seed: config.seed,
    preprocess: config.preprocess[domain],
    sample: { ...config.sample, settings: config.sample.settings[domain] },
    query,
    models,
    score: config.score,
    curves: config.curves,
  };
}

function begin(config: Config, ref: StageRef, external?: unknown): StageRun {
  const run = beginStage(config, ref, external);
  const saved = runConfigFile(config);
  if (saved) writeJsonAtomic(saved, config);
  return run;
}

function guarded<T>(run: StageRun, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    run.fail(e);
    throw e;
  }
}

async function guardedAsync<T>(run: StageRun, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    run.fail(e);
    throw e;
  }
}

/** Raw files are fingerprinted by name, size and mtime: hashing 2.4 GB on every run would cost more than it saves. */
function rawIdentity(located: LocatedDataset): string[] {
  return Object.values(located.files).sort().map(fileIdentity);
}

// ---------------------------------------------------------------- the stages

export interface StageLocateOptions {
  /** The dataset, when the caller located it already. */
  located?: LocatedDataset;
}

export function preprocessUpToDate(config: Config, domain: DomainName, located: LocatedDataset): boolean {
  return isStageUpToDate(config, { stage: 'preprocess', domain }, rawIdentity(located));
}

/** Locates a domain's raw data; when it cannot, the old processed files are marked failed (they no longer match what is there). */
export async function locate(config: Config, domain: DomainName, log?: (s: string) => void): Promise<LocatedDataset> {
  try {
    return await locateDataset(config, domain, { log });
  } catch (e) {
    markFailed(config, { stage: 'preprocess', domain }, e);
    throw e;
  }
}

export async function preprocess(config: Config, domain: DomainName, opts: PreprocessOptions & StageLocateOptions = {}): Promise<ProcessedSummary> {
  const ref: StageRef = { stage: 'preprocess', domain };
  const located = opts.located ?? (await locate(config, domain, opts.log));
  const run = begin(config, ref, rawIdentity(located));
  return guardedAsync(run, async () => {
    const summary = await runPreprocess(config, domain, opts);
    const dir = domainDir(config, 'processed', domain);
    run.finish(PROCESSED_FILES.map((f) => path.join(dir, f)));
    return summary;
  });
}

/** Marks an existing stamp failed (a stage that failed before it could start, e.g. its raw data is unreadable). */
export function markFailed(config: Config, ref: StageRef, error: unknown): void {
  const file = stampFile(config, ref);
  const stamp = readStamp(file);
  if (stamp) writeJsonAtomic(file, { ...stamp, status: 'failed', detail: error instanceof Error ? error.message.split('\n')[0] : String(error), finishedAt: new Date().toISOString() });
}

export function sample(config: Config, domain: DomainName, opts: SampleOptions = {}): SampleResult {
  const run = begin(config, { stage: 'sample', domain });
  return guarded(run, () => {
    const result = runSample(config, domain, opts);
    const dir = domainDir(config, 'samples', domain);
    run.finish([SAMPLES_FILE, SAMPLE_COUNTS_FILE, SAMPLE_STOPS_FILE].map((f) => path.join(dir, f)));
    return result;
  });
}

/**
 * Queries the models; each model's stamp is finished only when every prompt has an answer, marked pending while
 * Batch API answers are outstanding, and failed otherwise. A dry run checks the inputs and writes nothing.
 */
export async function query(config: Config, domain: DomainName, modelIds: string[], opts: QueryOptions = {}): Promise<QueryRunSummary[]> {
  // A dry run and a pilot (`limit`) leave the query stamp alone: neither produces the stage's output.
  if (opts.dryRun || opts.limit !== undefined) {
    requireFreshInputs(config, { stage: 'query', domain });
    return runQuery(config, domain, modelIds, opts);
  }
  // The store file's identity is an input: a damaged or truncated store is noticed by a normal rerun.
  const runs = new Map(modelIds.map((model) => [model, begin(config, { stage: 'query', domain, model }, storeIdentity(config, modelConfig(config, model)))]));
  let summaries: QueryRunSummary[];
  try {
    summaries = await runQuery(config, domain, modelIds, opts);
  } catch (e) {
    for (const run of runs.values()) run.fail(e);
    throw e;
  }
  for (const [model, run] of runs) {
    const s = summaries.find((x) => x.modelId === model);
    const waiting = s?.batch?.pendingPrompts ?? 0;
    // Recorded as it is after the run's own appends, so the next run finds it unchanged.
    if (s && s.failed === 0 && s.missing === 0) run.finish([responsesFile(config, model, domain)], storeIdentity(config, modelConfig(config, model)));
    else if (s && s.failed === 0 && waiting > 0) run.pending(`${waiting} prompts waiting in open Batch API jobs (${s.batch?.openBatches.join(', ')})`);
    else run.fail(s ? `${s.failed} prompts failed and ${s.missing} are still unanswered` : 'no summary returned');
  }
  return summaries;
}

/** Whether a model's query stage is up to date, its store file included (as it was when the stage finished). */
export function queryUpToDate(config: Config, domain: DomainName, model: ModelConfig): boolean {
  return isStageUpToDate(config, { stage: 'query', domain, model: model.id }, storeIdentity(config, model));
}

function modelConfig(config: Config, id: string): ModelConfig {
  return resolveModels(config, [id])[0];
}

export function score(config: Config, domain: DomainName, modelIds: string[], opts: ScoreOptions = {}): ScoreSummary {
  const run = begin(config, { stage: 'score', domain, models: modelIds });
  return guarded(run, () => {
    const summary = runScore(config, [domain], modelIds, opts);
    // Recorded here rather than inside runScore so that the scoring code stays about scoring; summary.json is shared
    // by the domains, hence one entry per domain.
    const file = scoreSummaryFile(config);
    const withParams = { ...summary, parameters: { ...(summary as { parameters?: Record<string, unknown> }).parameters, [domain]: analysisParameters(config, domain, modelIds) } };
    writeJsonAtomic(file, withParams);
    run.finish(modelIds.map((m) => scoresFile(config, m, domain)));
    return withParams;
  });
}

export interface StagePlotOptions extends PlotOptions {
  /** Default: the models the score stage scored (its stamp). */
  models?: string[];
}

/** Draws and exports the figures from fresh scores; formats that could not be exported leave the stage pending (retried). */
export async function plot(config: Config, domain: DomainName, opts: StagePlotOptions = {}): Promise<PlotResult> {
  if (opts.figure?.curve) throw new ConfigError('plot: curve options belong to the score stage (curves.* in the configuration, notebook 04), so figures and summary.json agree');
  const models = opts.models ?? scoredModels(config, domain);
  const run = begin(config, { stage: 'plot', domain, models });
  return guardedAsync(run, async () => {
    const result = await runPlot(config, domain, models, opts);
    const dataFile = path.join(domainDir(config, 'figures', domain), FIGURE_DATA_FILE);
    writeJsonAtomic(dataFile, { ...readJson<Record<string, unknown>>(dataFile), parameters: analysisParameters(config, domain, models) });
    const files = [dataFile, ...result.files.filter((f) => f !== dataFile)];
    if (result.skipped.length === 0) run.finish(files);
    else run.pending(`formats not exported: ${result.skipped.map((s) => s.format).join(', ')}`);
    return result;
  });
}

/** The models the score stage of a domain last scored, from its stamp (empty when it has not run). */
export function scoredModels(config: Config, domain: DomainName): string[] {
  return readStamp(stampFile(config, { stage: 'score', domain }))?.params.models ?? [];
}

/** The models answered in the query stage of a domain (every model with a query stamp in this run's responses). */
export function queriedModels(config: Config, domain: DomainName): string[] {
  const dir = domainDir(config, 'responses');
  if (!fs.existsSync(dir)) return [];
  return config.query.models.map((m) => m.id).filter((id) => fs.existsSync(stampFile(config, { stage: 'query', domain, model: id })));
}

// ---------------------------------------------------------------- notebooks

/** The domains to work on: UBP_DOMAIN (comma-separated) when set, else the configuration's `domains`. */
export function configuredDomains(config: Config, env: NodeJS.ProcessEnv = process.env): DomainName[] {
  const fromEnv = env.UBP_DOMAIN?.split(',').map((d) => d.trim()).filter(Boolean);
  const domains = fromEnv && fromEnv.length ? fromEnv : config.domains;
  for (const d of domains) if (!(DOMAINS as readonly string[]).includes(d)) throw new ConfigError(`UBP_DOMAIN: unknown domain "${d}" (known: ${DOMAINS.join(', ')})`);
  return domains as DomainName[];
}

/** Whether a stage has a stamp at all (finished or not): notebooks run a missing upstream stage, never a stale one. */
export function hasRun(config: Config, ref: StageRef): boolean {
  return readStamp(stampFile(config, ref)) !== null;
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
  if (value === null || typeof value !== 'object' || Array.isArray(value) || /^sample\.settings\.[^.]+$/.test(prefix)) return prefix ? [prefix] : [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k));
}

function getKey(obj: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function overlay(key: string, value: unknown): Record<string, unknown> {
  return key.split('.').reduceRight<unknown>((v, k) => ({ [k]: v }), value) as Record<string, unknown>;
}

const covers = (owner: string, key: string) => key === owner || key.startsWith(`${owner}.`) || owner.startsWith(`${key}.`);

/** Upstream stages of a stage in data-flow order (furthest first), with the query stage once per model. */
function upstreamChain(ref: StageRef): StageRef[] {
  const seen = new Map<string, StageRef>();
  const visit = (r: StageRef) => {
    for (const up of upstreamRefs(r)) {
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
  const changes = opts.changes ?? {};
  const over = opts.run !== undefined && opts.run !== null ? { ...changes, run: opts.run } : changes;
  let config = loadConfig({ overrides: over });
  const domain = opts.domain ?? configuredDomains(config)[0];
  const inherited: NotebookSetup['inherited'] = [];
  // Scoring before any query defaults to the offline baselines (free, answered on the spot).
  const baselines = () => config.query.models.filter((m) => m.provider === 'baseline').map((m) => m.id);
  const queried = () => (queriedModels(config, domain).length ? queriedModels(config, domain) : baselines());
  let models = opts.models ?? (opts.stage === 'plot' ? scoredModels(config, domain) : opts.stage === 'score' ? queried() : []);
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
        `"${clash}" is a parameter of the ${up.stage} stage (${STAGE_NOTEBOOKS[up.stage]}), which already ran with ${JSON.stringify(getKey(stamp.params.config, clash))}; ` +
          `change it there and re-run that notebook, so every later result is computed from the same value`,
      );
    }
    const taken = keys.filter((k) => JSON.stringify(getKey(config, k)) !== JSON.stringify(getKey(stamp.params.config, k)));
    for (const k of taken) config = mergeConfig(config, overlay(k, getKey(stamp.params.config, k)), `${up.stage} stamp`);
    if (keys.length && !inherited.some((i) => i.stage === up.stage)) inherited.push({ stage: up.stage, keys: [...new Set(keys.map((k) => k.split('.').slice(0, 2).join('.')))] });
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
  lines.push(...formatChanges(setup.changes).split('\n').map((l) => `  ${l}`));
  for (const i of setup.inherited) lines.push(`from the ${i.stage} stage's stamp: ${i.keys.join(', ')}`);
  if (setup.models.length) lines.push(`models: ${setup.models.join(', ')}`);
  return lines.join('\n');
}
