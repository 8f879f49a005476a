/**
 * What every figure shares: titles and setting labels, model styles, the figure options, the curve behind a set of
 * scores, and the layout helpers (subplot domains, axes, notes).
 */
import { type Config, type DomainName, repoRoot } from '../core/config';
import { domainTitleOf } from '../core/description';
import {
  bootstrapCurveStats,
  type Curve,
  type CurveOptions,
  entropyCurve,
  type Interval,
  pointInterval,
  type Polynomial,
  type XY,
} from '../score/curves';
import type { NamedFigure } from './export';
import { type FigureLook, type LookOverrides, figureLook, fontStack } from './figure-look';
import { axisName } from './figure-grid';
export { axisName, layoutAxisKey } from './figure-grid';
import { SETUPS } from '../score/score';
import { tooFewPrompts, tooFewPromptsNote } from '../score/summary';
import type { ScoreRecord, Setup } from '../core/types';

export const SETUP_TITLES: Record<Setup, string> = {
  A: 'Setup A: demography + history',
  B: 'Setup B: history only',
  C: 'Setup C: demography only',
};

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
  return (
    SETTING_LABELS[setting] ??
    setting
      .split('+')
      .map((s) => s.charAt(0).toUpperCase() + s.slice(1))
      .join(' & ')
  );
}

/** The title of the domain's dataset description ("Movies (MovieLens-1M)"), else its name. */
export function domainTitle(domain: string): string {
  return domainTitleOf(domain, repoRoot()) ?? domain;
}

// ---------- model styles (model-styles.ts) ----------

export const IDENTITY_LINE = { color: '#C4C4C4', width: 3, name: 'X = Y (ideal)' };

export {
  type MarkerSymbol,
  type ModelStyle,
  MODEL_DASHES,
  MODEL_PALETTE,
  MODEL_SYMBOLS,
  modelStyles,
  ORACLE_STYLE,
  RANDOM_STYLE,
} from './model-styles';
import { type ModelStyle, modelStyles } from './model-styles';

// ---------- options ----------

export interface FigureOptions {
  curve: CurveOptions;
  logBase: number;
  styles: Record<string, ModelStyle>;
  /** Style, size and text of the figure (figure-look.ts). */
  look: FigureLook;
  /** The configured `figures` block the look was resolved against (for rebuilding in another look). */
  lookBase: Config['figures'];
  /** Setups drawn in the entropy-trend figure (and kept in the others). */
  setups: Setup[];
  /** Setting keys in display order (others found in the data follow, sorted). */
  settingsOrder: string[];
  /** Also draw the binned means behind each trend curve. */
  showPoints: boolean;
  /** Bootstrap of the departure points drawn with their intervals (0 resamples: estimates only); seeds derive from `seed`. */
  bootstrap: { resamples: number; confidence: number; seed: number };
  /** `curves.minCurvePrompts`: a curve of fewer prompts is drawn as its points with a note, without fit or band. */
  minCurvePrompts: number;
  /**
   * A band is drawn only where its rolling window holds at least this many prompts: twice the fit's coefficients
   * (10 at order 4). Fewer leave the resampled polynomials free to swing, and the band spikes.
   */
  bandMinPrompts: number;
}

export interface FigureOverrides {
  curve?: Partial<CurveOptions>;
  setups?: Setup[];
  /** Style, size, font and dpi over `figures.*`. */
  look?: LookOverrides;
  showPoints?: boolean;
}

export function figureOptions(
  config: Config,
  domain: DomainName,
  modelIds: string[] = [],
  overrides: FigureOverrides = {},
): FigureOptions {
  const setups = overrides.setups ?? [...SETUPS];
  for (const s of setups)
    if (!SETUPS.includes(s)) throw new Error(`unknown setup "${s}" (known: ${SETUPS.join(', ')})`);
  return {
    curve: {
      bins: overrides.curve?.bins ?? config.curves.bins,
      window: overrides.curve?.window ?? config.curves.window,
      order: overrides.curve?.order ?? config.curves.order,
      range: overrides.curve?.range !== undefined ? overrides.curve.range : config.curves.range,
      edges: overrides.curve?.edges ?? config.curves.edges,
      departureGap: overrides.curve?.departureGap ?? config.curves.departureGap,
    },
    bootstrap: { resamples: config.curves.bootstrap, confidence: config.curves.confidence, seed: config.seed },
    minCurvePrompts: config.curves.minCurvePrompts,
    bandMinPrompts: 2 * ((overrides.curve?.order ?? config.curves.order) + 1),
    logBase: config.score.logBase,
    styles: modelStyles(config, modelIds),
    look: figureLook(config.figures, overrides.look),
    lookBase: config.figures,
    setups,
    settingsOrder: Object.keys(config.sample.settings[domain] ?? {}),
    showPoints: overrides.showPoints ?? false,
  };
}

