import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type Config, pathsUnder } from '../lib/core/config';
import { makeRng, sampleWithoutReplacement } from '../lib/core/rng';
import {
  crossEntropy,
  crossEntropyTerms,
  entropy,
  entropyUnit,
  loadComparisons,
  loadScoreSummary,
  loadScores,
  optimisticDistribution,
  runScore,
  scorePrompt,
  scoreResponses,
  smoothDistribution,
} from '../lib/score/score';
import type { ResponseRecord, SampleRecord, Setup } from '../lib/core/types';
import { parseAnswer } from '../lib/query/parse-answer';

const close = (a: number, b: number, tol = 1e-12, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);
const closeArr = (a: number[], b: number[], tol = 1e-12) => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => close(v, b[i], tol, `[${i}]`));
};

test('entropy in bits and nats on hand cases', () => {
  assert.equal(entropy([0.25, 0.25, 0.25, 0.25], 2), 2);
  assert.equal(entropy([0.5, 0.25, 0.25], 2), 1.5);
  assert.equal(entropy([1, 0, 0], 2), 0);
  assert.equal(entropy([0.5, 0.5, 0, 0], 2), 1, '0·log 0 = 0');
  const p = [0.1, 0.2, 0.3, 0.4];
  close(entropy(p, Math.E) / entropy(p, 2), Math.LN2, 1e-15, 'nats / bits');
  close(entropy([0.25, 0.25, 0.25, 0.25], Math.E), Math.log(4), 1e-15);
  assert.equal(entropyUnit(2), 'bits');
  assert.equal(entropyUnit(Math.E), 'nats');
});

test('cross-entropy on hand cases, including zero-probability items', () => {
  // −(0.5·log2 0.25 + 0.5·log2 0.25) = 2
  assert.equal(crossEntropy([0.5, 0.5, 0], [0.25, 0.25, 0.5], 2), 2);
  // Items with p = 0 contribute nothing even when q = 0.
  assert.equal(crossEntropy([1, 0], [1, 0], 2), 0);
  assert.equal(crossEntropy([0.5, 0.5], [1, 0], 2), Infinity);
  // H(p, p) = H(p)
  assert.equal(crossEntropy([0.5, 0.25, 0.25], [0.5, 0.25, 0.25], 2), 1.5);
  close(crossEntropy([0.5, 0.5, 0], [0.25, 0.25, 0.5], Math.E), 2 * Math.LN2, 1e-15);
  assert.throws(() => crossEntropy([1], [0.5, 0.5], 2), /1 entries/);
  // Per-item terms: −0.5·log2 0.25 = 1 each, 0 for p = 0; Infinity where p > 0 and q = 0.
  assert.deepEqual(crossEntropyTerms([0.5, 0.5, 0], [0.25, 0.25, 0.5], 2), [1, 1, 0]);
  assert.deepEqual(crossEntropyTerms([0.5, 0.5], [1, 0], 2), [0, Infinity]);
});

const BEST = { missingPicks: 'best', topN: 10 } as const;

test('optimistic distribution on hand-made cases (the paper\'s rule, missingPicks "best")', () => {
  const target = [0.1, 0.4, 0, 0.3, 0.2, 0];
  // Sorted target: 0.4 0.3 0.2 0.1 0 0. Picks 2 (a zero-target item) and 3 take 0.4 and 0.3; the rest, by their own
  // target: 1 (0.4) → 0.2, 4 (0.2) → 0.1, 0 (0.1) → 0, 5 (0) → 0.
  assert.deepEqual(optimisticDistribution(target, [2, 3], BEST), [0, 0.2, 0.4, 0.3, 0.1, 0]);
  // No picks, or the oracle's picks: q = p.
  assert.deepEqual(optimisticDistribution(target, [], BEST), target);
  assert.deepEqual(optimisticDistribution(target, [1, 3, 4], BEST), target);
  // Ties in the remainder are broken by candidate position: 0, 1, 2 get 0.25 and 3 gets 0.
  assert.deepEqual(optimisticDistribution([0.25, 0.25, 0.25, 0.25, 0, 0], [5], BEST), [0.25, 0.25, 0.25, 0, 0, 0.25]);
  // A pick among tied values: 2 takes 0.5; the remainder 0 (0.5), 1 (0.25), 3 (0) take 0.25, 0.25, 0.
  assert.deepEqual(optimisticDistribution([0.5, 0.25, 0.25, 0], [2], BEST), [0.25, 0.25, 0.5, 0]);
  // Two zero-target picks push both positive items down: picks 2, 3 take 0.6 and 0.4; 0 and 1 get 0.
  assert.deepEqual(optimisticDistribution([0.6, 0.4, 0, 0], [2, 3], BEST), [0, 0, 0.6, 0.4]);
  assert.throws(() => optimisticDistribution([0.5, 0.5], [0, 0], BEST), /twice/);
  assert.throws(() => optimisticDistribution([0.5, 0.5], [2], BEST), /not a candidate/);
});

