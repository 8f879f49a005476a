/**
 * Layout that holds for any run: a seeded, property-style sweep over model sets (1–10 models, ids up to 24
 * characters), domains, styles and sizes. Each figure is drawn by Plotly.newPlot in one Chromium page (the
 * interactive path) and checked: no text overlaps another or leaves the figure, a legend stacked under the panels
 * takes at most ~25 % of the height, every numeric axis with labels shows at least three, and at single column the
 * trend's panels are each at least ~40 % of the width.
 * Independently, the SVG files written by exportFigure at single-column paper style with 1, 3, 4, 7 and 10 models are
 * opened as documents of their own and their text measured with getBBox (not the page Plotly drew in).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { type DomainName, type FigureSize, loadConfig, pathsUnder } from '../lib/core/config';
import { makeRng, randomInt, type Rng } from '../lib/core/rng';
import { CHROMIUM_ARGS, FigureRenderer, chromiumPath, exportFigure } from '../lib/plot/export';
import { FIGURE_BUNDLE_TRACES, bundleKindFor, plotlyBundle } from '../lib/plot/plotly-html';
import { type BuiltFigure, figureOptions } from '../lib/plot/figure-common';
import { buildFigures, trendUncertainty } from '../lib/plot/figures';
import { entropyTrendFigure } from '../lib/plot/trend-figure';
import { proxyHistoryFigure } from '../lib/plot/distribution-figure';
import { detailFigure } from '../lib/plot/detail-figure';
import { LEGEND_MAX_SHARE } from '../lib/plot/figure-legend';
import { positionBiasFigure } from '../lib/plot/position-bias-figure';
import { type GapProfiles, gapProfileFigure } from '../lib/plot/gap-figure';
import { PAPER_TABLE1, table1Figure } from '../lib/plot/table1-figure';
import type { PositionBias } from '../lib/score/position-bias';
import type { SampleCounts, ScoreRecord } from '../lib/core/types';
import { type SyntheticModel, synthesizeScores } from '../bench/figures';
import { type TextBox, layoutProblems } from './helpers/text-boxes';

const CHROMIUM = chromiumPath();
const HAVE_CHROMIUM = fs.existsSync(CHROMIUM);
const NO_CHROMIUM = `Chromium is not installed at ${CHROMIUM} (set UBP_CHROMIUM, or: sudo apt-get install -y chromium)`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-sweep-'));
// Few resamples: the bands only need a shape here, and the sweep must stay near a minute.
const config = loadConfig({ overrides: { paths: pathsUnder(dir), curves: { bootstrap: 8 } }, env: {} });

/** A quarter of the paper's Table 1 per cell (at least 8): the same settings and lengths, fewer prompts to score. */
function smallCounts(domain: DomainName): SampleCounts {
  return Object.fromEntries(
    Object.entries(PAPER_TABLE1[domain]).map(([s, byH]) => [
      s,
      Object.fromEntries(Object.entries(byH).map(([h, n]) => [h, Math.max(8, Math.round(n / 4))])),
    ]),
  );
}

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-._/';

/** n distinct ids, the first `long` of them exactly 24 characters, the others 1–24; baselines mixed in. */
function modelSet(rng: Rng, n: number): SyntheticModel[] {
  const ids = new Set<string>();
  const baselines = ['random', 'oracle', 'popularity', 'item-cf'];
  while (ids.size < n) {
    if (rng() < 0.25) {
      ids.add(baselines[randomInt(rng, baselines.length)]);
      continue;
    }
    const len = ids.size === 0 ? 24 : 1 + randomInt(rng, 24);
    let id = '';
    while (id.length < len) id += ID_CHARS[randomInt(rng, ID_CHARS.length)];
    ids.add(id);
  }
  return [...ids].map((id, k) =>
    id === 'oracle'
      ? { id, turn: null, offset: 0 }
      : { id, turn: 2.4 + ((k * 0.37) % 2), offset: id === 'random' ? 2 : 0.05 + 0.1 * (k % 5) },
  );
}

