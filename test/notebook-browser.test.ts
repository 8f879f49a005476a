// Notebook 05 in a real browser: a Jupyter Notebook server on 127.0.0.1 with the repository's tslab kernel, Debian
// Chromium driven by playwright-core, every cell run through the page (Jupyter.notebook.execute_all_cells()).
// Asserts that no cell shows an error, that every Plotly figure is drawn inside its output area (at a 1,400 px window
// and again after the window narrows) and none is hidden in a scrolled or collapsed output, and that no request left
// 127.0.0.1. The run report of the same scratch run is opened at a 1,280 px window: no horizontal overflow, every
// contents link lands on a heading. Runs on a copy of the notebook in a temp folder (build/ and node_modules/
// linked), so the committed notebook never gets outputs. Not part of the default `npm test`: run it with
// `npm test -- notebook-browser`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';
import { generateSynthetic } from '../lib/data/synthetic';
import { runCli } from './helpers/cli-child';
import { writeScratchConfig } from './helpers/scratch-config';

const chromium = process.env.UBP_CHROMIUM || '/usr/bin/chromium';
const jupyter = spawnSync('jupyter', ['notebook', '--version'], { encoding: 'utf8' }).status === 0;
const noChromium = !fs.existsSync(chromium) ? `no Chromium at ${chromium}` : false;
const missing = !jupyter ? 'Jupyter Notebook is not installed (apt-get install jupyter-notebook)' : noChromium;
let dir: string;
let server: ChildProcess | null = null;
let serverLog = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitForServer(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (server?.exitCode !== null || Date.now() > until)
      throw new Error(`Jupyter did not answer at ${url} within ${ms / 1000}s:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Where each Plotly figure of the page sits against its output area and the boxes that could hide it. */
interface FigureFit {
  /** Plotly's own container: as wide as the layout it drew. */
  right: number;
  width: number;
  height: number;
  /** The output area's content box (classic Notebook's .output_subarea). */
  areaRight: number;
  /** The width Plotly drew the SVG at, against the width the page gives it (CSS can squeeze an SVG and clip it). */
  drawnWidth: number;
  boxWidth: number;
  /** An ancestor inside the cell that clips (overflow not visible) and cuts the figure, or null. */
  clippedBy: string | null;
  /** Inside an output that Jupyter shows as a short scrolled box. */
  scrolled: boolean;
}

// Runs in the page (playwright serialises it): self-contained, one argument.
function measureFigures({ areaSelector, stopAt }: { areaSelector: string; stopAt: string }): FigureFit[] {
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map((plot) => {
    const box = plot.querySelector('.svg-container')!.getBoundingClientRect();
    const svg = plot.querySelector('svg.main-svg') as SVGSVGElement;
    const area = (plot.closest(areaSelector) ?? document.body).getBoundingClientRect();
    let clippedBy: string | null = null;
    for (let el = plot.parentElement; el && !el.matches(stopAt); el = el.parentElement) {
      const cs = getComputedStyle(el);
      if (cs.overflowX === 'visible' && cs.overflowY === 'visible') continue;
      const b = el.getBoundingClientRect();
      if (box.left < b.left - 0.5 || box.right > b.right + 0.5 || box.top < b.top - 0.5 || box.bottom > b.bottom + 0.5)
        clippedBy ??= `${el.tagName.toLowerCase()}.${el.className}`;
    }
    return {
      right: box.right,
      width: box.width,
      height: box.height,
      areaRight: area.right,
      drawnWidth: svg.width.baseVal.value,
      boxWidth: svg.getBoundingClientRect().width,
      clippedBy,
      scrolled: plot.closest('.output_scroll') !== null,
    };
  });
}

function assertFiguresFit(fits: FigureFit[], where: string): void {
  fits.forEach((f, i) => {
    const at = `${where}, figure ${i + 1}: ${JSON.stringify(f)}`;
    assert.ok(f.right <= f.areaRight + 0.5, `right edge inside the output area (${at})`);
    assert.ok(f.width > 300 && f.height > 150, `drawn at a readable size (${at})`);
    assert.ok(f.drawnWidth <= f.boxWidth + 0.5, `the SVG is drawn no wider than its box (${at})`);
    assert.equal(f.clippedBy, null, `not cut by a clipping box (${at})`);
    assert.equal(f.scrolled, false, `not hidden in a scrolled output (${at})`);
  });
}

before(async () => {
  if (noChromium) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-browser-'));
  generateSynthetic(path.join(dir, 'datasets'), {
    domain: 'movielens',
    users: 300,
    items: 250,
    interactions: 18000,
    seed: 5,
  });
  const config = writeScratchConfig(path.join(dir, 'config.json'), dir, {
    domains: ['movielens'],
    sample: { drawsPerSetting: 15, settings: { movielens: { none: [], age: ['age'], gender: ['gender'] } } },
    curves: { bins: 30, window: 5, bootstrap: 10 },
  });
  const scored = await runCli([
    '--config',
    config,
    '--stages',
    'preprocess,sample,query,score,plot',
    '--models',
    // Five models: the distribution and detail cells each show five figures, enough for classic Notebook to fold a
    // cell's output into a short scrolled box unless the cell says otherwise.
    'random,popularity,group-popularity,item-cf,oracle',
  ]);
  assert.equal(scored.code, 0, scored.out);
  if (missing) return;
  // The notebook imports ../build/lib/index: the same relative layout, linked to the repository.
  const site = path.join(dir, 'site');
  fs.mkdirSync(path.join(site, 'notebooks'), { recursive: true });
  for (const link of ['build', 'node_modules']) fs.symlinkSync(path.join(repoRoot(), link), path.join(site, link));
  fs.copyFileSync(path.join(repoRoot(), 'notebooks', '05-plot.ipynb'), path.join(site, 'notebooks', '05-plot.ipynb'));
  const jupyterPath = path.join(repoRoot(), '.jupyter', 'share', 'jupyter');
  if (!fs.existsSync(path.join(jupyterPath, 'kernels', 'tslab')))
    spawnSync(process.execPath, [path.join(repoRoot(), 'scripts', 'install-kernel.mjs')], { stdio: 'inherit' });
  const port = await freePort();
  const token = `ubp-${process.pid}-${Date.now()}`;
  server = spawn(
    'jupyter',
    [
      'notebook',
      '--no-browser',
      '--ip',
      '127.0.0.1',
      `--port=${port}`,
      `--NotebookApp.token=${token}`,
      `--notebook-dir=${site}`,
      ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
    ],
    {
      env: {
        ...process.env,
        JUPYTER_PATH: jupyterPath,
        JUPYTER_CONFIG_DIR: path.join(dir, 'jupyter-config'),
        JUPYTER_DATA_DIR: path.join(dir, 'jupyter-data'),
        UBP_CONFIG: config,
        UBP_DATA_DIR: '',
        UBP_DOMAIN: 'movielens',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  server.stdout?.on('data', (d) => (serverLog += d));
  server.stderr?.on('data', (d) => (serverLog += d));
  const base = `http://127.0.0.1:${port}`;
  await waitForServer(`${base}/api/status?token=${token}`, 30_000);
  (globalThis as Record<string, unknown>).__ubpNotebookUrl = `${base}/notebooks/notebooks/05-plot.ipynb?token=${token}`;
});