// Twelve candidates with user counts (/48): three never-interacted items (1, 4, 7) and distinct counts elsewhere.
// Sorted target values, largest first: 11 9 7 6 5 4 3 2 1 0 0 0. Lowest target first (ties by position):
// 1, 4, 7 (0), 3 (1), 9 (2), 6 (3), 10 (4), 0 (5), 11 (6), 5 (7), 2 (9), 8 (11).
const COUNTS = [5, 0, 9, 1, 0, 7, 3, 0, 11, 2, 4, 6];
const P12 = COUNTS.map((c) => c / 48);
const WORST = { missingPicks: 'worst', topN: 10 } as const;
const asCounts = (q: number[]) => q.map((v) => Math.round(v * 48));

test('missing picks "worst": 0, 1, 7 and 10 valid picks, worked by hand', () => {
  // 0 picks: the 10 slots take the 10 lowest-target candidates 1,4,7,3,9,6,10,0,11,5, which get 11,9,7,6,5,4,3,2,1,0;
  // the rest, 8 (11) and 2 (9), get the two remaining values 0 and 0.
  assert.deepEqual(asCounts(optimisticDistribution(P12, [], WORST)), [2, 11, 0, 6, 9, 0, 4, 7, 0, 5, 3, 1]);
  // 1 pick (8, the best item): slots 8,1,4,7,3,9,6,10,0,11 get 11..0; the rest 2 (9) and 5 (7) get 0 and 0.
  assert.deepEqual(asCounts(optimisticDistribution(P12, [8], WORST)), [1, 9, 0, 5, 7, 0, 3, 6, 11, 4, 2, 0]);
  // 7 picks, the oracle's top 7 (8,2,5,11,0,10,6 → 11,9,7,6,5,4,3); 3 slots for the worst: 1,4,7 → 2,1,0;
  // the rest 9 (2) and 3 (1) get 0 and 0.
  assert.deepEqual(
    asCounts(optimisticDistribution(P12, [8, 2, 5, 11, 0, 10, 6], WORST)),
    [5, 2, 9, 0, 1, 7, 3, 0, 11, 0, 4, 6],
  );
  // The paper's rule gives the same 7 picks the oracle's score (q = p): the 3 missing slots cost nothing.
  assert.deepEqual(asCounts(optimisticDistribution(P12, [8, 2, 5, 11, 0, 10, 6], BEST)), COUNTS);
  // 10 picks (a never-interacted item first, then the oracle's order): nothing to fill, both rules agree.
  const ten = [1, 8, 2, 5, 11, 0, 10, 6, 9, 3];
  assert.deepEqual(asCounts(optimisticDistribution(P12, ten, WORST)), [4, 11, 7, 0, 0, 6, 2, 0, 9, 1, 3, 5]);
  assert.deepEqual(optimisticDistribution(P12, ten, WORST), optimisticDistribution(P12, ten, BEST));
  // More valid picks than slots: only the first topN count.
  assert.deepEqual(optimisticDistribution(P12, [...ten, 4], WORST), optimisticDistribution(P12, ten, WORST));
  // Ties: among equal lowest values the earlier candidate fills first; among the rest likewise.
  // [¼ ¼ ¼ ¼ 0 0], topN 2, no pick: slots 4, 5 take ¼, ¼; the rest 0, 1, 2, 3 (all ¼) take ¼, ¼, 0, 0.
  assert.deepEqual(
    optimisticDistribution([0.25, 0.25, 0.25, 0.25, 0, 0], [], { missingPicks: 'worst', topN: 2 }),
    [0.25, 0.25, 0, 0, 0.25, 0.25],
  );
  // Pick 3: slots 3, 4 take ¼, ¼; the rest 0, 1, 2 (¼) and 5 (0) take ¼, ¼, 0, 0.
  assert.deepEqual(
    optimisticDistribution([0.25, 0.25, 0.25, 0.25, 0, 0], [3], { missingPicks: 'worst', topN: 2 }),
    [0.25, 0.25, 0, 0.25, 0.25, 0],
  );
  // topN larger than the candidates: every candidate is a slot.
  assert.deepEqual(optimisticDistribution([0.5, 0.5, 0], [2], { missingPicks: 'worst', topN: 10 }), [0.5, 0, 0.5]);
});

