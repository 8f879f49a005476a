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
import { type Comparisons, comparisonsFile, describeDifference } from '../score/compare';
import { type GapSummary, tooFewPromptsNote } from '../score/summary';
import { redact } from '../core/secrets';
import { type PowerFile, scorePowerFile } from '../score/files';
import type { FailedDomain, ProcessedSummary, SampleCounts, SkippedModel, StepResult } from '../core/types';
import { FIGURE_DATA_FILE, figureHtmlFragment, loadFigureSpecs, plotlyScriptTag } from './figures';
import { PAPER_TABLE1 } from './table1-figure';
import { SAMPLE_COUNTS_FILE } from '../sample/sample';
import { NO_PAPER_COUNTERPART, sampleCountRows, sampleCountTotalRows } from '../sample/table1';
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

/** Table 1 of the report: the configured settings and lengths only, the paper's counts beside ours where it has them. */
export function table1Html(domain: DomainName, counts: SampleCounts, settingsOrder: string[] = []): string {
  const paper = (PAPER_TABLE1 as Record<string, SampleCounts | undefined>)[domain];
  const rows = sampleCountRows(counts, paper ?? {}, settingsOrder);
  const paperCell = (v: number | null) => (paper === undefined ? '–' : (v ?? NO_PAPER_COUNTERPART));
  return htmlTable(
    ['setting', '# history', 'setup', 'prompts (ours)', 'prompts (paper)'],
    [
      ...rows.map((r) => [r.setting, r.historyLength, r.setup, r.ours, paperCell(r.paper)]),
      ...(paper === undefined
        ? [['total', '', '', rows.reduce((t, r) => t + r.ours, 0), '–']]
        : sampleCountTotalRows(rows).map(([label, ours, theirs]) => [label, '', '', ours, theirs])),
    ],
  );
}

interface IntervalLike {
  estimate: number;
  low: number;
  high: number;
  unstable?: boolean;
}

