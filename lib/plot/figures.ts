/**
 * The paper's figures as Plotly specs (plain, deterministic JSON) plus the numbers behind each one:
 * - entropy trend (Figures 2 and 3): setups A, B, C side by side, one fitted curve per model, X=Y, turning points;
 * - proxy- and history-wise distributions of cross-entropy (Figures 4–7);
 * - detailed curves per proxy setting (Figures 8–15): binned means, rolling mean, polynomial fit;
 * - Table 1 (prompts per setting and history length), ours beside the paper's.
 * `runPlot` loads the scores, builds every figure, writes figures/<domain>/figure-data.json and figures.json, and
 * exports each figure in the configured formats. The curve maths lives in curves.ts; nothing here recomputes it.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Config, type DomainName, domainDir } from '../core/config';
import { type Curve, type CurveOptions, type XY, entropyCurve, quantileSorted } from '../score/curves';
import { type FigureFormat, type NamedFigure, type PlotlyFigure, checkFormats, exportFigures } from './export';
import { readJson, writeJsonAtomic } from '../core/io';
import { PAPER_SAMPLE_COUNTS } from '../sample/table1';
import { SETUPS, entropyUnit, loadScores, scoresFile } from '../score/score';
import type { SampleCounts, ScoreRecord, Setup } from '../core/types';

export { figureHtmlFragment, plotlyScriptTag } from './export';
export type { PlotlyFigure } from './export';

export const FIGURE_DATA_FILE = 'figure-data.json';
export const FIGURE_SPECS_FILE = 'figures.json';
export const FIGURE_DATA_VERSION = 1;

/** The paper's Table 1 (appendix A.2) under our setting names; the movie "All" row has no h = 20 entry. */
export const PAPER_TABLE1: Record<DomainName, SampleCounts> = PAPER_SAMPLE_COUNTS;

export const SETUP_TITLES: Record<Setup, string> = {
  A: 'Setup A: demography + history',
  B: 'Setup B: history only',
  C: 'Setup C: demography only',
};
const DOMAIN_TITLES: Record<string, string> = { movielens: 'Movies (MovieLens-1M)', lastfm: 'Music (Last.fm-1K)' };

/** The paper's names for our setting keys (Table 1, Figures 4–7). */
const SETTING_LABELS: Record<string, string> = {
  none: 'No Proxy',
  age: 'Age',
  gender: 'Gender',
  occupation: 'Occupation',
  all: 'All',
  country: 'Country',
  continent: 'Continent',
  'gender+continent': 'Gen & Conti',
};

export function settingLabel(setting: string): string {
  return SETTING_LABELS[setting] ?? setting.split('+').map((s) => s.charAt(0).toUpperCase() + s.slice(1)).join(' & ');
}

export function domainTitle(domain: string): string {
  return DOMAIN_TITLES[domain] ?? domain;
}

// ---------- model styles ----------

export interface ModelStyle {
  color: string;
  dash: 'solid' | 'dot' | 'dash' | 'longdash' | 'dashdot' | 'longdashdot';
  width: number;
  /** 'oracle' and 'random' are drawn in fixed, recognisable styles. */
  kind: 'oracle' | 'random' | 'model';
}

/** Okabe–Ito (colour-blind safe, without its yellow) followed by a few tab10 colours; grey and black are reserved. */
export const MODEL_PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#8C564B', '#9467BD', '#17BECF', '#BCBD22'];
export const ORACLE_STYLE: ModelStyle = { color: '#000000', dash: 'dash', width: 2, kind: 'oracle' };
export const RANDOM_STYLE: ModelStyle = { color: '#7F7F7F', dash: 'dot', width: 2.5, kind: 'random' };
export const IDENTITY_LINE = { color: '#C4C4C4', width: 3, name: 'X = Y (ideal)' };
const CYCLE_DASHES: ModelStyle['dash'][] = ['solid', 'longdash', 'dashdot'];

function baselineKind(config: Config | null, id: string): 'oracle' | 'random' | 'model' {
  const m = config?.query.models.find((x) => x.id === id);
  const kind = m && m.provider === 'baseline' ? m.model : id;
  return kind === 'oracle' ? 'oracle' : kind === 'random' ? 'random' : 'model';
}

/**
 * One style per model id, fixed by the model's position in `config.query.models` (ids not in the config follow in
 * sorted order), so a model keeps its colour in every figure whichever subset is plotted.
 */
