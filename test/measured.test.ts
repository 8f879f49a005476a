// Measured distributions (lib/score/measured.ts): each elicitation method's answer becomes q, with every defect of the
// answer listed; and, on simulated prompts whose model distribution q* is known (lib/query/known-distribution.ts),
// each method's cross-entropy recovers H(p, q*) within a bound worked out independently of the code under test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveSeed, makeRng } from '../lib/core/rng';
import {
  logprobsDistribution,
  SAMPLES_ALPHA_DEFAULT,
  scoreMeasured,
  samplesDistribution,
  statedDistribution,
} from '../lib/score/measured';
import {
  firstTokenLogprobs,
  KNOWN_DISTRIBUTION_DEFAULTS,
  knownDistributionOf,
  samplePlackettLuce,
  statedProbabilities,
} from '../lib/query/known-distribution';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);
const log2 = Math.log2;
const kinds = (d: { diagnostics: { kind: string; key?: string }[] }) => d.diagnostics.map((x) => `${x.kind}:${x.key}`);

test('stated: normalised; missing, repeated, non-numeric, negative and unknown entries are listed, not dropped', () => {
  const c = ['a', 'b', 'c', 'd'];
  const clean = statedDistribution(c, [
    ['a', 1],
    ['b', 3],
    ['c', 0],
    ['d', 0],
  ]);
  assert.deepEqual(clean.q, [0.25, 0.75, 0, 0]);
  assert.equal(clean.statedTotal, 4);
  assert.deepEqual(clean.diagnostics, []);
  const messy = statedDistribution(c, [
    ['a', 0.3],
    ['b', '0.2'],
    ['a', 0.9],
    ['e', 0.1],
    ['c', -0.1],
    ['b', 0.5],
  ]);
  // Only a's first value counts: q = [1, 0, 0, 0].
  assert.deepEqual(messy.q, [1, 0, 0, 0]);
  assert.deepEqual(kinds(messy), [
    'non-numeric:b',
    'duplicate:a',
    'unknown:e',
    'negative:c',
    'duplicate:b',
    'missing:d',
  ]);
  assert.match(messy.diagnostics[0].detail, /"0\.2" is not a finite number/);
  const none = statedDistribution(c, [['a', 0]]);
  assert.equal(none.q, null);
  assert.deepEqual(kinds(none).slice(-1), ['no-mass:undefined']);
  assert.deepEqual(
    kinds(
      statedDistribution(
        ['a', 'b'],
        [
          ['a', Number.NaN],
          ['b', null],
        ],
      ),
    ),
    ['non-numeric:a', 'non-numeric:b', 'no-mass:undefined'],
  );
});

test("logprobs: found labels keep their probability, the rest is shared by the missing labels (OpinionQA's fill)", () => {
  // K = 4; top-k holds "1" (0.5), " 3" (0.2) and a word (0.1). Covered 0.7; labels 2 and 4 share 0.3: 0.15 each.
  const d = logprobsDistribution(4, [
    { token: '1', logprob: Math.log(0.5) },
    { token: ' 3', logprob: Math.log(0.2) },
    { token: 'The', logprob: Math.log(0.1) },
  ]);
  assert.deepEqual(kinds(d), ['unknown:The']);
  close(d.covered!, 0.7, 1e-12, 'covered');
  [0.5, 0.15, 0.2, 0.15].forEach((v, i) => close(d.q![i], v, 1e-12, `q[${i}]`));
  // The same label twice ("3" and " 3"): masses summed and listed; "5" and "0" are no label of 4 candidates.
  const dup = logprobsDistribution(4, [
    { token: '3', logprob: Math.log(0.4) },
    { token: ' 3', logprob: Math.log(0.1) },
    { token: '5', logprob: Math.log(0.1) },
    { token: '0', logprob: Math.log(0.1) },
  ]);
  assert.deepEqual(kinds(dup), ['duplicate: 3', 'unknown:5', 'unknown:0']);
  [0.5 / 3, 0.5 / 3, 0.5, 0.5 / 3].forEach((v, i) => close(dup.q![i], v, 1e-12, `dup q[${i}]`));
  // Every label found: nothing to fill, the found masses are normalised (0.6 + 0.2 → 0.75, 0.25).
  const all = logprobsDistribution(2, [
    { token: '1', logprob: Math.log(0.6) },
    { token: '2', logprob: Math.log(0.2) },
  ]);
  [0.75, 0.25].forEach((v, i) => close(all.q![i], v, 1e-12, `all q[${i}]`));
  assert.equal(logprobsDistribution(3, [{ token: 'Sure', logprob: 0 }]).q, null);
  assert.deepEqual(kinds(logprobsDistribution(3, [{ token: '1', logprob: Number.NaN }])), [
    'non-numeric:1',
    'no-mass:undefined',
  ]);
});

