/**
 * The panel grid of a figure for its look: columns, margins, heights, and where the legend goes, computed from the
 * size, the text size and the figure's content; test/figure-layout.test.ts and test/figure-sweep.test.ts check the
 * result in a real browser.
 */
import { type FigureLook, PX_PER_IN, PX_PER_PT, fontStack, textWidthPx } from './figure-look';
import {
  LEGEND_MAX_SHARE,
  type LegendFigure,
  type LegendGrid,
  legendGrid,
  legendOnlyFigure,
  wrapText,
} from './figure-legend';
import { DIGIT_EM, applyTicks, axisName } from './figure-ticks';
export { axisName, layoutAxisKey } from './figure-ticks';
export type { LegendFigure } from './figure-legend';

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
    applyTicks(lay, traces, {
      panels: Math.max(1, spec.panels),
      sharedY: spec.sharedY,
      panelW,
      panelH,
      fontPx: f,
      yTickChars: spec.yTickChars,
      yPercent: spec.yPercent ?? false,
    });
    if (p.place !== 'outside' || !p.legend) return null;
    return legendOnlyFigure(traces, p.legend, { widthPx: W, padPx: pad, font: layout.font, legendBase });
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
