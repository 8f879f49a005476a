// Paired comparisons: cluster-robust (jackknife) differences in mean gap and slope, Holm's adjustment, families.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adjustComparisons,
  compareAligned,
  comparePairs,
  type Comparison,
  describeDifference,
  holm,
  type ModelScores,
} from '../lib/score/compare';
import { clusterIndex, clusteredMean, clusteredSlope } from '../lib/score/gap';
import { makeRng } from '../lib/core/rng';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

function model(modelId: string, x: number[], y: number[], ids = x.map((_, i) => `p${i}`)): ModelScores {
  return { modelId, promptIds: ids, targetEntropy: x, crossEntropy: y };
}

test('the jackknife (CR3) mean and its interval on a hand-worked example', () => {
  // Clusters {1, 3}, {2}, {6}: n = 4, mean 3. Leave-one-cluster-out means: (2+6)/2 = 4, (1+3+6)/3 = 10/3,
  // (1+3+2)/3 = 2; their mean 28/9; V = (2/3)·Σ(θ − 28/9)² = (2/3)·(64/81 + 4/81 + 100/81) = 112/81.
  const y = [1, 3, 2, 6];
  const cl = clusterIndex(['a', 'a', 'b', 'c']);
  const m = clusteredMean(y, cl, 0.95);
  close(m.estimate, 3, 1e-15);
  close(m.se!, Math.sqrt(112 / 81), 1e-12, 'se');
  // t(2) at 0.975 = 4.302652729911275 (published table: 4.303).
  close(m.high! - m.estimate, 4.302652729911275 * Math.sqrt(112 / 81), 1e-9, 'half width');
});

test('the jackknife slope equals leave-one-cluster-out refits worked out directly', () => {
  const x = [1, 2, 3, 4, 5, 6];
  const y = [1.2, 1.9, 3.4, 3.8, 5.3, 5.9];
  const labels = ['a', 'a', 'b', 'b', 'c', 'c'];
  const ols = (xs: number[], ys: number[]) => {
    const mx = xs.reduce((p, q) => p + q, 0) / xs.length;
    const my = ys.reduce((p, q) => p + q, 0) / ys.length;
    let sxx = 0;
    let sxy = 0;
    xs.forEach((v, i) => {
      sxx += (v - mx) ** 2;
      sxy += (v - mx) * (ys[i] - my);
    });
    return sxy / sxx;
  };
  const loo = ['a', 'b', 'c'].map((c) => {
    const keep = labels.map((l, i) => (l === c ? -1 : i)).filter((i) => i >= 0);
    return ols(
      keep.map((i) => x[i]),
      keep.map((i) => y[i]),
    );
  });
  const avg = loo.reduce((p, q) => p + q, 0) / 3;
  const v = (2 / 3) * loo.reduce((p, q) => p + (q - avg) ** 2, 0);
  const s = clusteredSlope(x, y, clusterIndex(labels), 0.95);
  close(s.estimate, ols(x, y), 1e-12);
  close(s.se!, Math.sqrt(v), 1e-12);
});

test("Holm's adjustment reproduces R's p.adjust(method = 'holm') and keeps nulls", () => {
  // p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
  const out = holm([0.01, 0.04, null, 0.03, 0.005]);
  assert.deepEqual(
    out.map((v) => (v === null ? null : Number(v.toFixed(12)))),
    [0.03, 0.06, null, 0.06, 0.02],
  );
  assert.deepEqual(holm([0.6, 0.9]), [1, 1], 'capped at 1');
});

test('paired differences: a constant shift is exact; the named pair forms its own family for Holm', () => {
  const rng = makeRng('compare-data');
  const N = 600;
  const X = Array.from({ length: N }, () => 1 + 2 * rng());
  const ya = X.map((x) => x + 0.5 + rng());
  const yb = ya.map((y) => y + 0.25);
  const yc = ya.map((y, i) => y + 0.01 * (rng() - 0.5) + (i % 2 ? 0.001 : 0));
  const clusterOf = (id: string) => `d${Math.floor(Number(id.slice(1)) / 3)}`;
  const out = compareAligned([model('a', X, ya), model('b', X, yb), model('c', X, yc)], {
    confidence: 0.95,
    clusterOf,
    named: [['b', 'a']],
  });
  const ab = out.find((c) => c.a === 'a' && c.b === 'b')!;
  close(ab.meanGapDiff!.estimate, -0.25, 1e-12);
  close(ab.meanGapDiff!.se!, 0, 1e-12, 'a constant difference has no spread');
  close(ab.slopeDiff!.estimate, 0, 1e-9, 'and no slope');
  assert.equal(ab.clusters, 200);
  assert.equal(ab.family, 'named');
  assert.equal(out.find((c) => c.a === 'a' && c.b === 'c')!.family, 'exploratory');
  const all: Comparison[] = out.map((c) => ({ domain: 'd', setup: 'A', ...c }));
  adjustComparisons(all);
  const exploratory = all.filter((c) => c.family === 'exploratory').flatMap((c) => [c.meanGapDiff!, c.slopeDiff!]);
  const expected = holm(exploratory.map((d) => d.p));
  exploratory.forEach((d, k) => assert.equal(d.pHolm, expected[k]));
  assert.match(describeDifference(ab.meanGapDiff), /^-0\.250 \[-0\.250, -0\.250\], Holm p /);
});

test('comparePairs uses the prompts both models scored, aligned by prompt id', () => {
  const rng = makeRng('compare-align');
  const X = Array.from({ length: 400 }, () => 1 + 2 * rng());
  const ids = X.map((_, i) => `p${i}`);
  const ya = X.map((x) => x + 1 + rng());
  const a = model('a', X, ya, ids);
  // b scored every other prompt, in reverse order, with a gap 0.5 larger.
  const keep = ids
    .map((_, i) => i)
    .filter((i) => i % 2 === 0)
    .reverse();
  const b = model(
    'b',
    keep.map((i) => X[i]),
    keep.map((i) => ya[i] + 0.5),
    keep.map((i) => ids[i]),
  );
  const [c] = comparePairs([b, a], { confidence: 0.95 });
  assert.equal(c.a, 'a');
  assert.equal(c.prompts, 200);
  close(c.meanGapDiff!.estimate, -0.5, 1e-12);
  close(c.meanGapDiff!.high!, -0.5, 1e-12, 'paired on the aligned prompts');
});