test('samples: rankings without a pick are listed and left out; the fit and the first-pick frequencies come back', () => {
  const d = samplesDistribution(3, [[0, 1], [], [0, 2], [1, 0], [2, 1]], { alpha: 0.1 });
  assert.deepEqual(kinds(d), ['empty-ranking:1']);
  assert.equal(d.fit!.rankings, 4);
  assert.ok(d.fit!.converged);
  close(
    d.q!.reduce((a, b) => a + b, 0),
    1,
    1e-12,
    'q sums to 1',
  );
  // Item 0 wins 2 of its first choices and one second choice: it leads.
  assert.ok(d.q![0] > d.q![1] && d.q![0] > d.q![2]);
  // First picks 0, 0, 1, 2 with Laplace's +1: (3, 2, 2) / 7.
  assert.deepEqual(d.firstPick, [3 / 7, 2 / 7, 2 / 7]);
  assert.equal(samplesDistribution(3, [[], []], { alpha: 0.1 }).q, null);
  const slow = samplesDistribution(
    3,
    [
      [0, 1],
      [1, 2],
      [2, 0],
    ],
    { alpha: 0.1, maxIter: 1 },
  );
  assert.deepEqual(kinds(slow), ['not-converged:undefined']);
});

test('scoring a measured q: λ only where a candidate with p > 0 has q exactly 0; JS and TV beside', () => {
  const p = [0.5, 0.5, 0, 0];
  // No zero where p > 0: scored as measured. H = 0.5·1 + 0.5·2 = 1.5 bits; TV = ½(0 + 0.25 + 0.25 + 0) = 0.25.
  const s = scoreMeasured(p, [0.5, 0.25, 0.25, 0], { smoothing: 0.001, logBase: 2 });
  close(s.crossEntropy, 1.5, 1e-12, 'H');
  close(s.totalVariation, 0.25, 1e-12, 'TV');
  assert.equal(s.smoothed, false);
  // JS by hand: m = (0.5, 0.375, 0.125, 0); ½·[0.5·log2(0.5/0.375)] + ½·[0.25·log2(0.25/0.375) + 0.25·log2(2)]
  // + ½·0.5·log2(0.5/0.5) = 0.25·0.415037 + 0.125·(−0.584963) + 0.125 = 0.1286.
  close(s.jensenShannon, 0.25 * log2(0.5 / 0.375) + 0.125 * log2(0.25 / 0.375) + 0.125, 1e-12, 'JS');
  // q = 0 where p = 0.5: q' = 0.999·q + 0.001/4, so H = −0.5·log2(0.99925) − 0.5·log2(0.00025) = 5.98 bits.
  const z = scoreMeasured(p, [1, 0, 0, 0], { smoothing: 0.001, logBase: 2 });
  assert.equal(z.smoothed, true);
  assert.equal(z.zeroMassPositive, 1);
  close(z.crossEntropy, -0.5 * log2(0.99925) - 0.5 * log2(0.00025), 1e-12, 'smoothed H');
  assert.equal(scoreMeasured(p, [1, 0, 0, 0], { smoothing: 0, logBase: 2 }).crossEntropy, Infinity);
});

