/**
 * Plotly in HTML without a network: the browser bundle read from node_modules and inlined, a figure as a div plus the
 * script that draws it (for pages, the report and notebooks), and a self-contained page for one figure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../core/config';
import { escapeHtml } from './html';

/** A Plotly figure as plain JSON: what `Plotly.newPlot(div, data, layout)` takes. */
export interface PlotlyFigure {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
}

/**
 * Which Plotly: `figures`, the project's own bundle with only the trace types its figures use (FIGURE_BUNDLE_TRACES;
 * 1.2 MB, starts in a page in ~0.5 s), or `full`, every trace type (4.8 MB, ~2.3 s). Figures of other trace types,
 * and notebooks where a researcher may draw anything, get the full one, as does every figure while the project's bundle
 * is not built (scripts/setup.mjs builds it; without a registry it stays missing).
 */
export type PlotlyBundleKind = 'figures' | 'full';

/** The trace types in .cache/plotly/plotly-figures.min.js (scripts/build-plotly-bundle.mjs registers the same). */
export const FIGURE_BUNDLE_TRACES: readonly string[] = ['scatter', 'bar', 'box', 'table'];

function figureBundleFile(): string {
  return path.join(repoRoot(), '.cache', 'plotly', 'plotly-figures.min.js');
}

/** `figures` when every trace of every figure is of a type the project's bundle holds, else `full`. */
export function bundleKindFor(figures: readonly PlotlyFigure[]): PlotlyBundleKind {
  const covered = figures.every((f) =>
    f.data.every((trace) => FIGURE_BUNDLE_TRACES.includes(typeof trace.type === 'string' ? trace.type : 'scatter')),
  );
  return covered && fs.existsSync(figureBundleFile()) ? 'figures' : 'full';
}

/**
 * The browser bundle. plotly.js-dist ships only the unminified `plotly.js` (10 MB); the minified copy of the same
 * release comes from plotly.js-dist-min (4.8 MB), which halves every self-contained HTML file. The `figures` bundle is
 * built from the same release (scripts/build-plotly-bundle.mjs).
 */
export function plotlyBundlePath(kind: PlotlyBundleKind = 'full'): string {
  if (kind === 'figures') {
    const file = figureBundleFile();
    if (!fs.existsSync(file))
      throw new Error(`cannot find ${file}; run \`npm run plotly-bundle\` in ${repoRoot()} to build it`);
    return file;
  }
  const candidates = [
    ['plotly.js-dist-min', 'plotly.min.js'],
    ['plotly.js-dist', 'plotly.min.js'],
    ['plotly.js-dist', 'plotly.js'],
  ];
  const tried: string[] = [];
  for (const [pkg, file] of candidates) {
    let dir: string;
    try {
      dir = path.dirname(require.resolve(`${pkg}/package.json`, { paths: [repoRoot(), __dirname] }));
    } catch {
      tried.push(`${pkg}/${file} (package not installed)`);
      continue;
    }
    const p = path.join(dir, file);
    if (fs.existsSync(p)) return p;
    tried.push(p);
  }
  throw new Error(`cannot find the Plotly browser bundle; tried ${tried.join(', ')}. Run \`npm ci\` in ${repoRoot()}.`);
}

const bundleCache = new Map<PlotlyBundleKind, string>();

export function plotlyBundle(kind: PlotlyBundleKind = 'full'): string {
  let text = bundleCache.get(kind);
  if (text === undefined) {
    // An HTML parser ends a script element at the first "</script"; the bundle must not contain one.
    text = fs.readFileSync(plotlyBundlePath(kind), 'utf8').replace(/<\/script/gi, '<\\/script');
    bundleCache.set(kind, text);
  }
  return text;
}

/** The inlined bundle as one script element: put it once in a page (or a notebook) before any figure fragment. */
export function plotlyScriptTag(kind: PlotlyBundleKind = 'full'): string {
  return `<script type="text/javascript">${plotlyBundle(kind)}</script>`;
}

/** JSON that is safe inside an HTML script element. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface FragmentOptions {
  /** Plotly's image-button file name. */
  filename?: string;
  /**
   * Responsive width: the figure takes its container's width (at most layout.width, the width it was laid out for)
   * and redraws when the container changes size; its height stays layout.height.
   */
  responsive?: boolean;
}

/**
 * A div plus the script that draws the figure into it. It needs `plotlyScriptTag()` somewhere on the page; if the
 * bundle arrives later (or never: an untrusted notebook), it waits a few seconds and then says what is missing.
 */
export function figureHtmlFragment(fig: PlotlyFigure, divId: string, opts: FragmentOptions = {}): string {
  if (!/^[A-Za-z][\w-]*$/.test(divId))
    throw new Error(`figure div id "${divId}" must start with a letter and hold only letters, digits, "_" and "-"`);
  const width = typeof fig.layout.width === 'number' ? fig.layout.width : null;
  const height = typeof fig.layout.height === 'number' ? fig.layout.height : 450;
  const style = opts.responsive
    ? `width:100%;${width === null ? '' : `max-width:${width}px;`}height:${height}px`
    : width === null
      ? `width:100%;height:${height}px`
      : `width:${width}px;height:${height}px;max-width:100%`;
  const config = {
    displaylogo: false,
    responsive: Boolean(opts.responsive),
    toImageButtonOptions: { format: 'svg', filename: opts.filename ?? divId },
  };
  const layout = opts.responsive ? { ...fig.layout, width: undefined, autosize: true } : fig.layout;
  return [
    `<div id="${divId}" class="ubp-figure" style="${style}"></div>`,
    '<script type="text/javascript">',
    '(function () {',
    `  var fig = ${jsonForScript({ data: fig.data, layout })};`,
    `  var config = ${jsonForScript(config)};`,
    '  var tries = 0;',
    '  function draw() {',
    `    var div = document.getElementById(${jsonForScript(divId)});`,
    '    if (window.Plotly && div) {',
    '      window.Plotly.newPlot(div, fig.data, fig.layout, config);',
    // Plotly's `responsive` follows only window resizes; a notebook's output area also changes width on its own
    // (JupyterLab side panels, VS Code's editor split, an output shown after being hidden).
    `      if (config.responsive && window.ResizeObserver) new ResizeObserver(function () { if (div.offsetWidth) window.Plotly.Plots.resize(div); }).observe(div);`,
    '      return;',
    '    }',
    '    if (++tries < 100) { setTimeout(draw, 50); return; }',
    "    if (div) div.textContent = 'Plotly is not loaded: run ubp.notebookPlotlyInit() (or include plotlyScriptTag()) before this figure; in Jupyter, trust the notebook.';",
    '  }',
    '  draw();',
    '})();',
    '</script>',
  ].join('\n');
}

/** A complete, self-contained page for one figure. */
export function figureHtmlPage(fig: PlotlyFigure, title: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    '<style>body{margin:16px;font-family:sans-serif;background:#fff}</style>',
    plotlyScriptTag(bundleKindFor([fig])),
    '</head>',
    '<body>',
    figureHtmlFragment(fig, 'figure', { filename: title.replace(/[^\w.-]+/g, '_') }),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
