/**
 * Every table the run report shows — Table 1, the gap statistics and their measured coverage, the paper's score view,
 * the measured distributions beside it, the comparisons, power and position bias — built from the run's files as the
 * table model of table-format.ts, which the report renders to HTML and the plot stage writes to
 * `<figures>/<domain>/tables/<name>.csv` and `.tex`
 * (TABLE_NAMES: a fixed set, so the stage's stamp covers them; a table without rows is written with its header and the
 * reason).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, domainDir } from '../core/config';
import { readJson, writeFileAtomic } from '../core/io';
import type { SampleCounts } from '../core/types';
import { SAMPLE_COUNTS_FILE } from '../sample/sample';
import { NO_PAPER_COUNTERPART, PAPER_SAMPLE_COUNTS, sampleCountRows, sampleCountTotalRows } from '../sample/table1';
import { type Comparisons, type Difference, comparisonsFile, readComparisons } from '../score/compare';
import { entropyUnit } from '../score/distribution';
import { type PowerFile, loadPower, scorePowerFile, scoreSummaryFile } from '../score/files';
import type { Interval } from '../score/curves';
import type { PositionBias } from '../score/position-bias';
import { type ScoreSummary, type SetupSummary, loadScoreSummary, tooFewPromptsNote } from '../score/summary';
import { domainTitle } from './figure-common';
import { measuredTable } from './measured-table';
import { NO_SUMMARY, entriesOf } from './summary-entries';
import {
  type Cell,
  type Table,
  TABLE_NAMES,
  estimateCell,
  fixed,
  missing,
  missingSpelled,
  num,
  pCell,
  tableCsv,
  tableLatex,
  text,
} from './table-format';

// ---------------------------------------------------------------- the report's tables, built from the run's files

/**
 * Table 1 as the report shows it: the configured settings and lengths only (counts.json holds what was sampled), the
 * paper's count beside ours where it has that row, and totals that compare like with like.
 */
export function table1Table(domain: DomainName, counts: SampleCounts | null, settingsOrder: string[] = []): Table {
  const paper = (PAPER_SAMPLE_COUNTS as Record<string, SampleCounts | undefined>)[domain];
  const sampled = sampleCountRows(counts ?? {}, paper ?? {}, settingsOrder);
  const paperCell = (v: number | string | null): Cell =>
    paper === undefined
      ? missing('no paper counts for this dataset')
      : typeof v === 'number'
        ? num(v, 0)
        : missingSpelled(NO_PAPER_COUNTERPART);
  const rows: Cell[][] = sampled.map((r) => [
    text(r.setting),
    num(r.historyLength, 0),
    text(r.setup),
    num(r.ours, 0),
    paperCell(r.paper),
  ]);
  if (sampled.length)
    for (const [label, ours, theirs] of paper === undefined
      ? ([['total', sampled.reduce((t, r) => t + r.ours, 0), null]] as [string, number, null][])
      : sampleCountTotalRows(sampled))
      rows.push([text(label), text(''), text(''), num(ours, 0), paperCell(theirs)]);
  return {
    name: 'table1',
    caption: `${domainTitle(domain)}: prompts per proxy setting and history length, ours beside the paper's Table 1.`,
    columns: [
      { header: 'setting' },
      { header: '# history' },
      { header: 'setup' },
      { header: 'prompts (ours)' },
      { header: 'prompts (paper)' },
    ],
    rows,
    empty: counts ? 'no prompts' : 'no sample counts: run the sample stage',
  };
}

/**
 * The setup cell of a row: a setup below `curves.minCurvePrompts` says so, so that its numbers are not read as a trend
 * (its curve-derived cells are left empty).
 */
function setupCell(setup: string, prompts: number, flagged: boolean): Cell {
  return text(flagged ? `${setup}: ${tooFewPromptsNote(prompts)}` : setup);
}

const TOO_FEW = 'too few prompts for a curve (curves.minCurvePrompts)';

