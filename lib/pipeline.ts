/**
 * The whole analysis as one sequence of stages: preprocess → sample → query → score → plot → report.
 * Each (stage, domain) is skipped when its stamp says code, parameters, inputs and outputs are unchanged, and recomputed
 * otherwise; a stage that is not requested is not recomputed, and a requested stage refuses its stale output (see
 * lib/stages.ts). A domain whose data cannot be obtained is reported with the reason and the fix, and the other
 * domain still runs.
 */
import * as fs from 'node:fs';
import { type Config, type DomainName, type ModelConfig } from './core/config';
import { DatasetUnavailableError } from './data/datasets';
import { modelAvailability } from './query/runner';
import { formatFinishReasons } from './query/responses';
import { scoreSummaryFile } from './score/score';
import { writeReport } from './plot/report';
import { STAGES, type FailedDomain, type SkippedModel, type StageName, type StepResult, type StepStatus } from './core/types';
import { type StageRef, isStageUpToDate } from './core/stamps';
import * as stage from './stages';

const PENDING = 'pending';

export { STAGES, type FailedDomain, type SkippedModel, type StageName, type StepResult, type StepStatus } from './core/types';

export interface PipelineOptions {
  stages?: StageName[];
  domains?: DomainName[];
  /** Model ids; default: every baseline plus every API model whose key or server is available. */
  models?: string[];
  dryRun?: boolean;
  /** A pilot: the query stage asks only this many prompts per (setting, history length); later stages do not run. */
  limit?: number;
  /** Recompute these stages even when up to date (true = all requested stages). */
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
  for (const s of list.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(STAGES as readonly string[]).includes(s)) throw new Error(`unknown stage "${s}" (stages: ${STAGES.join(', ')})`);
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
      skipped.push({ id: m.id, reason: avail.reason ?? 'not available' });
      log(`[models] skipping ${m.id}: ${avail.reason ?? 'not available'}`);
    }
  }
  return { models, skipped };
}

