/** The legend: an even grid of entries (names wrapped to their column), and the legend alone as a figure. */
import { textWidthPx } from './figure-look';

/**
 * Plotly's legend geometry (plotly.js src/components/legend): an entry is its symbol (itemwidth 30 + two 5 px gaps)
 * then its text; its height is max(lines × 1.3 em, 16) + 3; a legend adds 5 px above and below its entries.
 */
const LEGEND_SYMBOL_PX = 40;
const LEGEND_END_PAD = 10;
export const LEGEND_MAX_SHARE = 0.25;

export function legendEntryHeight(lines: number, f: number): number {
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

export interface LegendGrid {
  cols: number;
  /** Per item, its text with `<br>` where it wraps. */
  names: string[];
  height: number;
}

/**
 * The legend as a grid of equal columns across `widthPx` (Plotly's `entrywidthmode: 'fraction'`), rows filled left to
 * right; of the column counts whose names fit in two lines, the lowest legend wins (then the fewest wrapped names).
 */
export function legendGrid(
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

export interface LegendFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/** The legend alone: the same traces (so the same symbols), drawn outside a plot area kept one pixel high. */
export function legendOnlyFigure(
  traces: Record<string, unknown>[],
  grid: LegendGrid,
  o: { widthPx: number; padPx: number; font: unknown; legendBase: Record<string, unknown> },
): LegendFigure {
  const W = o.widthPx;
  const pad = o.padPx;
  const shown = traces.filter((tr) => tr.showlegend !== false && tr.visible !== false);
  const axes: Record<string, unknown> = {};
  for (const tr of shown)
    for (const kind of ['x', 'y'] as const) {
      const key = `${kind}axis${String(tr[`${kind}axis`] ?? kind).slice(1)}`;
      axes[key] = { visible: false, range: [1e9, 1e9 + 1], fixedrange: true };
    }
  const H = Math.ceil(grid.height + 2);
  return {
    data: shown.map((tr) => ({ ...tr, hoverinfo: 'skip', hovertemplate: undefined })),
    layout: {
      font: o.font,
      paper_bgcolor: '#ffffff',
      plot_bgcolor: 'rgba(0,0,0,0)',
      width: W,
      height: H,
      margin: { l: pad, r: pad, t: 0, b: H - 1, pad: 0, autoexpand: false },
      showlegend: true,
      legend: {
        ...o.legendBase,
        orientation: 'h',
        entrywidthmode: 'fraction',
        entrywidth: 1 / grid.cols,
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
}
