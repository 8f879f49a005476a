#!/usr/bin/env node
// Builds .cache/plotly/plotly-figures.min.js (git-ignored): plotly.js with only the trace types this tool's figures
// use (scatter, bar, box, table), from the same release as the installed plotly.js-dist-min. The full bundle (4.8 MB)
// takes ~2.3 s to start in a page on a 2-core machine; this one (1.2 MB) ~0.5 s, and every self-contained figure page
// shrinks by 3.6 MB. It installs plotly.js and esbuild into a temporary folder (about 170 MB, 30 s) and is deterministic.
// `npm run plotly-bundle` builds it; scripts/setup.mjs (before `npm start` and `npm test`) runs it with
// `--if-needed --best-effort`: only when the bundle is missing or of another release, and a failure (no registry)
// leaves the figures on the full bundle with a warning instead of stopping the set-up.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(root, 'package.json'));
const version = require('plotly.js-dist-min/package.json').version;
const ESBUILD = '0.28.2';
// The trace types of lib/plot's figures; lib/plot/plotly-html.ts FIGURE_BUNDLE_TRACES lists the same.
const TRACES = ['bar', 'box', 'table'];

const out = path.join(root, '.cache', 'plotly', 'plotly-figures.min.js');
const ifNeeded = process.argv.includes('--if-needed');
const bestEffort = process.argv.includes('--best-effort');
// The header names the release (lib/plot/plotly-html.ts and the tests read it the same way).
const builtRelease = () =>
  fs.existsSync(out) ? /plotly\.js v(\d+\.\d+\.\d+)/.exec(fs.readFileSync(out, 'utf8').slice(0, 300))?.[1] : undefined;
if (ifNeeded && builtRelease() === version) process.exit(0);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-plotly-bundle-'));
try {
  console.error(`[plotly-bundle] installing plotly.js@${version} and esbuild@${ESBUILD} into ${tmp} ...`);
  fs.writeFileSync(path.join(tmp, 'package.json'), '{"name":"ubp-plotly-bundle","private":true}\n');
  execFileSync(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', `plotly.js@${version}`, `esbuild@${ESBUILD}`],
    { cwd: tmp, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  fs.writeFileSync(
    path.join(tmp, 'entry.js'),
    [
      "'use strict';",
      "var Plotly = require('plotly.js/lib/core');",
      `Plotly.register([${TRACES.map((t) => `require('plotly.js/lib/${t}')`).join(', ')}]);`,
      'module.exports = Plotly;',
      '',
    ].join('\n'),
  );
  const tmpRequire = createRequire(path.join(tmp, 'package.json'));
  const esbuild = tmpRequire('esbuild');
  const built = path.join(tmp, 'bundle.js');
  // The options of plotly.js's own esbuild-config.js that apply to these traces (no WebGL, no CSS imports).
  await esbuild.build({
    entryPoints: [path.join(tmp, 'entry.js')],
    outfile: built,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    define: { global: 'window', 'define.amd': 'false', 'process.env.NODE_DEBUG': 'false' },
    alias: { stream: 'stream-browserify' },
    target: 'es2016',
    legalComments: 'inline',
    logLevel: 'warning',
  });
  const header =
    `/*! plotly.js v${version} (plotly-figures: the core, with scatter, and ${TRACES.join(', ')}; ` +
    `built by scripts/build-plotly-bundle.mjs; MIT-licensed, LICENSE beside it) */\n`;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(`${out}.tmp`, header + fs.readFileSync(built, 'utf8'));
  fs.renameSync(`${out}.tmp`, out);
  fs.copyFileSync(tmpRequire.resolve('plotly.js/LICENSE'), path.join(path.dirname(out), 'LICENSE'));
  console.error(`[plotly-bundle] wrote ${path.relative(root, out)} (${(fs.statSync(out).size / 1e6).toFixed(2)} MB)`);
} catch (e) {
  if (!bestEffort) throw e;
  console.error(
    `[plotly-bundle] could not build the figures' Plotly bundle (${e instanceof Error ? e.message.split('\n')[0] : e}); ` +
      'figures use the full bundle (slower to export). Run `npm run plotly-bundle` to try again.',
  );
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
