/**
 * The whole analysis as one sequence of stages: preprocess → sample → query → score → plot → report.
 * Each (stage, domain) is skipped when its stamp says code, parameters, inputs and outputs are unchanged, and recomputed
 * otherwise; a stage that is not requested is not recomputed, and a requested stage refuses its stale output (see
 * lib/stages.ts; each stage's own definition in lib/<folder>/stage.ts). A domain whose data cannot be obtained is reported with the reason and the fix, and the other
 * domain still runs.
 */
import { type Config, type DomainName, type ModelConfig } from './core/config';
import { checkRunConfig } from './core/run-config';
import { redact } from './core/secrets';
import type { StageRef } from './core/stamps';
import type { FailedDomain, SkippedModel, StepResult, StepStatus } from './core/types';
import { DatasetUnavailableError } from './data/datasets';
import { modelAvailability } from './query/availability';
import { writeReport } from './plot/report';
import { STAGES, type StageName, answeredModels, runStage, withAnsweredModels } from './stages';

export { STAGES, type StageName } from './stages';
export type { FailedDomain, SkippedModel, StepResult, StepStatus } from './core/types';

export interface PipelineOptions {
  stages?: StageName[];
  domains?: DomainName[];
  /** Model ids; default: every baseline plus every API model whose key or server is available. */
  models?: string[];
  dryRun?: boolean;
  /** A pilot: the query stage asks only this many prompts per (setting, history length); later stages do not run. */
  limit?: number;
  /**
   * Recompute these stages even when up to date (true = all requested stages). Any force also lets a named run be
   * recomputed with a configuration other than the one its outputs were computed with.
   */
  force?: boolean | StageName[];
  batch?: boolean;
  /** Query stage: finish reasons whose earlier answers are asked again after raising query.maxTokens (--retry-finish). */
  retryFinish?: string[];
  /** Write figures/report.html at the end (default true when the plot stage runs). */
  report?: boolean;
  log?: (line: string) => void;
}

export interface PipelineResult {
  ok: boolean;
  /** Steps waiting for Batch API answers (submitted without waiting); their domains stop before scoring. */
  pending: number;
  steps: StepResult[];
  models: string[];
  skippedModels: SkippedModel[];
  failedDomains: FailedDomain[];
  reportFile: string | null;
}

export function parseStages(list: string): StageName[] {
  const out: StageName[] = [];
  for (const s of list
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(STAGES as readonly string[]).includes(s))
      throw new Error(`unknown stage "${s}" (stages: ${STAGES.join(', ')})`);
    out.push(s as StageName);
  }
  return out;
}

/** Which models a run uses: the named ones, or every baseline plus every API model that is reachable now. */
export async function selectModels(
  config: Config,
  requested: string[] | undefined,
  log: (s: string) => void,
): Promise<{ models: ModelConfig[]; skipped: { id: string; reason: string }[] }> {
  const byId = new Map(config.query.models.map((m) => [m.id, m]));
  if (requested && requested.length) {
    const models = requested.map((id) => {
      const m = byId.get(id);
      if (!m) throw new Error(`unknown model "${id}" (configured models: ${[...byId.keys()].join(', ')})`);
      return m;
    });
    return { models, skipped: [] };
  }
  const models: ModelConfig[] = [];
  const skipped: { id: string; reason: string }[] = [];
  for (const m of config.query.models) {
    const avail = await modelAvailability(m);
    if (avail.available) models.push(m);
    else {
      const reason = redact(avail.reason ?? 'not available');
      skipped.push({ id: m.id, reason });
      log(`[models] skipping ${m.id}: ${reason}`);
    }
  }
  return { models, skipped };
}

