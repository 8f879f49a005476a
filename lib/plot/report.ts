/**
 * figures/report.html: one self-contained page (Plotly inlined once, no network) with the configuration, the dataset
 * summaries, Table 1, the score summary and every figure of the run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, REPORT_FILE, domainDir } from '../core/config';
import { changesFromDefaults } from '../core/config-diff';
import { escapeHtml, htmlTable } from './html';
import { readJson, writeFileAtomic } from '../core/io';
import { type Comparisons, comparisonsFile, describeDeparture } from '../score/compare';
import { type PowerFile, scorePowerFile } from '../score/files';
import type { FailedDomain, ProcessedSummary, SampleCounts, SkippedModel, StepResult } from '../core/types';
import { FIGURE_DATA_FILE, figureHtmlFragment, loadFigureSpecs, plotlyScriptTag } from './figures';
import { PAPER_TABLE1 } from './table1-figure';
import { SAMPLE_COUNTS_FILE } from '../sample/sample';
import { scoreSummaryFile } from '../score/files';
import { PROCESSED_SUMMARY_FILE } from '../data/processed';

export interface ReportInput {
  domains: DomainName[];
  modelIds: string[];
  skippedModels: SkippedModel[];
  failedDomains: FailedDomain[];
  steps: StepResult[];
}

function fmt(x: unknown, digits = 3): string {
  if (typeof x === 'number') return Number.isFinite(x) ? x.toFixed(digits) : String(x);
  if (x === null || x === undefined) return '–';
  return String(x);
}

function readIf<T>(file: string): T | null {
  return fs.existsSync(file) ? readJson<T>(file) : null;
}

export function table1Html(domain: DomainName, counts: SampleCounts): string {
  const paper = (PAPER_TABLE1 as Record<string, SampleCounts | undefined>)[domain];
  const rows: (string | number)[][] = [];
  for (const [setting, byH] of Object.entries(counts)) {
    for (const [h, n] of Object.entries(byH)) rows.push([setting, h, n, paper?.[setting]?.[h] ?? '–']);
  }
  return htmlTable(['setting', '# history', 'prompts (ours)', 'prompts (paper)'], rows);
}

interface IntervalLike {
  estimate: number;
  low: number;
  high: number;
  unstable?: boolean;
}

interface SetupSummaryLike {
  prompts: number;
  smoothed: number;
  validPicksMean?: number | null;
  incompleteShare?: number | null;
  meanTargetEntropy: number;
  meanCrossEntropy: number;
  meanGap: number;
  departurePoint?: IntervalLike | null;
  turningPoint: IntervalLike | null;
  curve?: { fitCoverage?: number | null };
}

function interval(iv: IntervalLike | null | undefined): string {
  return iv && typeof iv.estimate === 'number'
    ? `${fmt(iv.estimate, 2)} [${fmt(iv.low, 2)}, ${fmt(iv.high, 2)}]${iv.unstable ? ' unstable' : ''}`
    : '–';
}

export const SCORE_TABLE_HEADER = (unit: string): string[] => [
  'model',
  'setup',
  'prompts',
  'valid picks (mean)',
  'incomplete answers',
  `mean target entropy (${unit})`,
  `mean cross-entropy (${unit})`,
  'mean gap',
  'fit coverage',
  'departure point [95% CI]',
  'turning point [95% CI]',
  'smoothed answers',
];

/** Paired comparisons (data/scores/comparisons.json) of one domain as table rows: a − b in mean gap and departure. */
export function comparisonRows(
  comparisons: Comparisons | null,
  domain: DomainName,
  unit: string,
): (string | number)[][] {
  return (comparisons?.comparisons ?? [])
    .filter((c) => c.domain === domain)
    .map((c) => [c.setup, c.a, c.b, c.prompts, interval(c.meanGapDiff), describeDeparture(c, unit)]);
}

