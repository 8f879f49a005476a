// The position-bias test (issue 21): its variance under sampling without replacement, worked by hand and by exact
// enumeration; its false-positive rate over 2,000 simulated order-blind datasets per scenario; its power.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../lib/core/config';
import { makeRng, sampleWithoutReplacement, shuffleInPlace } from '../lib/core/rng';
import type { ResponseRecord, SampleRecord } from '../lib/core/types';
import { reorderedSample } from '../lib/sample/orders';
import { chiSquareCritical, chiSquareSurvival } from '../lib/score/chi-square';
import {
  type ListingClass,
  type PositionShape,
  listingVariance,
  monteCarloPValue,
  positionBinSizes,
  positionChiSquare,
  simulatePositionTest,
  wilsonInterval,
} from '../lib/score/position-bias-calibration';
import { positionBias } from '../lib/score/position-bias';

function sample(id: string, candidates: string[], order?: number): SampleRecord {
  return {
    v: 1,
    id,
    domain: 'movielens',
    setup: 'A',
    proxy: 'none',
    demography: {},
    history: [],
    candidates,
    target: candidates.map(() => 1 / candidates.length),
    targetEntropy: Math.log2(candidates.length),
    groupSize: 1,
    drawId: id,
    seed: 'test',
    ...(order ? { order } : {}),
  };
}

function answer(promptId: string, ranked: string[], ask?: number): ResponseRecord {
  return {
    v: 1,
    promptId,
    ...(ask !== undefined ? { sample: ask } : {}),
    key: `${promptId}-${ask ?? 0}`,
    modelId: 'm',
    messages: [],
    raw: '',
    ranked,
    diagnostics: {
      returned: ranked.length,
      unmatched: [],
      duplicates: [],
      matchKinds: ranked.map(() => 'exact'),
      tooFew: false,
      tooMany: false,
      unparseable: false,
    },
    usage: { inputTokens: 0, outputTokens: 0 },
    costUsd: 0,
    model: 'm',
    fingerprint: null,
    latencyMs: 0,
    via: 'baseline',
    answeredAt: '1970-01-01T00:00:00.000Z',
  };
}

const ids = (prefix: string, k: number) => Array.from({ length: k }, (_, j) => `${prefix}c${j}`);

// ---------------------------------------------------------------- the statistic, by hand and by enumeration

test('position test worked by hand: 10 picks of 50 in positions 1–10 give Pearson 40, factor 49/40, χ² = 49', () => {
  const s = sample('p', ids('', 50));
  const b = positionBias([s], [answer('p', s.candidates.slice(0, 10))], { calibration: false })!;
  // Expected 2 per bin: Pearson = (10 − 2)²/2 + 4 · 2²/2 = 32 + 8 = 40. One answer of n = 10 distinct picks of K = 50:
  // w = n(K − n)/(K − 1) = 400/49, so the factor M/W = 10 · 49/400 = 49/40 and χ² = 49.
  assert.ok(Math.abs(b.uncorrectedChiSquare - 40) < 1e-12);
  assert.ok(Math.abs(b.correction - 49 / 40) < 1e-15);
  assert.ok(Math.abs(b.chiSquare - 49) < 1e-12);
  assert.equal(b.degreesOfFreedom, 4);
  // χ²(4) survival in closed form: e^(−x/2)(1 + x/2).
  assert.ok(Math.abs(b.pValue - Math.exp(-24.5) * 25.5) / (Math.exp(-24.5) * 25.5) < 1e-9);
  assert.deepEqual(
    { method: b.method, unit: b.unit, prompts: b.prompts, listings: b.listings, answers: b.answers, picks: b.picks },
    {
      method: 'chi-square, without-replacement variance',
      unit: 'prompt',
      prompts: 1,
      listings: 1,
      answers: 1,
      picks: 10,
    },
  );
  assert.equal(b.falsePositiveRate, null);
  assert.equal(b.monteCarloPValue, null);
});