function positionBias(models: SyntheticModel[]): Record<string, PositionBias> {
  return Object.fromEntries(
    models.map((m, k) => [
      m.id,
      {
        picks: 1000,
        pValue: k % 2 ? 0.0312 : 2.1e-9,
        chiSquare: 10,
        bins: [0, 1, 2, 3, 4].map((b) => ({
          from: 10 * b + 1,
          to: 10 * b + 10,
          count: 200,
          share: 0.2 + 0.03 * (b - 2) * ((k % 3) - 1),
          expectedShare: 0.2,
        })),
      } as unknown as PositionBias,
    ]),
  );
}

/**
 * A gap profile per model and setup from the synthetic scores: 8 equal-count bins at their mean gap, bands ± 0.03 and
 * ± 0.05, and every second model departing over its top two bins (so the filled markers and region key are drawn).
 */
function gapProfiles(scores: Record<string, ScoreRecord[]>): GapProfiles {
  const out: GapProfiles = {};
  Object.entries(scores).forEach(([id, records], k) => {
    for (const setup of ['A', 'B', 'C'] as const) {
      const rs = records.filter((r) => r.setup === setup).sort((a, b) => a.targetEntropy - b.targetEntropy);
      if (rs.length < 16) continue;
      const size = Math.floor(rs.length / 8);
      const profile = Array.from({ length: 8 }, (_, b) => {
        const part = rs.slice(b * size, b === 7 ? rs.length : (b + 1) * size);
        const gap = part.reduce((a, r) => a + r.crossEntropy - r.targetEntropy, 0) / part.length;
        const lo = part[0].targetEntropy;
        const hi = part[part.length - 1].targetEntropy;
        return {
          lo,
          hi,
          x: (lo + hi) / 2,
          prompts: part.length,
          clusters: part.length,
          gap,
          ...{ low: gap - 0.03, high: gap + 0.03, simLow: gap - 0.05, simHigh: gap + 0.05 },
        };
      });
      const departs = k % 2 === 1;
      (out[setup] ??= {})[id] = {
        prompts: rs.length,
        profile,
        region: {
          direction: departs ? 'high end' : 'none',
          ranges: departs ? [[profile[6].lo, profile[7].hi]] : [],
          edge: null,
          share: null,
        },
      };
    }
  });
  return out;
}

interface Case {
  label: string;
  domain: DomainName;
  models: SyntheticModel[];
  style: 'paper' | 'screen';
  size: FigureSize | null;
}

/** Every figure of a case; per-model figures only for the model with the longest id (they differ by the id alone). */
function figuresOf(c: Case, all = false): BuiltFigure[] {
  const ids = c.models.map((m) => m.id);
  const counts = smallCounts(c.domain);
  const scores = synthesizeScores(c.domain, counts, c.models, 5);
  const opts = figureOptions(config, c.domain, ids, { look: { style: c.style, size: c.size } });
  const longest = [...ids].sort((a, b) => b.length - a.length)[0];
  const perModel = all ? ids : [longest];
  const bias = positionBiasFigure(c.domain, positionBias(c.models), opts.look);
  return [
    entropyTrendFigure(c.domain, scores, opts, trendUncertainty(config, c.domain, scores, opts)),
    table1Figure(c.domain, counts, PAPER_TABLE1[c.domain], { settingsOrder: opts.settingsOrder, look: opts.look }),
    ...perModel.map((id) => proxyHistoryFigure(c.domain, id, scores[id], opts)),
    ...perModel.map((id) => detailFigure(c.domain, id, scores[id], opts)),
    ...(bias ? [bias] : []),
    ...[
      gapProfileFigure(c.domain, gapProfiles(scores), opts, { threshold: 0.1, confidence: 0.95, unit: 'bits' }),
    ].filter((f): f is BuiltFigure => f !== null),
  ];
}

let browser: Browser | null = null;
let page: Page | null = null;
let renderer: FigureRenderer | null = null;
let svgPage: Page | null = null;