/** The power table (data/scores/power.json) of one domain as table rows. */
export function powerRows(power: PowerFile | null, domain: DomainName): (string | number)[][] {
  return (power?.power ?? [])
    .filter((r) => r.domain === domain)
    .map((r) => [
      r.setup,
      r.base,
      r.prompts,
      r.smallestDetected ?? 'none of the tested',
      r.checks.map((c) => `${c.delta}${c.detected ? ' ✓' : ''}`).join(', '),
    ]);
}

/** Flattens data/scores/summary.json (models → model → domain → setups → setup) into table rows. */
export function scoreSummaryRows(summary: unknown, domain: DomainName): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const models =
    (summary as { models?: Record<string, Record<string, { setups?: Record<string, SetupSummaryLike> }>> })?.models ??
    {};
  for (const [model, byDomain] of Object.entries(models)) {
    const setups = byDomain[domain]?.setups;
    if (!setups) continue;
    for (const [setup, s] of Object.entries(setups)) {
      rows.push([
        model,
        setup,
        fmt(s.prompts, 0),
        fmt(s.validPicksMean, 2),
        fmt(s.incompleteShare, 3),
        fmt(s.meanTargetEntropy),
        fmt(s.meanCrossEntropy),
        fmt(s.meanGap),
        fmt(s.curve?.fitCoverage, 3),
        interval(s.departurePoint),
        interval(s.turningPoint),
        fmt(s.smoothed, 0),
      ]);
    }
  }
  return rows;
}