test('position test worked by hand: two asks sharing a pick, K = 20 (two bins)', () => {
  // Ask 0 names the candidates at positions 1 and 2, ask 1 those at positions 1 and 15. Multiplicities 2, 1, 1:
  // M = 4, Σm² = 6, w = (20 · 6 − 4²)/19 = 104/19. Counts 3 | 1 against 2 | 2: Pearson = 1/2 + 1/2 = 1, so
  // χ² = 1 · 4 · 19/104 = 19/26. Counting the 4 picks as independent would say χ² = 1.
  const s = sample('p', ids('', 20));
  const c = s.candidates;
  const b = positionBias([s], [answer('p', [c[0], c[1]], 0), answer('p', [c[0], c[14]], 1)], { calibration: false })!;
  assert.deepEqual(
    b.bins.map((x) => [x.from, x.to, x.picks, x.share, x.expectedShare]),
    [
      [1, 10, 3, 0.75, 0.5],
      [11, 20, 1, 0.25, 0.5],
    ],
  );
  assert.ok(Math.abs(b.uncorrectedChiSquare - 1) < 1e-12);
  assert.ok(Math.abs(b.chiSquare - 19 / 26) < 1e-12);
  assert.ok(Math.abs(b.pValue - chiSquareSurvival(19 / 26, 1)) < 1e-15);
  assert.equal(b.answers, 2);
  assert.equal(b.listings, 1);
  // A later answer to the same prompt and ask replaces the earlier one (as the score stage reads answers).
  const replaced = positionBias(
    [s],
    [answer('p', [c[19]], 0), answer('p', [c[0], c[1]], 0), answer('p', [c[0], c[14]], 1)],
    { calibration: false },
  )!;
  assert.equal(replaced.chiSquare, b.chiSquare);
  // Identical asks count once: 3 copies of one answer give that answer's statistic.
  const one = positionBias([s], [answer('p', c.slice(0, 4))], { calibration: false })!;
  const three = positionBias(
    [s],
    [0, 1, 2].map((k) => answer('p', c.slice(0, 4), k)),
    { calibration: false },
  )!;
  assert.ok(Math.abs(three.chiSquare - one.chiSquare) < 1e-12);
  assert.ok(Math.abs(three.uncorrectedChiSquare - 3 * one.uncorrectedChiSquare) < 1e-12);
});

test('candidate orders of one sample are pooled as independent listings; the unit counts drawn samples', () => {
  const s1 = sample('p', ids('', 50));
  const s2 = sample('p/o2', [...s1.candidates].reverse(), 2);
  const picks = s1.candidates.slice(0, 10);
  const b = positionBias([s1, s2], [answer('p', picks), answer('p/o2', picks)], { calibration: false })!;
  // Order 1 puts the picks in positions 1–10, order 2 in 41–50: counts 10, 0, 0, 0, 10 against 4 each.
  // Pearson = 2 · 36/4 + 3 · 16/4 = 30; two listings of 10 picks: factor 49/40 again.
  assert.deepEqual(
    b.bins.map((x) => x.picks),
    [10, 0, 0, 0, 10],
  );
  assert.ok(Math.abs(b.chiSquare - (30 * 49) / 40) < 1e-12);
  assert.deepEqual([b.prompts, b.listings, b.answers], [1, 2, 2]);
});