export function modelStyles(config: Config | null, extraIds: string[] = []): Record<string, ModelStyle> {
  const configured = config ? config.query.models.map((m) => m.id) : [];
  const extra = [...new Set(extraIds.filter((id) => !configured.includes(id)))].sort();
  const out: Record<string, ModelStyle> = {};
  let k = 0;
  for (const id of [...configured, ...extra]) {
    const kind = baselineKind(config, id);
    if (kind === 'oracle') out[id] = { ...ORACLE_STYLE };
    else if (kind === 'random') out[id] = { ...RANDOM_STYLE };
    else {
      out[id] = { color: MODEL_PALETTE[k % MODEL_PALETTE.length], dash: CYCLE_DASHES[Math.floor(k / MODEL_PALETTE.length) % CYCLE_DASHES.length], width: 2.5, kind };
      k++;
    }
  }
  return out;
}

// ---------- options ----------

export interface FigureOptions {
  curve: CurveOptions;
  logBase: number;
  styles: Record<string, ModelStyle>;
  /** Size of one row of subplots, in CSS pixels. */
  width: number;
  height: number;
  /** Setups drawn in the entropy-trend figure (and kept in the others). */
  setups: Setup[];
  /** Setting keys in display order (others found in the data follow, sorted). */
  settingsOrder: string[];
  /** Also draw the binned means behind each trend curve. */
  showPoints: boolean;
}

export interface FigureOverrides {
  curve?: Partial<CurveOptions>;
  setups?: Setup[];
  width?: number;
  height?: number;
  showPoints?: boolean;
}

export function figureOptions(config: Config, domain: DomainName, modelIds: string[] = [], overrides: FigureOverrides = {}): FigureOptions {
  const setups = overrides.setups ?? [...SETUPS];
  for (const s of setups) if (!SETUPS.includes(s)) throw new Error(`unknown setup "${s}" (known: ${SETUPS.join(', ')})`);
  return {
    curve: {
      bins: overrides.curve?.bins ?? config.curves.bins,
      window: overrides.curve?.window ?? config.curves.window,
      order: overrides.curve?.order ?? config.curves.order,
      range: overrides.curve?.range !== undefined ? overrides.curve.range : config.curves.range,
    },
    logBase: config.score.logBase,
    styles: modelStyles(config, modelIds),
    width: overrides.width ?? config.figures.width,
    height: overrides.height ?? config.figures.height,
    setups,
    settingsOrder: Object.keys(config.sample.settings[domain] ?? {}),
    showPoints: overrides.showPoints ?? false,
  };
}

function styleOf(opts: FigureOptions, modelId: string): ModelStyle {
  return opts.styles[modelId] ?? modelStyles(null, [modelId])[modelId];
}

function orderedSettings(opts: FigureOptions, present: Iterable<string>): string[] {
  const set = new Set(present);
  const known = opts.settingsOrder.filter((s) => set.has(s));
  return [...known, ...[...set].filter((s) => !known.includes(s)).sort()];
}

// ---------- shared pieces ----------

export interface CurveData {
  n: number;
  /** Prompts left out because their cross-entropy is infinite (no smoothing) or not a number. */
  excludedNonFinite: number;
  range: [number, number];
  fitRange: [number, number] | null;
  window: number;
  order: number;
  coefficients: number[];
  turningPoint: number | null;
  /** The fit's value at the turning point (where the marker sits). */
  turningPointY: number | null;
  inflectionPoints: number[];
  points: Curve['points'];
  rolling: XY[];
  fitted: XY[];
  notes: string[];
}

/** Linear interpolation in the fitted grid: independent of how the polynomial's coefficients are ordered. */
function valueOnFit(fitted: XY[], x: number): number | null {
  if (fitted.length === 0) return null;
  if (fitted.length === 1) return fitted[0].y;
  for (let i = 1; i < fitted.length; i++) {
    const a = fitted[i - 1];
    const b = fitted[i];
    if (x >= a.x && x <= b.x) return b.x === a.x ? a.y : a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
  }
  return null;
}

