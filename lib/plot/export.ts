/**
 * Figure export: interactive HTML with Plotly inlined (works offline), and SVG, PDF (vector) and PNG rendered by
 * Plotly itself in headless Chromium (renderer.ts). A run opens the browser once and reuses it for all its figures.
 */
import * as path from 'node:path';
import { FIGURE_FORMATS, type FigureFormat } from '../core/config';
import { type PlotlyFigure, figureHtmlPage } from './plotly-html';
import { writeFileAtomic } from '../core/io';
import { Progress } from '../core/progress';
import { type FigureLook, type LookOverrides, PX_PER_IN } from './figure-look';
import { type FigureRenderer, type ImageSize, type OpeningRenderer, chromiumPath, openRenderer } from './renderer';

export {
  CHROMIUM_ARGS,
  ChromiumUnavailableError,
  DEFAULT_CHROMIUM,
  FigureRenderer,
  type ImageSize,
  type OpeningRenderer,
  chromiumMissingMessage,
  chromiumPath,
  openRenderer,
} from './renderer';
export type { PlotlyFigure } from './plotly-html';

export { FIGURE_FORMATS, type FigureFormat } from '../core/config';
const STATIC_FORMATS: readonly FigureFormat[] = ['svg', 'pdf', 'png'];

export function checkFormats(formats: readonly string[]): FigureFormat[] {
  for (const f of formats) {
    if (!(FIGURE_FORMATS as readonly string[]).includes(f)) {
      throw new Error(
        `unknown figure format "${f}" (known: ${FIGURE_FORMATS.join(', ')}); set "figures.formats" in the configuration`,
      );
    }
  }
  return [...new Set(formats)] as FigureFormat[];
}

// ---------- writing files ----------

export interface ExportOptions extends LookOverrides {
  /** Defaults to layout.width / layout.height of the figure, else 1200 × 420. */
  width?: number;
  height?: number;
  /** PNG pixel density: the PNG is width·scale × height·scale pixels. */
  pngScale?: number;
  /**
   * Needed for svg, pdf and png. Left out, one is launched for this call (and closed); null: those formats are
   * skipped with `unavailableReason`.
   */
  renderer?: FigureRenderer | null;
  unavailableReason?: string | null;
  title?: string;
}

export interface ExportResult {
  files: string[];
  skipped: { format: FigureFormat; reason: string }[];
}

export function figureSize(fig: PlotlyFigure, opts: { width?: number; height?: number } = {}): ImageSize {
  const width = opts.width ?? (typeof fig.layout.width === 'number' ? fig.layout.width : 1200);
  const height = opts.height ?? (typeof fig.layout.height === 'number' ? fig.layout.height : 420);
  return { width, height };
}

/** Inches as the SVG's own width and height (the drawing keeps its pixel coordinates in the viewBox). */
export function svgInInches(svg: string, size: ImageSize): string {
  const w = size.width / PX_PER_IN;
  const h = size.height / PX_PER_IN;
  return svg.replace(/^<svg\b[^>]*>/, (tag) => {
    let t = tag
      .replace(/\swidth="[^"]*"/, ` width="${+w.toFixed(4)}in"`)
      .replace(/\sheight="[^"]*"/, ` height="${+h.toFixed(4)}in"`);
    if (!/\sviewBox=/.test(t)) t = t.replace(/^<svg\b/, `<svg viewBox="0 0 ${size.width} ${size.height}"`);
    return t;
  });
}

function lookOverridesOf(opts: LookOverrides): LookOverrides | null {
  const o: LookOverrides = {};
  for (const k of ['style', 'size', 'fontPt', 'font', 'dpi'] as const)
    if (opts[k] !== undefined) (o as Record<string, unknown>)[k] = opts[k];
  return Object.keys(o).length ? o : null;
}

/**
 * Writes `<fileBase>.<format>` for each format (atomically). A figure from buildFigures/runPlot can be exported in
 * another style or size in one call (`{ size: 'single-column', style: 'paper' }`): it is rebuilt for that look, so
 * margins, legend and ticks are laid out for it; SVG and PDF then have that size in inches and the PNG
 * inches × dpi pixels. Static formats need a renderer (launched for the call when `opts.renderer` is left out).
 */
