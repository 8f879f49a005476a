/**
 * Figure export: interactive HTML with Plotly inlined (works offline), and SVG, PDF (vector) and PNG rendered by
 * Plotly itself in headless Chromium through playwright-core. Plotly is browser-only, so every static format goes
 * through one browser page that holds the bundle; a run opens the browser once and reuses it for all its figures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIGURE_FORMATS, type FigureFormat, repoRoot } from '../core/config';
import { escapeHtml } from './html';
import { type PlotlyFigure, figureHtmlPage, plotlyBundlePath } from './plotly-html';
import { writeFileAtomic } from '../core/io';
import { Progress } from '../core/progress';
import { type FigureLook, type LookOverrides, PX_PER_IN } from './figure-look';

export type { PlotlyFigure } from './plotly-html';

export { FIGURE_FORMATS, type FigureFormat } from '../core/config';
const STATIC_FORMATS: readonly FigureFormat[] = ['svg', 'pdf', 'png'];

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

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

// ---------- headless Chromium ----------

export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.UBP_CHROMIUM || DEFAULT_CHROMIUM;
}

export function chromiumMissingMessage(executable: string, detail?: string): string {
  return (
    `Chromium is needed for SVG, PDF and PNG export but ${detail ?? `was not found at ${executable}`}.\n` +
    '  Debian/Ubuntu: sudo apt-get install -y chromium\n' +
    '  macOS: brew install --cask chromium\n' +
    '  Or point UBP_CHROMIUM at a Chromium or Chrome executable. The HTML export does not need it.'
  );
}

type PwBrowser = import('playwright-core').Browser;
type PwPage = import('playwright-core').Page;

export interface ImageSize {
  width: number;
  height: number;
}

/** The address the renderer's page is served from (intercepted, never fetched): Plotly loads as a script file. */
const RENDER_ORIGIN = 'http://ubp-figures.invalid';

/**
 * One page of the renderer, used by one task at a time: each page is its own Chromium process, so three pages
 * (drawing, rasterising, printing) work on three figures at once while each keeps its order.
 */
class SerialPage {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(readonly page: PwPage) {}

  run<T>(task: (page: PwPage) => Promise<T>): Promise<T> {
    const done = this.chain.then(() => task(this.page));
    this.chain = done.catch(() => undefined);
    return done;
  }
}

/** One headless browser with the Plotly bundle loaded; render many figures, then `close()`. */
export class FigureRenderer {
  private readonly plot: SerialPage;
  private readonly raster: SerialPage;
  private readonly print: SerialPage;

  private constructor(
    private readonly browser: PwBrowser,
    plotPage: PwPage,
    rasterPage: PwPage,
    printPage: PwPage,
  ) {
    this.plot = new SerialPage(plotPage);
    this.raster = new SerialPage(rasterPage);
    this.print = new SerialPage(printPage);
  }

