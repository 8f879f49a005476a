/**
 * Headless Chromium for the static formats: one browser, the Plotly bundle loaded in one page that draws each figure's
 * SVG, a second that rasterises SVGs as PNGs and a third that prints them as PDFs (three processes, so three figures
 * are worked on at once). A run opens it once and reuses it for all its figures.
 */
import * as fs from 'node:fs';
import { escapeHtml } from './html';
import { type PlotlyBundleKind, type PlotlyFigure, bundleKindFor, plotlyBundlePath } from './plotly-html';
import { PX_PER_IN } from './figure-look';

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

function bundleKindOfUrl(url: string): PlotlyBundleKind {
  return /\/full(\.js|\.html)$/.test(url) ? 'full' : 'figures';
}

/** Opens the renderer's page for a bundle and checks that Plotly is there. */
async function loadPlotly(page: PwPage, kind: PlotlyBundleKind): Promise<void> {
  await page.goto(`${RENDER_ORIGIN}/${kind}.html`);
  const ok = await page.evaluate(() => typeof (window as unknown as { Plotly?: unknown }).Plotly === 'object');
  if (!ok) throw new Error(`the Plotly bundle (${plotlyBundlePath(kind)}) did not define window.Plotly`);
}

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
    private readonly plotKind: PlotlyBundleKind,
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
      // The pages and the Plotly bundles are answered here from the installed files (a later route takes
      // precedence). Loaded as a script file a bundle starts in about half the time of the same inline script.
      await context.route(`${RENDER_ORIGIN}/**`, (route) => {
        const kind = bundleKindOfUrl(route.request().url());
        return route.request().url().endsWith('.js')
          ? route.fulfill({ path: plotlyBundlePath(kind), contentType: 'text/javascript; charset=utf-8' })
          : route.fulfill({
              contentType: 'text/html; charset=utf-8',
              body: `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/${kind}.js"></script></head><body></body></html>`,
            });
      });
      const [plotPage, rasterPage, printPage] = await Promise.all([
        context.newPage(),
        context.newPage(),
        context.newPage(),
      ]);
      // The project's bundle when it is there (bundleKindFor of no figure), else the full one.
      const plotKind = bundleKindFor([]);
      await loadPlotly(plotPage, plotKind);
      return new FigureRenderer(browser, plotKind, plotPage, rasterPage, printPage);
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

  /** A page with the full bundle, opened for the first figure of a trace type the figures bundle lacks. */
  private fullPlot: Promise<SerialPage> | null = null;

  private plotPageFor(fig: PlotlyFigure): Promise<SerialPage> {
    if (this.plotKind === 'full' || bundleKindFor([fig]) === 'figures') return Promise.resolve(this.plot);
    this.fullPlot ??= (async () => {
      const page = await this.plot.page.context().newPage();
      await loadPlotly(page, 'full');
      return new SerialPage(page);
    })();
    return this.fullPlot;
  }

  /** Plotly's SVG of the figure at this size, drawn as Plotly.toImage draws it. */
  async svg(fig: PlotlyFigure, size: ImageSize): Promise<string> {
    return (await this.plotPageFor(fig)).run((page) =>
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

/** A renderer on its way (openRenderer's promise): a caller can start Chromium before its figures are built. */
export type OpeningRenderer = Promise<{ renderer: FigureRenderer | null; unavailable: string | null }>;