/** Exact moments of the pooled bin counts of one listing over every placement of its named candidates. */
function enumerate(K: number, multiplicities: number[]) {
  const sizes = positionBinSizes(K);
  const B = sizes.length;
  const binOf = (p: number) => Math.floor(p / 10);
  const mean = new Array<number>(B).fill(0);
  const second = Array.from({ length: B }, () => new Array<number>(B).fill(0));
  let meanChi = 0;
  let meanPearson = 0;
  let placements = 0;
  const M = multiplicities.reduce((a, b) => a + b, 0);
  const W = listingVariance(multiplicities, K);
  const used = new Array<boolean>(K).fill(false);
  const counts = new Array<number>(B).fill(0);
  const walk = (j: number) => {
    if (j === multiplicities.length) {
      placements++;
      for (let b = 0; b < B; b++) {
        mean[b] += counts[b];
        for (let c = 0; c < B; c++) second[b][c] += counts[b] * counts[c];
      }
      const s = positionChiSquare(counts, sizes, M, W);
      meanChi += s.chiSquare;
      meanPearson += s.uncorrectedChiSquare;
      return;
    }
    for (let p = 0; p < K; p++) {
      if (used[p]) continue;
      used[p] = true;
      counts[binOf(p)] += multiplicities[j];
      walk(j + 1);
      counts[binOf(p)] -= multiplicities[j];
      used[p] = false;
    }
  };
  walk(0);
  const cov = second.map((row, b) =>
    row.map((v, c) => v / placements - (mean[b] / placements) * (mean[c] / placements)),
  );
  return {
    sizes,
    M,
    W,
    mean: mean.map((m) => m / placements),
    cov,
    meanChi: meanChi / placements,
    meanPearson: meanPearson / placements,
  };
}

test('exact enumeration: the counts have covariance w·(diag(s) − s sᵀ) and the corrected statistic has mean B − 1', () => {
  // K = 25: bins of 10, 10 and 5 positions (an unequal last bin); one ask of 3 picks, and asks that named one
  // candidate twice and two once (multiplicities 2, 1, 1). Every injection of the named candidates into 25 positions.
  for (const multiplicities of [
    [1, 1, 1],
    [2, 1, 1],
    [3, 3],
  ]) {
    const K = 25;
    const e = enumerate(K, multiplicities);
    const s = e.sizes.map((x) => x / K);
    const M = multiplicities.reduce((a, b) => a + b, 0);
    const Mm = multiplicities.reduce((a, b) => a + b * b, 0);
    // w from the pairwise covariance of distinct positions, written out independently of listingVariance.
    const w = Mm - (M * M - Mm) / (K - 1);
    for (let b = 0; b < s.length; b++) {
      assert.ok(Math.abs(e.mean[b] - M * s[b]) < 1e-12, `mean of bin ${b}`);
      for (let c = 0; c < s.length; c++) {
        const expected = w * ((b === c ? s[b] : 0) - s[b] * s[c]);
        assert.ok(Math.abs(e.cov[b][c] - expected) < 1e-12, `cov[${b}][${c}] ${e.cov[b][c]} vs ${expected}`);
      }
    }
    assert.ok(Math.abs(e.W - w) < 1e-12);
    assert.ok(Math.abs(e.meanChi - (s.length - 1)) < 1e-12, `E[χ²] = ${e.meanChi}`);
    // Pearson's multinomial statistic has mean (W/M)(B − 1): below B − 1 for distinct picks, above it for repeats.
    assert.ok(Math.abs(e.meanPearson - (w / M) * (s.length - 1)) < 1e-12);
  }
});

// ---------------------------------------------------------------- false-positive rates, 2,000 datasets each

const pattern = (...m: number[]) => m;
const tenOnce = pattern(...new Array<number>(10).fill(1));
const shape = (classes: ListingClass[]): PositionShape => ({ K: 50, classes });

