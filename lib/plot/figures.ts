/**
 * The plot stage. The paper's figures are Plotly specs (plain, deterministic JSON) plus the numbers behind each one:
 * - entropy trend (Figures 2 and 3, trend-figure.ts): setups A, B, C side by side, one fitted curve per model, X=Y, turning points;
 * - proxy- and history-wise distributions of cross-entropy (Figures 4–7, distribution-figure.ts);
 * - detailed curves per proxy setting (Figures 8–15): binned means, rolling mean, polynomial fit (detail-figure.ts);
 * - Table 1 (prompts per setting and history length), ours beside the paper's (table1-figure.ts);
 * - position bias of the picks per model, from the score summary (position-bias-figure.ts).
 * `runPlot` loads the scores, builds every figure, writes figures/<domain>/figure-data.json and figures.json, the
 * report's tables as CSV and LaTeX (tables.ts), and exports each figure in the configured formats. The curve maths
 * lives in curves.ts; nothing here recomputes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, domainDir } from '../core/config';
import { analysisParameters } from '../core/run-config';
import {
  type FigureFormat,
  type PlotlyFigure,
  checkFormats,
  chromiumPath,
  exportFigures,
  openRenderer,
} from './export';
import { readJson, writeJsonAtomic } from '../core/io';
import { Progress } from '../core/progress';
import { fileDigest } from '../core/hash';
import { SAMPLE_COUNTS_FILE } from '../sample/sample';
import {
  entropyUnit,
  loadScoreSummary,
  loadScores,
  scoreSummaryFile,
  scoresFile,
  type ScoreSummary,
} from '../score/score';
import { bootstrapFitBand } from '../score/band';
import { tooFewPrompts } from '../score/summary';
import { deriveSeed } from '../core/rng';
import { type FigureLook, type LookOverrides, PX_PER_IN, figureLook } from './figure-look';
import type { SampleCounts, ScoreRecord, Setup } from '../core/types';
import {
  type BuiltFigure,
  type FigureOptions,
  type FigureOverrides,
  figureOptions,
  pooledRange,
} from './figure-common';
import { detailFigure } from './detail-figure';
import { proxyHistoryFigure } from './distribution-figure';
import { PAPER_TABLE1, table1Figure } from './table1-figure';
import { type CurveUncertainty, type TrendFigureData, type TrendUncertainty, entropyTrendFigure } from './trend-figure';
import { positionBiasFigure } from './position-bias-figure';
import { type GapProfiles, gapProfileFigure } from './gap-figure';
import { exportTables } from './tables';
import { withMethodEntries } from '../score/method-entries';
import { flatteryFigure, flatteryRows } from './flattery-figure';

export { figureHtmlFragment, plotlyScriptTag } from './plotly-html';
export type { PlotlyFigure } from './export';

export const FIGURE_DATA_FILE = 'figure-data.json';
export const FIGURE_SPECS_FILE = 'figures.json';
export const FIGURE_DATA_VERSION = 2;
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
    inputs.push({ model: id, records: records.length, sha256: fileDigest(file) });
  }
  const countsFile = path.join(domainDir(config, 'samples', domain), SAMPLE_COUNTS_FILE);
  const counts = fs.existsSync(countsFile) ? readJson<SampleCounts>(countsFile) : null;
  const countsSha256 = counts ? fileDigest(countsFile) : null;
  return { scoresByModel, counts, inputs, countsSha256 };
}

/** The look's request as overrides (a null size, the screen size, is left to the style's default). */
function requestOverrides(look: FigureLook): LookOverrides {
  const r = look.request;
  return {
    style: r.style,
    font: r.font,
    ...(r.size !== null ? { size: r.size } : {}),
    ...(r.fontPt !== null ? { fontPt: r.fontPt } : {}),
    ...(r.dpi !== null ? { dpi: r.dpi } : {}),
    legend: r.legend,
  };
}

/** Builds a figure and attaches (not enumerable, so never serialised) how to build it again for another look. */
function restylable(make: (o: FigureOptions) => BuiltFigure, opts: FigureOptions): BuiltFigure {
  const fig = make(opts);
  Object.defineProperty(fig, 'rebuild', {
    enumerable: false,
    value: (o: LookOverrides) =>
      restylable(make, { ...opts, look: figureLook(opts.lookBase, { ...requestOverrides(opts.look), ...o }) }),
  });
  return fig;
}

