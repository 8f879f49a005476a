// Calibration shown, not assumed: on a design built like a run's (draws of 1–5 prompts of one group, target entropies
// crowded at the top of the range, noise correlated within a draw and larger at low entropy), every interval of the gap
// statistics must cover its true value 93–97 % of the time at nominal 95 %, for a step and a soft departure (the
// simultaneous band is held to two Monte-Carlo errors below that range, where it sits today); the region edge of a sharp
// step, pinned between two adjacent prompts, must cover at least 93 %.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRng } from '../lib/core/rng';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type Design,
  calibrateSetup,
  measureCoverage,
  trueEdge,
  trueGap,
  underCoverage,
} from '../lib/score/calibration';
import { startCalibration } from '../lib/score/calibration-run';
import { gapStats } from '../lib/score/gap';

function runLikeDesign(seed: string, draws: number): Design {
  const rng = makeRng(seed);
  const x: number[] = [];
  const cluster: string[] = [];
  const noiseGap: number[] = [];
  for (let d = 0; d < draws; d++) {
    const size = 1 + Math.floor(rng() * 5);
    const start = 4.64 - 1.4 * rng() ** 2;
    const shared = 0.15 * (rng() - 0.5);
    for (let k = 0; k < size; k++) {
      const h = Math.max(3, start - 0.15 * k * rng());
      x.push(h);
      cluster.push(`d${d}`);
      // A baseline-like gap: rising with entropy, noisier at low entropy, correlated within the draw.
      noiseGap.push(0.3 * (h - 3.5) + shared + (0.05 + 0.1 * (4.64 - h)) * (rng() - 0.5) * 2);
    }
  }
  return { x, cluster, noiseGap };
}

const opts = { minBinPrompts: 40, maxBins: 20, threshold: 0.1, resamples: 200, confidence: 0.95, replicates: 600 };

for (const model of [
  { name: 'step', at: 4.1, size: 0.5 },
  { name: 'soft', at: 4.3, size: 0.5 },
] as const) {
  test(`measured coverage of every interval lies in 0.93–0.97 for a ${model.name} departure (600 simulated datasets)`, () => {
    const design = runLikeDesign('calibration-design', 300);
    const c = measureCoverage(design, model, { ...opts, seed: `calibration-${model.name}` });
    const report = JSON.stringify(c);
    console.log(`${model.name}: ${report}`);
    for (const key of ['meanGap', 'gapSlope', 'pointwise', 'pairedMean', 'pairedSlope'] as const) {
      assert.ok(c[key] >= 0.93 && c[key] <= 0.97, `${key}: ${c[key]} (${report})`);
    }
    // The simultaneous band reaches 0.91–0.955 here depending on the random stream (0.943 and 0.947 with this one): at the
    // range's lower end for the step, held within two Monte-Carlo errors of it so that a change that makes it worse
    // fails (docs/decisions.md).
    assert.ok(c.simultaneous >= 0.93 - 2 * c.monteCarloError && c.simultaneous <= 0.97, `simultaneous: ${report}`);
    assert.ok(c.regionFound >= 0.95, `the low-end region is found: ${report}`);
    // The edge is a change point between two prompts: for the soft rise its interval is calibrated; for a sharp step the
    // data pin it between the same two prompts in almost every dataset, and an interval that holds them covers ~0.99.
    if (model.name === 'soft') assert.ok(c.regionEdge! >= 0.93 && c.regionEdge! <= 0.97, `region edge: ${report}`);
    else assert.ok(c.regionEdge !== null && c.regionEdge >= 0.93, `region edge: ${report}`);
  });
}

test('the simulated curves and their true edges are what they say', () => {
  assert.equal(trueGap({ name: 'step', at: 4, size: 0.5 }, 3.9), 0.5);
  assert.equal(trueGap({ name: 'step', at: 4, size: 0.5 }, 4), 0);
  assert.ok(Math.abs(trueGap({ name: 'soft', at: 4, size: 0.5 }, 3.6) - 0.2) < 1e-15);
  assert.equal(trueEdge({ name: 'step', at: 4, size: 0.5 }, 0.1), 4);
  assert.ok(Math.abs(trueEdge({ name: 'soft', at: 4.3, size: 0.5 }, 0.1)! - 4.1) < 1e-12);
  assert.equal(trueEdge({ name: 'step', at: 4, size: 0.05 }, 0.1), null, 'a step below the threshold never departs');
});

