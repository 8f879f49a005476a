import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Config, loadConfig, pathsUnder } from '../lib/core/config';
import { evalPolynomial } from '../lib/score/curves';
import { chromiumPath } from '../lib/plot/export';
import { detailFigure } from '../lib/plot/detail-figure';
import { TARGET_BOX_COLOR, type ProxyHistoryData, boxStats, proxyHistoryFigure } from '../lib/plot/distribution-figure';
import { ORACLE_STYLE, RANDOM_STYLE, type CurveData, figureOptions, modelStyles } from '../lib/plot/figure-common';
import { FIGURE_DATA_FILE, loadFigureSpecs, runPlot } from '../lib/plot/figures';
import { PAPER_TABLE1, table1Figure } from '../lib/plot/table1-figure';
import { type TrendFigureData, entropyTrendFigure } from '../lib/plot/trend-figure';
import { scoresFile } from '../lib/score/score';
import type { SampleCounts, ScoreRecord, Setup } from '../lib/core/types';
import { SYNTHETIC_MODELS, synthesizeScores, writeSyntheticInputs } from '../bench/figures';

type Trace = Record<string, unknown> & { meta?: { role?: string; model?: string; setup?: string; setting?: string } };

function tempConfig(extra: Record<string, unknown> = {}): { config: Config; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-figures-'));
  const config = loadConfig({
    overrides: { paths: pathsUnder(dir), ...extra },
    env: {},
  });
  return { config, dir };
}

const COUNTS = PAPER_TABLE1.movielens;
const MODELS = ['random', 'item-cf', 'oracle'];
const SCORES = synthesizeScores(
  'movielens',
  COUNTS,
  SYNTHETIC_MODELS.filter((m) => MODELS.includes(m.id)),
  7,
);
const { config: CONFIG, dir: CONFIG_DIR } = tempConfig();
after(() => fs.rmSync(CONFIG_DIR, { recursive: true, force: true }));

function rec(setup: Setup, proxy: string, h: number, te: number, ce: number): ScoreRecord {
  return {
    v: 1,
    promptId: `${proxy}-${h}-${te}-${ce}`,
    modelId: 'm',
    domain: 'movielens',
    setup,
    proxy,
    historyLength: h,
    groupSize: 5,
    targetEntropy: te,
    crossEntropy: ce,
    smoothed: false,
    validPicks: 10,
    outsideCandidates: 0,
    duplicates: 0,
    zeroMassPositive: 0,
    jensenShannon: 0,
    totalVariation: 0,
  };
}

// ---------- styles ----------

test('model colours: fixed by config order, baselines recognisable, the same whichever subset is plotted', () => {
  const all = modelStyles(CONFIG);
  const subset = modelStyles(CONFIG, ['item-cf']);
  assert.deepEqual(subset['item-cf'], all['item-cf']);
  assert.equal(all.oracle.color, ORACLE_STYLE.color);
  assert.equal(all.random.color, RANDOM_STYLE.color);
  assert.equal(all.random.dash, 'dot');
  const others = CONFIG.query.models.map((m) => m.id).filter((id) => id !== 'random' && id !== 'oracle');
  const colours = others.map((id) => all[id].color);
  assert.equal(new Set(colours).size, colours.length, 'every non-baseline-reference model gets its own colour');
  assert.ok(!colours.includes(ORACLE_STYLE.color) && !colours.includes(RANDOM_STYLE.color));
  // An unknown model gets a palette colour too (after the configured ones), deterministically.
  assert.deepEqual(modelStyles(CONFIG, ['zz-new'])['zz-new'], modelStyles(CONFIG, ['zz-new'])['zz-new']);
  assert.ok(!colours.includes(modelStyles(CONFIG, ['zz-new'])['zz-new'].color));
});

// ---------- entropy trend ----------

