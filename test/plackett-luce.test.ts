// The Plackett–Luce estimator of sampled rankings (lib/score/plackett-luce.ts): choix's reference cases, choix's MAP
// estimates with alpha, and recovery of a known distribution from simulated rankings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';
import { deriveSeed, makeRng } from '../lib/core/rng';
import { firstPickFrequencies, fitPlackettLuce, type PickSequence } from '../lib/score/plackett-luce';
import { samplePlackettLuce } from '../lib/query/known-distribution';

// choix's cases live beside the clone (shared/peers/choix); UBP_PEERS_DIR points elsewhere, as UBP_DATA_DIR does for
// the datasets.
const peers = process.env.UBP_PEERS_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'peers');
const choixDir = path.join(peers, 'choix');
const hasChoix = fs.existsSync(path.join(choixDir, 'testcase-top1-1.json'));

interface ChoixCase {
  desc: string;
  n_items: number;
  data: unknown[];
  ml_est: number[];
}

function choixCases(kind: 'rankings' | 'top1'): { file: string; c: ChoixCase }[] {
  return fs
    .readdirSync(choixDir)
    .filter((f) => f.startsWith(`testcase-${kind}-`) && f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, c: JSON.parse(fs.readFileSync(path.join(choixDir, file), 'utf8')) as ChoixCase }));
}

/** choix's top-1 datum [winner, losers] and its ranking of a subset, as pick sequences. */
function asSequences(kind: 'rankings' | 'top1', data: unknown[]): PickSequence[] {
  if (kind === 'rankings') return (data as number[][]).map((r) => ({ picks: r, pool: r }));
  return (data as [number, number[]][]).map(([w, losers]) => ({ picks: [w], pool: [w, ...losers] }));
}

/** numpy.allclose(expected, actual, atol=1e-4, rtol=1e-5), as choix's own tests compare. */
function allClose(actual: number[], expected: number[], what: string) {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) =>
    assert.ok(
      Math.abs(a - expected[i]) <= 1e-4 + 1e-5 * Math.abs(expected[i]),
      `${what}[${i}]: ${a} vs ${expected[i]}`,
    ),
  );
}

for (const kind of ['rankings', 'top1'] as const) {
  test(
    `choix's ${kind} reference cases: maximum likelihood (alpha = 0) reproduces ml_est, from any start`,
    { skip: hasChoix ? false : `choix's reference cases are not at ${choixDir} (set UBP_PEERS_DIR; CI has them)` },
    () => {
      const cases = choixCases(kind);
      assert.ok(cases.length >= 2, `expected at least two ${kind} cases in ${choixDir}`);
      const rng = makeRng('choix-starts');
      for (const { file, c } of cases) {
        for (const start of [undefined, Array.from({ length: c.n_items }, () => 3 * (rng() - 0.5))]) {
          const fit = fitPlackettLuce(c.n_items, asSequences(kind, c.data), { initial: start });
          assert.ok(fit.converged, `${file}: did not converge`);
          allClose(fit.logStrengths, c.ml_est, `${file} (${c.desc})`);
          // q is the same strengths, normalised: softmax of the centred log-strengths.
          const e = c.ml_est.map(Math.exp);
          const s = e.reduce((a, b) => a + b, 0);
          fit.q.forEach((v, i) => assert.ok(Math.abs(v - e[i] / s) < 1e-4, `${file}: q[${i}] ${v} vs ${e[i] / s}`));
        }
      }
    },
  );
}

// Top-k rankings over every item, as a model's top-10 of 50. Expected values computed with choix 0.4.1 itself
// (choix.mm_top1 on the same rankings written as top-1 choices, [pick, every item not yet picked]).
const TOP2_OF_4 = [
  [0, 1],
  [1, 2],
  [2, 3],
  [3, 0],
  [0, 2],
  [1, 0],
];
const TOP3_OF_6 = [
  [0, 1, 2],
  [1, 0, 3],
  [0, 2, 1],
  [3, 0, 1],
  [2, 0, 4],
];

