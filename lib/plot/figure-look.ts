/**
 * How a figure looks and how big it is: the style (screen or paper), the size (CSS pixels, or inches for a paper's
 * column), the text size and font, and the panel-grid layout computed for that size. Margins, legend rows, tick
 * density and panel spacing are derived from the size and the text size (never scaled from the screen layout), from
 * conservative estimates of text extents; test/figure-layout.test.ts checks the result in a real browser.
 */
import {
  type Config,
  type FigureSize,
  type FigureStyle,
  type LegendPlacement,
  FIGURE_SIZE_PRESETS,
  LEGEND_PLACEMENTS,
  FIGURE_STYLES,
  isFigureSize,
} from '../core/config';

/** CSS pixels per inch and per point: Plotly sizes are CSS pixels, and Chromium prints 96 of them per inch. */
export const PX_PER_IN = 96;
export const PX_PER_PT = 96 / 72;
const SCREEN_FONT_PX = 12;

export interface FigureLook {
  style: FigureStyle;
  widthPx: number;
  /** Null: the figure chooses its height for its panels (a size preset, or the screen size for a multi-row grid). */
  heightPx: number | null;
  /** Screen style: the configured height is that of one row of panels. */
  screenRowPx: number | null;
  fontPx: number;
  /** Line widths relative to the screen style's: thinner at a column's width, where 2 px lines crowd small panels. */
  lineScale: number;
  fontFamily: string;
  /** PNG pixels per CSS pixel: dpi / 96 for sizes in inches, `figures.pngScale` at the screen size. */
  pngScale: number;
  /** "auto": below or beside the panels, whichever fits (outside when neither does); "outside": its own file. */
  legend: LegendPlacement;
  /** What was asked for, as written to figure-data.json. */
  request: {
    style: FigureStyle;
    size: FigureSize | null;
    fontPt: number | null;
    font: string;
    dpi: number | null;
    legend: LegendPlacement;
  };
}

export interface LookOverrides {
  style?: FigureStyle;
  size?: FigureSize | null;
  fontPt?: number;
  font?: string;
  dpi?: number;
  legend?: LegendPlacement;
}

export function figureLook(figures: Config['figures'], o: LookOverrides = {}): FigureLook {
  const style = o.style ?? figures.style;
  if (!(FIGURE_STYLES as readonly string[]).includes(style))
    throw new Error(`figure style must be ${FIGURE_STYLES.join(' or ')}, got ${JSON.stringify(style)}`);
  // Paper style without a size gets the full text width: a paper figure is always sized in inches.
  const size = o.size !== undefined ? o.size : (figures.size ?? (style === 'paper' ? 'double-column' : null));
  if (size !== null && !isFigureSize(size))
    throw new Error(
      `figure size must be ${Object.keys(FIGURE_SIZE_PRESETS).join(', ')} or {widthIn, heightIn} in inches, got ${JSON.stringify(size)}`,
    );
  const fontPt = o.fontPt ?? figures.fontPt;
  const font = o.font ?? figures.font;
  const dpi = o.dpi ?? figures.dpi;
  if (!(fontPt > 0)) throw new Error(`font size must be > 0 pt, got ${fontPt}`);
  if (!(dpi > 0)) throw new Error(`dpi must be > 0, got ${dpi}`);
  const legend = o.legend ?? figures.legend;
  if (!(LEGEND_PLACEMENTS as readonly string[]).includes(legend))
    throw new Error(`figures.legend must be ${LEGEND_PLACEMENTS.join(' or ')}, got ${JSON.stringify(legend)}`);
  const fontPx = style === 'paper' ? fontPt * PX_PER_PT : SCREEN_FONT_PX;
  const request = {
    style,
    size,
    fontPt: style === 'paper' ? fontPt : null,
    font,
    dpi: size === null ? null : dpi,
    legend,
  };
  if (size === null) {
    return {
      style,
      widthPx: figures.width,
      heightPx: null,
      screenRowPx: figures.height,
      fontPx,
      lineScale: style === 'paper' ? 0.6 : 1,
      fontFamily: font,
      pngScale: figures.pngScale,
      legend,
      request,
    };
  }
  const widthIn = typeof size === 'string' ? FIGURE_SIZE_PRESETS[size] : size.widthIn;
  const heightPx = typeof size === 'string' ? null : size.heightIn * PX_PER_IN;
  return {
    style,
    widthPx: widthIn * PX_PER_IN,
    heightPx,
    screenRowPx: null,
    fontPx,
    lineScale: style === 'paper' ? 0.6 : 1,
    fontFamily: font,
    pngScale: dpi / PX_PER_IN,
    legend,
    request,
  };
}