test('trend figure: one fitted curve per model per setup, X=Y per setup, turning points on their curves', () => {
  const opts = figureOptions(CONFIG, 'movielens', MODELS);
  const built = entropyTrendFigure('movielens', SCORES, opts);
  const traces = built.figure.data as Trace[];
  const fits = traces.filter((t) => t.meta?.role === 'fit');
  assert.equal(fits.length, MODELS.length * 3);
  for (const setup of ['A', 'B', 'C']) {
    for (const m of MODELS)
      assert.equal(fits.filter((t) => t.meta?.model === m && t.meta?.setup === setup).length, 1, `${m} ${setup}`);
    const id = traces.filter((t) => t.meta?.role === 'identity' && t.meta?.setup === setup);
    assert.equal(id.length, 1, `X=Y in setup ${setup}`);
    assert.deepEqual(id[0].x, id[0].y, 'X=Y line');
  }
  // One legend entry per model, grouped so a click hides it (curve, markers, band, departure) in every subplot.
  for (const m of MODELS) {
    assert.equal(traces.filter((t) => t.meta?.model === m && t.showlegend).length, 1);
    assert.ok(traces.filter((t) => t.meta?.model === m).every((t) => t.legendgroup === m));
  }
  // A distinct dash and marker per model (they stay apart in greyscale and where curves coincide).
  const looks = MODELS.map((m) => `${opts.styles[m].dash}/${opts.styles[m].symbol}`);
  assert.equal(new Set(looks).size, MODELS.length, looks.join(' '));
  // Shared y-axis: every panel matches the first.
  assert.equal((built.figure.layout.yaxis2 as { matches?: string }).matches, 'y');
  assert.equal((built.figure.layout.yaxis3 as { matches?: string }).matches, 'y');
  const data = built.data as TrendFigureData;
  for (const t of traces.filter((x) => x.meta?.role === 'departure')) {
    const c: CurveData = data.curves[t.meta!.setup!][t.meta!.model!];
    assert.equal((t.x as number[])[0], c.turningPoint);
    // The marker sits on the polynomial (checked with the coefficients, independently of the plotted grid).
    const yOnPoly = evalPolynomial(c.polynomial!, c.turningPoint!);
    assert.ok(
      Math.abs((t.y as number[])[0] - yOnPoly) < 1e-3 * Math.max(1, Math.abs(yOnPoly)),
      `${(t.y as number[])[0]} vs ${yOnPoly}`,
    );
  }
  // item-cf turns up in setup A in this synthetic data (turn at 2.9 bits), so its marker must be there.
  assert.ok(traces.some((t) => t.meta?.role === 'departure' && t.meta.model === 'item-cf' && t.meta.setup === 'A'));
  assert.ok(
    !traces.some((t) => t.meta?.role === 'departure' && t.meta.model === 'oracle'),
    'the oracle lies on X=Y and never turns up',
  );
});

test('trend figure: units on every axis, titles, and an x-range fitted to the data', () => {
  const built = entropyTrendFigure('movielens', SCORES, figureOptions(CONFIG, 'movielens', MODELS));
  const layout = built.figure.layout as Record<string, { title?: { text: string }; range?: [number, number] }>;
  // Axis titles are drawn once for the figure (narrow panels cannot collide over them).
  const titleOf = (l: Record<string, unknown>, role: string) =>
    (l.annotations as { text: string; meta?: { role?: string } }[])
      .filter((a) => a.meta?.role === role)
      .map((a) => a.text);
  assert.deepEqual(titleOf(layout, 'x-title'), ['Target entropy (bits)']);
  assert.deepEqual(titleOf(layout, 'y-title'), ['Cross-entropy (bits)']);
  assert.match(
    JSON.stringify(layout.annotations),
    /Setup A: demography \+ history.*Setup B: history only.*Setup C: demography only/,
  );
  // Target entropies of setup C lie in [min, max] of its prompts: the axis shows that band, not [0, max].
  const te = SCORES.oracle.filter((s) => s.setup === 'C').map((s) => s.targetEntropy);
  const [lo, hi] = [Math.min(...te), Math.max(...te)];
  const r = layout.xaxis3.range!;
  assert.ok(r[0] >= lo - 0.1 * (hi - lo) && r[1] <= hi + 0.1 * (hi - lo), `x-range ${r} for data in [${lo}, ${hi}]`);
  assert.ok(r[0] > 1, 'the axis does not start at 0');

  const { config: nats } = tempConfig({ score: { logBase: Math.E } });
  const n = entropyTrendFigure('movielens', SCORES, figureOptions(nats, 'movielens', MODELS)).figure
    .layout as typeof layout;
  assert.deepEqual(titleOf(n, 'x-title'), ['Target entropy (nats)']);
  assert.deepEqual(titleOf(n, 'y-title'), ['Cross-entropy (nats)']);
});