/** Scenarios at the MovieLens mirror's size (5,504 prompts) and a small run (200 prompts). */
const SCENARIOS: { name: string; shape: PositionShape; uncorrected: [number, number] }[] = [
  {
    name: '5,504 prompts × 10 picks',
    shape: shape([{ multiplicities: tenOnce, listings: 5504 }]),
    uncorrected: [0, 0.035],
  },
  {
    name: '200 prompts × 10 picks',
    shape: shape([{ multiplicities: tenOnce, listings: 200 }]),
    uncorrected: [0, 0.035],
  },
  ...[2, 3, 5].map((a) => ({
    name: `5,504 prompts × ${a} identical asks`,
    shape: shape([{ multiplicities: new Array<number>(10).fill(a), listings: 5504 }]),
    uncorrected: [0.15, 1] as [number, number],
  })),
  {
    name: '5,504 prompts × 3 candidate orders',
    shape: shape([{ multiplicities: tenOnce, listings: 3 * 5504 }]),
    uncorrected: [0, 0.035],
  },
  {
    // An LLM-like run: most answers name 10 valid candidates, some fewer (each listing weighted by its own n).
    name: '5,504 prompts, 1–10 valid picks',
    shape: shape(
      [10, 9, 8, 7, 6, 5, 4, 3, 2, 1].map((n, i) => ({
        multiplicities: new Array<number>(n).fill(1),
        listings: i === 0 ? 5504 - 9 * 100 : 100,
      })),
    ),
    uncorrected: [0, 0.04],
  },
  {
    // Temperature > 0: 3 asks per prompt naming 7 common candidates, 2 named twice, 5 named once.
    name: '200 prompts × 3 overlapping asks',
    shape: shape([{ multiplicities: pattern(3, 3, 3, 3, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1), listings: 200 }]),
    uncorrected: [0.15, 1],
  },
];

test('false-positive rate over 2,000 order-blind datasets lies in 0.04–0.06 in every scenario', () => {
  const rows: string[] = [];
  for (const s of SCENARIOS) {
    const sim = simulatePositionTest(s.shape, { datasets: 2000, seed: `fpr-${s.name}` });
    const { rate, low, high } = sim.corrected;
    rows.push(
      `${s.name}: ${rate.toFixed(4)} [${low.toFixed(4)}, ${high.toFixed(4)}]; uncorrected ${sim.uncorrected.rate.toFixed(4)}`,
    );
    assert.ok(rate >= 0.04 && rate <= 0.06, `${s.name}: false-positive rate ${rate}`);
    // The uncorrected multinomial statistic is conservative for distinct picks and anti-conservative for repeats: the
    // reason for the correction, reproduced.
    const [lo, hi] = s.uncorrected;
    assert.ok(
      sim.uncorrected.rate >= lo && sim.uncorrected.rate <= hi,
      `${s.name}: uncorrected ${sim.uncorrected.rate}`,
    );
    // The simulated statistics have the χ²(4) mean the derivation gives (4 ± 4 standard errors of a χ²(4) mean).
    const mean = sim.statistics.reduce((a, b) => a + b, 0) / sim.statistics.length;
    assert.ok(Math.abs(mean - 4) < 4 * Math.sqrt(8 / 2000), `${s.name}: mean statistic ${mean}`);
  }
  console.log(`position test at 0.05, 2,000 order-blind datasets each:\n  ${rows.join('\n  ')}`);
});