/** Font stack: the configured family first, then what Debian and macOS ship, so a missing font degrades visibly. */
export function fontStack(look: FigureLook): string {
  return [...new Set([look.fontFamily, 'DejaVu Sans', 'Liberation Sans', 'Helvetica', 'sans-serif'])].join(', ');
}

/** DejaVu Sans' advance widths of ASCII 32–126 in thousandths of an em (measured in Chromium with canvas measureText). */
const DEJAVU_SANS_WIDTHS = [
  318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636, 636,
  636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863,
  748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635,
  615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636,
  337, 636, 838,
];

/**
 * A line's width, markup tags not drawn: in DejaVu Sans (the default font) from its character widths plus 3 %; in any
 * other font a generous 0.62 em per character.
 */
export function textWidthPx(text: string, fontPx: number, family = 'DejaVu Sans'): number {
  const plain = text.replace(/<[^>]*>/g, '');
  if (!/^dejavu sans$/i.test(family.trim())) return plain.length * 0.62 * fontPx;
  let w = 0;
  for (const ch of plain) {
    const c = ch.codePointAt(0) ?? 0;
    w += c >= 32 && c < 127 ? DEJAVU_SANS_WIDTHS[c - 32] : ch === '–' ? 500 : 1000;
  }
  return (w / 1000) * fontPx * 1.03;
}

/** A tick label's characters are mostly digits: 0.636 em each in DejaVu Sans, a little more for a '%' or '-'. */
const DIGIT_EM = 0.66;

export interface GridSpec {
  /** Ignored: the rows follow from `panels` and the columns the grid settles on. */
  rows?: number;
  /** Most panels side by side; fewer when a panel would be narrower than `minPanelWidthPx` allows. */
  cols: number;
  /** Panels actually drawn (row-major); the last row may be short. */
  panels: number;
  /** Per panel, the candidate titles from longest to shortest; the longest that fits the panel is used. */
  panelTitles: string[][] | null;
  xTitle: string;
  yTitle: string;
  /** Legend entries' names, in the order of their traces (each drawn trace's `name`). */
  legendItems: string[];
  /** Screen style only: the title above the figure. */
  title: string;
  /** Longest x tick label in characters and, on category axes, the number of categories: per panel, or one for all. */
  xTickChars: number | number[];
  xCategories: number | number[] | null;
  /** Lines of each category label (default 1). */
  xTickLines?: number;
  /** Room for the y tick labels, in characters: the ticks are chosen so that their labels fit it. */
  yTickChars: number;
  /** Y tick labels as percentages of values in [0, 1]. */
  yPercent?: boolean;
  /** Panel height / width when the figure chooses its height. */
  aspect: number;
  /** Every panel shares the first panel's y-axis (tick labels on the left column only). */
  sharedY: boolean;
}

export interface PanelCell {
  x: [number, number];
  y: [number, number];
  row: number;
  col: number;
}

/** Where the legend went: under the panels, in the grid's empty cells beside the last row, or into its own figure. */
export type LegendPlace = 'none' | 'below' | 'beside' | 'outside';

export interface GridLayout {
  widthPx: number;
  heightPx: number;
  fontPx: number;
  rows: number;
  cols: number;
  legendPlace: LegendPlace;
  /** Layout keys shared by every panel figure: size, margins, font, legend, title; axes and annotations are added. */
  layout: Record<string, unknown>;
  cells: PanelCell[];
  /** Annotations: panel titles and the figure-wide axis titles. */
  annotations: Record<string, unknown>[];
  xAxis(i: number): Record<string, unknown>;
  yAxis(i: number): Record<string, unknown>;
  /**
   * Call once the traces and axes are in the layout: sets every numeric axis's range (kept when already set) and
   * ticks from the data drawn, gives legend entries their wrapped names, and returns the legend as its own figure
   * when it is placed outside (else null).
   */
  finish(layout: Record<string, unknown>, traces: Record<string, unknown>[]): LegendFigure | null;
}

export interface LegendFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