/** Throws ConfigError, before any work, for a named run whose configuration changed without --force. */
export async function runPipeline(config: Config, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const print = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const log = (line: string) => print(redact(line));
  checkRunConfig(config, opts.force === true || (Array.isArray(opts.force) && opts.force.length > 0));
  const stages = opts.stages && opts.stages.length ? opts.stages : [...STAGES];
  const domains = opts.domains && opts.domains.length ? opts.domains : config.domains;
  const forced = (s: StageName) => opts.force === true || (Array.isArray(opts.force) && opts.force.includes(s));
  const steps: StepResult[] = [];
  const failedDomains: PipelineResult['failedDomains'] = [];
  // Without the query stage and without --models, score and plot take the models the query stage answered (its
  // stamps), so a model defined once is scored and plotted without being named again.
  const fromAnswers = !stages.includes('query') && !(opts.models && opts.models.length);
  const needsModels =
    stages.includes('query') || ((stages.includes('score') || stages.includes('plot')) && !fromAnswers);
  const { models, skipped } = needsModels ? await selectModels(config, opts.models, log) : { models: [], skipped: [] };
  if (needsModels) log(`[models] using ${models.map((m) => m.id).join(', ') || '(none)'}`);
  const usedModels = new Set(models.map((m) => m.id));
  const queryOpts = { dryRun: opts.dryRun, batch: opts.batch, limit: opts.limit, retryFinish: opts.retryFinish, log };
  const makesOutputs = !opts.dryRun && opts.limit === undefined;

  async function step(config: Config, ref: StageRef & { stage: StageName }, stageOpts: object): Promise<boolean> {
    const t0 = Date.now();
    const { stage, domain, model } = ref;
    const where = `[${stage}] ${domain}${model ? ` ${model}` : ''}`;
    try {
      const outcome = await runStage(config, ref, { log, ...stageOpts } as never, { force: forced(stage), log });
      const seconds = (Date.now() - t0) / 1000;
      if (outcome.status === 'failed') throw new Error(outcome.detail);
      // Step details reach the console, the report and the CLI's summary: no key in any of them.
      const detail = redact(outcome.detail);
      const status: StepStatus = outcome.status === 'done' ? 'ran' : outcome.status;
      steps.push({
        stage,
        domain,
        model,
        status,
        seconds,
        detail: status === 'ran' || status === 'pending' ? detail : undefined,
      });
      log(
        `${where}: ${status === 'up-to-date' ? 'up to date, skipped' : status === 'pending' ? detail : `done in ${seconds.toFixed(1)}s`}`,
      );
      return status !== 'pending';
    } catch (e) {
      const err = e as Error;
      const fix = err instanceof DatasetUnavailableError ? redact(err.fix) : undefined;
      const reason = redact(err.message);
      steps.push({ stage, domain, model, status: 'failed', seconds: (Date.now() - t0) / 1000, detail: reason });
      log(`${where}: FAILED: ${reason}`);
      if (!failedDomains.some((f) => f.domain === domain)) failedDomains.push({ domain, reason, fix });
      return false;
    }
  }

  for (const domain of domains) {
    const domainConfig = withAnsweredModels(config, domain);
    const domainModels = fromAnswers ? answeredModels(config, domain).map((m) => m.id) : models.map((m) => m.id);
    if (fromAnswers && (stages.includes('score') || stages.includes('plot')))
      log(`[models] ${domain}: the answered models ${domainModels.join(', ') || '(none)'}`);
    for (const id of domainModels) usedModels.add(id);
    let ok = true;
    for (const stage of STAGES) {
      if (!ok || !stages.includes(stage)) continue;
      if ((stage === 'score' || stage === 'plot') && !makesOutputs) continue;
      if (stage === 'query') {
        for (const model of domainModels) ok = (await step(domainConfig, { stage, domain, model }, queryOpts)) && ok;
      } else {
        ok = await step(
          domainConfig,
          { stage, domain, models: stage === 'score' || stage === 'plot' ? domainModels : undefined },
          {},
        );
      }
    }
  }
  const modelIds = [...usedModels];

  let reportFile: string | null = null;
  // A run whose every plot step failed would replace the last good report with an empty one.
  const plotted = steps.some((s) => s.stage === 'plot' && s.status !== 'failed');
  const wantReport = opts.report ?? (stages.includes('plot') && !opts.dryRun && opts.limit === undefined && plotted);
  if (wantReport) {
    const t0 = Date.now();
    try {
      reportFile = await writeReport(config, {
        domains: domains.filter((d) => !failedDomains.some((f) => f.domain === d)),
        modelIds,
        skippedModels: skipped,
        failedDomains,
        steps,
      });
      steps.push({ stage: 'report', status: 'ran', seconds: (Date.now() - t0) / 1000 });
      log(`[report] written to ${reportFile}`);
    } catch (e) {
      steps.push({
        stage: 'report',
        status: 'failed',
        seconds: (Date.now() - t0) / 1000,
        detail: redact((e as Error).message),
      });
      log(`[report] FAILED: ${(e as Error).message}`);
    }
  }
  const ok = steps.every((s) => s.status !== 'failed');
  const pending = steps.filter((s) => s.status === 'pending').length;
  return { ok, pending, steps, models: modelIds, skippedModels: skipped, failedDomains, reportFile };
}