export async function exportFigure(
  fig: PlotlyFigure | RestylableFigure,
  fileBase: string,
  formats: readonly string[],
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const wanted = checkFormats(formats);
  // The dpi changes only the PNG's pixels, not the layout: it needs no rebuilding.
  const { dpi, ...layoutChanges } = opts;
  const lookOverrides = lookOverridesOf(layoutChanges);
  let plotly: PlotlyFigure;
  let look: FigureLook | null = null;
  let legend: PlotlyFigure | null = null;
  if ('figure' in fig) {
    const built = lookOverrides ? rebuildFigure(fig, { ...lookOverrides, ...(dpi !== undefined ? { dpi } : {}) }) : fig;
    plotly = built.figure;
    look = built.look ?? null;
    legend = built.legend ?? null;
  } else {
    if (lookOverrides || dpi !== undefined)
      throw new Error(
        `exportFigure ${path.basename(fileBase)}: style, size, font and dpi need a figure from buildFigures or runPlot (it is rebuilt for them), not a bare Plotly spec`,
      );
    plotly = fig;
  }
  const size = figureSize(plotly, opts);
  const inInches = look !== null && look.request.size !== null && opts.width === undefined && opts.height === undefined;
  const inchScale = dpi !== undefined && look?.request.size ? dpi / PX_PER_IN : null;
  const scale = opts.pngScale ?? inchScale ?? (look ? look.pngScale : 1);
  if (!(scale > 0)) throw new Error(`PNG scale must be > 0, got ${scale} (figures.pngScale)`);
  const sized: PlotlyFigure = {
    data: plotly.data,
    layout: { ...plotly.layout, width: size.width, height: size.height },
  };
  const result: ExportResult = { files: [], skipped: [] };
  const ownRenderer =
    opts.renderer === undefined && wanted.some((f) => STATIC_FORMATS.includes(f))
      ? await openRenderer(chromiumPath())
      : null;
  const renderer = ownRenderer ? ownRenderer.renderer : (opts.renderer ?? null);
  const unavailable = ownRenderer?.unavailable ?? opts.unavailableReason ?? 'no renderer (Chromium) was given';
  try {
    // A legend placed outside the figure is written beside it, in the same formats.
    const parts: [PlotlyFigure, string][] = [[sized, fileBase]];
    if (legend) parts.push([legend, `${fileBase}-legend`]);
    for (const [part, base] of parts) {
      const partSize = part === sized ? size : figureSize(part);
      // One drawing of the figure: its SVG is written, printed as the PDF and rasterised as the PNG.
      let drawing: Promise<string> | null = null;
      const work: Promise<void>[] = [];
      for (const format of wanted) {
        const file = `${base}.${format}`;
        if (format === 'html') {
          writeFileAtomic(file, figureHtmlPage(part, opts.title ?? path.basename(base)));
          result.files.push(file);
          continue;
        }
        if (!renderer) {
          if (part === sized) result.skipped.push({ format, reason: unavailable });
          continue;
        }
        drawing ??= renderer.svg(part, partSize);
        const svg = await drawing;
        result.files.push(file);
        if (format === 'svg') writeFileAtomic(file, inInches ? svgInInches(svg, partSize) : svg);
        else if (format === 'pdf')
          work.push(
            renderer
              .pdf(part, partSize, svg, opts.title ?? path.basename(base))
              .then((pdf) => writeFileAtomic(file, pdf)),
          );
        else work.push(renderer.png(part, partSize, scale, svg).then((png) => writeFileAtomic(file, png)));
      }
      // The PNG and the PDF are made on their own pages at the same time.
      await Promise.all(work);
    }
  } finally {
    if (ownRenderer) await ownRenderer.renderer?.close();
  }
  return result;
}

export interface NamedFigure {
  /** File name without extension, e.g. "entropy-trend". */
  name: string;
  title: string;
  figure: PlotlyFigure;
  /** The look it was built for (sizes in inches, PNG scale). */
  look?: FigureLook;
  /** The legend as a figure of its own, when it is placed outside (written as `<name>-legend.<format>`). */
  legend?: PlotlyFigure | null;
}

/** A figure that can be built again for another look (buildFigures attaches `rebuild`, not enumerable). */
export interface RestylableFigure extends NamedFigure {
  rebuild?: (look: LookOverrides) => NamedFigure;
}

export function rebuildFigure(fig: RestylableFigure, look: LookOverrides): NamedFigure {
  if (!fig.rebuild) throw new Error(`figure "${fig.name}" cannot be restyled: build it with buildFigures or runPlot`);
  return fig.rebuild(look);
}

/** Figures in flight at once: the drawing page goes on while earlier figures wait to be rasterised and printed. */
const FIGURES_IN_FLIGHT = 6;

/**
 * Exports many figures into `dir`, opening Chromium once when a static format is asked for (it starts while the HTML
 * files are written), or using `opening`, a renderer the caller started earlier (closed here in any case). A missing
 * Chromium is logged once (with the install command) and its formats are listed in `skipped`; the HTML files are
 * still written.
 */
export async function exportFigures(
  figures: NamedFigure[],
  dir: string,
  formats: readonly string[],
  opts: { pngScale?: number; log?: (s: string) => void; executable?: string; opening?: OpeningRenderer | null } = {},
): Promise<ExportResult> {
  const wanted = checkFormats(formats);
  const log = opts.log ?? (() => undefined);
  const staticFormats = wanted.filter((f) => STATIC_FORMATS.includes(f));
  const pending =
    opts.opening ?? (staticFormats.length && figures.length ? openRenderer(opts.executable ?? chromiumPath()) : null);
  const all: ExportResult = { files: [], skipped: [] };
  let renderer: FigureRenderer | null = null;
  try {
    if (wanted.includes('html')) {
      for (const f of figures)
        all.files.push(
          ...(await exportFigure(f, path.join(dir, f.name), ['html'], { title: f.title, renderer: null })).files,
        );
    }
    if (!pending || !staticFormats.length || !figures.length) return all;
    const opened = await pending;
    renderer = opened.renderer;
    if (opened.unavailable) {
      log(`${opened.unavailable}\nSkipping ${staticFormats.join(', ')}.`);
      all.skipped.push(...staticFormats.map((format) => ({ format, reason: opened.unavailable! })));
      return all;
    }
    const progress = new Progress({
      label: `export ${path.basename(dir)}`,
      total: figures.length,
      unit: 'figures',
      intervalMs: 2000,
      write: opts.log ? log : undefined,
    });
    const files: string[][] = figures.map(() => []);
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < figures.length) {
        const k = next++;
        const f = figures[k];
        const r = await exportFigure(f, path.join(dir, f.name), staticFormats, {
          renderer,
          pngScale: f.look?.request.size ? undefined : opts.pngScale,
          title: f.title,
        });
        files[k] = r.files;
        progress.tick();
      }
    };
    await Promise.all(Array.from({ length: Math.min(FIGURES_IN_FLIGHT, figures.length) }, lane));
    // Listed in the figures' order whatever order they finished in.
    for (const f of files) all.files.push(...f);
    return all;
  } finally {
    if (pending && !renderer) renderer = (await pending.catch(() => ({ renderer: null }))).renderer;
    await renderer?.close();
  }
}