export async function writeReport(config: Config, input: ReportInput): Promise<string> {
  const out = path.join(domainDir(config, 'figures'), REPORT_FILE);
  const parts: string[] = [];
  const unit =
    config.score.logBase === 2
      ? 'bits'
      : Math.abs(config.score.logBase - Math.E) < 1e-9
        ? 'nats'
        : `log base ${config.score.logBase}`;
  parts.push(`<h1>User behavior prediction: run report</h1>`);
  parts.push(
    `<p>Re-analysis of Saha &amp; Choudhury, <i>User Behavior Prediction as a Generic, Robust, Scalable, and Low-Cost Evaluation Strategy for Estimating Generalization in LLMs</i>. Generated ${escapeHtml(new Date().toISOString())}. Entropies in ${unit}.</p>`,
  );
  parts.push(`<h2>Run</h2>`);
  parts.push(
    `<p>Run: <b>${escapeHtml(config.run ?? '(default layout, no named run)')}</b>${config.run ? ` (results under ${escapeHtml(path.dirname(domainDir(config, 'figures')))})` : ''}</p>`,
  );
  const changes = changesFromDefaults(config);
  parts.push(
    changes.length
      ? htmlTable(
          ['configuration key', 'default', 'this run'],
          changes.map((c) => [c.key, JSON.stringify(c.from) ?? '(unset)', JSON.stringify(c.to) ?? '(unset)']),
        )
      : '<p>The configuration is config/default.json unchanged.</p>',
  );
  parts.push(`<p>Models: ${escapeHtml(input.modelIds.join(', ') || '(none)')}</p>`);
  if (input.skippedModels.length)
    parts.push(
      htmlTable(
        ['skipped model', 'reason'],
        input.skippedModels.map((m) => [m.id, m.reason]),
      ),
    );
  if (input.failedDomains.length)
    parts.push(
      htmlTable(
        ['failed domain', 'reason', 'fix'],
        input.failedDomains.map((f) => [f.domain, f.reason, f.fix ?? '']),
      ),
    );
  parts.push(
    htmlTable(
      ['stage', 'domain', 'model', 'status', 'seconds', 'detail'],
      input.steps.map((s) => [s.stage, s.domain ?? '', s.model ?? '', s.status, s.seconds.toFixed(1), s.detail ?? '']),
    ),
  );

  const scoreSummary = readIf<unknown>(scoreSummaryFile(config));
  let figureCount = 0;
  for (const domain of input.domains) {
    parts.push(`<h2>${escapeHtml(domain)}</h2>`);
    const summary = readIf<ProcessedSummary>(path.join(domainDir(config, 'processed', domain), PROCESSED_SUMMARY_FILE));
    if (summary) {
      parts.push(`<h3>Dataset</h3>`);
      parts.push(htmlTable(['users', 'items', 'interactions'], [[summary.users, summary.items, summary.interactions]]));
      parts.push(
        htmlTable(
          ['proxy setting', 'distinct values after filtering'],
          Object.entries(summary.proxyValues).map(([k, v]) => [k, v]),
        ),
      );
      if (summary.dropped?.length)
        parts.push(
          htmlTable(
            ['dropped', 'users', 'items', 'interactions'],
            summary.dropped.map((d) => [d.reason, d.users ?? '', d.items ?? '', d.interactions ?? '']),
          ),
        );
    }
    const counts = readIf<SampleCounts>(path.join(domainDir(config, 'samples', domain), SAMPLE_COUNTS_FILE));
    if (counts) {
      parts.push(`<h3>Table 1: prompts per setting</h3>`);
      parts.push(table1Html(domain, counts));
    }
    if (scoreSummary) {
      parts.push(`<h3>Scores</h3>`);
      parts.push(htmlTable(SCORE_TABLE_HEADER(unit), scoreSummaryRows(scoreSummary, domain)));
      parts.push(
        `<p>Departure point: the largest target entropy below which the curve's gap stays at or above ${config.curves.departureGap} ${unit} (– when it never leaves X = Y; the top of the range when it never follows it). Turning point: the lowest point of the fit when inside the range. "unstable": the estimate lies outside its own bootstrap interval.</p>`,
      );
    }
    const cmpRows = comparisonRows(readIf<Comparisons>(comparisonsFile(domainDir(config, 'scores'))), domain, unit);
    if (cmpRows.length) {
      parts.push(`<h3>Model comparisons (paired bootstrap, a − b)</h3>`);
      parts.push(
        htmlTable(
          ['setup', 'a', 'b', 'prompts', `mean gap a − b (${unit}) [95% CI]`, 'departure point a − b [95% CI]'],
          cmpRows,
        ),
      );
    }
    const pRows = powerRows(readIf<PowerFile>(scorePowerFile(config)), domain);
    if (pRows.length) {
      parts.push(`<h3>Power: smallest detectable difference in departure point</h3>`);
      parts.push(
        `<p>Two simulated models (oracle at and above departAt, random below) departing at <i>base</i> and <i>base + δ</i>, compared with the paired bootstrap at this run's prompt counts; ✓: the interval excludes 0. A best case: these models depart sharply and are noise-free above the departure.</p>`,
      );
      parts.push(
        htmlTable(['setup', `base departAt (${unit})`, 'prompts', `smallest δ detected (${unit})`, 'δ tested'], pRows),
      );
    }
    // The parameters the figures were drawn with, as recorded beside them (they may predate this configuration).
    const params = readIf<{ parameters?: Record<string, unknown> }>(
      path.join(domainDir(config, 'figures', domain), FIGURE_DATA_FILE),
    )?.parameters;
    if (params) {
      parts.push(`<h3>Analysis parameters</h3>`);
      parts.push(
        htmlTable(
          ['parameter', 'value'],
          Object.entries(params).map(([k, v]) => [k, JSON.stringify(v)]),
        ),
      );
    }
    const specs = loadFigureSpecs(config, domain);
    if (specs) {
      parts.push(`<h3>Figures</h3>`);
      for (const [name, fig] of Object.entries(specs)) {
        // Table 1 is already above as a plain table.
        if (name === 'table1') continue;
        parts.push(`<h4>${escapeHtml(name)}</h4>`);
        parts.push(figureHtmlFragment(fig, `fig-${domain}-${figureCount++}`));
      }
    }
  }
  parts.push(
    `<h2>Configuration</h2><pre>${escapeHtml(JSON.stringify({ ...config, dataDir: config.dataDir ? '(set)' : null }, null, 2))}</pre>`,
  );
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>User behavior prediction: run report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1300px; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 1rem; overflow-x: auto; font-size: 0.8rem; }
</style>
${plotlyScriptTag()}
</head><body>
${parts.join('\n')}
</body></html>
`;
  writeFileAtomic(out, html);
  return out;
}