test('missing picks "worst": duplicates and unparseable entries leave slots that the worst candidates fill', () => {
  const names = P12.map((_, i) => ({ id: `c${i}`, name: `Title ${String.fromCharCode(65 + i)}` }));
  const s = sample('dup', 'A', P12);
  const config = cfg({ score: { smoothing: 0.001 } });
  // 7 distinct oracle picks, two of them repeated, and one title that is not a candidate: 10 entries, 7 valid picks.
  const text = `[${[8, 2, 5, 8, 11, 0, 2, 10, 6].map((i) => `"${names[i].name}"`).join(', ')}, "Not A Candidate"]`;
  const parsed = parseAnswer(text, names, 10);
  assert.deepEqual(parsed.ranked, ['c8', 'c2', 'c5', 'c11', 'c0', 'c10', 'c6']);
  const rec = scorePrompt(s, { ...response('dup', parsed.ranked), diagnostics: parsed.diagnostics }, config);
  assert.equal(rec.validPicks, 7);
  assert.equal(rec.duplicates, 2);
  assert.equal(rec.outsideCandidates, 1);
  // q is the 7-pick case above: items 3 (p = 1/48) and 9 (2/48) get q = 0, so it is smoothed with λ = 0.001, K = 12.
  const q = [5, 2, 9, 0, 1, 7, 3, 0, 11, 0, 4, 6].map((c) => 0.999 * (c / 48) + 0.001 / 12);
  const expected = -P12.reduce((h, p, i) => (p > 0 ? h + p * Math.log2(q[i]) : h), 0);
  close(rec.crossEntropy, expected, 1e-12, 'hand cross-entropy');
  assert.equal(rec.smoothed, true);
  assert.ok(rec.crossEntropy > rec.targetEntropy + 0.1, 'an incomplete answer is not scored like the oracle');
  // The paper's rule scores the same answer exactly like the oracle.
  const best = scorePrompt(
    s,
    { ...response('dup', parsed.ranked), diagnostics: parsed.diagnostics },
    cfg({ score: { missingPicks: 'best' } }),
  );
  assert.equal(best.crossEntropy, best.targetEntropy);
  // An answer without any valid pick is scored under "worst" (the 0-pick case) rather than given q = p.
  const none = scorePrompt(s, response('dup', []), config);
  const q0 = [2, 11, 0, 6, 9, 0, 4, 7, 0, 5, 3, 1].map((c) => 0.999 * (c / 48) + 0.001 / 12);
  close(none.crossEntropy, -P12.reduce((h, p, i) => (p > 0 ? h + p * Math.log2(q0[i]) : h), 0), 1e-12, '0 picks');
});

function sample(id: string, setup: Setup, target: number[], history: string[] = [], proxy = 'none'): SampleRecord {
  return {
    v: 1,
    id,
    domain: 'movielens',
    setup,
    proxy,
    demography: proxy === 'none' ? {} : { [proxy]: 'x' },
    history,
    candidates: target.map((_, i) => `c${i}`),
    target,
    targetEntropy: entropy(target, 2),
    groupSize: 10,
    drawId: `d-${id}`,
    seed: 's',
  };
}

function response(
  promptId: string,
  ranked: string[],
  modelId = 'm1',
  unmatched: string[] = [],
  duplicates: string[] = [],
): ResponseRecord {
  return {
    v: 1,
    promptId,
    key: `k-${promptId}`,
    modelId,
    messages: [{ role: 'user', content: 'prompt' }],
    raw: JSON.stringify(ranked),
    ranked,
    diagnostics: {
      returned: ranked.length + unmatched.length + duplicates.length,
      unmatched,
      duplicates,
      matchKinds: ranked.map(() => 'exact'),
      tooFew: ranked.length < 10,
      tooMany: false,
      unparseable: ranked.length === 0,
    },
    usage: { inputTokens: 1, outputTokens: 1 },
    costUsd: 0,
    model: modelId,
    fingerprint: null,
    latencyMs: 0,
    via: 'baseline',
    answeredAt: '2025-01-01T00:00:00.000Z',
  };
}