test('trend figure: a chosen subset of setups; a setup without prompts is left out', () => {
  const onlyAC = entropyTrendFigure(
    'movielens',
    SCORES,
    figureOptions(CONFIG, 'movielens', MODELS, { setups: ['A', 'C'] }),
  );
  const fits = (onlyAC.figure.data as Trace[]).filter((t) => t.meta?.role === 'fit');
  assert.deepEqual([...new Set(fits.map((t) => t.meta?.setup))], ['A', 'C']);
  const noB = { item: SCORES['item-cf'].filter((s) => s.setup !== 'B') };
  const f = entropyTrendFigure('movielens', noB, figureOptions(CONFIG, 'movielens', ['item']));
  assert.deepEqual((f.data as TrendFigureData).drawnSetups, ['A', 'C']);
  assert.doesNotMatch(JSON.stringify(f.figure.layout.annotations), /Setup B/);
  assert.equal(f.figure.layout.xaxis3, undefined, 'two panels only');
  const none = entropyTrendFigure('movielens', { item: [] }, figureOptions(CONFIG, 'movielens', ['item']));
  assert.match(JSON.stringify(none.figure.layout.annotations), /no prompts in any setup/);
  assert.throws(() => figureOptions(CONFIG, 'movielens', [], { setups: ['D' as Setup] }), /unknown setup "D"/);
});

test('a setup or setting below curves.minCurvePrompts: its prompts as points with a note, no fit, band or departure', () => {
  // Setup A from the synthetic scores (hundreds of prompts); setup C cut to 5 hand-made prompts of one setting.
  const few = [3.1, 3.4, 3.6, 3.9, 4.2].map((te, k) => rec('C', 'age', 0, te, te + 0.2 * k));
  const scores = { item: [...SCORES['item-cf'].filter((s) => s.setup === 'A'), ...few] };
  const opts = figureOptions(CONFIG, 'movielens', ['item']);
  assert.equal(opts.minCurvePrompts, 30);
  const uncertainty = {
    C: {
      item: {
        band: [
          { x: 3, low: 3, high: 4 },
          { x: 4, low: 3, high: 4 },
        ],
        departure: { estimate: 3.5, low: 3.2, high: 3.8 },
      },
    },
  };
  const trend = entropyTrendFigure('movielens', scores, opts, uncertainty as never);
  const roles = (setup: string) =>
    (trend.figure.data as Trace[]).filter((t) => t.meta?.setup === setup).map((t) => t.meta?.role);
  // The given band and departure are not drawn for 5 prompts; the 5 points are, in the order of their target entropy.
  assert.deepEqual(roles('C').sort(), ['identity', 'prompt-points']);
  assert.ok(roles('A').includes('fit'));
  const points = (trend.figure.data as Trace[]).find((t) => t.meta?.role === 'prompt-points')!;
  assert.deepEqual(points.x, [3.1, 3.4, 3.6, 3.9, 4.2]);
  assert.deepEqual(
    (points.y as number[]).map((y) => Math.round(y * 10) / 10),
    [3.1, 3.6, 4, 4.5, 5],
  );
  const c = (trend.data as TrendFigureData).curves.C.item;
  assert.deepEqual(
    [c.tooFewPrompts, c.fitted.length, c.band, c.departure, c.turningPoint],
    [true, 0, null, null, null],
  );
  const notes = (trend.figure.layout.annotations as { text: string }[]).map((a) => a.text);
  assert.equal(notes.filter((t) => t === 'too few prompts (n = 5)').length, 1);
  // The detail figure: the "age" setting of these 5 prompts alone (setup C only) is points with the same note.
  const detail = detailFigure(
    'movielens',
    'item',
    few,
    figureOptions(CONFIG, 'movielens', ['item'], { setups: ['C'] }),
  );
  const detailRoles = (detail.figure.data as Trace[]).map((t) => t.meta?.role);
  assert.ok(detailRoles.includes('prompt-points'));
  for (const r of ['fit', 'rolling', 'departure-point', 'turning-point', 'points'])
    assert.ok(!detailRoles.includes(r), r);
  assert.ok((detail.figure.layout.annotations as { text: string }[]).some((a) => a.text === 'too few prompts (n = 5)'));
});

