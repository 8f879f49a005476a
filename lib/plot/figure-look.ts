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
  FIGURE_SIZE_PRESETS,
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
  /** What was asked for, as written to figure-data.json. */
  request: { style: FigureStyle; size: FigureSize | null; fontPt: number | null; font: string; dpi: number | null };
}

export interface LookOverrides {
  style?: FigureStyle;
  size?: FigureSize | null;
  fontPt?: number;
  font?: string;
  dpi?: number;
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
  const fontPx = style === 'paper' ? fontPt * PX_PER_PT : SCREEN_FONT_PX;
  const request = { style, size, fontPt: style === 'paper' ? fontPt : null, font, dpi: size === null ? null : dpi };
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
    request,
  };
}

/** Font stack: the configured family first, then what Debian and macOS ship, so a missing font degrades visibly. */
export function fontStack(look: FigureLook): string {
  return [...new Set([look.fontFamily, 'DejaVu Sans', 'Liberation Sans', 'Helvetica', 'sans-serif'])].join(', ');
}

/**
 * A generous estimate of a line's width: DejaVu Sans (the default) is wide, about 0.55 em per character on average;
 * 0.62 em leaves room for capitals and digits. Markup tags are not drawn.
 */
export function textWidthPx(text: string, fontPx: number): number {
  return text.replace(/<[^>]*>/g, '').length * 0.62 * fontPx;
}