export function gapTable(summary: ScoreSummary | null, domain: DomainName, unit: string, models?: string[]): Table {
  const rows: Cell[][] = [];
  let clusterUnit: string | null = null;
  for (const [model, entry] of entriesOf(summary, domain, models)) {
    for (const [setup, s] of Object.entries(entry.setups ?? {})) {
      const g = s.gap;
      if (!g || !g.prompts) continue;
      clusterUnit ??= g.unit;
      const r = g.region;
      const flagged = s.tooFewPrompts === true;
      const noIntervals = r.share === null;
      const where = r.ranges.map(([a, b]) => `${fixed(a, 2)}–${fixed(b, 2)}`).join(', ');
      const lambdas = g.highEndByLambda ? Object.values(g.highEndByLambda).map((v) => fixed(v, 3)) : null;
      rows.push([
        text(model),
        setupCell(setup, g.prompts, flagged),
        num(g.prompts, 0),
        num(g.clusters, 0),
        estimateCell(g.meanGap, 3, 'no prompts'),
        estimateCell(g.gapSlope, 3, 'too few prompts for a slope'),
        flagged
          ? missing(TOO_FEW)
          : r.direction === 'none'
            ? noIntervals
              ? missing('no intervals (curves.bootstrap < 2)')
              : text('none')
            : text(`${r.direction}: ${where}`),
        flagged
          ? missing(TOO_FEW)
          : estimateCell(
              r.edge,
              2,
              r.direction === 'none' ? 'no departure region' : 'no single edge (not an end region)',
            ),
        flagged ? missing(TOO_FEW) : num(r.share, 2, 'no intervals (curves.bootstrap < 2)'),
        estimateCell(g.jensenShannon, 3, 'not computed'),
        estimateCell(g.totalVariation, 3, 'not computed'),
        lambdas ? text(lambdas.join(' / ')) : missing('λ sensitivity not computed'),
      ]);
    }
  }
  return {
    name: 'gap',
    caption:
      `${domainTitle(domain)}: the gap H(p, q) − H(p) per model and setup, with 95 % cluster-bootstrap intervals. ` +
      `Gap slope: OLS slope of the per-prompt gap on the target entropy (negative: the gap grows as the group narrows).`,
    columns: [
      { header: 'model' },
      { header: 'setup' },
      { header: 'prompts' },
      { header: clusterUnit ? `clusters (${clusterUnit}s)` : 'clusters' },
      { header: `mean gap (${unit}) [95% CI]` },
      { header: `gap slope (${unit}/${unit}) [95% CI]` },
      { header: 'departure region' },
      { header: 'region edge [95% CI]' },
      { header: 'share of resamples with a region' },
      { header: 'Jensen–Shannon [95% CI]' },
      { header: 'total variation [95% CI]' },
      { header: 'high-end gap at λ 1e-4 / 1e-3 / 1e-2' },
    ],
    rows,
    empty: summary ? 'no scored prompts' : NO_SUMMARY,
  };
}

/** The measured coverage of each interval (one row per setup and simulated curve), from the first model that has it. */
export function calibrationTable(
  summary: ScoreSummary | null,
  domain: DomainName,
  confidence: number,
  models?: string[],
): Table {
  let rows: Cell[][] = [];
  for (const [, entry] of entriesOf(summary, domain, models)) {
    rows = [];
    for (const [setup, s] of Object.entries(entry.setups ?? {})) {
      const cal = s.gap?.calibration;
      if (!cal) continue;
      for (const c of cal.coverage) {
        const what = c.model.name === 'step' ? 'step' : 'slope';
        rows.push([
          setupCell(setup, cal.prompts, s.tooFewPrompts === true),
          text(`${what} ${c.model.size} below ${fixed(c.model.at, 2)}`),
          text(`${cal.noiseModel} (${cal.prompts} prompts, ${cal.clusters} clusters)`),
          num(c.replicates, 0),
          num(c.meanGap, 3),
          num(c.gapSlope, 3),
          num(c.pointwise, 3),
          num(c.simultaneous, 3),
          num(c.regionEdge, 3, 'no end region found in any simulated dataset'),
          num(c.pairedMean, 3),
          num(c.pairedSlope, 3),
        ]);
      }
    }
    if (rows.length) break;
  }
  return {
    name: 'calibration',
    caption: `${domainTitle(domain)}: measured coverage of every interval (nominal ${confidence}) on simulated datasets built like this run's.`,
    columns: [
      { header: 'setup' },
      { header: 'simulated curve' },
      { header: 'noise', wrap: true },
      { header: 'datasets' },
      { header: 'mean gap' },
      { header: 'gap slope' },
      { header: 'profile (pointwise)' },
      { header: 'profile (simultaneous)' },
      { header: 'region edge' },
      { header: 'paired mean difference' },
      { header: 'paired slope difference' },
    ],
    rows,
    empty: summary ? 'coverage not measured (curves.calibration is 0, or no realistic baseline)' : NO_SUMMARY,
  };
}

