// Method entries (issue 22): each measured method of a model ("<model>@<method>") goes through the same statistics,
// comparisons, figures and tables as a model. The numbers are checked against what this file computes from the
// parent's own score records (the measured H(p, q) the score stage wrote beside the ranking's), and the two code paths
// that must agree are set against each other: the comparison of a model with its own method entry is the paired
// difference the summary reports as `flatters`, with the sign turned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Config, loadConfig } from '../lib/core/config';
import { knownDistributionModel } from '../lib/query/known-distribution';
import { runQuery } from '../lib/query/runner';
import { loadComparisons, loadScores } from '../lib/score/files';
import { runScore } from '../lib/score/score';
import type { SampleScoreRecord } from '../lib/score/spread';
import { methodEntryId, methodEntryOf, withMethodEntries } from '../lib/score/method-entries';
import { scoreStage } from '../lib/score/stage';
import { flatteryRows } from '../lib/plot/flattery-figure';
import { modelStyles } from '../lib/plot/figure-common';
import { runPlot, figuresDir, FIGURE_DATA_FILE } from '../lib/plot/figures';
import { writeJsonl } from '../lib/core/io';
import { makeQueryFixture } from './helpers/query-fixture';

const quiet = { log: () => {} };
const known = { ...knownDistributionModel({ tau: 1, noise: 0.5 }), id: 'known' };
const popularity = { ...known, id: 'pop', model: 'popularity' };
delete (popularity as Record<string, unknown>).known;

function configFor(elicitation: string[], paths: Partial<Config['paths']>): Config {
  return loadConfig({
    env: {},
    overrides: {
      paths,
      query: { models: [known, popularity], elicitation },
      curves: { calibration: 0, bootstrap: 200 },
      figures: { formats: ['html'] },
    },
  });
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

/** Ordinary least-squares slope of y on x, computed here. */
function olsSlope(x: number[], y: number[]): number {
  const mx = mean(x);
  const my = mean(y);
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
  }
  return sxy / sxx;
}

async function scoredRun() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-method-entries-'));
  const fx = makeQueryFixture(root, { prompts: 90 });
  // The fixture's targets all have one entropy; the slope needs a spread: each prompt's masses get its own steepness.
  const samples = fx.samples.map((s, p) => {
    const weights = s.target.map((t, i) => (t > 0 ? (i + 1) ** (0.3 + (p % 10) / 4) : 0));
    const total = weights.reduce((a, b) => a + b, 0);
    const target = weights.map((w) => w / total);
    return { ...s, target, targetEntropy: -target.reduce((h, q) => (q > 0 ? h + q * Math.log2(q) : h), 0) };
  });
  writeJsonl(path.join(fx.paths.samples, 'movielens', 'samples.jsonl'), samples);
  const config = configFor(['ranking', 'stated', 'logprobs'], fx.paths);
  await runQuery(config, 'movielens', ['known', 'pop'], quiet);
  const summary = runScore(config, ['movielens'], ['known', 'pop'], quiet);
  return { fx, config, summary };
}