// ---------- distributions ----------

test('boxStats against hand-worked quartiles (linear interpolation) and Tukey whiskers', () => {
  // [1, 2, 3, 4, 100]: q1 = 2, median = 3, q3 = 4, IQR 2 → whiskers within [−1, 7]: 1 and 4; mean 110/5 = 22.
  assert.deepEqual(boxStats([100, 3, 1, 4, 2]), {
    n: 5,
    excluded: 0,
    min: 1,
    q1: 2,
    median: 3,
    q3: 4,
    max: 100,
    mean: 22,
    lowerFence: 1,
    upperFence: 4,
  });
  // [1, 2, 3, 4]: positions 0.75, 1.5, 2.25 → 1.75, 2.5, 3.25.
  const s = boxStats([4, 1, 3, 2, Infinity, NaN])!;
  assert.deepEqual([s.q1, s.median, s.q3, s.excluded, s.n], [1.75, 2.5, 3.25, 2, 4]);
  assert.equal(boxStats([Infinity]), null);
});

test('proxy/history figure: "(Def)" groups, category order, statistics and colours', () => {
  const scores = [
    rec('C', 'none', 0, 4.5, 4.6),
    rec('B', 'none', 1, 4.0, 4.4),
    rec('B', 'none', 1, 3.0, 3.8),
    rec('C', 'age', 0, 4.4, 4.5),
    rec('C', 'age', 0, 4.2, 4.9),
    rec('A', 'age', 3, 3.5, 5.0),
  ];
  const opts = figureOptions(CONFIG, 'movielens', ['item-cf']);
  const built = proxyHistoryFigure('movielens', 'item-cf', scores, opts);
  const d = built.data as ProxyHistoryData;
  assert.deepEqual(
    d.byProxy.map((g) => g.label),
    ['No Proxy (Def)', 'No Proxy', 'Age (Def)', 'Age'],
  );
  assert.deepEqual(
    d.byProxy.map((g) => g.crossEntropy.n),
    [1, 2, 2, 1],
  );
  assert.deepEqual(
    d.byHistory.map((g) => g.label),
    ['(Def)', '1', '3'],
  );
  assert.deepEqual(
    d.byHistory.map((g) => g.crossEntropy.n),
    [3, 2, 1],
  );
  // h = 0 pooled: cross-entropies 4.6, 4.5, 4.9 → median 4.6; target entropies 4.5, 4.4, 4.2 → median 4.4.
  assert.equal(d.byHistory[0].crossEntropy.median, 4.6);
  assert.equal(d.byHistory[0].targetEntropy.median, 4.4);
  // "No Proxy" with history: 4.4 and 3.8 → median 4.1 (to rounding).
  assert.ok(Math.abs(d.byProxy[1].crossEntropy.median - 4.1) < 1e-12);
  const traces = built.figure.data as Trace[];
  assert.equal(traces.length, 4);
  const ce = traces.filter((t) => t.meta?.role === 'crossEntropy');
  assert.deepEqual(
    ce.map((t) => (t.marker as { color: string }).color),
    [opts.styles['item-cf'].color, opts.styles['item-cf'].color],
  );
  assert.ok(
    traces
      .filter((t) => t.meta?.role === 'targetEntropy')
      .every((t) => (t.marker as { color: string }).color === TARGET_BOX_COLOR),
  );
  assert.deepEqual(
    ce[0].median,
    d.byProxy.map((g) => g.crossEntropy.median),
  );
  assert.match(JSON.stringify(built.figure.layout.annotations), /"Entropy \(bits\)"/);
  // Only age and none have prompts here; a model with no history prompts at all gets one panel, not an empty one.
  const noHistory = proxyHistoryFigure('movielens', 'item-cf', [], opts);
  assert.equal(noHistory.figure.layout.xaxis2, undefined);
  assert.match(JSON.stringify(noHistory.figure.layout.annotations), /no prompts/);
});

