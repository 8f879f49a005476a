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
  loadScoreSummary,
  loadScores,
  optimisticDistribution,
  runScore,
  scorePrompt,
  scoreResponses,
  smoothDistribution,
} from '../lib/score/score';
import type { ResponseRecord, SampleRecord, Setup } from '../lib/core/types';

const close = (a: number, b: number, tol = 1e-12, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);
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

test('optimistic distribution on hand-made cases', () => {
  const target = [0.1, 0.4, 0, 0.3, 0.2, 0];
  // Sorted target: 0.4 0.3 0.2 0.1 0 0. Picks 2 (a zero-target item) and 3 take 0.4 and 0.3; the rest, by their own
  // target: 1 (0.4) → 0.2, 4 (0.2) → 0.1, 0 (0.1) → 0, 5 (0) → 0.
  assert.deepEqual(optimisticDistribution(target, [2, 3]), [0, 0.2, 0.4, 0.3, 0.1, 0]);
  // No picks, or the oracle's picks: q = p.
  assert.deepEqual(optimisticDistribution(target, []), target);
  assert.deepEqual(optimisticDistribution(target, [1, 3, 4]), target);
  // Ties in the remainder are broken by candidate position: 0, 1, 2 get 0.25 and 3 gets 0.
  assert.deepEqual(optimisticDistribution([0.25, 0.25, 0.25, 0.25, 0, 0], [5]), [0.25, 0.25, 0.25, 0, 0, 0.25]);
  // A pick among tied values: 2 takes 0.5; the remainder 0 (0.5), 1 (0.25), 3 (0) take 0.25, 0.25, 0.
  assert.deepEqual(optimisticDistribution([0.5, 0.25, 0.25, 0], [2]), [0.25, 0.25, 0.5, 0]);
  // Two zero-target picks push both positive items down: picks 2, 3 take 0.6 and 0.4; 0 and 1 get 0.
  assert.deepEqual(optimisticDistribution([0.6, 0.4, 0, 0], [2, 3]), [0, 0, 0.6, 0.4]);
  assert.throws(() => optimisticDistribution([0.5, 0.5], [0, 0]), /twice/);
  assert.throws(() => optimisticDistribution([0.5, 0.5], [2]), /not a candidate/);
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

function response(promptId: string, ranked: string[], modelId = 'm1', unmatched: string[] = [], duplicates: string[] = []): ResponseRecord {
  return {
    v: 1,
    promptId,
    key: `k-${promptId}`,
    modelId,
    messages: [{ role: 'user', content: 'prompt' }],
    raw: JSON.stringify(ranked),
    ranked,
    diagnostics: { returned: ranked.length + unmatched.length + duplicates.length, unmatched, duplicates, matchKinds: ranked.map(() => 'exact'), tooFew: ranked.length < 10, tooMany: false, unparseable: ranked.length === 0 },
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
  const config = cfg({ score: { smoothing: 0.01, logBase: 2 } });
  const s = sample('p', 'A', [0.1, 0.4, 0, 0.3, 0.2, 0]);
  // q = [0, 0.2, 0.4, 0.3, 0.1, 0] (see above): candidate 0 has p = 0.1 but q = 0 ⇒ smooth.
  // q' = 0.99·q + 0.01/6 = [1/600, 0.19966…, 0.39766…, 0.29866…, 0.10066…, 1/600]
  const rec = scorePrompt(s, response('p', ['c2', 'c3'], 'm1', ['Not a candidate'], ['c3']), config);
  const lam = 0.01;
  const qs = [0, 0.2, 0.4, 0.3, 0.1, 0].map((q) => (1 - lam) * q + lam / 6);
  closeArr(smoothDistribution([0, 0.2, 0.4, 0.3, 0.1, 0], lam), qs);
  const expected = -(0.1 * Math.log2(lam / 6) + 0.4 * Math.log2(0.99 * 0.2 + lam / 6) + 0.3 * Math.log2(0.99 * 0.3 + lam / 6) + 0.2 * Math.log2(0.99 * 0.1 + lam / 6));
  close(rec.crossEntropy, expected, 1e-12, 'cross-entropy');
  close(rec.crossEntropy, 3.038101674296696, 1e-12, 'value computed independently in Python');
  close(rec.targetEntropy, -(0.1 * Math.log2(0.1) + 0.4 * Math.log2(0.4) + 0.3 * Math.log2(0.3) + 0.2 * Math.log2(0.2)), 1e-12);
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
    const oracle = scorePrompt(s, response(s.id, byTarget.slice(0, 10).map((x) => x.c)), config);
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
    score: { smoothing: 0.01, logBase: 2 },
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
  fs.writeFileSync(path.join(dir, 'samples', 'movielens', 'samples.jsonl'), samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
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
    return response(s.id, order.slice(0, 2).map((x) => `c${x.i}`), 'm2');
  });
  for (const [id, recs] of [['m1', m1], ['m2', m2]] as const) {
    fs.mkdirSync(path.join(dir, 'responses', id), { recursive: true });
    fs.writeFileSync(path.join(dir, 'responses', id, 'movielens.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  return { config, dir };
}

test('runScore writes per-prompt scores and a summary with the right counts and means', () => {
  const { config, dir } = fixture();
  const logs: string[] = [];
  runScore(config, ['movielens'], ['m1'], { log: (s) => logs.push(s) });
  const scores = loadScores(config, 'm1', 'movielens');
  assert.deepEqual(scores.map((s) => s.promptId), ['s1', 's2', 's3', 's6']);
  // s1: pick c2 (p = 0) takes 0.5; c0 keeps 0.5 and c1 gets 0 ⇒ q' = 0.99·q + 0.01/4: c0 0.4975, c1 0.0025.
  const ce1 = -(0.5 * Math.log2(0.4975) + 0.5 * Math.log2(0.0025));
  // s3: picks c3 (p = 0) → 0.5, c0 → 0.25; c1 → 0.25, c2 → 0 ⇒ q' for c0, c1 = 0.25, c2 = 0.0025.
  const ce3 = -(0.5 * Math.log2(0.25) + 0.25 * Math.log2(0.25) + 0.25 * Math.log2(0.0025));
  const byId = Object.fromEntries(scores.map((s) => [s.promptId, s]));
  close(byId.s1.crossEntropy, ce1, 1e-12, 's1');
  assert.equal(byId.s2.crossEntropy, 2);
  close(byId.s3.crossEntropy, ce3, 1e-12, 's3');
  assert.equal(byId.s6.crossEntropy, 2);
  assert.deepEqual([byId.s1.smoothed, byId.s2.smoothed, byId.s3.smoothed, byId.s6.smoothed], [true, false, true, false]);
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
  const { A, B, C } = m.setups;
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
  const samples = fs.readFileSync(path.join(dir, 'samples', 'movielens', 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const answers = fs.readFileSync(path.join(dir, 'responses', 'm1', 'movielens.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const mem = scoreResponses(samples, answers, config, 'm1');
  assert.deepEqual(mem.scores, scores);
  assert.deepEqual(mem.missing, { A: 0, B: 0, C: 1 });
  assert.deepEqual(mem.noPicks, { A: 0, B: 1, C: 0 });
  assert.equal(mem.ignoredAnswers, 1);
  assert.deepEqual(mem.infinite, []);
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
  for (const s of ['A', 'B', 'C'] as const) assert.equal(m2.setups[s].meanGap, 0, `oracle gap in setup ${s}`);
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
  assert.throws(() => runScore(noSmoothing, ['movielens'], ['m1'], { log: () => {} }), (e: Error) => {
    assert.match(e.message, /m1[\\/]movielens\.jsonl/);
    assert.match(e.message, /infinite cross-entropy/);
    assert.match(e.message, /score\.smoothing > 0/);
    return true;
  });
  assert.ok(!fs.existsSync(path.join(dir, 'scores', 'm1', 'movielens.jsonl')), 'nothing written for m1');
  // The oracle needs no smoothing, so it scores fine with λ = 0.
  runScore(noSmoothing, ['movielens'], ['m2'], { log: () => {} });
  assert.equal(loadScores(noSmoothing, 'm2', 'movielens').length, 6);
  assert.throws(() => runScore(config, ['movielens'], ['nobody'], { log: () => {} }), /no responses of model "nobody".*run the query stage/);
});