export function axisName(kind: 'x' | 'y', i: number): string {
  return i === 0 ? kind : `${kind}${i + 1}`;
}
export function layoutAxisKey(kind: 'x' | 'y', i: number): string {
  return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`;
}

// ---------- legend ----------

/**
 * Plotly's legend geometry (plotly.js src/components/legend): an entry is its symbol (itemwidth 30 + two 5 px gaps)
 * then its text; its height is max(lines × 1.3 em, 16) + 3; a legend adds 5 px above and below its entries.
 */
const LEGEND_SYMBOL_PX = 40;
const LEGEND_END_PAD = 10;
export const LEGEND_MAX_SHARE = 0.25;

function legendEntryHeight(lines: number, f: number): number {
  return Math.max(lines * 1.3 * f, 16) + 3;
}

/** Splits after '-', '_', '/', '.', ':' or at a space; a part longer than a line is cut. Null: more than maxLines. */
export function wrapText(
  text: string,
  maxPx: number,
  fontPx: number,
  maxLines: number,
  family = 'DejaVu Sans',
): string[] | null {
  const fits = (t: string) => textWidthPx(t.trimEnd(), fontPx, family) <= maxPx;
  const parts = text.match(/[^-_/.: ]*[-_/.:]|[^-_/.: ]+ ?| /g) ?? [text];
  const lines: string[] = [];
  let cur = '';
  for (let part of parts) {
    while (part.length > 0) {
      if (fits(cur + part)) {
        cur += part;
        part = '';
      } else if (cur) {
        lines.push(cur.trimEnd());
        cur = '';
      } else {
        let n = 1;
        while (n < part.length && fits(part.slice(0, n + 1))) n++;
        lines.push(part.slice(0, n));
        part = part.slice(n);
      }
    }
  }
  if (cur.trim()) lines.push(cur.trimEnd());
  return lines.length <= maxLines ? lines : null;
}

interface LegendGrid {
  cols: number;
  /** Per item, its text with `<br>` where it wraps. */
  names: string[];
  height: number;
}

/**
 * The legend as a grid of equal columns across `widthPx` (Plotly's `entrywidthmode: 'fraction'`), rows filled left to
 * right; of the column counts whose names fit in two lines, the lowest legend wins (then the fewest wrapped names).
 */
function legendGrid(
  items: string[],
  widthPx: number,
  f: number,
  family: string,
  maxCols = items.length,
  maxLines = 2,
): LegendGrid | null {
  let best: (LegendGrid & { wrapped: number }) | null = null;
  for (let cols = Math.max(1, Math.min(items.length, maxCols)); cols >= 1; cols--) {
    const room = widthPx / cols - LEGEND_SYMBOL_PX - 0.5 * f;
    if (room < 3 * f) continue;
    const lines = items.map((it) => wrapText(it, room, f, maxLines, family));
    if (lines.some((l) => l === null)) continue;
    const ls = lines as string[][];
    let height = LEGEND_END_PAD;
    for (let r = 0; r * cols < items.length; r++)
      height += legendEntryHeight(Math.max(...ls.slice(r * cols, (r + 1) * cols).map((l) => l.length)), f);
    const wrapped = ls.filter((l) => l.length > 1).length;
    if (!best || height < best.height - 0.5 || (Math.abs(height - best.height) <= 0.5 && wrapped < best.wrapped))
      best = { cols, names: ls.map((l) => l.join('<br>')), height, wrapped };
  }
  return best && { cols: best.cols, names: best.names, height: best.height };
}

// ---------- ticks ----------

export interface Ticks {
  tick0: number;
  dtick: number;
  values: number[];
  labels: string[];
  /** d3 format of the labels, for Plotly's `tickformat`. */
  format: string;
  /** The range, widened to the next tick (by at most 15 %) when that gives a third label. */
  range: [number, number];
}

function tickLabel(v: number, decimals: number, percent: boolean): string {
  return percent ? `${(v * 100).toFixed(Math.max(0, decimals - 2))}%` : v.toFixed(decimals);
}

/**
 * Round ticks over [lo, hi] drawn along `lengthPx`: steps of 1, 2, 2.5 or 5 × 10^k, the most (up to 8) whose labels
 * are at most `maxChars` long and stand at least `spacingPx(chars)` apart, and at least three labels (the range may
 * widen to the next tick for the third); when no step satisfies all that, the fewest (three or more) and shortest (after trying a range up to 40 % wider).
 */
export function niceTicks(
  lo: number,
  hi: number,
  lengthPx: number,
  spacingPx: (chars: number) => number,
  maxChars: number,
  percent = false,
  widen = 0.15,
): Ticks {
  if (!(hi > lo)) throw new Error(`niceTicks: empty range [${lo}, ${hi}]`);
  const candidates: (Ticks & { chars: number; apart: number })[] = [];
  const span = hi - lo;
  const e = Math.floor(Math.log10(span));
  for (let k = e - 3; k <= e + 1; k++) {
    for (const m of [1, 2, 2.5, 5]) {
      const step = m * 10 ** k;
      let first = Math.ceil(lo / step - 1e-9);
      let last = Math.floor(hi / step + 1e-9);
      let range: [number, number] = [lo, hi];
      if (last - first + 1 === 2) {
        if (lo - (first - 1) * step <= widen * span) range = [--first * step, hi];
        else if ((last + 1) * step - hi <= widen * span) range = [lo, ++last * step];
      }
      const count = last - first + 1;
      if (count < 3 || count > 12) continue;
      const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (m === 2.5 ? 1 : 0));
      const values = Array.from({ length: count }, (_, j) => Number(((first + j) * step).toFixed(decimals + 2)));
      const labels = values.map((v) => tickLabel(v, decimals, percent));
      const format = percent ? `.${Math.max(0, decimals - 2)}%` : `.${decimals}f`;
      const chars = Math.max(...labels.map((l) => l.length));
      const apart = (step / (range[1] - range[0])) * lengthPx;
      candidates.push({ tick0: values[0], dtick: step, values, labels, format, range, chars, apart });
    }
  }
  if (candidates.length === 0) throw new Error(`niceTicks: no ticks for [${lo}, ${hi}]`);
  const ok = (c: { values: number[]; chars: number; apart: number }) =>
    c.values.length <= 8 && c.chars <= maxChars && c.apart >= spacingPx(c.chars);
  // A short panel may need a wider range for three well-spaced labels.
  if (!candidates.some(ok) && widen < 0.4) return niceTicks(lo, hi, lengthPx, spacingPx, maxChars, percent, 0.4);
  const pool = candidates.some(ok) ? candidates.filter(ok) : candidates;
  // Most ticks within the limits; beyond them, the fewest and shortest.
  if (pool === candidates) pool.sort((a, b) => a.values.length - b.values.length || a.chars - b.chars);
  else pool.sort((a, b) => b.values.length - a.values.length || a.chars - b.chars);
  const { chars: _chars, apart: _apart, ...best } = pool[0];
  return best;
}

/** [min, max] of the numbers a trace draws on one axis (box fences, bar bases and error bars included). */
function traceExtent(t: Record<string, unknown>, kind: 'x' | 'y'): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  const take = (v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  };
  const list = (v: unknown) => (Array.isArray(v) ? v : []);
  if (t.type === 'box' && kind === 'y') {
    for (const k of ['lowerfence', 'upperfence', 'q1', 'q3', 'median', 'mean']) list(t[k]).forEach(take);
  } else if (t.type === 'bar' && kind === 'y') {
    list(t.y).forEach(take);
    take(0);
  } else if (t.type === 'scatter') {
    const vals = list(t[kind]);
    const err = t[`error_${kind}`] as { array?: unknown; arrayminus?: unknown } | undefined;
    vals.forEach((v, i) => {
      take(v);
      if (err && typeof v === 'number') {
        take(v + Number(list(err.array)[i] ?? 0));
        take(v - Number(list(err.arrayminus ?? err.array)[i] ?? 0));
      }
    });
  }
  return hi >= lo ? [lo, hi] : null;
}

function padRange(r: [number, number], fraction: number, floorAtZero: boolean): [number, number] {
  const span = r[1] - r[0];
  const pad = span > 0 ? span * fraction : Math.max(0.05, Math.abs(r[0]) * 0.05);
  return [floorAtZero && r[0] >= 0 ? Math.max(0, r[0] - pad) : r[0] - pad, r[1] + pad];
}

// ---------- the grid ----------

interface Geometry {
  cols: number;
  rows: number;
  l0: number;
  r: number;
  hgap: number;
  panelW: number;
  rotate: boolean[];
  rowTickH: number[];
  xTickH: number;
  t: number;
  panelTitleH: number;
  vgaps: number[];
  /** Bottom margin without a legend: the x tick labels and the x title. */
  b0: number;
}

function geometry(look: FigureLook, spec: GridSpec, cols: number, yTitleLines: 1 | 2): Geometry {
  const f = look.fontPx;
  const W = look.widthPx;
  const line = 1.25 * f;
  const pad = Math.max(3, 0.35 * f);
  const tickLen = 3;
  const yTickW = spec.yTickChars * DIGIT_EM * f;
  const l0 = pad + line * yTitleLines + pad + yTickW + tickLen + 2;
  // Half the last x tick label may stand out right of the panels.
  const r = Math.max(6, 0.5 * textWidthPx('0.00', f));
  const hgap = spec.sharedY ? 1.2 * f : yTickW + 2 * f;
  const rows = Math.ceil(spec.panels / cols);
  const panelW = (W - l0 - r - hgap * (cols - 1)) / cols;
  // Category labels rotate to vertical when they do not fit in their slot; each row leaves room for its own labels.
  const perPanel = (v: number | number[], i: number) => (Array.isArray(v) ? (v[i] ?? 1) : v);
  const lines = spec.xTickLines ?? 1;
  const rotate = Array.from(
    { length: spec.panels },
    (_, i) =>
      spec.xCategories !== null &&
      perPanel(spec.xTickChars, i) * 0.62 * f > (panelW / perPanel(spec.xCategories, i)) * 0.9,
  );
  const tickHOf = (i: number) => (rotate[i] ? perPanel(spec.xTickChars, i) * 0.58 * f : line * lines) + tickLen + 2;
  const rowTickH = Array.from({ length: rows }, (_, r) =>
    Math.max(line + tickLen + 2, ...rotate.map((_, i) => (Math.floor(i / cols) === r ? tickHOf(i) : 0))),
  );
  const xTickH = rowTickH[rows - 1];
  const panelTitleH = spec.panelTitles ? 1.5 * f : 0;
  const titleH = look.style === 'paper' ? 0 : 2.2 * f + (screenTitle(look, spec.title).length - 1) * 1.3 * 1.25 * f;
  const t = pad + titleH + panelTitleH + (spec.panelTitles ? 0 : 0.6 * f);
  const vgaps = rowTickH.slice(0, -1).map((h) => h + panelTitleH + pad);
  const b0 = pad + (spec.xTitle ? line : 0) + pad + xTickH;
  return { cols, rows, l0, r, hgap, panelW, rotate, rowTickH, xTickH, t, panelTitleH, vgaps, b0 };
}

/** The screen style's title, on as many lines as the figure's width needs. */
function screenTitle(look: FigureLook, title: string): string[] {
  const f = look.fontPx * 1.25;
  return wrapText(title, look.widthPx - 2 * f, f, 4, look.fontFamily) ?? [title];
}

/** A panel narrower than this gets the grid fewer columns: 1.25 in, or 38 % of a narrower figure (single column). */
function minPanelWidthPx(look: FigureLook): number {
  return Math.min(0.38 * look.widthPx, 1.25 * PX_PER_IN);
}

/**
 * The layout of a grid of panels for a look. Axis titles are drawn once for the figure (below the grid, left of it),
 * so narrow panels never collide over them; x tick labels rotate when categories do not fit side by side.
 */
export function gridLayout(look: FigureLook, spec: GridSpec): GridLayout {
  const oneLine = gridLayoutWith(look, spec, 1);
  // A y-axis title longer than the panels are high goes on two lines (the left margin grows by one line).
  // Judged against the plot area plus the top margin on either side (the title is centred; left of the panels, the
  // margins are free): one line reads better than two, and the browser test checks that it stays in the figure.
  const room = oneLine.plotHeightPx + 2 * Math.max(0, Number((oneLine.layout.margin as { t: number }).t) - 2);
  const fits = textWidthPx(spec.yTitle, look.fontPx, look.fontFamily) <= room;
  if (!spec.yTitle || fits || !spec.yTitle.includes(' ')) return oneLine;
  return gridLayoutWith(look, spec, 2);
}

interface Plan {
  g: Geometry;
  heightPx: number;
  panelH: number;
  place: LegendPlace;
  legend: LegendGrid | null;
  /** Left edge of the legend beside the panels (CSS px). */
  besideX: number;
}

/** Heights, and where the legend goes: beside when it fits there, else below within a quarter of the height, else outside. */
function plan(look: FigureLook, spec: GridSpec, g: Geometry): Plan {
  const f = look.fontPx;
  const W = look.widthPx;
  const pad = Math.max(3, 0.35 * f);
  const gaps = g.vgaps.reduce((a, v) => a + v, 0);
  const fixed = look.heightPx;
  const heightOf = (panelH: number, legendBelow: number) => g.t + g.b0 + legendBelow + g.rows * panelH + gaps;
  // The height a figure chooses for its panels; at most this much more to make room for a legend.
  const natural =
    look.screenRowPx !== null
      ? look.screenRowPx - g.t - g.b0
      : Math.min(Math.max(g.panelW * spec.aspect, 0.9 * PX_PER_IN), 2.4 * PX_PER_IN);
  const tallest = Math.max(natural, Math.min(natural * 1.6, 2.6 * PX_PER_IN));
  const items = spec.legendItems;
  // A size preset's height is a whole hundredth of an inch, so it reads cleanly in figure-data.json and LaTeX.
  const sized = (panelH: number, legendBelow: number): { heightPx: number; panelH: number } => {
    if (fixed !== null) return { heightPx: fixed, panelH: (fixed - heightOf(0, legendBelow)) / g.rows };
    if (look.screenRowPx !== null) return { heightPx: heightOf(panelH, legendBelow), panelH };
    const heightPx = (Math.ceil((heightOf(panelH, legendBelow) / PX_PER_IN) * 100) / 100) * PX_PER_IN;
    return { heightPx, panelH: (heightPx - heightOf(0, legendBelow)) / g.rows };
  };
  const none = (place: LegendPlace): Plan => ({ g, ...sized(natural, 0), place, legend: null, besideX: 0 });
  if (items.length === 0) return none('none');
  const outside = (): Plan => ({
    ...none('outside'),
    legend: legendGrid(items, W - 2 * pad, f, look.fontFamily) ?? {
      cols: 1,
      names: items,
      height: items.length * 2 * f,
    },
  });
  if (look.legend === 'outside') return outside();
  const options: Plan[] = [];
  // Beside: in the empty cells right of the last row's panels, from that row's titles down to the figure's bottom.
  const inLastRow = spec.panels - (g.rows - 1) * g.cols;
  if (inLastRow < g.cols) {
    const besideX = g.l0 + inLastRow * (g.panelW + g.hgap) - 0.5 * g.hgap;
    const beside = legendGrid(items, W - besideX - 2, f, look.fontFamily, 1, 3);
    if (beside) {
      const need = beside.height - g.panelTitleH - g.b0;
      const s = sized(Math.max(natural, need), 0);
      if (s.panelH >= need - 0.01 && (fixed !== null || s.panelH <= tallest))
        options.push({ g, ...s, place: 'beside', legend: beside, besideX });
    }
  }
  // Below: across the plot area (Plotly wraps a horizontal legend at its width), at most a quarter of the height.
  const below = legendGrid(items, W - g.l0 - g.r, f, look.fontFamily);
  if (below) {
    const L = below.height + pad;
    // A figure that chooses its height grows its panels until the legend is at most a quarter of it.
    const s = sized(Math.max(natural, (below.height / LEGEND_MAX_SHARE - heightOf(0, L)) / g.rows), L);
    if (below.height <= LEGEND_MAX_SHARE * s.heightPx + 0.5 && (fixed !== null || s.panelH <= tallest + 1))
      options.push({ g, ...s, place: 'below', legend: below, besideX: 0 });
  }
  const usable = options.filter((o) => o.panelH >= 3 * f);
  if (usable.length === 0) return look.legend === 'auto' ? outside() : none('none');
  // The shortest figure (beside first on a tie: it uses space the grid leaves empty anyway).
  usable.sort((a, b) => a.heightPx - b.heightPx || (a.place === 'beside' ? -1 : 1));
  return usable[0];
}

function chooseGeometry(look: FigureLook, spec: GridSpec, yTitleLines: 1 | 2): Plan {
  const f = look.fontPx;
  let last: Plan | null = null;
  for (let cols = Math.max(1, Math.min(spec.cols, spec.panels)); cols >= 1; cols--) {
    const g = geometry(look, spec, cols, yTitleLines);
    if (g.panelW < 4 * f) continue;
    const p = plan(look, spec, g);
    last = p;
    // Fewer columns only when the panels are too narrow, and (at a fixed height) the taller grid still fits.
    if (cols === 1 || g.panelW >= minPanelWidthPx(look)) return p;
    if (look.heightPx !== null) {
      const fewer = plan(look, spec, geometry(look, spec, cols - 1, yTitleLines));
      if (fewer.panelH < 0.9 * PX_PER_IN) return p;
    }
  }
  if (last) return last;
  const W = look.widthPx;
  throw new Error(
    `${spec.title}: a ${(W / PX_PER_IN).toFixed(2)} in wide figure is too narrow for its panels at ${(f / PX_PER_PT).toFixed(1)} pt text`,
  );
}

function gridLayoutWith(look: FigureLook, spec: GridSpec, yTitleLines: 1 | 2): GridLayout & { plotHeightPx: number } {
  const f = look.fontPx;
  const W = look.widthPx;
  const line = 1.25 * f;
  const pad = Math.max(3, 0.35 * f);
  const tickLen = 3;
  const paper = look.style === 'paper';
  const yTickW = spec.yTickChars * DIGIT_EM * f;
  const p = chooseGeometry(look, spec, yTitleLines);
  const { g, heightPx, panelH } = p;
  const { l0, r, rows, cols, panelW, hgap, rotate, xTickH, t, panelTitleH, vgaps } = g;
  if (panelH < 3 * f)
    throw new Error(
      `${spec.title}: a ${(heightPx / PX_PER_IN).toFixed(2)} in high figure leaves ${(panelH / PX_PER_IN).toFixed(2)} in per panel row; make it taller or use a size preset`,
    );
  const b = heightPx - t - rows * panelH - vgaps.reduce((a, v) => a + v, 0);
  const plotW = W - l0 - r;
  const plotH = heightPx - t - b;
  const cells: PanelCell[] = [];
  for (let i = 0; i < spec.panels; i++) {
    const row = Math.floor(i / cols);
    const col = i % cols;
    const x0 = (col * (panelW + hgap)) / plotW;
    const yTop = 1 - (row * panelH + vgaps.slice(0, row).reduce((a, v) => a + v, 0)) / plotH;
    cells.push({ x: [x0, Math.min(1, x0 + panelW / plotW)], y: [Math.max(0, yTop - panelH / plotH), yTop], row, col });
  }
  const annotations: Record<string, unknown>[] = [];
  if (spec.panelTitles) {
    // One level of detail for every panel (the longest that fits all), so the titles read alike.
    const titles = spec.panelTitles;
    const levels = Math.max(1, ...titles.map((o) => o.length));
    let level = 0;
    while (
      level < levels - 1 &&
      titles.some((o) => textWidthPx(o[Math.min(level, o.length - 1)] ?? '', f * 1.05, look.fontFamily) > panelW)
    )
      level++;
    cells.forEach((c, i) => {
      const options = titles[i] ?? [''];
      const text = options[Math.min(level, options.length - 1)] ?? '';
      annotations.push({
        text,
        x: (c.x[0] + c.x[1]) / 2,
        y: c.y[1],
        xref: 'paper',
        yref: 'paper',
        xanchor: 'center',
        yanchor: 'bottom',
        yshift: 1,
        showarrow: false,
        font: { size: f * 1.05 },
        meta: { role: 'panel-title' },
      });
    });
  }
  // Figure-wide axis titles, placed in the margins the tick labels leave free; with the legend beside the last row,
  // the x title centres under that row's panels.
  const bottomOfGrid = Math.min(...cells.map((c) => c.y[0]));
  const lastRow = cells.filter((c) => c.row === rows - 1);
  const xTitleAt = p.place === 'beside' ? (lastRow[0].x[0] + lastRow[lastRow.length - 1].x[1]) / 2 : 0.5;
  if (spec.xTitle)
    annotations.push({
      text: spec.xTitle,
      xref: 'paper',
      yref: 'paper',
      x: xTitleAt,
      y: bottomOfGrid,
      yshift: -(xTickH + pad * 0.5),
      xanchor: 'center',
      yanchor: 'top',
      showarrow: false,
      meta: { role: 'x-title' },
    });
  const yTitle = yTitleLines === 2 ? spec.yTitle.replace(/ (?=[^ ]*$)/, '<br>') : spec.yTitle;
  if (spec.yTitle)
    annotations.push({
      text: yTitle,
      xref: 'paper',
      yref: 'paper',
      x: 0,
      xshift: -(yTickW + tickLen + pad + 2),
      y: 0.5,
      xanchor: 'right',
      yanchor: 'middle',
      textangle: -90,
      showarrow: false,
      meta: { role: 'y-title' },
    });
  const axisBase = {
    showline: true,
    linecolor: '#444',
    mirror: true,
    ticks: 'outside',
    ticklen: tickLen,
    gridcolor: '#ececec',
    zeroline: false,
    automargin: false,
    tickfont: { size: f },
  };
  const legendBase = {
    font: { size: f },
    itemwidth: 30,
    traceorder: 'normal',
    tracegroupgap: 0,
    bgcolor: 'rgba(0,0,0,0)',
    // Never a scrolling legend: the plan leaves it room for all its entries.
    maxheight: heightPx,
  };
  let legend: Record<string, unknown>;
  if (p.place === 'beside') {
    const lastTop = lastRow[0].y[1];
    const topPx = t + (1 - lastTop) * plotH - panelTitleH;
    legend = {
      ...legendBase,
      orientation: 'v',
      xref: 'container',
      yref: 'container',
      x: p.besideX / W,
      xanchor: 'left',
      y: 1 - topPx / heightPx,
      yanchor: 'top',
    };
  } else {
    legend = {
      ...legendBase,
      orientation: 'h',
      entrywidthmode: 'fraction',
      entrywidth: 1 / (p.legend?.cols ?? 1),
      xref: 'container',
      yref: 'container',
      x: l0 / W,
      xanchor: 'left',
      y: 0,
      yanchor: 'bottom',
    };
  }
  const layout: Record<string, unknown> = {
    font: { family: fontStack(look), size: f, color: '#222' },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    hovermode: 'closest',
    width: W,
    height: heightPx,
    margin: { l: l0, r, t, b, pad: 0, autoexpand: false },
    showlegend: p.place === 'below' || p.place === 'beside',
    legend,
  };
  if (!paper)
    layout.title = {
      text: screenTitle(look, spec.title).join('<br>'),
      x: 0.5,
      xanchor: 'center',
      y: 1,
      yref: 'container',
      yanchor: 'top',
      // Plotly places a title's first line at the anchor: further lines push it down by their height.
      pad: { t: pad + (screenTitle(look, spec.title).length - 1) * 1.3 * 1.25 * f },
      font: { size: f * 1.25 },
    };
  const legendNames = new Map(spec.legendItems.map((it, k) => [it, p.legend?.names[k] ?? it]));
  const finish = (lay: Record<string, unknown>, traces: Record<string, unknown>[]): LegendFigure | null => {
    for (const tr of traces) {
      const name = typeof tr.name === 'string' ? tr.name : null;
      if (tr.showlegend !== false && name !== null && legendNames.has(name)) tr.name = legendNames.get(name);
    }
    const onAxis = (kind: 'x' | 'y', i: number) =>
      traces.filter((tr) => (tr[`${kind}axis`] ?? kind) === axisName(kind, i) && tr.visible !== false);
    const extentOf = (list: Record<string, unknown>[], kind: 'x' | 'y'): [number, number] | null => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const tr of list) {
        const e = traceExtent(tr, kind);
        if (e) [lo, hi] = [Math.min(lo, e[0]), Math.max(hi, e[1])];
      }
      return hi >= lo ? [lo, hi] : null;
    };
    const panelsDrawn = Math.max(1, spec.panels);
    for (let i = 0; i < panelsDrawn; i++) {
      const key = layoutAxisKey('x', i);
      const ax = (lay[key] ??= {}) as Record<string, unknown>;
      if (ax.type === 'category') continue;
      const given = Array.isArray(ax.range) ? (ax.range as [number, number]) : null;
      const extent = given ?? extentOf(onAxis('x', i), 'x');
      if (!extent) continue;
      const range = given ?? padRange(extent, 0.04, false);
      const xt = niceTicks(range[0], range[1], panelW, (c) => (c * DIGIT_EM + 0.9) * f, 4);
      Object.assign(ax, {
        range: xt.range,
        tickmode: 'linear',
        tick0: xt.tick0,
        dtick: xt.dtick,
        tickformat: xt.format,
      });
    }
    const yKeys = Array.from({ length: panelsDrawn }, (_, i) => i);
    const groups = spec.sharedY ? [yKeys] : yKeys.map((i) => [i]);
    for (const group of groups) {
      const first = (lay[layoutAxisKey('y', group[0])] ??= {}) as Record<string, unknown>;
      const given = Array.isArray(first.range) ? (first.range as [number, number]) : null;
      const extent =
        given ??
        extentOf(
          group.flatMap((i) => onAxis('y', i)),
          'y',
        );
      if (!extent) continue;
      const range = given ?? padRange(extent, 0.05, true);
      const yt = niceTicks(range[0], range[1], panelH, () => 1.9 * f, spec.yTickChars, spec.yPercent ?? false);
      for (const i of group) {
        const ax = (lay[layoutAxisKey('y', i)] ??= {}) as Record<string, unknown>;
        Object.assign(ax, { tickmode: 'linear', tick0: yt.tick0, dtick: yt.dtick, tickformat: yt.format });
        if (i === group[0] || !spec.sharedY) ax.range = yt.range;
      }
    }
    if (p.place !== 'outside' || !p.legend) return null;
    // The legend alone: the same traces (so the same symbols), drawn outside a plot area kept one pixel high.
    const shown = traces.filter((tr) => tr.showlegend !== false && tr.visible !== false);
    const axes: Record<string, unknown> = {};
    for (const tr of shown)
      for (const kind of ['x', 'y'] as const) {
        const key = `${kind}axis${String(tr[`${kind}axis`] ?? kind).slice(1)}`;
        axes[key] = { visible: false, range: [1e9, 1e9 + 1], fixedrange: true };
      }
    const H = Math.ceil(p.legend.height + 2);
    return {
      data: shown.map((tr) => ({ ...tr, hoverinfo: 'skip', hovertemplate: undefined })),
      layout: {
        font: layout.font,
        paper_bgcolor: '#ffffff',
        plot_bgcolor: 'rgba(0,0,0,0)',
        width: W,
        height: H,
        margin: { l: pad, r: pad, t: 0, b: H - 1, pad: 0, autoexpand: false },
        showlegend: true,
        legend: {
          ...legendBase,
          orientation: 'h',
          entrywidthmode: 'fraction',
          entrywidth: 1 / p.legend.cols,
          xref: 'container',
          yref: 'container',
          x: pad / W,
          xanchor: 'left',
          y: 0,
          yanchor: 'bottom',
          maxheight: H,
        },
        ...axes,
      },
    };
  };
  return {
    plotHeightPx: plotH,
    widthPx: W,
    heightPx,
    fontPx: f,
    rows,
    cols,
    legendPlace: p.place,
    layout,
    cells,
    annotations,
    finish,
    xAxis: (i) => ({
      ...axisBase,
      domain: cells[i].x,
      anchor: axisName('y', i),
      ...(spec.xCategories === null ? {} : { type: 'category', tickmode: 'linear', dtick: 1 }),
      tickangle: rotate[i] ? -90 : 0,
    }),
    yAxis: (i) => ({
      ...axisBase,
      domain: cells[i].y,
      anchor: axisName('x', i),
      ...(spec.sharedY && i > 0 ? { matches: 'y', showticklabels: cells[i].col === 0 } : {}),
    }),
  };
}