/** The curve for a set of scores; non-finite cross-entropies are counted and left out (curves need finite numbers). */
export function curveOf(scores: ScoreRecord[], curve: CurveOptions): CurveData {
  const x: number[] = [];
  const y: number[] = [];
  let excluded = 0;
  for (const s of scores) {
    if (Number.isFinite(s.crossEntropy) && Number.isFinite(s.targetEntropy)) {
      x.push(s.targetEntropy);
      y.push(s.crossEntropy);
    } else excluded++;
  }
  const c = entropyCurve(x, y, curve);
  const notes = [...c.notes];
  if (excluded) notes.push(`${excluded} prompt(s) with a non-finite cross-entropy left out (set score.smoothing > 0)`);
  return {
    n: c.n,
    excludedNonFinite: excluded,
    range: c.range,
    fitRange: c.fitRange,
    window: c.window,
    order: c.order,
    coefficients: c.coefficients,
    turningPoint: c.turningPoint,
    turningPointY: c.turningPoint === null ? null : valueOnFit(c.fitted, c.turningPoint),
    inflectionPoints: c.inflectionPoints,
    points: c.points,
    rolling: c.rolling,
    fitted: c.fitted,
    notes,
  };
}

/** Padded [min, max] of the target entropies, so that the x-axis shows the narrow band the data live in. */
function paddedRange(values: number[], fraction = 0.03): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return null;
  const pad = hi > lo ? (hi - lo) * fraction : Math.max(0.05, Math.abs(lo) * 0.05);
  return [lo - pad, hi + pad];
}

/**
 * The trend figure's x-range: what is drawn (the fitted curves, plus the binned means when shown), padded a little;
 * the configured binning range when one is set. Target entropies live in a narrow band, so the axis never starts at 0.
 */
function trendXRange(curves: CurveData[], opts: FigureOptions): [number, number] | null {
  if (opts.curve.range) return paddedRange(opts.curve.range, 0.02);
  const xs: number[] = [];
  for (const c of curves) {
    for (const p of c.fitted) xs.push(p.x);
    if (opts.showPoints || c.fitted.length === 0) for (const p of c.points) xs.push(p.x);
  }
  return paddedRange(xs, 0.05);
}

/** Side-by-side subplot domains with a gap, as fractions of the plotting area. */
function columnDomains(n: number, gap: number): [number, number][] {
  const w = (1 - gap * (n - 1)) / n;
  return Array.from({ length: n }, (_, i) => [i * (w + gap), i * (w + gap) + w] as [number, number]);
}