const cfg = (overrides: unknown = {}): Config => loadConfig({ overrides, env: {} });

test('smoothing: a hand-computed case, and the smoothed flag', () => {
  const config = cfg({ score: { smoothing: 0.01, logBase: 2, missingPicks: 'best' } });
  const s = sample('p', 'A', [0.1, 0.4, 0, 0.3, 0.2, 0]);
  // q = [0, 0.2, 0.4, 0.3, 0.1, 0] (see above): candidate 0 has p = 0.1 but q = 0 ⇒ smooth.
  // q' = 0.99·q + 0.01/6 = [1/600, 0.19966…, 0.39766…, 0.29866…, 0.10066…, 1/600]
  const rec = scorePrompt(s, response('p', ['c2', 'c3'], 'm1', ['Not a candidate'], ['c3']), config);
  const lam = 0.01;
  const qs = [0, 0.2, 0.4, 0.3, 0.1, 0].map((q) => (1 - lam) * q + lam / 6);
  closeArr(smoothDistribution([0, 0.2, 0.4, 0.3, 0.1, 0], lam), qs);
  const expected = -(
    0.1 * Math.log2(lam / 6) +
    0.4 * Math.log2(0.99 * 0.2 + lam / 6) +
    0.3 * Math.log2(0.99 * 0.3 + lam / 6) +
    0.2 * Math.log2(0.99 * 0.1 + lam / 6)
  );
  close(rec.crossEntropy, expected, 1e-12, 'cross-entropy');
  close(rec.crossEntropy, 3.038101674296696, 1e-12, 'value computed independently in Python');
  close(
    rec.targetEntropy,
    -(0.1 * Math.log2(0.1) + 0.4 * Math.log2(0.4) + 0.3 * Math.log2(0.3) + 0.2 * Math.log2(0.2)),
    1e-12,
  );
  assert.equal(rec.smoothed, true);
  assert.equal(rec.zeroMassPositive, 1);
  assert.equal(rec.validPicks, 2);
  assert.equal(rec.outsideCandidates, 1);
  assert.equal(rec.duplicates, 1);
  assert.equal(rec.historyLength, 0);
  // λ = 0 leaves the cross-entropy infinite.
  assert.equal(scorePrompt(s, response('p', ['c2', 'c3']), cfg({ score: { smoothing: 0 } })).crossEntropy, Infinity);
  // All picks with positive target in the target's order: q = p, no smoothing, cross-entropy = entropy.
  const ok = scorePrompt(s, response('p', ['c1', 'c3', 'c4', 'c0']), config);
  assert.equal(ok.smoothed, false);
  assert.equal(ok.zeroMassPositive, 0);
  assert.equal(ok.crossEntropy, ok.targetEntropy);
  // A pick that is not a candidate means the answers belong to other samples.
  assert.throws(() => scorePrompt(s, response('p', ['zz']), config), /not among the sample's candidates/);
});

function randomTarget(rng: () => number, K: number): number[] {
  // Half the candidates carry mass (C2), half none (C1), as Algorithm 1 builds them; counts of users, normalised.
  const counts = Array.from({ length: K }, (_, i) => (i % 2 === 0 ? 1 + Math.floor(rng() * 40) : 0));
  const shuffled = sampleWithoutReplacement(rng, counts, K);
  const total = shuffled.reduce((a, b) => a + b, 0);
  return shuffled.map((c) => c / total);
}

test('the oracle lies on X=Y on every prompt; a random answer lies above it on average', () => {
  const rng = makeRng('oracle');
  const config = cfg();
  let gapSum = 0;
  const N = 400;
  for (let n = 0; n < N; n++) {
    const s = sample(`p${n}`, 'A', randomTarget(rng, 50));
    const byTarget = s.candidates.map((c, i) => ({ c, p: s.target[i], i })).sort((a, b) => b.p - a.p || a.i - b.i);
    const oracle = scorePrompt(
      s,
      response(
        s.id,
        byTarget.slice(0, 10).map((x) => x.c),
      ),
      config,
    );
    assert.equal(oracle.crossEntropy, oracle.targetEntropy, `oracle on prompt ${n}`);
    assert.equal(oracle.smoothed, false);
    const random = scorePrompt(s, response(s.id, sampleWithoutReplacement(rng, s.candidates, 10)), config);
    // Gibbs' inequality: the smoothed q is a distribution, so H(p, q) ≥ H(p) on every prompt.
    assert.ok(random.crossEntropy >= random.targetEntropy - 1e-12);
    gapSum += random.crossEntropy - random.targetEntropy;
  }
  assert.ok(gapSum / N > 1, `random mean gap ${gapSum / N} bits`);
});

// ---------------------------------------------------------------- runScore on a hand-made set

function fixture(): { config: Config; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-score-'));
  const config = cfg({
    paths: pathsUnder(dir),
    score: { smoothing: 0.01, logBase: 2, missingPicks: 'best' },
    curves: { bootstrap: 5 },
  });
  const samples = [
    sample('s1', 'A', [0.5, 0.5, 0, 0], ['h1'], 'age'), // H = 1
    sample('s2', 'A', [0.25, 0.25, 0.25, 0.25], ['h1', 'h2', 'h3'], 'all'), // H = 2
    sample('s3', 'B', [0.5, 0.25, 0.25, 0], ['h1']), // H = 1.5
    sample('s4', 'B', [1, 0, 0, 0], ['h1']), // H = 0
    sample('s5', 'C', [0.5, 0.5, 0, 0], [], 'gender'),
    sample('s6', 'C', [0.25, 0.25, 0.25, 0.25], [], 'gender'),
  ];
  fs.mkdirSync(path.join(dir, 'samples', 'movielens'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'samples', 'movielens', 'samples.jsonl'),
    samples.map((s) => JSON.stringify(s)).join('\n') + '\n',
  );
  const m1 = [
    response('s1', ['c2']),
    response('s2', ['c0', 'c1']),
    response('s3', ['c3', 'c0']),
    response('s4', []), // no valid pick: not scored
    // s5: no answer
    response('s6', ['c3', 'c2', 'c1', 'c0'], 'm1', ['Foo'], ['c3']),
    response('zz', ['c0']), // a prompt that is not in the samples
  ];
  const m2 = samples.map((s) => {
    const order = s.target.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p || a.i - b.i);
    return response(
      s.id,
      order.slice(0, 2).map((x) => `c${x.i}`),
      'm2',
    );
  });
  for (const [id, recs] of [
    ['m1', m1],
    ['m2', m2],
  ] as const) {
    fs.mkdirSync(path.join(dir, 'responses', id), { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'responses', id, 'movielens.jsonl'),
      recs.map((r) => JSON.stringify(r)).join('\n') + '\n',
    );
  }
  return { config, dir };
}