// ---------- detail ----------

test('detail figure: one subplot per proxy setting with binned means, rolling mean and fit in the model colour', () => {
  const opts = figureOptions(CONFIG, 'movielens', MODELS);
  const built = detailFigure('movielens', 'item-cf', SCORES['item-cf'], opts);
  const traces = built.figure.data as Trace[];
  const settings = Object.keys(COUNTS);
  for (const [i, setting] of settings.entries()) {
    const mine = traces.filter((t) => t.meta?.setting === setting);
    const roles = mine.map((t) => t.meta?.role);
    for (const r of ['identity', 'points', 'rolling', 'fit']) assert.ok(roles.includes(r), `${setting} lacks ${r}`);
    const axis = i === 0 ? 'x' : `x${i + 1}`;
    assert.ok(
      mine.every((t) => t.xaxis === axis),
      `${setting} drawn on ${axis}`,
    );
    // The binned points hold every prompt of the setting.
    const points = (built.data as { curves: Record<string, CurveData> }).curves[setting].points;
    const nPrompts = Object.values(COUNTS[setting]).reduce((a, b) => a + b, 0);
    assert.equal(
      points.reduce((s, p) => s + p.n, 0),
      nPrompts,
    );
    const fit = mine.find((t) => t.meta?.role === 'fit')!;
    assert.equal((fit.line as { color: string }).color, opts.styles['item-cf'].color);
  }
  assert.match(JSON.stringify(built.figure.layout.annotations), /"Cross-entropy \(bits\)"/);
  assert.match(JSON.stringify(built.figure.layout.annotations), /No Proxy \(n = 995\).*Age \(n = 1059\)/);
  // The rolling mean is drawn solid in a dark colour of its own, not as a faint dotted copy of the fit's colour.
  const rolling = traces.find((t) => t.meta?.role === 'rolling')!;
  const line = rolling.line as { color: string; dash?: string; width: number };
  assert.notEqual(line.color, opts.styles['item-cf'].color);
  assert.ok(line.dash === undefined && line.width >= 1.5, JSON.stringify(line));
});

test('colours agree across the trend, distribution and detail figures', () => {
  const opts = figureOptions(CONFIG, 'movielens', MODELS);
  const trend = entropyTrendFigure('movielens', SCORES, opts).figure.data as Trace[];
  for (const m of MODELS) {
    const trendColour = (trend.find((t) => t.meta?.role === 'fit' && t.meta.model === m)!.line as { color: string })
      .color;
    const box = (proxyHistoryFigure('movielens', m, SCORES[m], opts).figure.data as Trace[]).find(
      (t) => t.meta?.role === 'crossEntropy',
    )!;
    const detail = (detailFigure('movielens', m, SCORES[m], opts).figure.data as Trace[]).find(
      (t) => t.meta?.role === 'fit',
    )!;
    assert.equal((box.marker as { color: string }).color, trendColour, m);
    assert.equal((detail.line as { color: string }).color, trendColour, m);
  }
});

// ---------- Table 1 ----------