function pointCell(iv: Interval | null | undefined, why: string): Cell {
  return iv && typeof iv.estimate === 'number'
    ? estimateCell(iv, 2, why, iv.unstable ? 'unstable' : undefined)
    : missing(why);
}

/** The paper's view: per model and setup the counts, means and the paper-method departure and turning points. */
export function scoresTable(summary: ScoreSummary | null, domain: DomainName, unit: string, models?: string[]): Table {
  const rows: Cell[][] = [];
  for (const [model, entry] of entriesOf(summary, domain, models)) {
    for (const [setup, s] of Object.entries(entry.setups ?? {}) as [string, SetupSummary][]) {
      const none = 'no prompts';
      // A setup without prompts has nothing to show (older summaries still list it).
      if (!s.prompts) continue;
      const flagged = s.tooFewPrompts === true;
      rows.push([
        text(model),
        setupCell(setup, s.prompts, flagged),
        num(s.prompts, 0),
        num(s.validPicksMean, 2, entry.method ? 'a distribution' : 'no answers'),
        num(s.incompleteShare, 3, entry.method ? 'a distribution' : 'no answers'),
        num(s.meanTargetEntropy, 3, none),
        num(s.meanCrossEntropy, 3, none),
        num(s.meanGap, 3, none),
        flagged ? missing(TOO_FEW) : num(s.curve?.fitCoverage, 3, 'no fitted curve'),
        flagged ? missing(TOO_FEW) : pointCell(s.departurePoint, 'the curve never leaves X = Y'),
        flagged ? missing(TOO_FEW) : pointCell(s.turningPoint, 'no turning point inside the fit range'),
        num(s.smoothed, 0),
      ]);
    }
  }
  return {
    name: 'scores',
    caption: `${domainTitle(domain)}: scores per model and setup (the paper's view); departure and turning points by the paper's method.`,
    columns: [
      { header: 'model' },
      { header: 'setup' },
      { header: 'prompts' },
      { header: 'valid picks (mean)' },
      { header: 'incomplete answers' },
      { header: `mean target entropy (${unit})` },
      { header: `mean cross-entropy (${unit})` },
      { header: 'mean gap' },
      { header: 'fit coverage' },
      { header: 'departure point [95% CI]' },
      { header: 'turning point [95% CI]' },
      { header: 'smoothed answers' },
    ],
    rows,
    empty: summary ? 'no model scored' : NO_SUMMARY,
  };
}

function differenceCells(d: Difference | null, why: string): Cell[] {
  return [estimateCell(d, 3, why), pCell(d?.pHolm, d ? 'no interval' : why)];
}

/** Paired comparisons of one family: a − b in mean gap and slope, with Holm-adjusted p-values. */
export function comparisonsTable(
  comparisons: Comparisons | null,
  domain: DomainName,
  family: 'named' | 'exploratory',
  unit: string,
  models?: string[],
  minCurvePrompts = 0,
): Table {
  const rows = (comparisons?.comparisons ?? [])
    .filter((c) => c.domain === domain && c.family === family)
    .filter((c) => !models || (models.includes(c.a) && models.includes(c.b)))
    .map((c) => [
      setupCell(c.setup, c.prompts, c.prompts < minCurvePrompts),
      text(c.a),
      text(c.b),
      num(c.prompts, 0),
      num(c.clusters, 0),
      ...differenceCells(c.meanGapDiff, 'no shared prompts'),
      ...differenceCells(c.slopeDiff, 'fewer than 3 shared prompts'),
    ]);
  return {
    name: family === 'named' ? 'comparisons-named' : 'comparisons-exploratory',
    caption:
      `${domainTitle(domain)}: ${family === 'named' ? 'the comparisons named in the configuration' : 'exploratory comparisons (every other pair)'}` +
      ': paired differences a − b on the prompts both models scored, 95 % cluster-robust intervals, p-values Holm-adjusted over the family.',
    columns: [
      { header: 'setup' },
      { header: 'a' },
      { header: 'b' },
      { header: 'prompts' },
      { header: 'clusters' },
      { header: `mean gap a − b (${unit}) [95% CI]` },
      { header: 'mean gap: Holm p' },
      { header: 'gap slope a − b [95% CI]' },
      { header: 'gap slope: Holm p' },
    ],
    rows,
    empty:
      family === 'named'
        ? 'no comparisons named (config "comparisons")'
        : comparisons
          ? 'fewer than two models scored on the same prompts'
          : 'no comparisons file: run the score stage',
  };
}