export function styleOf(opts: FigureOptions, modelId: string): ModelStyle {
  return opts.styles[modelId] ?? modelStyles(null, [modelId])[modelId];
}

export function orderedSettings(opts: FigureOptions, present: Iterable<string>): string[] {
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
  /** The fit, in the scaled basis it was solved in (evaluate with evalPolynomial). */
  polynomial: Polynomial | null;
  fitCoverage: number | null;
  turningPoint: number | null;
  /** The fit's value at the turning point (where the marker sits). */
  turningPointY: number | null;
  /** Where the curve departs from X = Y, with its bootstrap interval (lib/score/curves.ts, departurePointOf). */
  departurePoint: Interval | null;
  points: Curve['points'];
  rolling: XY[];
  fitted: XY[];
  notes: string[];
  /** Fewer prompts than `curves.minCurvePrompts`: `points` are the prompts themselves, and there is no fit. */
  tooFewPrompts: boolean;
}

/** Linear interpolation in the fitted grid: independent of how the polynomial's coefficients are ordered. */
export function valueOnFit(fitted: XY[], x: number): number | null {
  if (fitted.length === 0) return null;
  if (fitted.length === 1) return fitted[0].y;
  for (let i = 1; i < fitted.length; i++) {
    const a = fitted[i - 1];
    const b = fitted[i];
    if (x >= a.x && x <= b.x) return b.x === a.x ? a.y : a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
  }
  return null;
}

/**
 * The curve for a set of scores; non-finite cross-entropies are counted and left out (curves need finite numbers).
 * With `boot`, the departure point gets its bootstrap interval (the same seed as the score summary gives the same one).
 * Fewer finite prompts than `minCurvePrompts`: no curve, the prompts themselves as points (`tooFewPrompts`).
 */
export function curveOf(
  scores: ScoreRecord[],
  curve: CurveOptions,
  boot?: { resamples: number; confidence: number; seed: string },
  minCurvePrompts = 0,
): CurveData {
  const x: number[] = [];
  const y: number[] = [];
  let excluded = 0;
  for (const s of scores) {
    if (Number.isFinite(s.crossEntropy) && Number.isFinite(s.targetEntropy)) {
      x.push(s.targetEntropy);
      y.push(s.crossEntropy);
    } else excluded++;
  }
  if (x.length && tooFewPrompts(x.length, minCurvePrompts)) return promptPoints(x, y, curve, excluded);
  let c: Curve;
  let departurePoint: Interval | null;
  if (boot && boot.resamples >= 1 && x.length)
    ({ curve: c, departurePoint } = bootstrapCurveStats(x, y, { ...curve, ...boot, departureOnly: true }));
  else {
    c = entropyCurve(x, y, curve);
    departurePoint = c.departurePoint === null ? null : pointInterval(c.departurePoint);
  }
  const notes = [...c.notes];
  if (excluded) notes.push(`${excluded} prompt(s) with a non-finite cross-entropy left out (set score.smoothing > 0)`);
  return {
    n: c.n,
    excludedNonFinite: excluded,
    range: c.range,
    fitRange: c.fitRange,
    window: c.window,
    order: c.order,
    polynomial: c.polynomial,
    fitCoverage: c.fitCoverage,
    turningPoint: c.turningPoint,
    turningPointY: c.turningPoint === null ? null : valueOnFit(c.fitted, c.turningPoint),
    departurePoint,
    points: c.points,
    rolling: c.rolling,
    fitted: c.fitted,
    notes,
    tooFewPrompts: false,
  };
}

/**
 * Too few prompts for a curve: the prompts themselves (sorted by target entropy, so the data are the same for the same
 * prompts in any order), no binning, fit, turning or departure point — any of them would be read as a trend.
 */
function promptPoints(x: number[], y: number[], curve: CurveOptions, excluded: number): CurveData {
  const points = x.map((xi, i) => ({ x: xi, y: y[i], n: 1 })).sort((a, b) => a.x - b.x || a.y - b.y);
  const notes = [tooFewPromptsNote(x.length)];
  if (excluded) notes.push(`${excluded} prompt(s) with a non-finite cross-entropy left out (set score.smoothing > 0)`);
  return {
    n: x.length,
    excludedNonFinite: excluded,
    range: curve.range ?? [points[0].x, points[points.length - 1].x],
    fitRange: null,
    window: curve.window,
    order: curve.order,
    polynomial: null,
    fitCoverage: null,
    turningPoint: null,
    turningPointY: null,
    departurePoint: null,
    points,
    rolling: [],
    fitted: [],
    notes,
    tooFewPrompts: true,
  };
}

/** min..max of the finite target entropies of several score sets: the binning range they share; null without data. */
export function pooledRange(sets: ScoreRecord[][]): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const set of sets) {
    for (const s of set) {
      if (!Number.isFinite(s.targetEntropy) || !Number.isFinite(s.crossEntropy)) continue;
      if (s.targetEntropy < lo) lo = s.targetEntropy;
      if (s.targetEntropy > hi) hi = s.targetEntropy;
    }
  }
  return hi >= lo ? [lo, hi] : null;
}