test('Table 1: only our settings and lengths, the paper beside them where it has them, totals over the same rows', () => {
  const counts: SampleCounts = { none: { '0': 1, '1': 10, '20': 0 }, all: { '0': 4, '1': 7, '20': 0 } };
  const t = table1Figure('movielens', counts, PAPER_TABLE1.movielens, {
    settingsOrder: ['none', 'age', 'gender', 'occupation', 'all'],
  });
  const cells = (t.figure.data[0] as { cells: { values: string[][] } }).cells.values;
  const [labels, hs, setups, ours, paper] = cells;
  // Our two settings × three lengths, nothing of the paper's other settings or lengths (h = 3, 5, 10; age, …).
  assert.deepEqual(labels, [
    'No Proxy (Def)',
    'No Proxy',
    'No Proxy',
    'All (Def)',
    'All',
    'All',
    '<b>Total (matched)</b>',
    '<b>Total (all ours)</b>',
  ]);
  assert.deepEqual(hs, ['0', '1', '20', '0', '1', '20', '', '']);
  assert.deepEqual(setups, ['C', 'B', 'B', 'C', 'A', 'A', '', '']);
  // The paper's None row: 1, 300, 5; All: 51, 300 and no h = 20 entry ("–", explained under the table).
  assert.deepEqual(paper.slice(0, 6), ['1', '300', '5', '51', '300', '–']);
  // Matched rows (all but All/20): ours 1 + 10 + 0 + 4 + 7 = 22 against the paper's 1 + 300 + 5 + 51 + 300 = 657;
  // all our rows: 22 as well (All/20 has 0), with no paper total beside it.
  assert.deepEqual(ours.slice(6), ['<b>22</b>', '<b>22</b>']);
  assert.deepEqual(paper.slice(6), ['<b>657</b>', '<b>–</b>']);
  const notes = (t.figure.layout.annotations as { text: string }[]).map((a) => a.text);
  assert.match(notes.join(' '), /– no counterpart in the paper/);
  // When the paper has every row: one total, the paper's over the same rows, and no note.
  const same = table1Figure('movielens', { age: { '0': 7, '1': 290 } }, PAPER_TABLE1.movielens);
  const sameCells = (same.figure.data[0] as { cells: { values: string[][] } }).cells.values;
  assert.deepEqual(
    sameCells.map((c) => c[c.length - 1]),
    ['<b>Total</b>', '', '', '<b>297</b>', '<b>307</b>'],
  );
  assert.equal(same.figure.layout.annotations, undefined);
  // Without the paper's numbers there is no paper column.
  assert.equal(
    (table1Figure('movielens', counts).figure.data[0] as { cells: { values: string[][] } }).cells.values.length,
    4,
  );
});

// ---------- the plot stage ----------