/** Decimals enough to show a tested difference as configured (0.005 → 3). */
function decimalsOf(v: number): number {
  const s = String(v);
  return s.includes('.') ? s.length - s.indexOf('.') - 1 : 0;
}

export function powerSummaryTable(
  power: PowerFile | null,
  domain: DomainName,
  unit: string,
  minCurvePrompts = 0,
): Table {
  const perDelta = (c: { power: { delta: number; power: number }[] }) =>
    text(c.power.map((p) => `${p.delta}: ${p.power.toFixed(2)}`).join(', '));
  const smallest = (c: { smallestDetected: number | null }) =>
    c.smallestDetected === null
      ? missing('no tested difference is detected with 80 % probability')
      : num(c.smallestDetected, decimalsOf(c.smallestDetected));
  const rows = (power?.power ?? [])
    .filter((r) => r.domain === domain)
    .map((r) => [
      setupCell(r.setup, r.prompts, r.prompts < minCurvePrompts),
      num(r.prompts, 0),
      num(r.clusters, 0),
      smallest(r.meanGap),
      perDelta(r.meanGap),
      smallest(r.slope),
      perDelta(r.slope),
      num(r.meanGap.falsePositive, 3),
      num(r.slope.falsePositive, 3),
      text(r.assumes),
    ]);
  return {
    name: 'power',
    caption: `${domainTitle(domain)}: the smallest difference in mean gap (${unit}) and in gap slope a paired comparison detects with 80 % probability at this run's prompt counts, and the measured false-positive rate (δ = 0).`,
    columns: [
      { header: 'setup' },
      { header: 'prompts' },
      { header: 'clusters' },
      { header: 'mean gap: smallest δ' },
      { header: 'mean gap: power per δ', wrap: true },
      { header: 'slope: smallest δ' },
      { header: 'slope: power per δ', wrap: true },
      { header: 'false positives (mean gap)' },
      { header: 'false positives (slope)' },
      { header: 'assumes', wrap: true },
    ],
    rows,
    empty: power ? 'no power rows for this domain' : 'no power table: run the score stage with two realistic baselines',
  };
}

/** Position bias per model: the share of valid picks by position against an order-blind model, and the test. */
export function positionBiasTable(summary: ScoreSummary | null, domain: DomainName, models?: string[]): Table {
  const biased = entriesOf(summary, domain, models).filter(
    (e): e is [string, (typeof e)[1] & { positionBias: PositionBias }] => !!e[1].positionBias,
  );
  const bins = biased.length ? biased[0][1].positionBias.bins : [];
  const rows = biased.map(([model, e]) => {
    const b = e.positionBias;
    const fp = b.falsePositiveRate;
    return [
      text(model),
      num(b.prompts, 0),
      num(b.picks, 0),
      ...bins.map((_, k) => num(b.bins[k]?.share, 3, 'no such positions')),
      num(b.chiSquare, 2),
      num(b.degreesOfFreedom, 0),
      pCell(b.pValue, 'not computed'),
      pCell(b.monteCarloPValue, 'calibration off'),
      fp
        ? estimateCell({ estimate: fp.rate, low: fp.low, high: fp.high }, 3, 'calibration off')
        : missing('calibration off'),
    ];
  });
  const expected = bins.map((b) => b.expectedShare);
  const uniform = expected.length > 0 && expected.every((x) => Math.abs(x - expected[0]) < 1e-12);
  return {
    name: 'position-bias',
    caption:
      `${domainTitle(domain)}: share of valid picks by position in the listed candidates` +
      (uniform ? ` (an order-blind model gives ${fixed(expected[0], 3)} each)` : '') +
      '; chi-square test with the without-replacement correction, its Monte-Carlo p-value and measured false-positive rate at the 5 % level.',
    columns: [
      { header: 'model' },
      { header: 'prompts' },
      { header: 'valid picks' },
      ...bins.map((b) => ({ header: `positions ${b.from}–${b.to}` })),
      { header: 'χ² (corrected)' },
      { header: 'df' },
      { header: 'p' },
      { header: 'Monte-Carlo p' },
      { header: 'false-positive rate [95% CI]' },
    ],
    rows,
    empty: summary ? 'no answer with a valid pick' : NO_SUMMARY,
  };
}

