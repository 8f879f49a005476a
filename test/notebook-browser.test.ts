// Notebook 05 in a real browser: a Jupyter Notebook server on 127.0.0.1 with the repository's tslab kernel, Debian
// Chromium driven by playwright-core, every cell run through the page (Jupyter.notebook.execute_all_cells()).
// Asserts that no cell shows an error, that a Plotly figure is drawn in an output area, and that no request left
// 127.0.0.1. Runs on a copy of the notebook in a temp folder (build/ and node_modules/ linked), so the committed
// notebook never gets outputs. Not part of the default `npm test`: run it with `npm test -- notebook-browser`.
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
const missing = !jupyter
  ? 'Jupyter Notebook is not installed (apt-get install jupyter-notebook)'
  : !fs.existsSync(chromium)
    ? `no Chromium at ${chromium}`
    : false;
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

before(async () => {
  if (missing) return;
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
    'preprocess,sample,query,score',
    '--models',
    'random,popularity,oracle',
  ]);
  assert.equal(scored.code, 0, scored.out);
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
  'notebook 05 runs in Chromium through Jupyter Notebook: no cell error, Plotly figures drawn, nothing fetched off 127.0.0.1',
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