before(async () => {
  if (!HAVE_CHROMIUM) return;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage();
  await page.setContent(
    '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0"></body></html>',
  );
  await page.addScriptTag({ content: plotlyBundle() });
  renderer = await FigureRenderer.launch(CHROMIUM);
});
after(async () => {
  await renderer?.close();
  await browser?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Drawn {
  width: number;
  height: number;
  boxes: TextBox[];
  legend: { left: number; top: number; right: number; bottom: number } | null;
  /** Per subplot: x-axis length in px, its left and right, and the labelled ticks of both axes. */
  panels: {
    left: number;
    right: number;
    top: number;
    bottom: number;
    lengthPx: number;
    category: boolean;
    xLabels: number;
    yLabels: number;
    yShown: boolean;
  }[];
}

/** Draws the figure with Plotly.newPlot in the page and measures its text, legend and panels. */
async function draw(fig: BuiltFigure): Promise<Drawn> {
  return page!.evaluate(
    async (f) => {
      document.body.innerHTML = '<div id="g"></div>';
      const gd = document.getElementById('g') as HTMLElement & { _fullLayout: Record<string, any> };
      const P = (window as unknown as { Plotly: any }).Plotly;
      await P.newPlot(gd, f.data, f.layout, { staticPlot: true });
      const root = gd.querySelector('svg.main-svg')!.getBoundingClientRect();
      const rel = (r: DOMRect) => ({
        left: r.left - root.left,
        top: r.top - root.top,
        right: r.right - root.left,
        bottom: r.bottom - root.top,
      });
      const boxes = [] as { text: string; left: number; top: number; right: number; bottom: number }[];
      for (const el of Array.from(gd.querySelectorAll('text'))) {
        const text = (el.textContent ?? '').trim();
        if (!text) continue;
        let hidden = false;
        for (let p: Element | null = el; p && p !== gd; p = p.parentElement) {
          const cs = getComputedStyle(p);
          if (cs.display === 'none' || cs.visibility === 'hidden' || Number(cs.opacity) === 0) hidden = true;
        }
        const r = el.getBoundingClientRect();
        if (hidden || r.width === 0 || r.height === 0) continue;
        boxes.push({ text, ...rel(r) });
      }
      const lg = gd.querySelector('g.legend') as SVGGElement | null;
      const fl = gd._fullLayout;
      const panels = Array.from(gd.querySelectorAll('g.subplot')).map((sp) => {
        const id = Array.from(sp.classList).find((c) => /^x\d*y\d*$/.test(c))!;
        const [xa, ya] = id.match(/[xy]\d*/g)!;
        const xAxis = fl[`xaxis${xa.slice(1)}`];
        const yAxis = fl[`yaxis${ya.slice(1)}`];
        const count = (sel: string) =>
          Array.from(sp.querySelectorAll(sel)).filter((t) => (t.textContent ?? '').trim() !== '').length;
        return {
          left: xAxis._offset,
          right: xAxis._offset + xAxis._length,
          top: yAxis._offset,
          bottom: yAxis._offset + yAxis._length,
          lengthPx: xAxis._length,
          category: xAxis.type === 'category',
          xLabels: count('.xaxislayer-above text'),
          yLabels: count('.yaxislayer-above text'),
          yShown: yAxis.showticklabels !== false,
        };
      });
      return {
        width: root.width,
        height: root.height,
        boxes,
        legend: lg && fl.showlegend ? rel(lg.getBoundingClientRect()) : null,
        panels,
      };
    },
    fig.figure as { data: unknown[]; layout: Record<string, unknown> },
  );
}

function checkDrawn(label: string, fig: BuiltFigure, d: Drawn, singleColumn: boolean): string[] {
  const problems = layoutProblems(d.width, d.height, d.boxes).map((p) => `${label} ${fig.name}: ${p}`);
  const at = `${label} ${fig.name}`;
  // Table 1 has no axes; a legend placed outside is a figure of legend only.
  if (fig.name === 'table1' || fig.name.endsWith('-legend')) return problems;
  if (d.legend) {
    // A legend beside panels (sharing rows with them) costs no height; one in a strip of its own does.
    const stacked = !d.panels.some((p) => p.top < d.legend!.bottom - 1 && p.bottom > d.legend!.top + 1);
    const share = (d.legend.bottom - d.legend.top) / d.height;
    if (stacked && share > LEGEND_MAX_SHARE + 0.01)
      problems.push(`${at}: the legend takes ${(share * 100).toFixed(0)} % of the height`);
  }
  for (const [i, p] of d.panels.entries()) {
    if (!p.category && p.xLabels < 3) problems.push(`${at}: panel ${i + 1}'s x-axis has ${p.xLabels} labelled ticks`);
    if (p.yShown && p.yLabels < 3) problems.push(`${at}: panel ${i + 1}'s y-axis has ${p.yLabels} labelled ticks`);
  }
  if (singleColumn && fig.name === 'entropy-trend' && d.panels.length === 3)
    for (const [i, p] of d.panels.entries())
      if (p.lengthPx < 0.38 * d.width)
        problems.push(`${at}: panel ${i + 1} is ${((p.lengthPx / d.width) * 100).toFixed(0)} % of the width`);
  return problems;
}

/** The seeded sweep: model sets, domains, styles and sizes drawn at random, plus the reported cases. */
function sweepCases(): Case[] {
  const rng = makeRng('figure-sweep');
  const sizes: (FigureSize | null)[] = ['single-column', 'double-column', { widthIn: 5, heightIn: 3.2 }, null];
  const cases: Case[] = [];
  for (let k = 0; k < 12; k++) {
    const n = 1 + randomInt(rng, 10);
    const size = sizes[randomInt(rng, sizes.length)];
    const style = size === null ? 'screen' : rng() < 0.8 ? 'paper' : 'screen';
    cases.push({
      label: `case ${k}`,
      domain: rng() < 0.5 ? 'movielens' : 'lastfm',
      models: modelSet(rng, n),
      style,
      size,
    });
  }
  // Issue 24's cases: four baselines at single column; five to seven models.
  const base = (ids: string[]) =>
    ids.map((id, k) => ({ id, turn: id === 'oracle' ? null : 2.5 + 0.3 * k, offset: 0.2 }));
  cases.push({
    label: 'four baselines',
    domain: 'movielens',
    models: base(['random', 'oracle', 'popularity', 'item-cf']),
    style: 'paper',
    size: 'single-column',
  });
  cases.push({
    label: 'seven models',
    domain: 'movielens',
    models: base(['random', 'oracle', 'popularity', 'group-popularity', 'item-cf', 'sim-2.9', 'sim-4.3']),
    style: 'paper',
    size: 'single-column',
  });
  return cases;
}

test('sweep: any model set, style and size — no text overlaps or leaves a figure, compact legend, round ticks, wide panels (Chromium)', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const problems: string[] = [];
  let drawn = 0;
  for (const c of sweepCases()) {
    const label = `${c.label} (${c.domain}, ${c.models.length} models, ${c.style}, ${JSON.stringify(c.size)})`;
    for (const fig of figuresOf(c)) {
      // A legend placed outside the figure is drawn and checked as a figure of its own.
      const legend = fig.legend ? [{ ...fig, name: `${fig.name}-legend`, figure: fig.legend }] : [];
      for (const f of [fig, ...legend]) {
        problems.push(...checkDrawn(label, f, await draw(f), c.size === 'single-column'));
        drawn++;
      }
    }
  }
  assert.ok(drawn > 60, `${drawn} figures drawn`);
  assert.deepEqual(problems, []);
});

/**
 * An SVG without what Plotly draws at random (element ids, the clip paths and classes built from them), each tag's
 * attributes in one order (a redraw writes the same attributes in another order).
 */
function withoutRandomIds(svg: string): string {
  return svg
    .replace(/\s(id|class|clip-path|href|xlink:href)="[^"]*"/g, '')
    .replace(/<([\w:-]+)((?:\s[\w:-]+="[^"]*")*)(\s*\/?)>/g, (_, name: string, attrs: string, end: string) => {
      const sorted = (attrs.match(/\s[\w:-]+="[^"]*"/g) ?? []).sort().join('');
      return `<${name}${sorted}${end}>`;
    });
}

/**
 * Where two SVGs differ: the same text between their numbers, and numbers within 0.01 (text measured in two pages
 * can differ in the fifth decimal of a pixel); null when they agree.
 */
function svgDifference(a: string, b: string): string | null {
  const number = /-?\d+(?:\.\d+)?(?:e-?\d+)?/g;
  const textA = a.split(number);
  const textB = b.split(number);
  const numA = a.match(number) ?? [];
  const numB = b.match(number) ?? [];
  if (textA.length !== textB.length) return `${textA.length} against ${textB.length} text parts`;
  for (let i = 0; i < textA.length; i++) {
    if (textA[i] !== textB[i]) return `text part ${i}: ${textA[i].slice(0, 120)} against ${textB[i].slice(0, 120)}`;
    if (i < numA.length && Math.abs(Number(numA[i]) - Number(numB[i])) > 0.01)
      return `number ${i} after ${textA[i].slice(-80)}: ${numA[i]} against ${numB[i]}`;
  }
  return null;
}

test("the project's Plotly bundle holds every trace type of every figure and draws each as the full bundle does (Chromium)", async (t) => {
  const cases = sweepCases().filter((_, k) => k % 4 === 0);
  const figures = cases.flatMap((c) => figuresOf(c, true).map((f) => ({ c, f })));
  const types = new Set(figures.flatMap(({ f }) => f.figure.data.map((d) => String(d.type ?? 'scatter'))));
  assert.deepEqual(
    [...types].filter((type) => !FIGURE_BUNDLE_TRACES.includes(type)),
    [],
  );
  assert.ok(types.has('scatter') && types.has('table') && types.has('box'), [...types].join(', '));
  assert.equal(bundleKindFor(figures.map(({ f }) => f.figure)), 'figures');
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  let compared = 0;
  for (const { c, f } of figures) {
    const size = { width: Number(f.figure.layout.width), height: Number(f.figure.layout.height) };
    // `page` holds the full bundle (plotly.js-dist-min); the renderer draws with the project's (.cache/plotly).
    const full = await page!.evaluate(
      async ({ fig, size }) =>
        (window as unknown as { Plotly: { toImage: (f: unknown, o: unknown) => Promise<string> } }).Plotly.toImage(
          { data: fig.data, layout: fig.layout },
          { format: 'svg', ...size, imageDataOnly: true },
        ),
      { fig: f.figure, size },
    );
    const own = await renderer!.svg(f.figure, size);
    const difference = svgDifference(withoutRandomIds(own), withoutRandomIds(full));
    assert.equal(difference, null, `${c.label}: ${f.name}`);
    compared++;
  }
  assert.ok(compared >= 20, `${compared} figures compared`);
});

test('the reported cases: legend entries only for marks drawn; B keeps three x labels; legend beside the panels at single column', () => {
  const four = sweepCases().find((c) => c.label === 'four baselines')!;
  const trend = figuresOf(four)[0];
  const layout = trend.figure.layout as Record<string, any>;
  const inLegend = trend.figure.data.filter((d) => d.showlegend !== false).map((d) => String(d.name));
  assert.deepEqual(inLegend.slice(0, 5), ['X = Y (ideal)', 'random', 'oracle', 'popularity', 'item-cf']);
  // Three setups at 3.3 in: two columns, the legend in the cell beside setup C.
  assert.equal(layout.legend.orientation, 'v');
  assert.ok(Number(layout.legend.x) > 0.5, `legend at x = ${layout.legend.x}`);
  for (const key of ['xaxis', 'xaxis2', 'xaxis3']) {
    const ax = layout[key];
    const ticks = Math.floor(ax.range[1] / ax.dtick + 1e-9) - Math.ceil(ax.range[0] / ax.dtick - 1e-9) + 1;
    assert.ok(ticks >= 3, `${key}: ${ticks} ticks over ${ax.range} every ${ax.dtick}`);
  }
  // No departure or turning point anywhere: no key for one.
  const flat = figuresOf({
    ...four,
    models: [{ id: 'oracle', turn: null, offset: 0 }],
  })[0];
  const markers = flat.figure.data.filter((d) => (d.meta as { role?: string })?.role === 'departure');
  const keys = flat.figure.data.filter((d) => String(d.name).startsWith('departure point'));
  assert.equal(keys.length > 0, markers.length > 0, `${markers.length} markers, ${keys.length} legend keys`);
});

test('figures.legend "outside": the figure has no legend and its legend is a figure of its own', () => {
  const opts = figureOptions(config, 'movielens', ['random', 'oracle'], {
    look: { style: 'paper', size: 'single-column', legend: 'outside' },
  });
  const scores = synthesizeScores('movielens', smallCounts('movielens'), modelSet(makeRng('outside'), 2), 3);
  const figs = buildFigures('movielens', scores, null, opts);
  for (const f of figs) {
    assert.equal(f.figure.layout.showlegend, false, f.name);
    assert.ok(f.legend, `${f.name}: no legend figure`);
    assert.equal(f.legend!.layout.width, f.figure.layout.width);
  }
});

/** Outlines of the text of an SVG file opened as its own document: getBBox mapped through each element's CTM. */
async function svgFileBoxes(file: string): Promise<{ width: number; height: number; boxes: TextBox[] }> {
  // One page of its own (not the page Plotly draws in), reused for every file.
  svgPage ??= await browser!.newPage();
  const p = svgPage;
  try {
    await p.goto(pathToFileURL(file).href);
    return await p.evaluate(() => {
      const root = document.documentElement as unknown as SVGSVGElement;
      const vb = root.viewBox.baseVal;
      const toRoot = root.getScreenCTM()!.inverse();
      const boxes: { text: string; left: number; top: number; right: number; bottom: number }[] = [];
      for (const el of Array.from(root.querySelectorAll('text'))) {
        const text = (el.textContent ?? '').trim();
        if (!text) continue;
        let hidden = false;
        for (let q: Element | null = el; q; q = q.parentElement) {
          const cs = getComputedStyle(q);
          if (cs.display === 'none' || cs.visibility === 'hidden' || Number(cs.opacity) === 0) hidden = true;
        }
        const bb = el.getBBox();
        if (hidden || bb.width === 0 || bb.height === 0) continue;
        const m = toRoot.multiply(el.getScreenCTM()!);
        const pts = [
          [bb.x, bb.y],
          [bb.x + bb.width, bb.y],
          [bb.x, bb.y + bb.height],
          [bb.x + bb.width, bb.y + bb.height],
        ].map(([x, y]) => new DOMPoint(x, y).matrixTransform(m));
        boxes.push({
          text,
          left: Math.min(...pts.map((q) => q.x)),
          top: Math.min(...pts.map((q) => q.y)),
          right: Math.max(...pts.map((q) => q.x)),
          bottom: Math.max(...pts.map((q) => q.y)),
        });
      }
      return { width: vb.width, height: vb.height, boxes };
    });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

test('independent check on the exported SVG files: single-column paper style, 1, 3, 4, 7 and 10 models, every figure', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const rng = makeRng('figure-sweep-svg');
  const problems: string[] = [];
  let files = 0;
  for (const domain of ['movielens', 'lastfm'] as const) {
    for (const n of [1, 3, 4, 7, 10]) {
      const c: Case = { label: `${n} models`, domain, models: modelSet(rng, n), style: 'paper', size: 'single-column' };
      for (const fig of figuresOf(c, n <= 3)) {
        const base = path.join(dir, 'svg', domain, String(n), fig.name);
        fs.mkdirSync(path.dirname(base), { recursive: true });
        const r = await exportFigure(fig, base, ['svg'], { renderer });
        assert.deepEqual(r.skipped, []);
        for (const file of r.files) {
          const m = await svgFileBoxes(file);
          assert.ok(m.boxes.length >= 3, `${file}: ${m.boxes.length} text elements`);
          problems.push(
            ...layoutProblems(m.width, m.height, m.boxes).map((p) => `${domain} ${n} ${path.basename(file)}: ${p}`),
          );
          files++;
        }
      }
    }
  }
  assert.ok(files >= 50, `${files} SVG files checked`);
  assert.deepEqual(problems, []);
});

test('the SVG check itself finds an overlap and a label outside the figure', async (t) => {
  if (!HAVE_CHROMIUM) return t.skip(NO_CHROMIUM);
  const file = path.join(dir, 'faulty.svg');
  fs.writeFileSync(
    file,
    '<svg xmlns="http://www.w3.org/2000/svg" width="2in" height="1in" viewBox="0 0 192 96" style="font: 12px sans-serif">' +
      '<text x="10" y="20">first label</text><g transform="translate(20 4)"><text x="0" y="20">second label</text></g>' +
      '<text x="170" y="60">outside</text><text x="100" y="90" transform="rotate(-90 100 90)">tall</text></svg>',
  );
  const m = await svgFileBoxes(file);
  const problems = layoutProblems(m.width, m.height, m.boxes);
  assert.ok(
    problems.some((p) => /"first label" overlaps "second label"/.test(p)),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => /"outside" lies outside/.test(p)),
    problems.join('\n'),
  );
  const tall = m.boxes.find((b) => b.text === 'tall')!;
  assert.ok(tall.bottom - tall.top > tall.right - tall.left, JSON.stringify(tall));
});