export async function runPipeline(config: Config, opts: PipelineOptions = {}): Promise<PipelineResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const stages = opts.stages && opts.stages.length ? opts.stages : [...STAGES];
  const domains = opts.domains && opts.domains.length ? opts.domains : config.domains;
  const forced = (s: StageName) => opts.force === true || (Array.isArray(opts.force) && opts.force.includes(s));
  const steps: StepResult[] = [];
  const failedDomains: PipelineResult['failedDomains'] = [];
  const needsModels = stages.includes('query') || stages.includes('score') || stages.includes('plot');
  const { models, skipped } = needsModels ? await selectModels(config, opts.models, log) : { models: [], skipped: [] };
  const modelIds = models.map((m) => m.id);
  if (needsModels) log(`[models] using ${modelIds.join(', ') || '(none)'}`);

  async function step(stage: StageName, domain: DomainName, fn: () => Promise<string | void>, model?: string): Promise<boolean> {
    const t0 = Date.now();
    try {
      const detail = (await fn()) ?? undefined;
      const status: StepStatus = detail === 'up-to-date' ? 'up-to-date' : detail?.startsWith(PENDING) ? 'pending' : 'ran';
      steps.push({ stage, domain, model, status, seconds: (Date.now() - t0) / 1000, detail: status === 'ran' ? detail : undefined });
      const what = status === 'up-to-date' ? 'up to date, skipped' : status === 'pending' ? (detail ?? '') : `done in ${((Date.now() - t0) / 1000).toFixed(1)}s`;
      log(`[${stage}] ${domain}${model ? ` ${model}` : ''}: ${what}`);
      return status !== 'pending';
    } catch (e) {
      const err = e as Error;
      const fix = err instanceof DatasetUnavailableError ? err.fix : undefined;
      steps.push({ stage, domain, model, status: 'failed', seconds: (Date.now() - t0) / 1000, detail: err.message });
      log(`[${stage}] ${domain}${model ? ` ${model}` : ''}: FAILED: ${err.message}`);
      if (!failedDomains.some((f) => f.domain === domain)) failedDomains.push({ domain, reason: err.message, fix });
      return false;
    }
  }

  for (const domain of domains) {
    let ok = true;
    const upToDate = (stage: StageName, ref: StageRef, external?: () => boolean) => !forced(stage) && (external ? external() : isStageUpToDate(config, ref));

    if (stages.includes('preprocess')) {
      ok = await step('preprocess', domain, async () => {
        const located = await stage.locate(config, domain, log);
        if (upToDate('preprocess', { stage: 'preprocess', domain }, () => stage.preprocessUpToDate(config, domain, located))) return 'up-to-date';
        const summary = await stage.preprocess(config, domain, { log, located });
        return `${summary.users} users, ${summary.items} items, ${summary.interactions} interactions`;
      });
    }
    if (ok && stages.includes('sample')) {
      ok = await step('sample', domain, async () => {
        if (upToDate('sample', { stage: 'sample', domain })) return 'up-to-date';
        const { samples } = stage.sample(config, domain, { log });
        return `${samples.length} prompts`;
      });
    }
    if (ok && stages.includes('query')) {
      for (const model of models) {
        const modelOk = await step(
          'query',
          domain,
          async () => {
            const pilot = opts.limit !== undefined;
            if (!opts.dryRun && !pilot && upToDate('query', { stage: 'query', domain, model: model.id }, () => stage.queryUpToDate(config, domain, model))) return 'up-to-date';
            const [summary] = await stage.query(config, domain, [model.id], { dryRun: opts.dryRun, batch: opts.batch, limit: opts.limit, retryFinish: opts.retryFinish, log });
            if (opts.dryRun) return 'dry run';
            if (pilot && summary?.pilot) {
              if (summary.failed) throw new Error(`pilot: ${summary.failed} prompts failed; rerun to retry them (stored answers are kept)`);
              const waiting = summary.batch?.pendingPrompts ?? 0;
              if (waiting) return `${PENDING}: pilot prompts waiting in open Batch API jobs; run again with --batch --limit ${opts.limit} to collect them`;
              return `pilot: ${summary.answered} of ${summary.pilot.ofPrompts} prompts answered (${summary.pilot.limit} per cell, ${summary.pilot.cells} cells); run with --dry-run for the estimate`;
            }
            if (pilot) return 'pilot: nothing to ask';
            const waiting = summary?.batch?.pendingPrompts ?? 0;
            if (summary && summary.failed === 0 && summary.missing > 0 && waiting > 0) {
              return `${PENDING}: ${waiting} prompts waiting in open Batch API jobs (${summary.batch?.openBatches.join(', ')}); run again with --batch to collect them, then the later stages run`;
            } else if (summary && (summary.failed > 0 || summary.missing > 0)) {
              const why = summary.stopped ? `the model was stopped (${summary.stopped}); ` : '';
              throw new Error(`${why}${summary.failed} prompts failed and ${summary.missing} are still unanswered; rerun to retry them (stored answers are kept)`);
            }
            const adapted = summary?.adaptations.length ? `; adapted to the server: ${summary.adaptations.join(', ')} (${summary.rejectedRequests} rejected requests)` : '';
            const finish = summary ? formatFinishReasons(summary.parse.byFinishReason) : '';
            return summary ? `${summary.answered} answers (${summary.sent} sent, ${summary.fromStore} from the store${finish ? `; finish: ${finish}` : ''})${adapted}` : undefined;
          },
          model.id,
        );
        ok = ok && modelOk;
      }
    }
    if (opts.dryRun || opts.limit !== undefined) continue;
    if (ok && stages.includes('score')) {
      ok = await step('score', domain, async () => {
        if (upToDate('score', { stage: 'score', domain, models: modelIds }) && fs.existsSync(scoreSummaryFile(config))) return 'up-to-date';
        stage.score(config, domain, modelIds, { log });
        return `${modelIds.length} models scored`;
      });
    }
    if (ok && stages.includes('plot')) {
      ok = await step('plot', domain, async () => {
        if (upToDate('plot', { stage: 'plot', domain, models: modelIds })) return 'up-to-date';
        const { files, skipped: skippedFormats } = await stage.plot(config, domain, { models: modelIds, log });
        return `${files.length} files${skippedFormats.length ? `; not exported: ${skippedFormats.map((s) => s.format).join(', ')}` : ''}`;
      });
    }
  }

  let reportFile: string | null = null;
  // A run whose every plot step failed would replace the last good report with an empty one.
  const plotted = steps.some((s) => s.stage === 'plot' && (s.status === 'ran' || s.status === 'up-to-date'));
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
      steps.push({ stage: 'report', status: 'failed', seconds: (Date.now() - t0) / 1000, detail: (e as Error).message });
      log(`[report] FAILED: ${(e as Error).message}`);
    }
  }
  const ok = steps.every((s) => s.status !== 'failed');
  const pending = steps.filter((s) => s.status === 'pending').length;
  return { ok, pending, steps, models: modelIds, skippedModels: skipped, failedDomains, reportFile };
}