  /** Launches Chromium; throws with the install command when it is missing or does not start. */
  static async launch(executable = chromiumPath()): Promise<FigureRenderer> {
    if (!fs.existsSync(executable)) throw new ChromiumUnavailableError(chromiumMissingMessage(executable));
    const { chromium } = await import('playwright-core');
    let browser: PwBrowser;
    try {
      browser = await chromium.launch({ executablePath: executable, headless: true, args: CHROMIUM_ARGS });
    } catch (e) {
      const first = String((e as Error).message).split('\n')[0];
      throw new ChromiumUnavailableError(
        chromiumMissingMessage(executable, `did not start from ${executable} (${first})`),
      );
    }
    try {
      const context = await browser.newContext();
      // Nothing a figure needs comes from the network; refuse every request so an export can never depend on it.
      await context.route(/^https?:/, (route) => route.abort());
      // The page and the Plotly bundle are answered here from the installed package (a later route takes
      // precedence). Loaded as a script file it starts in about half the time of a 4.8 MB inline script.
      const bundle = plotlyBundlePath();
      await context.route(`${RENDER_ORIGIN}/**`, (route) =>
        route.request().url().endsWith('/plotly.js')
          ? route.fulfill({ path: bundle, contentType: 'text/javascript; charset=utf-8' })
          : route.fulfill({
              contentType: 'text/html; charset=utf-8',
              body: '<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/plotly.js"></script></head><body></body></html>',
            }),
      );
      const [plotPage, rasterPage, printPage] = await Promise.all([
        context.newPage(),
        context.newPage(),
        context.newPage(),
      ]);
      await plotPage.goto(`${RENDER_ORIGIN}/index.html`);
      const ok = await plotPage.evaluate(() => typeof (window as unknown as { Plotly?: unknown }).Plotly === 'object');
      if (!ok) throw new Error(`the Plotly bundle (${bundle}) did not define window.Plotly`);
      return new FigureRenderer(browser, plotPage, rasterPage, printPage);
    } catch (e) {
      await browser.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * The page that holds Plotly, for a caller that shows figures itself (a test of the interactive output); use it
   * between exports, not during one.
   */
  get plotlyPage(): PwPage {
    return this.plot.page;
  }

  /** Plotly's SVG of the figure at this size, drawn as Plotly.toImage draws it. */
  async svg(fig: PlotlyFigure, size: ImageSize): Promise<string> {
    return this.plot.run((page) =>
      page.evaluate(
        async ({ fig, size }) => {
          const P = (window as unknown as { Plotly: { toImage: (f: unknown, o: unknown) => Promise<string> } }).Plotly;
          return P.toImage(
            { data: fig.data, layout: fig.layout },
            { format: 'svg', width: size.width, height: size.height, imageDataOnly: true },
          );
        },
        { fig, size },
      ),
    );
  }

  /**
   * The PNG of a figure: its SVG (drawn when not given) rasterised at width·scale × height·scale pixels, the way
   * Plotly's svgToImg does it (an image of the SVG drawn on a canvas), on a page of its own.
   */
  async png(fig: PlotlyFigure, size: ImageSize, scale: number, svg?: string): Promise<Buffer> {
    const markup = svg ?? (await this.svg(fig, size));
    const url = await this.raster.run((page) =>
      page.evaluate(
        async ({ svg, size, scale }) => {
          const canvas = document.createElement('canvas');
          canvas.width = scale * size.width;
          canvas.height = scale * size.height;
          const src = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml;charset=utf-8' }));
          try {
            const img = new Image();
            await new Promise((resolve, reject) => {
              img.onload = resolve;
              img.onerror = () => reject(new Error('the SVG did not load as an image'));
              img.src = src;
            });
            canvas.getContext('2d')!.drawImage(img, 0, 0, canvas.width, canvas.height);
          } finally {
            URL.revokeObjectURL(src);
          }
          return canvas.toDataURL('image/png');
        },
        // A canvas floors width × scale; 3.3 in × 300 dpi computed as 316.8 px × 3.125 is 989.99…, so nudge it up.
        { svg: markup, size, scale: scale * (1 + 1e-9) },
      ),
    );
    const prefix = 'data:image/png;base64,';
    if (!url.startsWith(prefix)) throw new Error(`the PNG came back as an unexpected data URL (${url.slice(0, 40)}…)`);
    return Buffer.from(url.slice(prefix.length), 'base64');
  }

  /** Vector PDF: Chromium prints Plotly's SVG on one page of exactly the figure's size. */
  async pdf(fig: PlotlyFigure, size: ImageSize, svg?: string, title = 'figure'): Promise<Buffer> {
    const markup = svg ?? (await this.svg(fig, size));
    const html =
      `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>` +
      `@page{size:${size.width}px ${size.height}px;margin:0}html,body{margin:0;padding:0;overflow:hidden}svg{display:block}` +
      `</style></head><body>${markup}</body></html>`;
    return this.print.run(async (page) => {
      await page.setContent(html);
      // Chromium prints 96 CSS px per inch, so the page is exactly the figure's size in inches (points = px × 0.75).
      return page.pdf({
        width: `${size.width / PX_PER_IN}in`,
        height: `${size.height / PX_PER_IN}in`,
        printBackground: true,
        pageRanges: '1',
      });
    });
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

export class ChromiumUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChromiumUnavailableError';
  }
}

/** Launches the renderer, or explains why static export is unavailable (never throws for a missing browser). */
export async function openRenderer(
  executable = chromiumPath(),
): Promise<{ renderer: FigureRenderer | null; unavailable: string | null }> {
  try {
    return { renderer: await FigureRenderer.launch(executable), unavailable: null };
  } catch (e) {
    if (e instanceof ChromiumUnavailableError) return { renderer: null, unavailable: e.message };
    throw e;
  }
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

/** A renderer on its way (openRenderer's promise): a caller can start Chromium before its figures are built. */
export type OpeningRenderer = Promise<{ renderer: FigureRenderer | null; unavailable: string | null }>;

/** Figures in flight at once: one is drawn while those before it are rasterised and printed (every page busy). */
const FIGURES_IN_FLIGHT = 3;

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