/** Every figure of a domain, in a fixed order: trend, Table 1, then per model the distributions and the detail. */
export function buildFigures(
  domain: DomainName,
  scoresByModel: Record<string, ScoreRecord[]>,
  counts: SampleCounts | null,
  opts: FigureOptions,
  uncertainty: TrendUncertainty = {},
): BuiltFigure[] {
  return figureMakers(domain, scoresByModel, counts, () => uncertainty).map((make) => restylable(make, opts));
}

/** buildFigures' makers in its order; the trend asks for its uncertainty when it is built (and rebuilt). */
function figureMakers(
  domain: DomainName,
  scoresByModel: Record<string, ScoreRecord[]>,
  counts: SampleCounts | null,
  uncertainty: () => TrendUncertainty,
): ((o: FigureOptions) => BuiltFigure)[] {
  const makers: ((o: FigureOptions) => BuiltFigure)[] = [
    (o) => entropyTrendFigure(domain, scoresByModel, o, uncertainty()),
  ];
  if (counts)
    makers.push((o) =>
      table1Figure(domain, counts, PAPER_TABLE1[domain] ?? null, { settingsOrder: o.settingsOrder, look: o.look }),
    );
  for (const [model, scores] of Object.entries(scoresByModel))
    makers.push((o) => proxyHistoryFigure(domain, model, scores, o));
  for (const [model, scores] of Object.entries(scoresByModel))
    makers.push((o) => detailFigure(domain, model, scores, o));
  return makers;
}

/** Runs a computation written as steps to its end (the plot stage runs them with `inSteps`). */
function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** A pause for the event loop after each step, so the browser the plot stage started goes on loading meanwhile. */
function pause(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function inSteps<T>(steps: Generator<void, T>, progress: Progress): Promise<T> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    progress.tick();
    await pause();
  }
}

/** CSS pixels as inches, to 1/10000 in (3.3 in is 316.8 px, which divides back to 3.2999999999999994). */
function inches(px: unknown): number {
  return Math.round((Number(px) / PX_PER_IN) * 1e4) / 1e4;
}

/** Seed of one curve's band: its own stream, so adding a model or a setup changes no other band. */
export function bandSeed(config: Config, modelId: string, domain: DomainName, setup: Setup): string {
  return deriveSeed(config.seed, 'figure-band', modelId, domain, setup);
}

/**
 * The uncertainty drawn in the trend figure: per model × setup, the percentile bootstrap band of the fit
 * (`curves.bootstrap` resamples at `curves.confidence`; none when bootstrap is 0) and the turning point's interval
 * from the score summary (when it exists) as the departure point.
 */
export function trendUncertainty(
  config: Config,
  domain: DomainName,
  scoresByModel: Record<string, ScoreRecord[]>,
  opts: FigureOptions,
): TrendUncertainty {
  return drain(trendUncertaintySteps(config, domain, scoresByModel, opts));
}

function* trendUncertaintySteps(
  config: Config,
  domain: DomainName,
  scoresByModel: Record<string, ScoreRecord[]>,
  opts: FigureOptions,
): Generator<void, TrendUncertainty> {
  const summaryFile = scoreSummaryFile(config);
  const summary = fs.existsSync(summaryFile) ? loadScoreSummary(config) : null;
  const out: TrendUncertainty = {};
  for (const setup of opts.setups) {
    const bySetup: Record<string, CurveUncertainty> = {};
    // The band is binned over the same range as the curve it surrounds (one range per setup, shared by the models).
    const range =
      opts.curve.range ??
      pooledRange(Object.values(scoresByModel).map((records) => records.filter((r) => r.setup === setup)));
    for (const [model, records] of Object.entries(scoresByModel)) {
      // One step per model and setup, band or not (the plot stage counts them for its progress line).
      yield;
      const finite = records.filter(
        (r) => r.setup === setup && Number.isFinite(r.crossEntropy) && Number.isFinite(r.targetEntropy),
      );
      if (!finite.length) continue;
      // Too few prompts for a curve: nothing to surround with a band, no departure to mark (trend-figure.ts draws points).
      if (tooFewPrompts(finite.length, config.curves.minCurvePrompts)) {
        bySetup[model] = { departure: null };
        continue;
      }
      const u: CurveUncertainty = {};
      if (config.curves.bootstrap >= 1) {
        u.band = bootstrapFitBand(
          finite.map((r) => r.targetEntropy),
          finite.map((r) => r.crossEntropy),
          {
            ...opts.curve,
            range,
            resamples: config.curves.bootstrap,
            confidence: config.curves.confidence,
            seed: bandSeed(config, model, domain, setup),
          },
        );
      }
      // The departure point and its interval are the score stage's (summary.json), not recomputed here.
      const dp = summary?.models[model]?.[domain]?.setups[setup]?.departurePoint;
      if (dp !== undefined) u.departure = dp ? { estimate: dp.estimate, low: dp.low, high: dp.high } : null;
      bySetup[model] = u;
    }
    out[setup] = bySetup;
  }
  return out;
}