// ---------------------------------------------------------------- a domain's tables from the run's files

export interface TableOptions {
  /** Only these models (default: every model in the score summary). */
  models?: string[];
}

/** Every report table of a domain (TABLE_NAMES order), from the run's sample counts and score files. */
export function domainTables(config: Config, domain: DomainName, opts: TableOptions = {}): Table[] {
  const unit = entropyUnit(config.score.logBase);
  const countsFile = path.join(domainDir(config, 'samples', domain), SAMPLE_COUNTS_FILE);
  const counts = fs.existsSync(countsFile) ? readJson<SampleCounts>(countsFile) : null;
  const summary = fs.existsSync(scoreSummaryFile(config)) ? loadScoreSummary(config) : null;
  const comparisons = readComparisons(comparisonsFile(domainDir(config, 'scores')));
  const power = fs.existsSync(scorePowerFile(config)) ? loadPower(config) : null;
  const m = opts.models;
  const min = config.curves.minCurvePrompts;
  return [
    table1Table(domain, counts, Object.keys(config.sample.settings[domain] ?? {})),
    gapTable(summary, domain, unit, m),
    calibrationTable(summary, domain, config.curves.confidence, m),
    scoresTable(summary, domain, unit, m),
    measuredTable(summary, domain, unit, m),
    comparisonsTable(comparisons, domain, 'named', unit, m, min),
    comparisonsTable(comparisons, domain, 'exploratory', unit, m, min),
    powerSummaryTable(power, domain, unit, min),
    positionBiasTable(summary, domain, m),
  ];
}

/** The folder of a domain's table files, beside its figures. */
export const TABLES_FOLDER = 'tables';

export function tablesDir(config: Config, domain: DomainName): string {
  return path.join(domainDir(config, 'figures', domain), TABLES_FOLDER);
}

/** The files the plot stage writes for a domain's tables (fixed names, declared in stage.ts). */
export function tableFiles(config: Config, domain: DomainName): string[] {
  const dir = tablesDir(config, domain);
  return TABLE_NAMES.flatMap((n) => [path.join(dir, `${n}.csv`), path.join(dir, `${n}.tex`)]);
}

export interface ExportTablesOptions extends TableOptions {
  /** Folder to write to (default: `<figures>/<domain>/tables`). */
  dir?: string;
  log?: (line: string) => void;
}

/** Writes every report table of a domain as CSV and LaTeX (atomically); returns the files, CSV then LaTeX per table. */
export function exportTables(
  config: Config,
  domain: DomainName,
  opts: ExportTablesOptions = {},
): { dir: string; files: string[] } {
  const dir = opts.dir ?? tablesDir(config, domain);
  const files: string[] = [];
  for (const t of domainTables(config, domain, opts)) {
    const csv = path.join(dir, `${t.name}.csv`);
    const tex = path.join(dir, `${t.name}.tex`);
    writeFileAtomic(csv, tableCsv(t));
    writeFileAtomic(tex, tableLatex(t, domain));
    files.push(csv, tex);
  }
  opts.log?.(
    `tables ${domain}: ${TABLE_NAMES.length} tables as CSV and LaTeX → ${dir} (in LaTeX: \\usepackage{booktabs}, then \\input{<file>.tex})`,
  );
  return { dir, files };
}
