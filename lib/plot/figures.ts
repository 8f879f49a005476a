/**
 * The plot stage. The paper's figures are Plotly specs (plain, deterministic JSON) plus the numbers behind each one:
 * - entropy trend (Figures 2 and 3, trend-figure.ts): setups A, B, C side by side, one fitted curve per model, X=Y, turning points;
 * - proxy- and history-wise distributions of cross-entropy (Figures 4–7, distribution-figure.ts);
 * - detailed curves per proxy setting (Figures 8–15): binned means, rolling mean, polynomial fit (detail-figure.ts);
 * - Table 1 (prompts per setting and history length), ours beside the paper's (table1-figure.ts).
 * `runPlot` loads the scores, builds every figure, writes figures/<domain>/figure-data.json and figures.json, and
 * exports each figure in the configured formats. The curve maths lives in curves.ts; nothing here recomputes it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, domainDir } from '../core/config';
import { type FigureFormat, type PlotlyFigure, checkFormats, exportFigures } from './export';
import { readJson, writeJsonAtomic } from '../core/io';
import { entropyUnit, loadScores, scoresFile } from '../score/score';
import type { SampleCounts, ScoreRecord } from '../core/types';
import { type BuiltFigure, type FigureOptions, type FigureOverrides, figureOptions } from './figure-common';
import { detailFigure } from './detail-figure';
import { proxyHistoryFigure } from './distribution-figure';
import { PAPER_TABLE1, table1Figure } from './table1-figure';
import { entropyTrendFigure } from './trend-figure';

export { figureHtmlFragment, plotlyScriptTag } from './export';
export type { PlotlyFigure } from './export';

export const FIGURE_DATA_FILE = 'figure-data.json';
export const FIGURE_SPECS_FILE = 'figures.json';
export const FIGURE_DATA_VERSION = 1;
// ---------- loading ----------

export function figuresDir(config: Config, domain: DomainName): string {
  return domainDir(config, 'figures', domain);
}

/** The figure specs written by runPlot (name → figure), or null when the domain has not been plotted. */
export function loadFigureSpecs(config: Config, domain: DomainName): Record<string, PlotlyFigure> | null {
  const file = path.join(figuresDir(config, domain), FIGURE_SPECS_FILE);
  if (!fs.existsSync(file)) return null;
  const specs = readJson<{ figures?: Record<string, PlotlyFigure> }>(file);
  return specs.figures ?? null;
}

// ---------- the plot stage ----------

export interface PlotInputs {
  scoresByModel: Record<string, ScoreRecord[]>;
  counts: SampleCounts | null;
  /** sha256 of each score file, so figure-data.json says exactly what it was made from. */
  inputs: { model: string; records: number; sha256: string }[];
  countsSha256: string | null;
}

export function loadPlotInputs(config: Config, domain: DomainName, modelIds: string[]): PlotInputs {
  const scoresByModel: Record<string, ScoreRecord[]> = {};
  const inputs: PlotInputs['inputs'] = [];
  for (const id of modelIds) {
    const file = scoresFile(config, id, domain);
    const records = loadScores(config, id, domain);
    scoresByModel[id] = records;
    inputs.push({ model: id, records: records.length, sha256: crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') });
  }
  const countsFile = path.join(domainDir(config, 'samples', domain), 'counts.json');
  const counts = fs.existsSync(countsFile) ? readJson<SampleCounts>(countsFile) : null;
  const countsSha256 = counts ? crypto.createHash('sha256').update(fs.readFileSync(countsFile)).digest('hex') : null;
  return { scoresByModel, counts, inputs, countsSha256 };
}

/** Every figure of a domain, in a fixed order: trend, Table 1, then per model the distributions and the detail. */
export function buildFigures(domain: DomainName, scoresByModel: Record<string, ScoreRecord[]>, counts: SampleCounts | null, opts: FigureOptions): BuiltFigure[] {
  const figures: BuiltFigure[] = [entropyTrendFigure(domain, scoresByModel, opts)];
  if (counts) figures.push(table1Figure(domain, counts, PAPER_TABLE1[domain] ?? null, { settingsOrder: opts.settingsOrder }));
  for (const [model, scores] of Object.entries(scoresByModel)) figures.push(proxyHistoryFigure(domain, model, scores, opts));
  for (const [model, scores] of Object.entries(scoresByModel)) figures.push(detailFigure(domain, model, scores, opts));
  return figures;
}

export interface PlotOptions {
  formats?: string[];
  log?: (s: string) => void;
  /** Overrides of the configured curve options, setups and sizes (notebook parameter cells). */
  figure?: FigureOverrides;
  /** Chromium executable (else UBP_CHROMIUM or /usr/bin/chromium). */
  executable?: string;
}

export interface PlotResult {
  files: string[];
  /** Path of figure-data.json. */
  figureData: string;
  /** Formats that could not be produced, with the reason (e.g. Chromium missing). */
  skipped: { format: FigureFormat; reason: string }[];
  figures: BuiltFigure[];
}

/**
 * The plot stage for one domain: loads the models' scores and Table 1 counts, builds every figure, writes
 * figures/<domain>/figure-data.json (every number behind every figure; same inputs ⇒ same bytes) and figures.json
 * (the specs, for the run report), then exports each figure in the configured formats.
 */
export async function runPlot(config: Config, domain: DomainName, modelIds: string[], opts: PlotOptions = {}): Promise<PlotResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const formats = checkFormats(opts.formats ?? config.figures.formats);
  if (modelIds.length === 0) throw new Error(`plot ${domain}: no models given`);
  const input = loadPlotInputs(config, domain, modelIds);
  if (!input.counts) log(`plot ${domain}: no ${path.join(domainDir(config, 'samples', domain), 'counts.json')}; Table 1 is left out`);
  const fo = figureOptions(config, domain, modelIds, opts.figure);
  const figures = buildFigures(domain, input.scoresByModel, input.counts, fo);
  const dir = figuresDir(config, domain);
  const figureData = path.join(dir, FIGURE_DATA_FILE);
  writeJsonAtomic(figureData, {
    v: FIGURE_DATA_VERSION,
    domain,
    unit: entropyUnit(fo.logBase),
    logBase: fo.logBase,
    curveOptions: fo.curve,
    setups: fo.setups,
    models: modelIds.map((id) => ({ id, ...fo.styles[id] })),
    inputs: { scores: input.inputs, countsSha256: input.countsSha256 },
    figures: figures.map((f) => ({ name: f.name, title: f.title, data: f.data })),
  });
  writeJsonAtomic(path.join(dir, FIGURE_SPECS_FILE), { v: FIGURE_DATA_VERSION, domain, figures: Object.fromEntries(figures.map((f) => [f.name, f.figure])) });
  log(`plot ${domain}: ${figures.length} figures (${modelIds.join(', ')}) → ${dir} [${formats.join(', ')}]`);
  const exported = await exportFigures(figures, dir, formats, { pngScale: config.figures.pngScale, log, executable: opts.executable });
  for (const s of exported.skipped) log(`plot ${domain}: skipped ${s.format}`);
  return { files: [figureData, path.join(dir, FIGURE_SPECS_FILE), ...exported.files], figureData, skipped: exported.skipped, figures };
}
