/**
 * figures/report.html: one self-contained page (Plotly inlined once, no network) with the configuration, the dataset
 * summaries, Table 1, the score summary and every figure of the run. Its result tables come from tables.ts, the same
 * model the plot stage's CSV and LaTeX files are written from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, REPORT_FILE, domainDir } from '../core/config';
import { changesFromDefaults } from '../core/config-diff';
import { escapeHtml, htmlTable, withTableOfContents } from './html';
import { readJson, writeFileAtomic } from '../core/io';
import { redact } from '../core/secrets';
import type { FailedDomain, ProcessedSummary, SkippedModel, StepResult } from '../core/types';
import { FIGURE_DATA_FILE, figureHtmlFragment, loadFigureSpecs, plotlyScriptTag } from './figures';
import { type PlotlyFigure, bundleKindFor } from './plotly-html';
import { tableHtml } from './table-format';
import { domainTables } from './tables';
import { underCoverage } from '../score/calibration';
import { SAMPLE_COUNTS_FILE } from '../sample/sample';
import { scoreSummaryFile } from '../score/files';
import type { ScoreSummary } from '../score/summary';
import { PROCESSED_SUMMARY_FILE } from '../data/processed';

export interface ReportInput {
  domains: DomainName[];
  modelIds: string[];
  skippedModels: SkippedModel[];
  failedDomains: FailedDomain[];
  steps: StepResult[];
}

function readIf<T>(file: string): T | null {
  return fs.existsSync(file) ? readJson<T>(file) : null;
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
  const shown: PlotlyFigure[] = [];
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
    // The same table model as the CSV and LaTeX files the plot stage writes (tables.ts).
    const tables = Object.fromEntries(domainTables(config, domain).map((t) => [t.name, t]));
    if (fs.existsSync(path.join(domainDir(config, 'samples', domain), SAMPLE_COUNTS_FILE))) {
      parts.push(`<h3>Table 1: prompts per setting</h3>`);
      parts.push(tableHtml(tables.table1));
    }
    if (scoreSummary) {
      parts.push(`<h3>The gap: what to conclude from</h3>`);
      parts.push(
        `<p><b>Mean gap</b>: the mean of H(p, q) − H(p) over the setup's prompts; 0 is the ideal, X = Y. <b>Gap slope</b>: the least-squares slope of the per-prompt gap on the target entropy, in ${unit} per ${unit}; negative means the gap grows as the group narrows (the paper's hypothesis), positive the opposite. ` +
          `<b>Departure region</b>: where the simultaneous band of the gap profile (bins of equal prompt counts) lies above ${config.curves.departureGap} ${unit}, named by the end it touches; its <b>edge</b> is where the profile crosses that threshold, and the share says in how many resamples a region exists. ` +
          `Intervals resample ${config.curves.resamplingUnit}s (all prompts of one draw share a group and a history); their coverage is measured below. Jensen–Shannon and total variation are bounded and do not rest on the smoothing λ; the last column shows how the high-entropy quarter's gap moves with λ.</p>`,
      );
      parts.push(
        `<p>A setup with fewer than ${config.curves.minCurvePrompts} prompts (<code>curves.minCurvePrompts</code>) is marked "too few prompts (n = …)": its curve-derived cells are left empty and its other numbers rest on too few prompts to read as a trend. A setup without prompts is not listed.</p>`,
      );
      parts.push(tableHtml(tables.gap));
      if (tables.calibration.rows.length) {
        parts.push(`<h3>Calibration: measured coverage of every interval (nominal ${config.curves.confidence})</h3>`);
        parts.push(
          `<p>Simulated datasets built like this run's: its draws resampled with replacement, a known gap curve, and the residual noise of a real baseline with random signs per draw. Coverage is the share of datasets whose interval holds the true value (Monte-Carlo standard error ≈ 0.015 at 200 datasets). The region edge is a change point between two prompts: for a sharp step the data pin it between the same two prompts, and its interval covers close to 1. A departure that barely clears the threshold is located less well, and this calibration does not measure it: with a step of 0.15 bits against a 0.1-bit threshold the edge interval covered 0.69–0.78 in our simulations (docs/decisions.md), so read such an edge as indicative.</p>`,
        );
        parts.push(tableHtml(tables.calibration));
        const low = underCoveredSetups(scoreSummary as ScoreSummary, domain, config.curves.confidence);
        if (low.length)
          parts.push(
            `<p><b>Too narrow here</b> (coverage below ${(config.curves.confidence - 0.02 * ((1 - config.curves.confidence) / 0.05)).toFixed(2)} by more than two Monte-Carlo errors): ${low.map(escapeHtml).join('; ')}. Read those intervals as too narrow for this design; more prompts per bin (<code>curves.minBinPrompts</code>) or more draws bring them closer.</p>`,
          );
      }
      parts.push(`<h3>Scores (the paper's view)</h3>`);
      parts.push(tableHtml(tables.scores));
      parts.push(
        `<p>Paper method: the departure point is the largest target entropy below which the binned, rolling-averaged curve's gap stays at or above ${config.curves.departureGap} ${unit}; the turning point is the lowest point of its polynomial fit. Both are shown as points: a handful of prompts can move them, so conclusions rest on the gap statistics above.</p>`,
      );
      if (tables.measured.rows.length) {
        parts.push(`<h3>The model's own distribution beside the optimistic one</h3>`);
        parts.push(
          `<p>The paper imposes the group's own probabilities on a model's top ${config.query.topN} (an optimistic estimate). Asked ${config.query.samples} times per prompt, a model shows its own distribution: a Plackett–Luce fit of its rankings, scored the same way. <b>Flatters</b> is the measured minus the optimistic mean cross-entropy: above 0 the optimistic estimate makes the model look closer to the group than its own distribution does, below 0 further. The fit overstates H(p, q) by about 0.1 ${unit} at 20 answers and 0.04 at 50, and that bias is part of it.</p>`,
        );
        parts.push(tableHtml(tables.measured));
      }
    }
    for (const family of ['named', 'exploratory'] as const) {
      const table = tables[`comparisons-${family}`];
      if (!table.rows.length) continue;
      parts.push(
        `<h3>${family === 'named' ? 'Comparisons you named (config "comparisons")' : 'Exploratory comparisons: every other pair'}</h3>`,
      );
      parts.push(
        `<p>Paired differences a − b on the prompts both models scored, with cluster-robust intervals; p-values are Holm-adjusted over the ${family} comparisons of this domain (both statistics, every pair and setup).</p>`,
      );
      parts.push(tableHtml(table));
    }
    if (tables.power.rows.length) {
      parts.push(`<h3>Power: the smallest difference detected with 80 % probability</h3>`);
      parts.push(
        `<p>For each setup, the probability that the paired comparison detects a true difference δ in mean gap (${unit}) or in gap slope, over repeated simulated datasets at this run's prompt counts; the false-positive column is the rate at δ = 0.</p>`,
      );
      parts.push(tableHtml(tables.power));
    }
    if (tables['position-bias'].rows.length) {
      parts.push(`<h3>Position bias of the picks</h3>`);
      parts.push(`<p>${escapeHtml(tables['position-bias'].caption)}</p>`);
      parts.push(tableHtml(tables['position-bias']));
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
        parts.push(figureHtmlFragment(fig, `fig-${domain}-${figureCount++}`, { responsive: true }));
        shown.push(fig);
      }
    }
  }
  parts.push(
    `<h2>Configuration</h2><pre>${escapeHtml(JSON.stringify({ ...config, dataDir: config.dataDir ? '(set)' : null }, null, 2))}</pre>`,
  );
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>User behavior prediction: run report</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1300px; padding: 0 1rem; color: #222; }
p, li, h1, h2, h3, h4 { overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; display: block; max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 1rem; overflow-x: auto; font-size: 0.8rem; }
nav.toc { background: #f7f7f7; padding: 0.5rem 1rem; font-size: 0.9rem; }
nav.toc ul { margin: 0.2rem 0; padding-left: 1.2rem; }
</style>
${plotlyScriptTag(bundleKindFor(shown))}
</head><body>
${withTableOfContents(redact(parts.join('\n')))}
</body></html>
`;
  writeFileAtomic(out, html);
  return out;
}

/** The intervals measured clearly too narrow, per setup, from the first model with a calibration (the one Table shows). */
function underCoveredSetups(summary: ScoreSummary, domain: DomainName, confidence: number): string[] {
  for (const byDomain of Object.values(summary.models ?? {})) {
    const found = Object.entries(byDomain[domain]?.setups ?? {}).filter(([, s]) => s.gap?.calibration);
    if (found.length)
      return found.flatMap(([setup, s]) =>
        underCoverage(s.gap!.calibration!, confidence).map((note) => `setup ${setup}: ${note}`),
      );
  }
  return [];
}