after(() => {
  if (server && server.exitCode === null) server.kill('SIGTERM');
});

test(
  'notebook 05 runs in Chromium through Jupyter Notebook: no cell error, every figure drawn inside its output area and shown, nothing fetched off 127.0.0.1',
  { skip: missing, timeout: 240_000 },
  async () => {
    const t0 = Date.now();
    const { chromium: browserType } = await import('playwright-core');
    const browser = await browserType.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const offHost: string[] = [];
      page.on('request', (req) => {
        const url = new URL(req.url());
        if (
          (url.protocol === 'http:' ||
            url.protocol === 'https:' ||
            url.protocol === 'ws:' ||
            url.protocol === 'wss:') &&
          url.hostname !== '127.0.0.1'
        )
          offHost.push(req.url());
      });
      await page.goto((globalThis as Record<string, unknown>).__ubpNotebookUrl as string, { waitUntil: 'load' });
      await page.waitForFunction(
        () => {
          const nb = (
            window as unknown as {
              Jupyter?: { notebook?: { kernel?: { is_connected?: () => boolean; info_reply?: unknown } } };
            }
          ).Jupyter?.notebook;
          return !!nb?.kernel?.is_connected?.() && !!nb.kernel.info_reply;
        },
        undefined,
        { timeout: 60_000 },
      );
      await page.evaluate(() =>
        (
          window as unknown as { Jupyter: { notebook: { execute_all_cells: () => void } } }
        ).Jupyter.notebook.execute_all_cells(),
      );
      // Done when every code cell has an execution count (not "*") and the kernel is idle.
      await page.waitForFunction(
        () => {
          const J = (
            window as unknown as {
              Jupyter: {
                notebook: { get_cells: () => { cell_type: string; input_prompt_number?: number | string | null }[] };
              };
            }
          ).Jupyter;
          const cells = J.notebook.get_cells().filter((c) => c.cell_type === 'code');
          return (
            cells.every((c) => typeof c.input_prompt_number === 'number') &&
            document.querySelector('#kernel_indicator_icon.kernel_idle_icon') !== null
          );
        },
        undefined,
        { timeout: 200_000, polling: 500 },
      );
      const errors = await page.$$eval('.output_area .output_error, .output_area .output_stderr', (els) =>
        els.map((e) => (e.textContent ?? '').slice(0, 500)),
      );
      const figures = await page.$$eval('.output_area svg.main-svg', (els) => els.length);
      // Table 1, the entropy trend, the gap profile, then per model (five) a distribution and a detail figure.
      const inCell = { areaSelector: '.output_subarea', stopAt: '.cell' };
      const fitsWide = await page.evaluate(measureFigures, inCell);
      assert.equal(fitsWide.length, 1 + 1 + 1 + 5 + 5, 'every figure of the notebook is drawn');
      assertFiguresFit(fitsWide, 'window 1400 px');
      // Narrower than the layouts' own width: the figures follow their output area.
      await page.setViewportSize({ width: 1000, height: 1000 });
      await page.waitForTimeout(1500);
      const fitsNarrow = await page.evaluate(measureFigures, inCell);
      assertFiguresFit(fitsNarrow, 'window 1000 px');
      console.log(
        `[browser] figure widths at 1400 → 1000 px: ${fitsWide.map((f, i) => `${Math.round(f.width)}→${Math.round(fitsNarrow[i].width)}`).join(', ')} (output area ${Math.round(fitsWide[0].areaRight)}→${Math.round(fitsNarrow[0].areaRight)} px right edge)`,
      );
      await page.setViewportSize({ width: 1400, height: 1000 });
      const screenshot = path.join(dir, 'notebook-05.png');
      // The entropy-trend figure (Figures 2 and 3) follows Table 1: the screenshot shows it.
      await page.locator('.output_area .js-plotly-plot').nth(1).scrollIntoViewIfNeeded();
      await page.screenshot({ path: screenshot });
      console.log(
        `[browser] notebook 05 ran in ${((Date.now() - t0) / 1000).toFixed(1)}s; ${figures} Plotly SVG layers; screenshot: ${screenshot}`,
      );
      assert.deepEqual(errors, [], 'no cell shows an error');
      assert.ok(figures > 0, 'at least one Plotly figure is drawn in an output area');
      assert.deepEqual(offHost, [], 'no request left 127.0.0.1');
    } finally {
      await browser.close();
    }
  },
);