export interface PlotOptions {
  formats?: string[];
  log?: (s: string) => void;
  /** Overrides of the configured curve options, setups and sizes (notebook parameter cells). */
  figure?: FigureOverrides;
  /** Chromium executable (else UBP_CHROMIUM or /usr/bin/chromium). */
  executable?: string;
  /** The plot stage's code version, recorded in figure-data.json (given by the stage runner). */
  code?: string;
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
 * The gap-profile figure of a domain from the score summary (its profiles, bands and regions are the score stage's),
 * or null when there is no summary or no profile.
 */
export function gapFigure(
  config: Config,
  domain: DomainName,
  modelIds: string[],
  opts: FigureOptions,
): BuiltFigure | null {
  const file = scoreSummaryFile(config);
  const summary = fs.existsSync(file) ? readJson<ScoreSummary>(file) : null;
  if (!summary) return null;
  const profiles: GapProfiles = {};
  for (const setup of opts.setups) {
    const bySetup: GapProfiles[Setup] = {};
    for (const id of modelIds) {
      const g = summary.models?.[id]?.[domain]?.setups?.[setup]?.gap;
      if (g) bySetup[id] = { prompts: g.prompts, profile: g.profile, region: g.region };
    }
    profiles[setup] = bySetup;
  }
  return gapProfileFigure(domain, profiles, opts, {
    threshold: config.curves.departureGap,
    confidence: config.curves.confidence,
    unit: entropyUnit(opts.logBase),
  });
}

/** Each model's position bias in the score summary (absent when the summary or the entry is missing). */
function positionBiasOf(summary: ScoreSummary | null, domain: DomainName, modelIds: string[]) {
  return Object.fromEntries(modelIds.map((id) => [id, summary?.models?.[id]?.[domain]?.positionBias]));
}

/**
 * The plot stage for one domain: loads the models' scores and Table 1 counts, builds every figure, writes
 * figures/<domain>/figure-data.json (every number behind every figure; same inputs ⇒ same bytes) and figures.json
 * (the specs, for the run report), then exports each figure in the configured formats.
 */
export async function runPlot(
  config: Config,
  domain: DomainName,
  modelIds: string[],
  opts: PlotOptions = {},
): Promise<PlotResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const formats = checkFormats(opts.formats ?? config.figures.formats);
  if (modelIds.length === 0) throw new Error(`plot ${domain}: no models given`);
  // Chromium starts and loads Plotly (~2 s) in its own processes while the figures are built here.
  const opening = formats.some((f) => f !== 'html') ? openRenderer(opts.executable ?? chromiumPath()) : null;
  let handedOver = false;
  try {
    const built = await buildPlot(config, domain, modelIds, opts, formats, log);
    handedOver = true;
    const exported = await exportFigures(built.figures, built.dir, formats, {
      pngScale: config.figures.pngScale,
      log,
      executable: opts.executable,
      opening,
    });
    for (const s of exported.skipped) log(`plot ${domain}: skipped ${s.format}`);
    return { ...built.result, files: [...built.result.files, ...exported.files], skipped: exported.skipped };
  } finally {
    if (opening && !handedOver) await (await opening.catch(() => ({ renderer: null }))).renderer?.close();
  }
}

/** Everything of the plot stage but the static export: the figures built, their data, specs and tables written. */
async function buildPlot(
  config: Config,
  domain: DomainName,
  modelIds: string[],
  opts: PlotOptions,
  formats: FigureFormat[],
  log: (s: string) => void,
): Promise<{ figures: BuiltFigure[]; dir: string; result: PlotResult }> {
  // The models' method entries ("<model>@<method>", lib/score/method-entries.ts) are drawn beside them.
  const summaryFile = scoreSummaryFile(config);
  const summary = fs.existsSync(summaryFile) ? readJson<ScoreSummary>(summaryFile) : null;
  modelIds = withMethodEntries(summary, domain, modelIds);
  const input = loadPlotInputs(config, domain, modelIds);
  if (!input.counts)
    log(
      `plot ${domain}: no ${path.join(domainDir(config, 'samples', domain), SAMPLE_COUNTS_FILE)}; Table 1 is left out`,
    );
  const fo = figureOptions(config, domain, modelIds, opts.figure);
  let uncertainty: TrendUncertainty = {};
  const makers = figureMakers(domain, input.scoresByModel, input.counts, () => uncertainty);
  // The bands (a bootstrap per model and setup) and the figures, with a progress line every 2 s (~4 s in all here).
  const progress = new Progress({
    label: `build ${domain}`,
    total: fo.setups.length * Object.keys(input.scoresByModel).length + makers.length,
    unit: 'steps',
    intervalMs: 2000,
    write: log,
  });
  uncertainty = await inSteps(trendUncertaintySteps(config, domain, input.scoresByModel, fo), progress);
  const figures: BuiltFigure[] = [];
  for (const make of makers) {
    figures.push(restylable(make, fo));
    progress.tick();
    await pause();
  }
  const gap = gapFigure(config, domain, modelIds, fo);
  if (gap) figures.splice(1, 0, gap);
  const bias = positionBiasFigure(domain, positionBiasOf(summary, domain, modelIds), fo.look);
  if (bias) figures.push(bias);
  const flattery = flatteryFigure(domain, flatteryRows(summary, domain, modelIds), fo.look, entropyUnit(fo.logBase));
  if (flattery) figures.push(flattery);
  const dir = figuresDir(config, domain);
  const figureData = path.join(dir, FIGURE_DATA_FILE);
  writeJsonAtomic(figureData, {
    v: FIGURE_DATA_VERSION,
    domain,
    unit: entropyUnit(fo.logBase),
    logBase: fo.logBase,
    curveOptions: fo.curve,
    // The setups shown: a requested setup without prompts is absent here as in every figure.
    setups: (figures.find((f) => f.name === 'entropy-trend')?.data as TrendFigureData | undefined)?.drawnSetups ?? [],
    // What shaped the figures beyond the numbers; the analysis parameters follow the figures.
    figureParameters: {
      code: opts.code ?? null,
      look: fo.look.request,
      band: {
        resamples: config.curves.bootstrap,
        confidence: config.curves.confidence,
        seed: config.seed,
        stream: 'figure-band/<model>/<domain>/<setup>',
      },
      departure: 'turning point of the fit with its percentile bootstrap interval (score summary)',
      sizesIn: Object.fromEntries(
        figures.map((f) => [
          f.name,
          { widthIn: inches(f.figure.layout.width), heightIn: inches(f.figure.layout.height) },
        ]),
      ),
    },
    models: modelIds.map((id) => ({ id, ...fo.styles[id] })),
    inputs: { scores: input.inputs, countsSha256: input.countsSha256 },
    figures: figures.map((f) => ({ name: f.name, title: f.title, data: f.data })),
    parameters: analysisParameters(config, domain, modelIds),
  });
  writeJsonAtomic(path.join(dir, FIGURE_SPECS_FILE), {
    v: FIGURE_DATA_VERSION,
    domain,
    figures: Object.fromEntries(figures.map((f) => [f.name, f.figure])),
  });
  const tables = exportTables(config, domain, { models: modelIds, log });
  log(`plot ${domain}: ${figures.length} figures (${modelIds.join(', ')}) → ${dir} [${formats.join(', ')}]`);
  return {
    figures,
    dir,
    result: {
      files: [figureData, path.join(dir, FIGURE_SPECS_FILE), ...tables.files],
      figureData,
      skipped: [],
      figures,
    },
  };
}