test('false-positive rate end to end: positionBias on sample and answer records with candidate orders and asks', () => {
  // 2,000 datasets of 60 drawn samples, each listed in a shuffled order and in an order 2 (reorderedSample's shuffle
  // for the first dataset, then the same kind of seeded shuffle, which is faster), asked twice by a model blind to the
  // order: it names the same 10 candidates, by name, whatever the listing; the second ask swaps 3 of them
  // (temperature > 0).
  const config = loadConfig({ env: {}, overrides: { seed: 21 } });
  const rng = makeRng('fpr-end-to-end');
  const DATASETS = 2000;
  const PROMPTS = 60;
  let rejected = 0;
  let rejectedUncorrected = 0;
  const critical = chiSquareCritical(0.05, 4);
  for (let t = 0; t < DATASETS; t++) {
    const samples: SampleRecord[] = [];
    const responses: ResponseRecord[] = [];
    for (let i = 0; i < PROMPTS; i++) {
      const names = ids(`d${t}p${i}`, 50);
      const drawn = sample(`d${t}/p${i}`, shuffleInPlace(rng, names.slice()));
      const other =
        t === 0 ? reorderedSample(drawn, 2, config) : sample(`${drawn.id}/o2`, shuffleInPlace(rng, names.slice()), 2);
      samples.push(drawn, other);
      const first = names.slice(0, 10);
      const second = [...names.slice(0, 7), ...names.slice(10, 13)];
      for (const listing of [drawn, other]) responses.push(answer(listing.id, first, 0), answer(listing.id, second, 1));
    }
    const b = positionBias(samples, responses, { calibration: false })!;
    if (b.pValue < 0.05) rejected++;
    if (b.uncorrectedChiSquare >= critical) rejectedUncorrected++;
    if (t === 0)
      assert.deepEqual([b.prompts, b.listings, b.answers, b.picks], [PROMPTS, 2 * PROMPTS, 4 * PROMPTS, 40 * PROMPTS]);
  }
  const { rate, low, high } = wilsonInterval(rejected, DATASETS);
  console.log(
    `end to end (${PROMPTS} samples × 2 orders × 2 overlapping asks): ${rate.toFixed(4)} [${low.toFixed(4)}, ${high.toFixed(4)}]; ` +
      `uncorrected ${(rejectedUncorrected / DATASETS).toFixed(4)}`,
  );
  assert.ok(rate >= 0.04 && rate <= 0.06, `false-positive rate ${rate}`);
  assert.ok(rejectedUncorrected / DATASETS > 0.1, 'pooling the asks without their overlap rejects too often');
});

test('a run carries its own calibration: the measured rate, the Monte-Carlo p-value against 2,000 order-blind runs', () => {
  const rng = makeRng('calibration-record');
  const samples: SampleRecord[] = [];
  const responses: ResponseRecord[] = [];
  for (let i = 0; i < 300; i++) {
    const s = sample(`p${i}`, shuffleInPlace(rng, ids(`p${i}`, 50)));
    samples.push(s);
    // Valid picks 4–10 named uniformly without replacement: order-blind.
    responses.push(answer(s.id, sampleWithoutReplacement(rng, s.candidates, 4 + (i % 7))));
  }
  const b = positionBias(samples, responses)!;
  const fpr = b.falsePositiveRate!;
  assert.equal(fpr.datasets, 2000);
  assert.equal(fpr.alpha, 0.05);
  assert.ok(fpr.rate >= 0.04 && fpr.rate <= 0.06, `rate ${fpr.rate}`);
  assert.ok(fpr.low < fpr.rate && fpr.rate < fpr.high);
  assert.ok(fpr.uncorrectedRate < fpr.rate, 'distinct picks: the uncorrected test is conservative');
  // The Monte-Carlo p-value agrees with the χ² p-value (within Monte-Carlo error plus the approximation).
  assert.ok(Math.abs((b.monteCarloPValue as number) - b.pValue) < 0.04, `${b.monteCarloPValue} vs ${b.pValue}`);
  // Deterministic: the same answers give the same record.
  assert.deepEqual(positionBias(samples, responses), b);
  // Monte-Carlo p-values by hand: 4 statistics, x above all → 1/5; x equal to the smallest → 5/5.
  const stats = Float64Array.from([1, 2, 3, 4]);
  assert.equal(monteCarloPValue(stats, 10), 1 / 5);
  assert.equal(monteCarloPValue(stats, 1), 1);
  assert.equal(monteCarloPValue(stats, 3), 3 / 5);
});

// ---------------------------------------------------------------- power