test('runPlot writes byte-identical figure data for the same inputs, and the specs for the report', async () => {
  const { config, dir } = tempConfig();
  writeSyntheticInputs(config, 'movielens', SCORES, COUNTS);
  // The plot stage gives runPlot its code version (lib/plot/stage.ts); figure-data.json records it as given.
  const code = '0123456789abcdef';
  const a = await runPlot(config, 'movielens', MODELS, { formats: ['html'], log: () => undefined, code });
  const first = fs.readFileSync(a.figureData);
  fs.rmSync(path.join(dir, 'figures'), { recursive: true });
  const logged: string[] = [];
  const b = await runPlot(config, 'movielens', MODELS, { formats: ['html'], log: (l) => logged.push(l), code });
  assert.equal(b.figureData, path.join(dir, 'figures', 'movielens', FIGURE_DATA_FILE));
  // The build (bands and figures, seconds on a slow machine) shows its progress: counts, rate, share and ETA.
  const steps = 3 * MODELS.length + 2 + 2 * MODELS.length;
  assert.ok(
    logged.some((l) => new RegExp(`^build movielens: \\d+/${steps} steps, .* steps/s, .*%, ETA `).test(l)),
    logged.join('\n'),
  );
  assert.ok(fs.readFileSync(b.figureData).equals(first), 'figure-data.json differs between two runs');
  const fd = JSON.parse(first.toString('utf8'));
  assert.equal(fd.unit, 'bits');
  assert.deepEqual(fd.curveOptions, {
    bins: 200,
    window: 30,
    order: 4,
    range: null,
    edges: 'shrink',
    departureGap: 0.1,
  });
  assert.deepEqual(
    fd.figures.map((f: { name: string }) => f.name),
    [
      'entropy-trend',
      'table1',
      'proxy-history-random',
      'proxy-history-item-cf',
      'proxy-history-oracle',
      'detail-random',
      'detail-item-cf',
      'detail-oracle',
    ],
  );
  assert.equal(fd.inputs.scores.length, 3);
  assert.match(fd.inputs.scores[0].sha256, /^[0-9a-f]{64}$/);
  // What shaped the figures: the code version, the look, the band's resamples and seed, each figure's size in inches.
  assert.equal(fd.figureParameters.code, code);
  assert.deepEqual(fd.figureParameters.look, {
    style: 'screen',
    size: null,
    fontPt: null,
    font: 'DejaVu Sans',
    dpi: null,
    legend: 'auto',
  });
  assert.deepEqual(
    [fd.figureParameters.band.resamples, fd.figureParameters.band.seed],
    [config.curves.bootstrap, config.seed],
  );
  assert.equal(fd.figureParameters.sizesIn['entropy-trend'].widthIn, 12.5);
  // The band per model × setup: on the fit's grid, around the fit.
  const trendData = fd.figures[0].data as TrendFigureData;
  const itemA = trendData.curves.A['item-cf'];
  assert.ok(itemA.band && itemA.band.length > 100, 'a band for item-cf in setup A');
  const fitAt = new Map(itemA.fitted.map((p) => [p.x, p.y]));
  const held = itemA.band!.filter((p) => p.low <= fitAt.get(p.x)! && fitAt.get(p.x)! <= p.high).length;
  assert.ok(held / itemA.band!.length > 0.9, `the fit lies in its band at ${held} of ${itemA.band!.length} points`);
  // Every figure is exported as a self-contained page.
  for (const f of fd.figures)
    assert.ok(fs.existsSync(path.join(dir, 'figures', 'movielens', `${f.name}.html`)), f.name);
  const specs = loadFigureSpecs(config, 'movielens');
  assert.ok(specs && specs['entropy-trend'].data.length > 0);
  assert.equal(loadFigureSpecs(config, 'lastfm'), null);
  // Different curve options give different figure data.
  const c = await runPlot(config, 'movielens', MODELS, {
    formats: ['html'],
    log: () => undefined,
    figure: { curve: { bins: 50 } },
  });
  assert.ok(!fs.readFileSync(c.figureData).equals(first));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('runPlot without Chromium still writes HTML and reports the skipped formats with the install command', async () => {
  const { config, dir } = tempConfig();
  writeSyntheticInputs(config, 'movielens', { oracle: SCORES.oracle }, COUNTS);
  const logs: string[] = [];
  const r = await runPlot(config, 'movielens', ['oracle'], {
    formats: ['html', 'svg', 'pdf', 'png'],
    executable: path.join(dir, 'no-chromium'),
    log: (s) => logs.push(s),
  });
  assert.deepEqual(
    r.skipped.map((s) => s.format),
    ['svg', 'pdf', 'png'],
  );
  assert.ok(logs.join('\n').includes('sudo apt-get install -y chromium'));
  assert.ok(r.files.some((f) => f.endsWith('entropy-trend.html')));
  assert.ok(!r.files.some((f) => f.endsWith('.svg')));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('runPlot names the missing score file', async () => {
  const { config, dir } = tempConfig();
  await assert.rejects(
    runPlot(config, 'movielens', ['item-cf'], { formats: ['html'], log: () => undefined }),
    (e: Error) => e.message.includes(scoresFile(config, 'item-cf', 'movielens')),
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('runPlot exports SVG with every model in the legend (Chromium)', async (t) => {
  if (!fs.existsSync(chromiumPath()))
    return t.skip(`Chromium is not installed at ${chromiumPath()} (sudo apt-get install -y chromium)`);
  const { config, dir } = tempConfig();
  const two = { 'item-cf': SCORES['item-cf'], random: SCORES.random };
  writeSyntheticInputs(config, 'movielens', two, COUNTS);
  const r = await runPlot(config, 'movielens', Object.keys(two), { formats: ['svg'], log: () => undefined });
  assert.deepEqual(r.skipped, []);
  const svg = fs.readFileSync(path.join(dir, 'figures', 'movielens', 'entropy-trend.svg'), 'utf8');
  for (const name of ['item-cf', 'random', 'X = Y (ideal)', 'departure point (interval)', 'Target entropy (bits)'])
    assert.ok(svg.includes(`>${name}<`), name);
  // 2 models × 3 setups fitted curves + 3 X=Y lines, each a drawn path.
  const drawn = svg.match(/<path class="js-line" d="M/g) ?? [];
  assert.ok(drawn.length >= 9, `only ${drawn.length} lines drawn`);
  assert.equal(r.files.filter((f) => f.endsWith('.svg')).length, 6);
  fs.rmSync(dir, { recursive: true, force: true });
});