export interface GridSpec {
  rows: number;
  cols: number;
  /** Panels actually drawn (row-major); the last row may be short. */
  panels: number;
  /** Per panel, the candidate titles from longest to shortest; the longest that fits the panel is used. */
  panelTitles: string[][] | null;
  xTitle: string;
  yTitle: string;
  /** Legend entries' names (for the number of legend rows). */
  legendItems: string[];
  /** Screen style only: the title above the figure. */
  title: string;
  /** Longest x tick label in characters and, on category axes, the number of categories: per panel, or one for all. */
  xTickChars: number | number[];
  xCategories: number | number[] | null;
  yTickChars: number;
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

export interface GridLayout {
  widthPx: number;
  heightPx: number;
  fontPx: number;
  /** Layout keys shared by every panel figure: size, margins, font, legend, title; axes and annotations are added. */
  layout: Record<string, unknown>;
  cells: PanelCell[];
  /** Annotations: panel titles and the figure-wide axis titles. */
  annotations: Record<string, unknown>[];
  xAxis(i: number): Record<string, unknown>;
  yAxis(i: number): Record<string, unknown>;
}

function legendRows(items: string[], widthPx: number, fontPx: number): number {
  if (items.length === 0) return 0;
  let rows = 1;
  let used = 0;
  for (const item of items) {
    // Plotly's entry: a 40 px symbol (itemwidth 30 + padding) then the text.
    const w = 46 + textWidthPx(item, fontPx);
    if (used > 0 && used + w > widthPx - 8) {
      rows++;
      used = 0;
    }
    used += w;
  }
  return rows;
}

export function axisName(kind: 'x' | 'y', i: number): string {
  return i === 0 ? kind : `${kind}${i + 1}`;
}
export function layoutAxisKey(kind: 'x' | 'y', i: number): string {
  return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`;
}

/**
 * The layout of a grid of panels for a look. Axis titles are drawn once for the figure (below the grid, left of it),
 * so narrow panels never collide over them; x tick labels rotate when categories do not fit side by side.
 */
export function gridLayout(look: FigureLook, spec: GridSpec): GridLayout {
  const oneLine = gridLayoutWith(look, spec, 1);
  // A y-axis title longer than the panels are high goes on two lines (the left margin grows by one line).
  // Judged at DejaVu Sans' average width (0.55 em), not the generous 0.62 em used for margins, and against the plot
  // area plus the top margin on either side (the title is centred; left of the panels, the margins are free): one line
  // reads better than two, and the browser test checks that it stays in the figure.
  const room = oneLine.plotHeightPx + 2 * Math.max(0, Number((oneLine.layout.margin as { t: number }).t) - 2);
  const fits = (textWidthPx(spec.yTitle, look.fontPx) * 0.55) / 0.62 <= room;
  if (!spec.yTitle || fits || !spec.yTitle.includes(' ')) return oneLine;
  return gridLayoutWith(look, spec, 2);
}

function gridLayoutWith(look: FigureLook, spec: GridSpec, yTitleLines: 1 | 2): GridLayout & { plotHeightPx: number } {
  const f = look.fontPx;
  const W = look.widthPx;
  const line = 1.25 * f;
  const pad = Math.max(3, 0.35 * f);
  const tickLen = 3;
  const paper = look.style === 'paper';
  const yTickW = spec.yTickChars * 0.62 * f;
  const l0 = pad + line * yTitleLines + pad + yTickW + tickLen + 2;
  const r = Math.max(6, 0.5 * textWidthPx('0.00', f));
  const plotW0 = W - l0 - r;
  const hgap = spec.sharedY ? 1.6 * f : yTickW + 2 * f;
  const panelW = (plotW0 - hgap * (spec.cols - 1)) / spec.cols;
  if (panelW < 4 * f)
    throw new Error(
      `${spec.title}: a ${(W / PX_PER_IN).toFixed(2)} in wide figure is too narrow for ${spec.cols} panels side by side at ${(f / PX_PER_PT).toFixed(1)} pt text`,
    );
  // Category labels rotate to vertical when they do not fit in their slot; each row leaves room for its own labels.
  const perPanel = (v: number | number[], i: number) => (Array.isArray(v) ? (v[i] ?? 1) : v);
  const rotate = Array.from(
    { length: spec.panels },
    (_, i) =>
      spec.xCategories !== null &&
      perPanel(spec.xTickChars, i) * 0.62 * f > (panelW / perPanel(spec.xCategories, i)) * 0.9,
  );
  const tickHOf = (i: number) => (rotate[i] ? perPanel(spec.xTickChars, i) * 0.58 * f : line) + tickLen + 2;
  const rowTickH = Array.from({ length: spec.rows }, (_, r) =>
    Math.max(line + tickLen + 2, ...rotate.map((_, i) => (Math.floor(i / spec.cols) === r ? tickHOf(i) : 0))),
  );
  const xTickH = rowTickH[spec.rows - 1];
  const lRows = legendRows(spec.legendItems, W, f);
  const legendH = lRows ? lRows * (1.6 * f + 2) + 4 : 0;
  const b = pad + legendH + line + pad + xTickH;
  const panelTitleH = spec.panelTitles ? 1.5 * f : 0;
  const titleH = paper ? 0 : 2.2 * f;
  const t = pad + titleH + panelTitleH + (spec.panelTitles ? 0 : 0.6 * f);
  // Gap below row r: its tick labels, the next row's panel titles.
  const vgaps = rowTickH.slice(0, -1).map((h) => h + panelTitleH + pad);
  const gapsTotal = vgaps.reduce((a, g) => a + g, 0);
  let heightPx: number;
  let panelH: number;
  if (look.heightPx !== null) {
    heightPx = look.heightPx;
    panelH = (heightPx - t - b - gapsTotal) / spec.rows;
  } else if (look.screenRowPx !== null) {
    panelH = look.screenRowPx - t - b;
    heightPx = t + b + spec.rows * panelH + gapsTotal;
  } else {
    panelH = Math.min(Math.max(panelW * spec.aspect, 0.9 * PX_PER_IN), 2.4 * PX_PER_IN);
    // A whole hundredth of an inch, so the size reads cleanly in figure-data.json and LaTeX.
    heightPx = (Math.ceil(((t + b + spec.rows * panelH + gapsTotal) / PX_PER_IN) * 100) / 100) * PX_PER_IN;
    panelH = (heightPx - t - b - gapsTotal) / spec.rows;
  }
  if (panelH < 3 * f)
    throw new Error(
      `${spec.title}: a ${(heightPx / PX_PER_IN).toFixed(2)} in high figure leaves ${(panelH / PX_PER_IN).toFixed(2)} in per panel row; make it taller or use a size preset`,
    );
  const plotW = W - l0 - r;
  const plotH = heightPx - t - b;
  const cells: PanelCell[] = [];
  for (let i = 0; i < spec.panels; i++) {
    const row = Math.floor(i / spec.cols);
    const col = i % spec.cols;
    const x0 = (col * (panelW + hgap)) / plotW;
    const yTop = 1 - (row * panelH + vgaps.slice(0, row).reduce((a, g) => a + g, 0)) / plotH;
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
      titles.some((o) => textWidthPx(o[Math.min(level, o.length - 1)] ?? '', f * 1.05) > panelW)
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
  // Figure-wide axis titles, placed in the margins the tick labels leave free.
  const bottomOfGrid = Math.min(...cells.map((c) => c.y[0]));
  if (spec.xTitle)
    annotations.push({
      text: spec.xTitle,
      xref: 'paper',
      yref: 'paper',
      x: 0.5,
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
  const xTicks = Math.max(3, Math.floor(panelW / (2.6 * f)));
  const yTicks = Math.max(3, Math.floor(panelH / (1.8 * f)));
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
  const layout: Record<string, unknown> = {
    font: { family: fontStack(look), size: f, color: '#222' },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    hovermode: 'closest',
    width: W,
    height: heightPx,
    margin: { l: l0, r, t, b, pad: 0, autoexpand: false },
    showlegend: spec.legendItems.length > 0,
    legend: {
      orientation: 'h',
      xref: 'container',
      yref: 'container',
      x: 0.5,
      xanchor: 'center',
      y: 0,
      yanchor: 'bottom',
      font: { size: f },
      itemwidth: 30,
      tracegroupgap: 0,
      bgcolor: 'rgba(0,0,0,0)',
    },
  };
  if (!paper)
    layout.title = {
      text: spec.title,
      x: 0.5,
      xanchor: 'center',
      y: 1,
      yref: 'container',
      yanchor: 'top',
      pad: { t: pad },
      font: { size: f * 1.25 },
    };
  return {
    plotHeightPx: plotH,
    widthPx: W,
    heightPx,
    fontPx: f,
    layout,
    cells,
    annotations,
    xAxis: (i) => ({
      ...axisBase,
      domain: cells[i].x,
      anchor: axisName('y', i),
      ...(spec.xCategories === null ? { nticks: xTicks } : { type: 'category', tickmode: 'linear', dtick: 1 }),
      tickangle: rotate[i] ? -90 : 0,
    }),
    yAxis: (i) => ({
      ...axisBase,
      domain: cells[i].y,
      anchor: axisName('x', i),
      nticks: yTicks,
      ...(spec.sharedY && i > 0 ? { matches: 'y', showticklabels: cells[i].col === 0 } : {}),
    }),
  };
}