test('runScore writes per-prompt scores and a summary with the right counts and means', () => {
  const { config, dir } = fixture();
  const logs: string[] = [];
  runScore(config, ['movielens'], ['m1'], { log: (s) => logs.push(s) });
  const scores = loadScores(config, 'm1', 'movielens');
  assert.deepEqual(
    scores.map((s) => s.promptId),
    ['s1', 's2', 's3', 's6'],
  );
  // s1: pick c2 (p = 0) takes 0.5; c0 keeps 0.5 and c1 gets 0 ⇒ q' = 0.99·q + 0.01/4: c0 0.4975, c1 0.0025.
  const ce1 = -(0.5 * Math.log2(0.4975) + 0.5 * Math.log2(0.0025));
  // s3: picks c3 (p = 0) → 0.5, c0 → 0.25; c1 → 0.25, c2 → 0 ⇒ q' for c0, c1 = 0.25, c2 = 0.0025.
  const ce3 = -(0.5 * Math.log2(0.25) + 0.25 * Math.log2(0.25) + 0.25 * Math.log2(0.0025));
  const byId = Object.fromEntries(scores.map((s) => [s.promptId, s]));
  close(byId.s1.crossEntropy, ce1, 1e-12, 's1');
  assert.equal(byId.s2.crossEntropy, 2);
  close(byId.s3.crossEntropy, ce3, 1e-12, 's3');
  assert.equal(byId.s6.crossEntropy, 2);
  assert.deepEqual(
    [byId.s1.smoothed, byId.s2.smoothed, byId.s3.smoothed, byId.s6.smoothed],
    [true, false, true, false],
  );
  assert.equal(byId.s1.historyLength, 1);
  assert.equal(byId.s2.historyLength, 3);
  assert.equal(byId.s2.proxy, 'all');
  assert.equal(byId.s6.outsideCandidates, 1);
  assert.equal(byId.s6.duplicates, 1);
  assert.equal(byId.s6.modelId, 'm1');

  const summary = loadScoreSummary(config);
  const m = summary.models.m1.movielens!;
  assert.deepEqual(
    [m.samples, m.answers, m.scored, m.missing, m.noPicks, m.smoothed, m.ignoredAnswers],
    [6, 5, 4, 1, 1, 2, 1],
  );
  assert.equal(m.unit, 'bits');
  assert.equal(m.smoothing, 0.01);
  const { A, B, C } = m.setups as Required<typeof m.setups>;
  assert.deepEqual([A.prompts, A.missing, A.noPicks, A.smoothed], [2, 0, 0, 1]);
  assert.deepEqual([B.prompts, B.missing, B.noPicks, B.smoothed], [1, 0, 1, 1]);
  assert.deepEqual([C.prompts, C.missing, C.noPicks, C.smoothed], [1, 1, 0, 0]);
  close(A.meanTargetEntropy!, 1.5);
  close(A.meanCrossEntropy!, (ce1 + 2) / 2);
  close(A.meanGap!, (ce1 - 1 + 0) / 2);
  close(B.meanTargetEntropy!, 1.5);
  close(B.meanCrossEntropy!, ce3);
  close(C.meanCrossEntropy!, 2);
  assert.equal(C.meanGap, 0);
  assert.ok(logs.some((l) => /1 answers are for prompts not in the current samples/.test(l)));
  assert.ok(fs.existsSync(path.join(dir, 'scores', 'm1', 'movielens.jsonl')));
  // The in-memory path gives the same records and counts.
  const samples = fs
    .readFileSync(path.join(dir, 'samples', 'movielens', 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const answers = fs
    .readFileSync(path.join(dir, 'responses', 'm1', 'movielens.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const mem = scoreResponses(samples, answers, config, 'm1');
  assert.deepEqual(mem.scores, scores);
  assert.deepEqual(mem.missing, { A: 0, B: 0, C: 1 });
  assert.deepEqual(mem.noPicks, { A: 0, B: 1, C: 0 });
  assert.equal(mem.ignoredAnswers, 1);
  assert.deepEqual(mem.infinite, []);
});

test('runScore: valid picks and incomplete answers per setup; "worst" scores answers without picks; comparisons.json', () => {
  const { config } = fixture();
  runScore(config, ['movielens'], ['m1', 'm2'], { log: () => {} });
  const m = loadScoreSummary(config).models.m1.movielens!;
  // "best" (the fixture): A has 1 and 2 picks; B has 2 picks and an empty answer (left out, counted as 0 picks); C has 4.
  assert.deepEqual([m.setups.A!.validPicksMean, m.setups.A!.incompleteShare], [1.5, 1]);
  assert.deepEqual([m.setups.B!.validPicksMean, m.setups.B!.incompleteShare], [1, 1]);
  assert.deepEqual([m.setups.C!.validPicksMean, m.setups.C!.incompleteShare], [4, 1]);
  assert.deepEqual(
    [m.validPicksMean, m.incompleteShare, m.missingPicks, m.topN],
    [(1 + 2 + 2 + 0 + 4) / 5, 1, 'best', 10],
  );
  // Paired comparisons, a − b on the prompts both scored: m2 answers like the oracle (gap 0) on s1, s2 of setup A.
  const { comparisons } = loadComparisons(config);
  const a = comparisons.find((c) => c.setup === 'A')!;
  assert.deepEqual([a.domain, a.a, a.b, a.prompts], ['movielens', 'm1', 'm2', 2]);
  const ce1 = -(0.5 * Math.log2(0.4975) + 0.5 * Math.log2(0.0025));
  close(a.meanGapDiff!.estimate, (ce1 - 1) / 2, 1e-12, 'mean gap difference');
  assert.ok(a.meanGapDiff!.low! <= a.meanGapDiff!.estimate && a.meanGapDiff!.estimate <= a.meanGapDiff!.high!);
  assert.deepEqual(
    comparisons.map((c) => c.setup),
    ['A', 'B', 'C'],
  );

  // "worst": the empty answer to s4 (target [1, 0, 0, 0]) is scored: its 4 slots (topN 10 > K 4) take the candidates
  // lowest target first, c1, c2, c3, c0, so c0 gets 0 and, smoothed, 0.01/4: H(p, q') = −log2 0.0025.
  const worst = { ...config, score: { ...config.score, missingPicks: 'worst' as const } };
  runScore(worst, ['movielens'], ['m1'], { log: () => {} });
  const s4 = loadScores(worst, 'm1', 'movielens').find((r) => r.promptId === 's4')!;
  close(s4.crossEntropy, -Math.log2(0.0025), 1e-12, 's4');
  assert.equal(s4.validPicks, 0);
  const w = loadScoreSummary(worst).models.m1.movielens!;
  assert.deepEqual(
    [w.scored, w.noPicks, w.setups.B!.prompts, w.setups.B!.validPicksMean, w.missingPicks],
    [5, 1, 2, 1, 'worst'],
  );
});

test('runScore is byte-identical on rerun and merges the summary across models', () => {
  const { config, dir } = fixture();
  const quiet = { log: () => {} };
  const scoreFile = path.join(dir, 'scores', 'm1', 'movielens.jsonl');
  const summaryFile = path.join(dir, 'scores', 'summary.json');
  runScore(config, ['movielens'], ['m1'], quiet);
  const first = [fs.readFileSync(scoreFile), fs.readFileSync(summaryFile)];
  const m1Entry = loadScoreSummary(config).models.m1;
  runScore(config, ['movielens'], ['m1'], quiet);
  assert.ok(fs.readFileSync(scoreFile).equals(first[0]), 'scores byte-identical');
  assert.ok(fs.readFileSync(summaryFile).equals(first[1]), 'summary byte-identical');

  runScore(config, ['movielens'], ['m2'], quiet);
  const merged = loadScoreSummary(config);
  assert.deepEqual(Object.keys(merged.models), ['m1', 'm2']);
  assert.deepEqual(merged.models.m1, m1Entry, 'scoring m2 keeps m1 as it was');
  const m2 = merged.models.m2.movielens!;
  assert.equal(m2.scored, 6);
  assert.equal(m2.smoothed, 0);
  for (const s of ['A', 'B', 'C'] as const) assert.equal(m2.setups[s]!.meanGap, 0, `oracle gap in setup ${s}`);
  // Order of scoring does not matter: m2 then m1 gives the same bytes.
  fs.rmSync(summaryFile);
  runScore(config, ['movielens'], ['m2'], quiet);
  runScore(config, ['movielens'], ['m1'], quiet);
  const reordered = fs.readFileSync(summaryFile);
  runScore(config, ['movielens'], ['m1', 'm2'], quiet);
  assert.ok(fs.readFileSync(summaryFile).equals(reordered));
});

test('runScore refuses to write infinite cross-entropies and names the fix; missing answers are an error', () => {
  const { config, dir } = fixture();
  const noSmoothing = { ...config, score: { ...config.score, smoothing: 0 } };
  assert.throws(
    () => runScore(noSmoothing, ['movielens'], ['m1'], { log: () => {} }),
    (e: Error) => {
      assert.match(e.message, /m1[\\/]movielens\.jsonl/);
      assert.match(e.message, /infinite cross-entropy/);
      assert.match(e.message, /score\.smoothing > 0/);
      return true;
    },
  );
  assert.ok(!fs.existsSync(path.join(dir, 'scores', 'm1', 'movielens.jsonl')), 'nothing written for m1');
  // The oracle needs no smoothing, so it scores fine with λ = 0.
  runScore(noSmoothing, ['movielens'], ['m2'], { log: () => {} });
  assert.equal(loadScores(noSmoothing, 'm2', 'movielens').length, 6);
  assert.throws(
    () => runScore(config, ['movielens'], ['nobody'], { log: () => {} }),
    /no responses of model "nobody".*run the query stage/,
  );
});