test('top-k of all items: the ML and MAP estimates are choix mm_top1 with the same alpha', () => {
  const ml = fitPlackettLuce(
    4,
    TOP2_OF_4.map((picks) => ({ picks })),
  );
  allClose(ml.logStrengths, [0.4037743076, 0.0795218289, -0.0343091061, -0.4489870305], 'top-2 of 4, alpha 0');
  const map01 = fitPlackettLuce(
    6,
    TOP3_OF_6.map((picks) => ({ picks })),
    { alpha: 0.1 },
  );
  allClose(
    map01.logStrengths,
    [2.0736172094, 0.9807507181, 0.6328073032, 0.0899298712, -0.6896049146, -3.0875001874],
    'top-3 of 6, alpha 0.1',
  );
  const map1 = fitPlackettLuce(
    6,
    TOP3_OF_6.map((picks) => ({ picks })),
    { alpha: 1 },
  );
  allClose(
    map1.logStrengths,
    [1.2026471964, 0.5423193501, 0.2913932223, -0.102038252, -0.6205871682, -1.3137343487],
    'top-3 of 6, alpha 1',
  );
  allClose(map1.q, [0.4111481392, 0.2124328077, 0.1652896867, 0.1115271587, 0.0664014717, 0.0332007359], 'q, alpha 1');
  // Item 5 is never picked: the prior keeps it positive, and a stronger prior gives it more.
  assert.ok(map01.q[5] > 0 && map1.q[5] > map01.q[5]);
});

test('the ML estimate is a stationary point of the Plackett–Luce log-likelihood (checked by finite differences)', () => {
  const seqs = TOP2_OF_4.map((picks) => ({ picks }));
  const logLik = (theta: number[]) => {
    let ll = 0;
    for (const r of TOP2_OF_4) {
      const left = new Set([0, 1, 2, 3]);
      for (const i of r) {
        let s = 0;
        for (const j of left) s += Math.exp(theta[j]);
        ll += theta[i] - Math.log(s);
        left.delete(i);
      }
    }
    return ll;
  };
  const { logStrengths: th } = fitPlackettLuce(4, seqs);
  const h = 1e-5;
  for (let i = 0; i < 4; i++) {
    const up = th.slice();
    const dn = th.slice();
    up[i] += h;
    dn[i] -= h;
    assert.ok(Math.abs((logLik(up) - logLik(dn)) / (2 * h)) < 1e-6, `gradient at item ${i}`);
  }
  // And a maximum: any nearby point is worse.
  const rng = makeRng('pl-max');
  for (let t = 0; t < 20; t++) assert.ok(logLik(th.map((x) => x + 0.05 * (rng() - 0.5))) < logLik(th));
});

test('convergence: a step limit that is too small is reported, not hidden; choix cycle data never converge fast', () => {
  // choix's test_mm_diverges: a cycle, started far from the answer, does not converge in 10 steps.
  const cycle = [
    { picks: [0], pool: [0, 1] },
    { picks: [1], pool: [1, 2] },
    { picks: [2], pool: [2, 3] },
    { picks: [3], pool: [3, 0] },
  ];
  const fit = fitPlackettLuce(4, cycle, { initial: [1, 0.1, 0.1, 0.1], maxIter: 10 });
  assert.equal(fit.converged, false);
  assert.equal(fit.iterations, 10);
  assert.ok(fit.lastChange > 1e-8);
  const full = fitPlackettLuce(4, cycle, { initial: [1, 0.1, 0.1, 0.1] });
  assert.ok(full.converged && full.lastChange <= 1e-8);
  allClose(full.logStrengths, [0, 0, 0, 0], 'a symmetric cycle: equal strengths');
});

test('bad input is refused with the reason', () => {
  assert.throws(() => fitPlackettLuce(3, [{ picks: [0, 0] }]), /sequence 0: item 0 is picked twice/);
  assert.throws(() => fitPlackettLuce(3, [{ picks: [3] }]), /item 3 is not an item index \(a whole number in 0\.\.2\)/);
  assert.throws(() => fitPlackettLuce(3, [{ picks: [1], pool: [0, 2] }]), /pick 1 is not in its "pool"/);
  assert.throws(() => fitPlackettLuce(3, [{ picks: [0] }], { alpha: -1 }), /alpha must be >= 0/);
  assert.throws(
    () => fitPlackettLuce(3, [{ picks: [0, 1] }]),
    /alpha = 0 \(maximum likelihood\) every item must win a choice; items 2 never do/,
  );
});

