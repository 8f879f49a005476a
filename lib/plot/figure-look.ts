/**
 * How a figure looks and how big it is: the style (screen or paper), the size (CSS pixels, or inches for a paper's
 * column), the text size and font, and how wide its text runs. figure-grid.ts lays the panels out for that size.
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