/**
 * The departure point as a marker on X = Y (where the curve leaves it) with its interval as a horizontal error bar;
 * nothing when the curve never departs.
 */
export function departureTrace(
  c: CurveData,
  axes: { xaxis: string; yaxis: string },
  label: string,
  color: string,
  unit: string,
  meta: Record<string, unknown>,
  legend: { name: string; legendgroup: string; showlegend: boolean },
): Record<string, unknown> | null {
  const d = c.departurePoint;
  if (!d) return null;
  return {
    type: 'scatter',
    mode: 'markers',
    x: [d.estimate],
    y: [d.estimate],
    ...axes,
    ...legend,
    marker: { symbol: 'triangle-up', size: 11, color, line: { color: '#ffffff', width: 1 } },
    error_x: {
      type: 'data',
      symmetric: false,
      array: [d.high - d.estimate],
      arrayminus: [d.estimate - d.low],
      color,
      thickness: 1.5,
      width: 4,
    },
    hovertemplate: `${label} departs from X = Y at %{x:.3f} ${unit} [${d.low.toFixed(3)}, ${d.high.toFixed(3)}]${d.unstable ? ' (unstable)' : ''}<extra></extra>`,
    meta: { role: 'departure-point', ...meta },
  };
}

/**
 * The part of a band drawn: where the curve's rolling window (`window` bins around x) holds at least `minPrompts`
 * prompts, the longest such stretch. Where a few prompts carry the fit, resampled polynomials swing widely and the
 * band would spike; `dropped` says how many of its points were left out.
 */
export function clipBand<P extends { x: number }>(
  band: P[],
  c: Pick<CurveData, 'points' | 'range' | 'window'>,
  bins: number,
  minPrompts: number,
): { band: P[]; dropped: number } {
  const halfWidth = (((c.range[1] - c.range[0]) / Math.max(1, bins)) * c.window) / 2;
  const dense = band.map((p) => {
    let n = 0;
    for (const q of c.points) if (Math.abs(q.x - p.x) <= halfWidth + 1e-12) n += q.n;
    return n >= minPrompts;
  });
  let best: [number, number] = [0, 0];
  for (let i = 0; i < band.length;) {
    if (!dense[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < band.length && dense[j]) j++;
    if (j - i > best[1] - best[0]) best = [i, j];
    i = j;
  }
  const kept = band.slice(best[0], best[1]);
  return { band: kept, dropped: band.length - kept.length };
}

/** Padded [min, max] of the target entropies, so that the x-axis shows the narrow band the data live in. */
export function paddedRange(values: number[], fraction = 0.03): [number, number] | null {
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
export function trendXRange(curves: CurveData[], opts: FigureOptions): [number, number] | null {
  if (opts.curve.range) return paddedRange(opts.curve.range, 0.02);
  const xs: number[] = [];
  for (const c of curves) {
    for (const p of c.fitted) xs.push(p.x);
    if (opts.showPoints || c.fitted.length === 0) for (const p of c.points) xs.push(p.x);
  }
  return paddedRange(xs, 0.05);
}

export function emptyNote(axis: number, text: string): Record<string, unknown> {
  return {
    text,
    xref: `${axisName('x', axis)} domain`,
    yref: `${axisName('y', axis)} domain`,
    x: 0.5,
    y: 0.5,
    showarrow: false,
    font: { color: '#888' },
  };
}

/** A short grey note at the top left inside a panel (e.g. "too few prompts (n = 7)"). */
export function panelNote(axis: number, text: string): Record<string, unknown> {
  return {
    text,
    xref: `${axisName('x', axis)} domain`,
    yref: `${axisName('y', axis)} domain`,
    x: 0.02,
    y: 0.98,
    xanchor: 'left',
    yanchor: 'top',
    showarrow: false,
    font: { color: '#666' },
    name: 'too-few-prompts',
  };
}

/** Page-level layout keys of a figure without panels (Table 1): font and background. */
export function baseLayout(look: FigureLook): Record<string, unknown> {
  return {
    font: { family: fontStack(look), size: look.fontPx, color: '#222' },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    hovermode: 'closest',
  };
}

/** Indices along a curve's grid where its markers go: evenly spread, shifted per model so coinciding curves show each marker. */
export function markerIndices(points: number, modelIndex: number, marks = 5): number[] {
  if (points < 2) return points ? [0] : [];
  const step = (points - 1) / marks;
  const shift = ((modelIndex * 0.37) % 1) * step;
  return Array.from({ length: marks }, (_, j) => Math.min(points - 1, Math.round(shift + j * step)));
}

export interface BuiltFigure extends NamedFigure {
  /** The numbers behind the figure (written to figure-data.json). */
  data: unknown;
}

export function fileSafe(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_');
}