test('each measured method is an entry "<model>@<method>" whose statistics are those of its measured H(p, q)', async () => {
  const { config, summary } = await scoredRun();
  // The comparator (popularity) holds no distribution: it has no method entry.
  assert.deepEqual(Object.keys(summary.models), ['known', 'known@logprobs', 'known@stated', 'pop']);
  assert.deepEqual(withMethodEntries(summary, 'movielens', ['known', 'pop']), [
    'known',
    'known@logprobs',
    'known@stated',
    'pop',
  ]);
  const parent = loadScores(config, 'known', 'movielens') as SampleScoreRecord[];
  for (const method of ['stated', 'logprobs'] as const) {
    const id = methodEntryId('known', method);
    assert.deepEqual(methodEntryOf(id), { model: 'known', method });
    const rows = loadScores(config, id, 'movielens');
    assert.equal(rows.length, parent.length);
    rows.forEach((r, i) => {
      assert.equal(r.promptId, parent[i].promptId);
      assert.equal(r.crossEntropy, parent[i].measured![method]!.crossEntropy);
      assert.equal(r.totalVariation, parent[i].measured![method]!.totalVariation);
      assert.equal(r.method, method);
      assert.equal(r.of, 'known');
    });
    const entry = summary.models[id].movielens!;
    assert.deepEqual(entry.method, { name: method, of: 'known' });
    assert.equal(entry.positionBias, null, 'a distribution has no positions');
    for (const setup of ['A', 'B', 'C'] as const) {
      const inSetup = parent.filter((r) => r.setup === setup);
      const x = inSetup.map((r) => r.targetEntropy);
      const gap = inSetup.map((r) => r.measured![method]!.crossEntropy - r.targetEntropy);
      const g = entry.setups[setup]!.gap;
      assert.ok(Math.abs(g.meanGap.estimate - mean(gap)) < 1e-12, `${id} ${setup} mean gap`);
      assert.ok(Math.abs(g.gapSlope!.estimate - olsSlope(x, gap)) < 1e-9, `${id} ${setup} slope`);
      assert.ok(g.meanGap.low! < g.meanGap.estimate && g.meanGap.estimate < g.meanGap.high!, 'an interval');
      // The same number through the comparisons: the paired mean of (ranking − measured) is −flatters.
      const flatters = summary.models.known.movielens!.setups[setup]!.measured![method]!.flatters.estimate;
      const pair = loadComparisons(config).comparisons.find(
        (c) => c.domain === 'movielens' && c.setup === setup && c.a === 'known' && c.b === id,
      );
      assert.ok(pair, `comparison known vs ${id} in setup ${setup}`);
      assert.ok(Math.abs(pair.meanGapDiff!.estimate + flatters) < 1e-12, `${id} ${setup}: −flatters`);
      assert.equal(pair.family, 'exploratory');
    }
  }
  // The stamp of the score stage holds the entries in its part of the summary: a change to them is seen downstream.
  const part = scoreStage.outputs(config, { stage: 'score', domain: 'movielens', models: ['known', 'pop'] })[2].part!;
  assert.deepEqual(Object.keys((part.select(summary) as { models: object }).models), [
    'known',
    'known@logprobs',
    'known@stated',
    'pop',
  ]);
});

test('the flattery figure and the styles: one row per model, method and setup; an entry keeps its model colour', async () => {
  const { config, summary } = await scoredRun();
  const rows = flatteryRows(summary, 'movielens', ['known', 'pop']);
  assert.deepEqual(
    rows.map((r) => `${r.model} ${r.method} ${r.setup}`),
    ['known stated A', 'known stated B', 'known stated C', 'known logprobs A', 'known logprobs B', 'known logprobs C'],
  );
  for (const r of rows) {
    const f = summary.models.known.movielens!.setups[r.setup]!.measured![r.method]!.flatters;
    assert.deepEqual([r.flatters, r.low, r.high], [f.estimate, f.low, f.high]);
  }
  const styles = modelStyles(config, ['known', 'known@stated', 'known@logprobs', 'pop']);
  assert.equal(styles['known@stated'].color, styles.known.color);
  assert.equal(styles['known@logprobs'].color, styles.known.color);
  assert.notEqual(styles['known@stated'].dash, styles.known.dash);
  assert.notEqual(styles['known@stated'].dash, styles['known@logprobs'].dash);
  assert.notEqual(styles.pop.color, styles.known.color, 'the entries take no palette colour of their own');
  // The plot stage draws the entries beside their model and adds the flattery figure.
  await runPlot(config, 'movielens', ['known', 'pop'], { ...quiet, formats: ['html'] });
  const data = JSON.parse(fs.readFileSync(path.join(figuresDir(config, 'movielens'), FIGURE_DATA_FILE), 'utf8'));
  assert.deepEqual(
    data.models.map((m: { id: string }) => m.id),
    ['known', 'known@logprobs', 'known@stated', 'pop'],
  );
  const flattery = data.figures.find((f: { name: string }) => f.name === 'flattery');
  assert.deepEqual(flattery.data.rows, JSON.parse(JSON.stringify(rows)));
});

test('a re-score without a method drops its entry (a stale entry would be read as current); "@" is refused in a model id', async () => {
  const { fx, config } = await scoredRun();
  const withoutStated = configFor(['ranking', 'logprobs'], fx.paths);
  const summary = runScore(withoutStated, ['movielens'], ['known', 'pop'], quiet);
  assert.deepEqual(Object.keys(summary.models), ['known', 'known@logprobs', 'pop']);
  assert.ok(!loadComparisons(config).comparisons.some((c) => c.a === 'known@stated' || c.b === 'known@stated'));
  assert.throws(
    () => loadConfig({ env: {}, overrides: { query: { models: [{ ...known, id: 'known@stated' }] } } }),
    /"query\.models\[0\]\.id" must be a non-empty string without "@"/,
  );
});
