/**
 * Figures inline in tslab notebooks without the internet. Two ways:
 * - interactive: `tslab.display.html(ubp.notebookPlotlyInit())` once (it inlines the Plotly bundle), then
 *   `ubp.showFigure(fig)` per figure (a div plus a script that draws into it);
 * - static: `await ubp.displaySvg(fig)` renders the SVG in headless Chromium and shows it as image/svg+xml, which
 *   every notebook viewer displays (also untrusted notebooks and GitHub), at the cost of interactivity.
 * tslab is loaded lazily: the CLI and tests import this module without a kernel.
 */
import { type FigureRenderer, type PlotlyFigure, figureSize, openRenderer } from './export';
import { figureHtmlFragment, plotlyScriptTag } from './plotly-html';

type TslabDisplay = { html(s: string): void; svg(s: string): void };

function tslabDisplay(): TslabDisplay {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('tslab') as { display: TslabDisplay }).display;
  } catch (e) {
    throw new Error(`displaying figures needs the tslab kernel (${(e as Error).message})`);
  }
}

let counter = 0;
// Div ids must be unique across every output of a notebook page, also across kernel restarts.
const session = process.pid.toString(36) + Date.now().toString(36);

export function nextFigureId(): string {
  counter += 1;
  return `ubp-fig-${session}-${counter}`;
}

/** HTML for one notebook output that loads Plotly (inlined, no network); display it once before any figure. */
export function notebookPlotlyInit(): string {
  return `${plotlyScriptTag()}\n<div style="color:#666;font-size:12px">Plotly loaded inline (offline): figures below are interactive.</div>`;
}

/**
 * The HTML of one figure for a notebook output (needs notebookPlotlyInit() displayed earlier): responsive, so it fits
 * the output area of classic Notebook, JupyterLab and VS Code whatever width it was laid out for.
 */
export function figureNotebookHtml(fig: PlotlyFigure, divId = nextFigureId()): string {
  return figureHtmlFragment(fig, divId, { responsive: true });
}

/** Shows an interactive figure in the current tslab cell. */
export function showFigure(fig: PlotlyFigure | { figure: PlotlyFigure }): void {
  const f = 'figure' in fig ? fig.figure : fig;
  tslabDisplay().html(figureNotebookHtml(f));
}

let svgRenderer: Promise<{ renderer: FigureRenderer | null; unavailable: string | null }> | null = null;

/** Renders a figure to SVG markup with a shared headless Chromium (started on first use). */
export async function figureSvg(
  fig: PlotlyFigure | { figure: PlotlyFigure },
  size?: { width?: number; height?: number },
): Promise<string> {
  const f = 'figure' in fig ? fig.figure : fig;
  svgRenderer ??= openRenderer();
  const { renderer, unavailable } = await svgRenderer;
  if (!renderer) throw new Error(unavailable ?? 'Chromium is unavailable');
  return renderer.svg(f, figureSize(f, size));
}

/** Shows a figure as static SVG in the current tslab cell (the fallback when HTML scripts do not run). */
export async function displaySvg(
  fig: PlotlyFigure | { figure: PlotlyFigure },
  size?: { width?: number; height?: number },
): Promise<void> {
  tslabDisplay().svg(await figureSvg(fig, size));
}

/** Closes the browser started by figureSvg/displaySvg (call at the end of a notebook). */
export async function closeDisplayRenderer(): Promise<void> {
  if (!svgRenderer) return;
  const { renderer } = await svgRenderer;
  svgRenderer = null;
  await renderer?.close();
}