// ---------- known answers on simulated prompts ----------

/**
 * A MovieLens-like prompt: 50 − `positive` never-interacted candidates (p = 0) and `positive` with heavy-tailed
 * interaction counts (the mirror's prompts have 25 of each).
 */
function simulatedPrompt(k: number, positive = 25): { id: string; target: number[] } {
  const rng = makeRng(deriveSeed('measured-prompt', k, positive));
  const counts = Array.from({ length: 50 }, (_, i) => (i < positive ? 1 + Math.floor(Math.exp(3 * rng()) * 3) : 0));
  const total = counts.reduce((a, b) => a + b, 0);
  return { id: `sim-${k}-${positive}`, target: counts.map((c) => c / total) };
}
const PROMPTS = Array.from({ length: 40 }, (_, k) => simulatedPrompt(k));
const OPTS = { smoothing: 0.001, logBase: 2 };
const H = (p: number[], q: number[]) => -p.reduce((s, pi, i) => (pi > 0 ? s + pi * log2(q[i]) : s), 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

test('stated recovers H(p, q*) up to the rounding bound', () => {
  const errs: number[] = [];
  for (const s of PROMPTS) {
    const qStar = knownDistributionOf(s, KNOWN_DISTRIBUTION_DEFAULTS, 7);
    const stated = statedProbabilities(qStar, 3);
    const d = statedDistribution(
      s.target.map((_, i) => `c${i}`),
      stated.map((v, i) => [`c${i}`, v] as const),
    );
    const err = scoreMeasured(s.target, d.q!, OPTS).crossEntropy - H(s.target, qStar);
    // Bound: each stated value r_i is within δ = 0.0005 of q*_i and q̂_i = r_i / R with R = Σ r_i, so
    // |log2 q̂_i − log2 q*_i| <= max |log2(1 ± δ/q*_i)| + |log2 R|. It holds as written where every candidate with
    // p > 0 has q*_i > δ (checked here), so no such value is rounded to 0.
    const delta = 0.0005;
    const R = stated.reduce((a, b) => a + b, 0);
    let bound = Math.abs(log2(R));
    s.target.forEach((p, i) => {
      if (p === 0) return;
      assert.ok(qStar[i] > delta, `${s.id}: q*[${i}] = ${qStar[i]} would round to 0; the bound needs q* > δ`);
      bound += p * Math.max(-log2(1 - delta / qStar[i]), log2(1 + delta / qStar[i]));
    });
    assert.ok(Math.abs(err) <= bound + 1e-12, `${s.id}: stated error ${err} bits beyond the rounding bound ${bound}`);
    errs.push(err);
  }
  assert.ok(Math.abs(mean(errs)) <= 0.01, `mean stated error ${mean(errs)} bits`);
  console.log(
    `stated (3 decimals): mean error ${mean(errs).toFixed(5)} bits, max |error| ${Math.max(...errs.map(Math.abs)).toFixed(5)}`,
  );
});

test('logprobs recovers H(p, q*) within the top-k fill error', () => {
  for (const topK of [20, 10]) {
    const errs: number[] = [];
    for (const s of PROMPTS) {
      const qStar = knownDistributionOf(s, KNOWN_DISTRIBUTION_DEFAULTS, 7);
      const d = logprobsDistribution(50, firstTokenLogprobs(qStar, topK));
      assert.deepEqual(d.diagnostics, []);
      const err = scoreMeasured(s.target, d.q!, OPTS).crossEntropy - H(s.target, qStar);
      // Bound: only the labels outside the top-k change. Each has q*_i between the smallest q* and the k-th largest,
      // and it gets the mean of the missing q*, which lies in the same range; so each term moves by at most
      // p_i·log2(q*_(k) / min q*). The found labels keep q* exactly (their probabilities plus the fill sum to 1).
      const sorted = qStar.slice().sort((a, b) => b - a);
      const kth = sorted[topK - 1];
      const topSet = new Set(
        Array.from(qStar.keys())
          .sort((a, b) => qStar[b] - qStar[a] || a - b)
          .slice(0, topK),
      );
      const pMissing = s.target.reduce((acc, p, i) => (topSet.has(i) ? acc : acc + p), 0);
      const bound = pMissing * log2(kth / sorted[sorted.length - 1]);
      assert.ok(Math.abs(err) <= bound + 1e-9, `${s.id}, top-${topK}: error ${err} beyond the fill bound ${bound}`);
      close(
        d.covered!,
        sorted.slice(0, topK).reduce((a, b) => a + b, 0),
        1e-12,
        'covered = top-k mass of q*',
      );
      errs.push(err);
    }
    // Labels left out of the top-k are those of small q*, given the mean of the missing q* (25 of the 30 missing are
    // p = 0 candidates of near-zero q*): the fill underrates the group's items, so H(p, q) can only come out high.
    assert.ok(mean(errs) > 0);
    console.log(
      `logprobs top-${topK}: mean error ${mean(errs).toFixed(4)} bits, max |error| ${Math.max(...errs.map(Math.abs)).toFixed(4)}`,
    );
  }
});

test('logprobs is exact when the top-k holds every candidate with p > 0 (the fill then touches only p = 0 labels)', () => {
  for (let k = 0; k < 10; k++) {
    const s = simulatedPrompt(k, 12);
    // A sharp q*: the 12 positive candidates far above the others, so all are in the top 20.
    const qStar = knownDistributionOf(s, { tau: 0.5, noise: 0.2, eps: 1e-3 }, 7);
    const top = firstTokenLogprobs(qStar, 20);
    assert.ok(s.target.every((p, i) => p === 0 || top.some((t) => t.token === String(i + 1))));
    const d = logprobsDistribution(50, top);
    close(scoreMeasured(s.target, d.q!, OPTS).crossEntropy, H(s.target, qStar), 1e-9, s.id);
  }
});

test('samples: the bias of H(p, q̂) shrinks with the number of sampled rankings (n = 5, 20, 50)', () => {
  const bias = [5, 20, 50].map((n) => {
    const errs = PROMPTS.map((s) => {
      const qStar = knownDistributionOf(s, KNOWN_DISTRIBUTION_DEFAULTS, 7);
      const rankings = samplePlackettLuce(qStar, n, 10, makeRng(deriveSeed('measured-samples', s.id, n)));
      const d = samplesDistribution(50, rankings);
      assert.ok(d.fit!.converged, `${s.id}, n = ${n}`);
      return scoreMeasured(s.target, d.q!, OPTS).crossEntropy - H(s.target, qStar);
    });
    return { n, bias: mean(errs), meanAbs: mean(errs.map(Math.abs)) };
  });
  console.log(
    `samples (alpha ${SAMPLES_ALPHA_DEFAULT}): ${bias.map((b) => `n=${b.n} bias ${b.bias.toFixed(3)} mean|err| ${b.meanAbs.toFixed(3)}`).join('; ')}`,
  );
  assert.ok(Math.abs(bias[1].bias) < Math.abs(bias[0].bias) && Math.abs(bias[2].bias) < Math.abs(bias[1].bias));
  assert.ok(bias[1].meanAbs < bias[0].meanAbs && bias[2].meanAbs < bias[1].meanAbs);
  // Noise in q̂ raises −log q̂ on average (Jensen), so the bias is upwards; at n = 50 it is under 0.1 bits.
  assert.ok(bias.every((b) => b.bias > 0));
  assert.ok(bias[2].bias <= 0.1, `n = 50: bias ${bias[2].bias} bits`);
});