interface SetupSummaryLike {
  prompts: number;
  tooFewPrompts?: boolean;
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

/**
 * The setup cell of a table row: a setup below `curves.minCurvePrompts` says so, so that its numbers are not read as a
 * trend (its curve-derived cells are left empty).
 */
export function setupCell(setup: string, prompts: number, flagged: boolean): string {
  return flagged ? `${setup}: ${tooFewPromptsNote(prompts)}` : setup;
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

/** Paired comparisons (data/scores/comparisons.json) of one domain and family as table rows: a − b in mean gap and slope. */
export function comparisonRows(
  comparisons: Comparisons | null,
  domain: DomainName,
  family: 'named' | 'exploratory',
  minCurvePrompts = 0,
): (string | number)[][] {
  return (comparisons?.comparisons ?? [])
    .filter((c) => c.domain === domain && c.family === family)
    .map((c) => [
      setupCell(c.setup, c.prompts, c.prompts < minCurvePrompts),
      c.a,
      c.b,
      c.prompts,
      c.clusters,
      describeDifference(c.meanGapDiff),
      describeDifference(c.slopeDiff),
    ]);
}

/** The power table (data/scores/power.json) of one domain as table rows. */
export function powerRows(power: PowerFile | null, domain: DomainName, minCurvePrompts = 0): (string | number)[][] {
  const curve = (c: { power: { delta: number; power: number }[]; smallestDetected: number | null }) =>
    `${c.smallestDetected ?? 'none tested'} (${c.power.map((p) => `${p.delta}: ${p.power.toFixed(2)}`).join(', ')})`;
  return (power?.power ?? [])
    .filter((r) => r.domain === domain)
    .map((r) => [
      setupCell(r.setup, r.prompts, r.prompts < minCurvePrompts),
      r.prompts,
      r.clusters,
      curve(r.meanGap),
      curve(r.slope),
      `${r.meanGap.falsePositive.toFixed(3)} / ${r.slope.falsePositive.toFixed(3)}`,
      r.assumes,
    ]);
}

const est = (e: { estimate: number; low: number | null; high: number | null } | null | undefined, d = 3) =>
  !e || !Number.isFinite(e.estimate)
    ? '–'
    : e.low === null || e.high === null
      ? fmt(e.estimate, d)
      : `${fmt(e.estimate, d)} [${fmt(e.low, d)}, ${fmt(e.high, d)}]`;

export const GAP_TABLE_HEADER = (unit: string): string[] => [
  'model',
  'setup',
  'prompts / clusters',
  `mean gap (${unit}) [95% CI]`,
  `gap slope (${unit}/${unit}) [95% CI]`,
  'departure region',
  'region edge [95% CI]',
  'share of resamples with a region',
  'Jensen–Shannon [95% CI]',
  'total variation [95% CI]',
  'high-end gap at λ 1e-4 / 1e-3 / 1e-2',
];

/** The gap statistics of every model and setup of a domain as table rows. */
export function gapRows(summary: unknown, domain: DomainName): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const models =
    (
      summary as {
        models?: Record<
          string,
          Record<string, { setups?: Record<string, { gap?: GapSummary; tooFewPrompts?: boolean }> }>
        >;
      }
    )?.models ?? {};
  for (const [model, byDomain] of Object.entries(models)) {
    for (const [setup, s] of Object.entries(byDomain[domain]?.setups ?? {})) {
      const g = s.gap;
      if (!g || !g.prompts) continue;
      const r = g.region;
      const flagged = (s as SetupSummaryLike).tooFewPrompts === true;
      const where = r.ranges.map(([a, b]) => `${fmt(a, 2)}–${fmt(b, 2)}`).join(', ');
      const lambdas = g.highEndByLambda
        ? Object.values(g.highEndByLambda)
            .map((v) => fmt(v))
            .join(' / ')
        : '–';
      rows.push([
        model,
        setupCell(setup, g.prompts, flagged),
        `${g.prompts} / ${g.clusters} ${g.unit}s`,
        est(g.meanGap),
        est(g.gapSlope),
        flagged
          ? '–'
          : r.direction === 'none'
            ? r.share === null
              ? '– (no intervals)'
              : 'none'
            : `${r.direction}: ${where}`,
        flagged ? '–' : est(r.edge, 2),
        flagged || r.share === null ? '–' : fmt(r.share, 2),
        est(g.jensenShannon),
        est(g.totalVariation),
        lambdas,
      ]);
    }
  }
  return rows;
}

/** The measured coverage of each interval (one row per setup and simulated curve), from the first model that has it. */
export function calibrationRows(summary: unknown, domain: DomainName): (string | number)[][] {
  const models =
    (
      summary as {
        models?: Record<
          string,
          Record<string, { setups?: Record<string, { gap?: GapSummary; tooFewPrompts?: boolean }> }>
        >;
      }
    )?.models ?? {};
  for (const byDomain of Object.values(models)) {
    const setups = byDomain[domain]?.setups ?? {};
    const rows: (string | number)[][] = [];
    for (const [setup, s] of Object.entries(setups)) {
      const cal = s.gap?.calibration;
      if (!cal) continue;
      for (const c of cal.coverage) {
        const curve =
          c.model.name === 'step'
            ? `step ${c.model.size} below ${fmt(c.model.at, 2)}`
            : `slope ${c.model.size} below ${fmt(c.model.at, 2)}`;
        rows.push([
          setupCell(setup, cal.prompts, s.tooFewPrompts === true),
          curve,
          `${cal.noiseModel} (${cal.prompts} prompts, ${cal.clusters} clusters)`,
          c.replicates,
          fmt(c.meanGap, 3),
          fmt(c.gapSlope, 3),
          fmt(c.pointwise, 3),
          fmt(c.simultaneous, 3),
          c.regionEdge === null ? '–' : fmt(c.regionEdge, 3),
          fmt(c.pairedMean, 3),
          fmt(c.pairedSlope, 3),
        ]);
      }
    }
    if (rows.length) return rows;
  }
  return [];
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
      // A setup without prompts has nothing to show (older summaries still list it).
      if (!s.prompts) continue;
      const flagged = s.tooFewPrompts === true;
      rows.push([
        model,
        setupCell(setup, s.prompts, flagged),
        fmt(s.prompts, 0),
        fmt(s.validPicksMean, 2),
        fmt(s.incompleteShare, 3),
        fmt(s.meanTargetEntropy),
        fmt(s.meanCrossEntropy),
        fmt(s.meanGap),
        flagged ? '–' : fmt(s.curve?.fitCoverage, 3),
        flagged ? '–' : interval(s.departurePoint),
        flagged ? '–' : interval(s.turningPoint),
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
      parts.push(table1Html(domain, counts, Object.keys(config.sample.settings[domain] ?? {})));
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
      parts.push(htmlTable(GAP_TABLE_HEADER(unit), gapRows(scoreSummary, domain)));
      const cal = calibrationRows(scoreSummary, domain);
      if (cal.length) {
        parts.push(`<h3>Calibration: measured coverage of every interval (nominal ${config.curves.confidence})</h3>`);
        parts.push(
          `<p>Simulated datasets built like this run's: its draws resampled with replacement, a known gap curve, and the residual noise of a real baseline with random signs per draw. Coverage is the share of datasets whose interval holds the true value (Monte-Carlo standard error ≈ 0.015 at 200 datasets). The region edge is a discretised statistic, its interval deliberately wide.</p>`,
        );
        parts.push(
          htmlTable(
            [
              'setup',
              'simulated curve',
              'noise',
              'datasets',
              'mean gap',
              'gap slope',
              'profile (pointwise)',
              'profile (simultaneous)',
              'region edge',
              'paired mean difference',
              'paired slope difference',
            ],
            cal,
          ),
        );
      }
      parts.push(`<h3>Scores (the paper's view)</h3>`);
      parts.push(htmlTable(SCORE_TABLE_HEADER(unit), scoreSummaryRows(scoreSummary, domain)));
      parts.push(
        `<p>Paper method: the departure point is the largest target entropy below which the binned, rolling-averaged curve's gap stays at or above ${config.curves.departureGap} ${unit}; the turning point is the lowest point of its polynomial fit. Both are shown as points: a handful of prompts can move them, so conclusions rest on the gap statistics above.</p>`,
      );
    }
    const allComparisons = readIf<Comparisons>(comparisonsFile(domainDir(config, 'scores')));
    const cmpHeader = [
      'setup',
      'a',
      'b',
      'prompts',
      'clusters',
      `mean gap a − b (${unit}) [95% CI], p`,
      `gap slope a − b [95% CI], p`,
    ];
    for (const family of ['named', 'exploratory'] as const) {
      const rows = comparisonRows(allComparisons, domain, family, config.curves.minCurvePrompts);
      if (!rows.length) continue;
      parts.push(
        `<h3>${family === 'named' ? 'Comparisons you named (config "comparisons")' : 'Exploratory comparisons: every other pair'}</h3>`,
      );
      parts.push(
        `<p>Paired differences a − b on the prompts both models scored, with cluster-robust intervals; p-values are Holm-adjusted over the ${family} comparisons of this domain (both statistics, every pair and setup).</p>`,
      );
      parts.push(htmlTable(cmpHeader, rows));
    }
    const pRows = powerRows(readIf<PowerFile>(scorePowerFile(config)), domain, config.curves.minCurvePrompts);
    if (pRows.length) {
      parts.push(`<h3>Power: the smallest difference detected with 80 % probability</h3>`);
      parts.push(
        `<p>For each setup, the probability that the paired comparison detects a true difference δ in mean gap (${unit}) or in gap slope, over repeated simulated datasets at this run's prompt counts; the false-positive column is the rate at δ = 0.</p>`,
      );
      parts.push(
        htmlTable(
          [
            'setup',
            'prompts',
            'clusters',
            'mean gap: smallest δ (power per δ)',
            'slope: smallest δ (power per δ)',
            'false positives (mean / slope)',
            'assumes',
          ],
          pRows,
        ),
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
${redact(parts.join('\n'))}
</body></html>
`;
  writeFileAtomic(out, html);
  return out;
}