test(
  'the run report fits a 1,280 px window: no horizontal overflow, long values wrapped, contents linking every section',
  { skip: noChromium, timeout: 60_000 },
  async () => {
    const report = path.join(dir, 'figures', 'report.html');
    const { chromium: browserType } = await import('playwright-core');
    const browser = await browserType.launch({
      executablePath: chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.route(/^https?:/, (route) => route.abort());
      const page = await context.newPage();
      await page.goto(`file://${report}`, { waitUntil: 'load' });
      await page.waitForFunction(
        () =>
          document.querySelectorAll('.ubp-figure').length > 0 &&
          document.querySelectorAll('.ubp-figure').length ===
            document.querySelectorAll('.ubp-figure.js-plotly-plot .main-svg:first-child').length,
        undefined,
        { timeout: 30_000 },
      );
      const m = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        links: Array.from(document.querySelectorAll('nav.toc a')).map((a) => ({
          href: a.getAttribute('href') ?? '',
          text: a.textContent ?? '',
        })),
        headings: Array.from(document.querySelectorAll('h2, h3'))
          .filter((h) => !h.closest('nav.toc'))
          .map((h) => ({ id: h.id, tag: h.tagName })),
        longest: Math.max(...Array.from(document.querySelectorAll('td')).map((td) => td.textContent?.length ?? 0)),
      }));
      await page.screenshot({ path: path.join(dir, 'report.png') });
      console.log(`[browser] report at 1280 px: scrollWidth ${m.scrollWidth}, ${m.links.length} contents links`);
      // The scratch configuration's sample settings are one JSON value of about 60 characters without a space.
      assert.ok(m.longest >= 60, `a long value is in the report (longest cell ${m.longest} characters)`);
      assert.ok(m.scrollWidth <= m.innerWidth, `no horizontal overflow: ${m.scrollWidth} > ${m.innerWidth}`);
      assert.deepEqual(
        m.links.map((l) => l.href),
        m.headings.map((h) => `#${h.id}`),
        'one contents link per section heading, in page order',
      );
      for (const text of ['Run', 'movielens', 'Table 1: prompts per setting', 'Figures', 'Configuration'])
        assert.ok(
          m.links.some((l) => l.text === text),
          `contents list "${text}": ${m.links.map((l) => l.text).join(' | ')}`,
        );
      for (const { href } of m.links) {
        const targets = await page.$$eval(`[id="${href.slice(1)}"]`, (els) => els.map((e) => e.tagName));
        assert.equal(targets.length, 1, `${href} names exactly one element`);
        assert.match(targets[0], /^H[23]$/, `${href} lands on a section heading`);
      }
      await page.click('nav.toc a[href="#configuration"]');
      const top = await page.$eval('#configuration', (h) => h.getBoundingClientRect().top);
      assert.ok(top >= -1 && top < 900, `the Configuration link scrolls its heading into view (top ${top})`);
      assertFiguresFit(await page.evaluate(measureFigures, { areaSelector: 'body', stopAt: 'html' }), 'report 1280 px');
    } finally {
      await browser.close();
    }
  },
);