test('power: a model favouring positions 1–10 is detected; the weighted sampler is order-blind at equal weights', () => {
  const favour = (w: number) => Array.from({ length: 50 }, (_, i) => (i < 10 ? w : 1));
  const small = shape([{ multiplicities: tenOnce, listings: 200 }]);
  const mirror = shape([{ multiplicities: tenOnce, listings: 5504 }]);
  const lines: string[] = [];
  const cases: [PositionShape, number, string, number][] = [
    // Weight 1.25: 23.3 % of the picks in positions 1–10 instead of 20 %; weight 1.05: 20.7 %.
    [small, 1.25, '200 prompts, weight 1.25', 0.85],
    [mirror, 1.05, '5,504 prompts, weight 1.05', 0.9],
  ];
  for (const [s, w, name, floor] of cases) {
    const sim = simulatePositionTest(s, { datasets: 500, seed: `power-${name}`, positionWeights: favour(w) });
    lines.push(`${name}: power ${sim.corrected.rate.toFixed(3)} (uncorrected ${sim.uncorrected.rate.toFixed(3)})`);
    assert.ok(sim.corrected.rate >= floor, `${name}: power ${sim.corrected.rate}`);
    assert.ok(sim.corrected.rate > sim.uncorrected.rate, 'the correction also gains power');
  }
  // One weight per bin takes a faster path (an urn of bins); the same model with one position's weight off by 1e-12
  // takes the path over positions. Both turn one draw into one pick and scan in position order, so with one seed they
  // name the same bins.
  const bySlot = favour(1.25);
  bySlot[3] += 1e-12;
  const slow = simulatePositionTest(small, { datasets: 300, seed: 'power-paths', positionWeights: bySlot });
  const fast = simulatePositionTest(small, { datasets: 300, seed: 'power-paths', positionWeights: favour(1.25) });
  assert.deepEqual(slow.statistics, fast.statistics);
  const blind = simulatePositionTest(small, { datasets: 2000, seed: 'power-blind', positionWeights: favour(1) });
  lines.push(`weights all 1: ${blind.corrected.rate.toFixed(4)}`);
  assert.ok(blind.corrected.rate >= 0.04 && blind.corrected.rate <= 0.06, `equal weights: ${blind.corrected.rate}`);
  // The order-blind path draws listings from alias tables (one and two listings at a time); the urn of equal weights
  // draws position by position. Their statistics have one distribution: two-sample Kolmogorov–Smirnov distance below
  // its 5 % critical value 1.36·√(2/2000).
  const tabled = simulatePositionTest(small, { datasets: 2000, seed: 'power-tabled' }).statistics;
  let ks = 0;
  for (let i = 0, j = 0; i < 2000 && j < 2000;) {
    if (blind.statistics[i] <= tabled[j]) i++;
    else j++;
    ks = Math.max(ks, Math.abs(i - j) / 2000);
  }
  lines.push(`Kolmogorov–Smirnov distance, urn vs tables: ${ks.toFixed(4)}`);
  assert.ok(ks < 1.36 * Math.sqrt(2 / 2000), `KS distance ${ks}`);
  console.log(lines.join('\n'));
});

test('the simulation refuses shapes it cannot simulate, naming what is wrong', () => {
  assert.throws(() => simulatePositionTest({ K: 8, classes: [{ multiplicities: [1], listings: 5 }] }), /single bin/);
  assert.throws(
    () => simulatePositionTest({ K: 20, classes: [{ multiplicities: new Array<number>(21).fill(1), listings: 1 }] }),
    /classes\[0\] names 21 distinct candidates, more than K = 20/,
  );
  assert.throws(
    () => simulatePositionTest({ K: 20, classes: [{ multiplicities: [0], listings: 1 }] }),
    /multiplicities/,
  );
  assert.throws(() => simulatePositionTest({ K: 20, classes: [] }), /no picks/);
  assert.throws(
    () => simulatePositionTest(shape([{ multiplicities: [1], listings: 1 }]), { positionWeights: [1, 2] }),
    /positionWeights must hold K = 50 positive numbers/,
  );
  // Every candidate named: nothing can vary, so no test.
  const s = sample('p', ids('', 20));
  assert.equal(positionBias([s], [answer('p', s.candidates)]), null);
});