function axisName(kind: 'x' | 'y', i: number): string {
  return i === 0 ? kind : `${kind}${i + 1}`;
}
function layoutAxisKey(kind: 'x' | 'y', i: number): string {
  return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`;
}

function subplotTitle(text: string, xDomain: [number, number], yTop: number): Record<string, unknown> {
  return { text: `<b>${text}</b>`, x: (xDomain[0] + xDomain[1]) / 2, y: yTop, xref: 'paper', yref: 'paper', xanchor: 'center', yanchor: 'bottom', showarrow: false, font: { size: 14 } };
}

function emptyNote(axis: number, text: string): Record<string, unknown> {
  return { text, xref: `${axisName('x', axis)} domain`, yref: `${axisName('y', axis)} domain`, x: 0.5, y: 0.5, showarrow: false, font: { color: '#888' } };
}

const BASE_LAYOUT = {
  font: { family: 'Arial, Helvetica, sans-serif', size: 12, color: '#222' },
  paper_bgcolor: '#ffffff',
  plot_bgcolor: '#ffffff',
  hovermode: 'closest',
};

function axisStyle(title: string): Record<string, unknown> {
  return { title: { text: title }, showline: true, linecolor: '#444', mirror: true, ticks: 'outside', gridcolor: '#ececec', zeroline: false };
}

export interface BuiltFigure extends NamedFigure {
  /** The numbers behind the figure (written to figure-data.json). */
  data: unknown;
}

function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_');
}

// ---------- Figures 2 and 3: entropy trend ----------

export interface TrendFigureData {
  setups: Setup[];
  unit: string;
  curveOptions: CurveOptions;
  /** setup → model → curve */
  curves: Record<string, Record<string, CurveData>>;
  xRange: Record<string, [number, number] | null>;
}

/**
 * Figures 2/3: one subplot per setup, one fitted curve per model, the X=Y line, and each model's turning point
 * (a diamond on its curve). Legend entries are grouped by model, so clicking one hides it in every subplot.
 */
export function entropyTrendFigure(domain: DomainName, scoresByModel: Record<string, ScoreRecord[]>, opts: FigureOptions): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const models = Object.keys(scoresByModel);
  const setups = opts.setups;
  const domains = columnDomains(setups.length, 0.06);
  const traces: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    ...BASE_LAYOUT,
    title: { text: `${domainTitle(domain)}: entropy trend (order-${opts.curve.order} fit to the rolling mean of ${opts.curve.bins} bins, window ${opts.curve.window})`, x: 0.5, xanchor: 'center', font: { size: 15 } },
    width: opts.width,
    height: opts.height,
    margin: { l: 60, r: 20, t: 80, b: 110 },
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.22, yanchor: 'top' },
    showlegend: true,
  };
  const data: TrendFigureData = { setups: [...setups], unit, curveOptions: { ...opts.curve }, curves: {}, xRange: {} };
  const shownInLegend = new Set<string>();
  setups.forEach((setup, i) => {
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    data.curves[setup] = {};
    for (const model of models) {
      const scores = scoresByModel[model].filter((s) => s.setup === setup);
      if (scores.length) data.curves[setup][model] = curveOf(scores, opts.curve);
    }
    const xRange = trendXRange(Object.values(data.curves[setup]), opts);
    data.xRange[setup] = xRange;
    if (xRange) {
      traces.push({
        type: 'scatter', mode: 'lines', x: [xRange[0], xRange[1]], y: [xRange[0], xRange[1]], xaxis: xa, yaxis: ya,
        name: IDENTITY_LINE.name, legendgroup: 'identity', showlegend: !shownInLegend.has('identity'),
        line: { color: IDENTITY_LINE.color, width: IDENTITY_LINE.width }, hoverinfo: 'skip', meta: { role: 'identity', setup },
      });
      shownInLegend.add('identity');
    }
    for (const model of models) {
      const c = data.curves[setup][model];
      if (!c) continue;
      const st = styleOf(opts, model);
      if (opts.showPoints) {
        traces.push({
          type: 'scatter', mode: 'markers', x: c.points.map((p) => p.x), y: c.points.map((p) => p.y), xaxis: xa, yaxis: ya,
          name: `${model} (binned means)`, legendgroup: model, showlegend: false, marker: { color: st.color, size: 4, opacity: 0.35 },
          hovertemplate: `${model}<br>bin %{x:.3f} ${unit}<br>mean cross-entropy %{y:.3f}<extra></extra>`, meta: { role: 'points', model, setup },
        });
      }
      if (c.fitted.length === 0) continue;
      traces.push({
        type: 'scatter', mode: 'lines', x: c.fitted.map((p) => p.x), y: c.fitted.map((p) => p.y), xaxis: xa, yaxis: ya,
        name: model, legendgroup: model, showlegend: !shownInLegend.has(model),
        line: { color: st.color, dash: st.dash, width: st.width },
        hovertemplate: `${model} (${setup})<br>target %{x:.3f} ${unit}<br>fit %{y:.3f} ${unit}<extra></extra>`,
        meta: { role: 'fit', model, setup },
      });
      shownInLegend.add(model);
      if (c.turningPoint !== null && c.turningPointY !== null) {
        traces.push({
          type: 'scatter', mode: 'markers', x: [c.turningPoint], y: [c.turningPointY], xaxis: xa, yaxis: ya,
          name: `${model} turning point`, legendgroup: model, showlegend: false,
          marker: { symbol: 'diamond', size: 11, color: st.color, line: { color: '#ffffff', width: 1.5 } },
          hovertemplate: `${model} (${setup}) turning point<br>%{x:.3f} ${unit}<extra></extra>`,
          meta: { role: 'turning-point', model, setup },
        });
      }
    }
    if (!xRange || Object.keys(data.curves[setup]).length === 0) annotations.push(emptyNote(i, `no prompts in setup ${setup}`));
    layout[layoutAxisKey('x', i)] = { ...axisStyle(`Target entropy (${unit})`), domain: domains[i], anchor: ya, ...(xRange ? { range: xRange } : {}) };
    layout[layoutAxisKey('y', i)] = { ...axisStyle(i === 0 ? `Cross-entropy (${unit})` : ''), anchor: xa };
    annotations.push(subplotTitle(SETUP_TITLES[setup], domains[i], 1.0));
  });
  // A legend key for the diamonds; its data are empty so nothing is drawn.
  if (traces.some((t) => (t.meta as { role?: string }).role === 'turning-point')) {
    traces.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name: 'turning point', marker: { symbol: 'diamond', size: 11, color: '#555555' }, hoverinfo: 'skip', meta: { role: 'legend-key' } });
  }
  layout.annotations = annotations;
  return {
    name: 'entropy-trend',
    title: `${domainTitle(domain)}: entropy trend by setup`,
    figure: { data: traces, layout },
    data,
  };
}

// ---------- Figures 4–7: proxy- and history-wise distributions ----------

export interface BoxStats {
  n: number;
  /** Values left out because they are not finite. */
  excluded: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  mean: number;
  /** Tukey whiskers: the most extreme values within 1.5 IQR of the box. */
  lowerFence: number;
  upperFence: number;
}

/** Quartiles by linear interpolation between order statistics (numpy's default), Tukey whiskers. Null for no data. */
export function boxStats(values: number[]): BoxStats | null {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return null;
  const q1 = quantileSorted(finite, 0.25);
  const q3 = quantileSorted(finite, 0.75);
  const iqr = q3 - q1;
  const lowLimit = q1 - 1.5 * iqr;
  const highLimit = q3 + 1.5 * iqr;
  let lowerFence = q1;
  let upperFence = q3;
  for (const v of finite) if (v >= lowLimit) { lowerFence = Math.min(v, q1); break; }
  for (let i = finite.length - 1; i >= 0; i--) if (finite[i] <= highLimit) { upperFence = Math.max(finite[i], q3); break; }
  let sum = 0;
  for (const v of finite) sum += v;
  return {
    n: finite.length,
    excluded: values.length - finite.length,
    min: finite[0],
    q1,
    median: quantileSorted(finite, 0.5),
    q3,
    max: finite[finite.length - 1],
    mean: sum / finite.length,
    lowerFence,
    upperFence,
  };
}

export interface DistributionGroup {
  /** Category label on the axis. */
  label: string;
  setting: string | null;
  historyLength: number | null;
  crossEntropy: BoxStats;
  targetEntropy: BoxStats;
}

export interface ProxyHistoryData {
  model: string;
  unit: string;
  byProxy: DistributionGroup[];
  byHistory: DistributionGroup[];
}

function groupOf(label: string, setting: string | null, historyLength: number | null, scores: ScoreRecord[]): DistributionGroup | null {
  const ce = boxStats(scores.map((s) => s.crossEntropy));
  const te = boxStats(scores.map((s) => s.targetEntropy));
  return ce && te ? { label, setting, historyLength, crossEntropy: ce, targetEntropy: te } : null;
}

/** Target-entropy boxes: unfilled slate outlines, so they never look like any model's filled boxes (grey random, black oracle). */
export const TARGET_BOX_COLOR = '#3B4A5A';

function boxTrace(groups: DistributionGroup[], which: 'crossEntropy' | 'targetEntropy', name: string, color: string, axis: number, showlegend: boolean, unit: string): Record<string, unknown> {
  const fill = which === 'targetEntropy' ? '#FFFFFF' : `${color}40`;
  const stat = (k: keyof BoxStats) => groups.map((g) => g[which][k]);
  return {
    type: 'box', name, x: groups.map((g) => g.label), xaxis: axisName('x', axis), yaxis: axisName('y', axis),
    q1: stat('q1'), median: stat('median'), q3: stat('q3'), lowerfence: stat('lowerFence'), upperfence: stat('upperFence'), mean: stat('mean'),
    boxpoints: false, marker: { color }, line: { color, width: 1.5 }, fillcolor: fill,
    legendgroup: which, showlegend, offsetgroup: which,
    text: groups.map((g) => `n = ${g[which].n}`),
    hovertemplate: `%{x}<br>${which === 'crossEntropy' ? 'cross-entropy' : 'target entropy'} (${unit})<br>%{text}<extra></extra>`,
    meta: { role: which, categories: groups.map((g) => g.label) },
  };
}

/**
 * Figures 4–7 for one model: box plots of cross-entropy (model colour) beside target entropy (slate outline)
 * — left, per proxy setting, with "(Def)" = history length 0 (setup C) broken down by setting;
 * — right, per history length, with "(Def)" = every h = 0 prompt pooled (no history, any proxy).
 * Boxes are drawn from precomputed quartiles (boxStats) so the figure carries summary numbers, not every prompt.
 */
export function proxyHistoryFigure(domain: DomainName, modelId: string, scores: ScoreRecord[], opts: FigureOptions): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const kept = scores.filter((s) => opts.setups.includes(s.setup));
  const byProxy: DistributionGroup[] = [];
  for (const setting of orderedSettings(opts, kept.map((s) => s.proxy))) {
    const inSetting = kept.filter((s) => s.proxy === setting);
    const def = groupOf(`${settingLabel(setting)} (Def)`, setting, 0, inSetting.filter((s) => s.historyLength === 0));
    const hist = groupOf(settingLabel(setting), setting, null, inSetting.filter((s) => s.historyLength > 0));
    if (def) byProxy.push(def);
    if (hist) byProxy.push(hist);
  }
  const byHistory: DistributionGroup[] = [];
  for (const h of [...new Set(kept.map((s) => s.historyLength))].sort((a, b) => a - b)) {
    const g = groupOf(h === 0 ? '(Def)' : String(h), null, h, kept.filter((s) => s.historyLength === h));
    if (g) byHistory.push(g);
  }
  const st = styleOf(opts, modelId);
  const domains = columnDomains(2, 0.08);
  const traces = [
    boxTrace(byProxy, 'crossEntropy', `cross-entropy (${modelId})`, st.color, 0, true, unit),
    boxTrace(byProxy, 'targetEntropy', 'target entropy', TARGET_BOX_COLOR, 0, true, unit),
    boxTrace(byHistory, 'crossEntropy', `cross-entropy (${modelId})`, st.color, 1, false, unit),
    boxTrace(byHistory, 'targetEntropy', 'target entropy', TARGET_BOX_COLOR, 1, false, unit),
  ];
  const annotations = [subplotTitle('By proxy setting', domains[0], 1.0), subplotTitle('By history length', domains[1], 1.0)];
  if (byProxy.length === 0) annotations.push(emptyNote(0, 'no prompts'));
  if (byHistory.length === 0) annotations.push(emptyNote(1, 'no prompts'));
  const layout: Record<string, unknown> = {
    ...BASE_LAYOUT,
    title: { text: `${modelId}: cross-entropy by proxy setting and history length — ${domainTitle(domain)}`, x: 0.5, xanchor: 'center', font: { size: 15 } },
    width: opts.width,
    height: opts.height,
    boxmode: 'group',
    margin: { l: 60, r: 20, t: 80, b: 140 },
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.42, yanchor: 'top' },
    xaxis: { ...axisStyle('Proxy setting ((Def) = no history)'), domain: domains[0], anchor: 'y', type: 'category', tickangle: -30 },
    yaxis: { ...axisStyle(`Entropy (${unit})`), anchor: 'x' },
    xaxis2: { ...axisStyle('History length ((Def) = 0)'), domain: domains[1], anchor: 'y2', type: 'category' },
    yaxis2: { ...axisStyle(''), anchor: 'x2', matches: 'y' },
    annotations,
  };
  return {
    name: `proxy-history-${fileSafe(modelId)}`,
    title: `${domainTitle(domain)}: ${modelId}, cross-entropy by proxy and history`,
    figure: { data: traces, layout },
    data: { model: modelId, unit, byProxy, byHistory } satisfies ProxyHistoryData,
  };
}

// ---------- Figures 8–15: detail per proxy setting ----------

export interface DetailFigureData {
  model: string;
  unit: string;
  curveOptions: CurveOptions;
  /** setting → curve over all its prompts (every history length, the selected setups). */
  curves: Record<string, CurveData>;
}

/** Figures 8–15 for one model: per proxy setting, the binned means, the rolling mean, the fit, X=Y and the turning point. */
export function detailFigure(domain: DomainName, modelId: string, scores: ScoreRecord[], opts: FigureOptions): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const kept = scores.filter((s) => opts.setups.includes(s.setup));
  const settings = orderedSettings(opts, kept.map((s) => s.proxy));
  const cols = Math.min(3, Math.max(1, settings.length));
  const rows = Math.max(1, Math.ceil(settings.length / cols));
  const st = styleOf(opts, modelId);
  const xDomains = columnDomains(cols, 0.07);
  const rowGap = rows > 1 ? 0.14 / (rows - 1) : 0;
  const rowHeight = (1 - rowGap * (rows - 1)) / rows;
  const traces: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const rowPx = Math.round(opts.height * 1.1);
  const layout: Record<string, unknown> = {
    ...BASE_LAYOUT,
    title: { text: `${modelId}: detailed entropy curves per proxy setting — ${domainTitle(domain)}`, x: 0.5, xanchor: 'center', font: { size: 15 } },
    width: opts.width,
    height: rows * rowPx + 60,
    margin: { l: 60, r: 20, t: 80, b: 100 },
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -60 / (rows * rowPx), yanchor: 'top' },
  };
  const data: DetailFigureData = { model: modelId, unit, curveOptions: { ...opts.curve }, curves: {} };
  const legendShown = new Set<string>();
  const legend = (key: string): boolean => {
    if (legendShown.has(key)) return false;
    legendShown.add(key);
    return true;
  };
  settings.forEach((setting, i) => {
    const r = Math.floor(i / cols);
    const col = i % cols;
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    const yTop = 1 - r * (rowHeight + rowGap);
    const yDomain: [number, number] = [Math.max(0, yTop - rowHeight), yTop];
    const subset = kept.filter((s) => s.proxy === setting);
    const c = curveOf(subset, opts.curve);
    data.curves[setting] = c;
    const xRange = opts.curve.range ? paddedRange(opts.curve.range, 0.02) : paddedRange(subset.map((s) => s.targetEntropy));
    if (xRange) {
      traces.push({ type: 'scatter', mode: 'lines', x: xRange, y: xRange, xaxis: xa, yaxis: ya, name: IDENTITY_LINE.name, legendgroup: 'identity', showlegend: legend('identity'), line: { color: IDENTITY_LINE.color, width: IDENTITY_LINE.width }, hoverinfo: 'skip', meta: { role: 'identity', setting } });
    }
    traces.push({
      type: 'scatter', mode: 'markers', x: c.points.map((p) => p.x), y: c.points.map((p) => p.y), text: c.points.map((p) => `n = ${p.n}`), xaxis: xa, yaxis: ya,
      name: `binned mean (${opts.curve.bins} bins)`, legendgroup: 'points', showlegend: legend('points'), marker: { color: st.color, size: 5, opacity: 0.45 },
      hovertemplate: `bin %{x:.3f} ${unit}<br>mean cross-entropy %{y:.3f}<br>%{text}<extra></extra>`, meta: { role: 'points', setting },
    });
    if (c.rolling.length) {
      traces.push({
        type: 'scatter', mode: 'lines', x: c.rolling.map((p) => p.x), y: c.rolling.map((p) => p.y), xaxis: xa, yaxis: ya,
        name: `rolling mean (window ${c.window})`, legendgroup: 'rolling', showlegend: legend('rolling'), line: { color: st.color, width: 1.2, dash: 'dot' },
        hovertemplate: `rolling mean %{y:.3f} at %{x:.3f} ${unit}<extra></extra>`, meta: { role: 'rolling', setting },
      });
    }
    if (c.fitted.length) {
      traces.push({
        type: 'scatter', mode: 'lines', x: c.fitted.map((p) => p.x), y: c.fitted.map((p) => p.y), xaxis: xa, yaxis: ya,
        name: `order-${opts.curve.order} fit`, legendgroup: 'fit', showlegend: legend('fit'), line: { color: st.color, width: 3 },
        hovertemplate: `fit %{y:.3f} at %{x:.3f} ${unit}<extra></extra>`, meta: { role: 'fit', setting },
      });
    }
    if (c.turningPoint !== null && c.turningPointY !== null) {
      traces.push({
        type: 'scatter', mode: 'markers', x: [c.turningPoint], y: [c.turningPointY], xaxis: xa, yaxis: ya,
        name: 'turning point', legendgroup: 'turning', showlegend: legend('turning'), marker: { symbol: 'diamond', size: 11, color: st.color, line: { color: '#ffffff', width: 1.5 } },
        hovertemplate: `turning point %{x:.3f} ${unit}<extra></extra>`, meta: { role: 'turning-point', setting },
      });
    }
    const label = `${settingLabel(setting)} (n = ${c.n})`;
    annotations.push(subplotTitle(label, xDomains[col], yDomain[1]));
    if (c.n === 0) annotations.push(emptyNote(i, 'no prompts'));
    layout[layoutAxisKey('x', i)] = { ...axisStyle(r === rows - 1 || i + cols >= settings.length ? `Target entropy (${unit})` : ''), domain: xDomains[col], anchor: ya, ...(xRange ? { range: xRange } : {}) };
    layout[layoutAxisKey('y', i)] = { ...axisStyle(col === 0 ? `Cross-entropy (${unit})` : ''), domain: yDomain, anchor: xa };
  });
  if (settings.length === 0) {
    layout.xaxis = axisStyle(`Target entropy (${unit})`);
    layout.yaxis = axisStyle(`Cross-entropy (${unit})`);
    annotations.push({ text: 'no prompts', xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false });
  }
  layout.annotations = annotations;
  return {
    name: `detail-${fileSafe(modelId)}`,
    title: `${domainTitle(domain)}: ${modelId}, detailed curves per proxy setting`,
    figure: { data: traces, layout },
    data,
  };
}

// ---------- Table 1 ----------

export interface Table1Row {
  setting: string;
  label: string;
  historyLength: number;
  setup: Setup;
  ours: number | null;
  paper: number | null;
}

export function table1Rows(counts: SampleCounts, paper: SampleCounts | null, settingsOrder: string[] = []): Table1Row[] {
  const present = [...Object.keys(counts), ...Object.keys(paper ?? {})];
  const known = settingsOrder.filter((s) => present.includes(s));
  const settings = [...known, ...[...new Set(present)].filter((s) => !known.includes(s))];
  const rows: Table1Row[] = [];
  for (const setting of settings) {
    const hs = new Set([...Object.keys(counts[setting] ?? {}), ...Object.keys(paper?.[setting] ?? {})]);
    for (const h of [...hs].map(Number).sort((a, b) => a - b)) {
      rows.push({
        setting,
        label: h === 0 ? `${settingLabel(setting)} (Def)` : settingLabel(setting),
        historyLength: h,
        setup: h === 0 ? 'C' : setting === 'none' ? 'B' : 'A',
        ours: counts[setting]?.[String(h)] ?? null,
        paper: paper ? (paper[setting]?.[String(h)] ?? null) : null,
      });
    }
  }
  return rows;
}

/** Table 1 as a Plotly table: ours, and the paper's beside it when given. */
export function table1Figure(domain: DomainName, counts: SampleCounts, paperCounts?: SampleCounts | null, opts: { settingsOrder?: string[]; width?: number } = {}): BuiltFigure {
  const paper = paperCounts ?? null;
  const rows = table1Rows(counts, paper, opts.settingsOrder);
  const total = (k: 'ours' | 'paper') => rows.reduce((s, r) => s + (r[k] ?? 0), 0);
  const cell = (v: number | null) => (v === null ? '–' : String(v));
  const columns: string[][] = [
    [...rows.map((r) => r.label), '<b>Total</b>'],
    [...rows.map((r) => String(r.historyLength)), ''],
    [...rows.map((r) => r.setup), ''],
    [...rows.map((r) => cell(r.ours)), `<b>${total('ours')}</b>`],
  ];
  const header = ['<b>Setting</b>', '<b># History</b>', '<b>Setup</b>', '<b>Prompts (ours)</b>'];
  if (paper) {
    columns.push([...rows.map((r) => cell(r.paper)), `<b>${total('paper')}</b>`]);
    header.push('<b>Prompts (paper)</b>');
  }
  const rowH = 22;
  const fill = [...rows.map((r) => (r.historyLength === 0 ? '#F2F2F2' : '#FFFFFF')), '#E8E8E8'];
  return {
    name: 'table1',
    title: `${domainTitle(domain)}: Table 1, prompts per setting`,
    figure: {
      data: [{
        type: 'table',
        columnwidth: paper ? [2.2, 1, 0.8, 1.3, 1.3] : [2.2, 1, 0.8, 1.3],
        header: { values: header, align: ['left', 'right', 'center', 'right', 'right'], fill: { color: '#DDDDDD' }, line: { color: '#999999' }, height: rowH + 4 },
        cells: { values: columns, align: ['left', 'right', 'center', 'right', 'right'], fill: { color: [fill] }, line: { color: '#CCCCCC' }, height: rowH },
      }],
      layout: {
        ...BASE_LAYOUT,
        title: { text: `${domainTitle(domain)}: number of prompts per setting (Table 1)`, x: 0.5, xanchor: 'center', font: { size: 15 } },
        width: opts.width ?? 640,
        height: 90 + (rows.length + 2) * rowH + 20,
        margin: { l: 20, r: 20, t: 60, b: 20 },
      },
    },
    data: { rows, total: { ours: total('ours'), paper: paper ? total('paper') : null } },
  };
}

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