test('first-pick frequencies: Laplace-smoothed counts of the first picks', () => {
  // 3 items, first picks 0, 0, 2 (and an empty answer): (2+1)/(3+3), (0+1)/6, (1+1)/6.
  assert.deepEqual(firstPickFrequencies(3, [[0, 1], [0], [2, 0], []]), [3 / 6, 1 / 6, 2 / 6]);
  assert.deepEqual(firstPickFrequencies(2, [[1]], 0), [0, 1]);
  assert.throws(() => firstPickFrequencies(2, [[2]]), /ranking 0: item 2 is not an item index/);
});

/** L1 distance between two distributions. */
const l1 = (a: number[], b: number[]) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0);

test('simulated top-10 rankings of 50 from a known q*: the error shrinks with n and unpicked candidates stay positive', () => {
  const K = 50;
  const qStar = (() => {
    const rng = makeRng('pl-qstar');
    const w = Array.from({ length: K }, () => Math.exp(2 * (rng() - 0.5) * 2));
    const s = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / s);
  })();
  const ns = [5, 20, 50, 200];
  const errors = ns.map((n) => {
    // Mean L1 error over independent replicates, so one lucky draw cannot order the sizes.
    let sum = 0;
    const reps = 8;
    for (let r = 0; r < reps; r++) {
      const rankings = samplePlackettLuce(qStar, n, 10, makeRng(deriveSeed('pl-sim', n, r)));
      const fit = fitPlackettLuce(
        K,
        rankings.map((picks) => ({ picks })),
        { alpha: 0.1 },
      );
      assert.ok(fit.converged, `n = ${n}: fit did not converge`);
      assert.ok(
        fit.q.every((x) => x > 0),
        `n = ${n}: every candidate, picked or not, keeps positive mass`,
      );
      sum += l1(fit.q, qStar);
    }
    return sum / reps;
  });
  for (let j = 1; j < ns.length; j++)
    assert.ok(
      errors[j] < errors[j - 1],
      `L1 error must shrink with n: ${ns.map((n, i) => `${n}: ${errors[i].toFixed(3)}`)}`,
    );
  // With 200 rankings (2,000 choices) the fit is close: L1 below 0.15 while the uniform guess is far off.
  assert.ok(errors[3] < 0.15, `n = 200: L1 ${errors[3]}`);
  assert.ok(l1(new Array(K).fill(1 / K), qStar) > 0.4);
  // With 5 rankings some candidates are never picked; ML would refuse, MAP keeps them positive (checked above).
  const few = samplePlackettLuce(qStar, 5, 10, makeRng(deriveSeed('pl-sim', 5, 0)));
  assert.ok(new Set(few.flat()).size < K);
  assert.throws(() =>
    fitPlackettLuce(
      K,
      few.map((picks) => ({ picks })),
    ),
  );
});

test('the sampler draws first picks in proportion to q (chi-square on 20,000 draws)', () => {
  const q = [0.5, 0.25, 0.15, 0.1];
  const n = 20000;
  const counts = [0, 0, 0, 0];
  const seconds = [0, 0, 0, 0];
  for (const r of samplePlackettLuce(q, n, 2, makeRng('pl-sampler'))) {
    counts[r[0]]++;
    seconds[r[1]]++;
    assert.notEqual(r[0], r[1]);
  }
  const chi2 = counts.reduce((s, c, i) => s + (c - n * q[i]) ** 2 / (n * q[i]), 0);
  assert.ok(chi2 < 16.27, `chi-square ${chi2} (3 df, p = 0.001 critical value 16.27)`);
  // Second pick of item 3: Σ_{i≠3} q_i · q_3 / (1 − q_i) = 0.5·0.2 + 0.25·0.1/0.75 + 0.15·0.1/0.85 = 0.15098.
  const p3 = 0.5 * 0.2 + (0.25 * 0.1) / 0.75 + (0.15 * 0.1) / 0.85;
  assert.ok(Math.abs(seconds[3] / n - p3) < 4 * Math.sqrt((p3 * (1 - p3)) / n), `second pick of 3: ${seconds[3] / n}`);
});