test('a handful of prompts cannot flip the slope: replacing 3 answers with random gaps moves it by less than its interval', () => {
  const design = runLikeDesign('flip-design', 1200);
  const g = design.noiseGap.slice();
  const base = gapStats({ x: design.x, gap: g, cluster: design.cluster }, { ...opts, resamples: 200, seed: 'flip' });
  const flipped = g.slice();
  // The three lowest-entropy prompts (those that decided the old departure point) get a random model's gap.
  const lowest = design.x
    .map((h, i) => [h, i] as const)
    .sort((a, b) => a[0] - b[0])
    .slice(0, 3)
    .map(([, i]) => i);
  for (const i of lowest) flipped[i] = 1.6;
  const after = gapStats(
    { x: design.x, gap: flipped, cluster: design.cluster },
    { ...opts, resamples: 200, seed: 'flip' },
  );
  const width = base.gapSlope.high! - base.gapSlope.low!;
  assert.ok(
    Math.abs(after.gapSlope.estimate - base.gapSlope.estimate) < width / 2,
    `${base.gapSlope.estimate} → ${after.gapSlope.estimate}`,
  );
  assert.equal(after.region.direction, base.region.direction, 'the region keeps its direction');
});

test('an interval measured clearly too narrow is named: below 0.93 by more than two Monte-Carlo errors', () => {
  // At 200 datasets the Monte-Carlo error of a 0.95 coverage is sqrt(0.95 · 0.05 / 200) = 0.01541, so the floor is
  // 0.93 − 0.03082 = 0.89918: 0.89 is named, 0.90 is within the noise, a missing edge is skipped.
  const base = {
    replicates: 200,
    monteCarloError: Math.sqrt((0.95 * 0.05) / 200),
    meanGap: 0.95,
    gapSlope: 0.95,
    pointwise: 0.9,
    simultaneous: 0.89,
    regionEdge: null,
    regionFound: 1,
    pairedMean: 0.95,
    pairedSlope: 0.95,
  };
  const cal = {
    noiseModel: 'popularity',
    prompts: 900,
    clusters: 300,
    resamples: 200,
    coverage: [
      { ...base, model: { name: 'step' as const, at: 4.1, size: 0.5 } },
      { ...base, simultaneous: 0.95, pairedSlope: 0.5, model: { name: 'soft' as const, at: 4.3, size: 0.5 } },
    ],
  };
  assert.deepEqual(underCoverage(cal, 0.95), [
    'profile (simultaneous) 0.890 (step curve, 200 datasets)',
    'paired slope difference 0.500 (soft curve, 200 datasets)',
  ]);
});

test('a calibration is remembered under the digest of its inputs: unchanged inputs read it, any change measures again', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-calcache-'));
  try {
    const design = runLikeDesign('cache-design', 60);
    const small = { ...opts, resamples: 20, replicates: 6, seed: 'cache' };
    const run = (d: Design, o: typeof small) =>
      startCalibration([{ name: 'movielens-A', design: d, noiseModel: 'popularity', opts: o }], dir)().get(
        'movielens-A',
      )!;
    const first = run(design, small);
    const again = run(design, small);
    assert.deepEqual([first.cached, again.cached], [false, true]);
    assert.deepEqual(again.calibration, first.calibration);
    // Byte-identical to measuring without the cache, in this thread.
    assert.equal(JSON.stringify(again.calibration), JSON.stringify(calibrateSetup(design, 'popularity', small)));
    // Another threshold, another noise or a changed design measure again; the older entry is replaced.
    assert.equal(run(design, { ...small, threshold: 0.2 }).cached, false);
    const moved = { ...design, noiseGap: design.noiseGap.map((g, i) => (i === 0 ? g + 0.01 : g)) };
    assert.equal(run(moved, small).cached, false);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('movielens-A.')).length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('setups measured in worker threads give the numbers of measuring them one by one in this thread', () => {
  // Two setups of 900 and 600 prompts: above the size where workers are used (on a machine with two cores or more).
  const a = runLikeDesign('parallel-a', 300);
  const b = runLikeDesign('parallel-b', 200);
  const small = { ...opts, resamples: 30, replicates: 8 };
  const requests = [
    { name: 'x-A', design: a, noiseModel: 'popularity', opts: { ...small, seed: 'pa' } },
    { name: 'x-B', design: b, noiseModel: 'popularity', opts: { ...small, seed: 'pb' } },
  ];
  const parallel = startCalibration(requests, null)();
  for (const r of requests)
    assert.equal(
      JSON.stringify(parallel.get(r.name)!.calibration),
      JSON.stringify(calibrateSetup(r.design, r.noiseModel, r.opts)),
      r.name,
    );
});
