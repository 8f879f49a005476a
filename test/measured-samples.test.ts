// The `samples` measurement wired through the query and score stages (issue 22): a simulated model whose own
// distribution q* is known answers every prompt several times (query.samples), and the score stage's measured
// cross-entropy must recover H(p, q*), with a bias that shrinks as the asks grow; the summary's "flatters" is the paired
// mean of the measured minus the optimistic cross-entropy, recomputed here from the score file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Config, loadConfig } from '../lib/core/config';
import { KNOWN_DISTRIBUTION_DEFAULTS, knownDistributionForSample } from '../lib/query/known-distribution';
import { runQuery } from '../lib/query/runner';
import { loadResponses } from '../lib/query/inputs';
import { loadScores } from '../lib/score/files';
import { loadScoreSummary, runScore } from '../lib/score/score';
import type { SampleScoreRecord } from '../lib/score/spread';
import { domainTables } from '../lib/plot/tables';
import { knownAnswerSamples } from '../lib/score/known-answer';
import { samplesDistribution } from '../lib/score/measured';
import { filesUnder, makeQueryFixture, type QueryFixture } from './helpers/query-fixture';

const quiet = { log: () => {} };
const KNOWN = { tau: 1, noise: 0.5 };

function setUp(asks: number, prompts = 30): { fx: QueryFixture; config: Config } {
  const fx = makeQueryFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-measured-')), { prompts });
  const model = {
    id: 'known',
    provider: 'baseline',
    model: 'known-distribution',
    baseURL: null,
    apiKeyEnv: null,
    concurrency: 64,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
    known: KNOWN,
  };
  const config = loadConfig({
    env: {},
    overrides: { paths: fx.paths, query: { models: [model], samples: asks }, curves: { calibration: 0 } },
  });
  return { fx, config };
}

/** H(p, q) in bits, computed here. */
function crossEntropyBits(p: readonly number[], q: readonly number[]): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log2(q[i]);
  return h;
}

async function measuredErrors(
  asks: number,
): Promise<{ errors: number[]; rows: SampleScoreRecord[]; config: Config; fx: QueryFixture }> {
  const { fx, config } = setUp(asks);
  await runQuery(config, 'movielens', ['known'], quiet);
  runScore(config, ['movielens'], ['known'], quiet);
  const rows = loadScores(config, 'known', 'movielens') as SampleScoreRecord[];
  const errors = fx.samples.map((s) => {
    const row = rows.find((r) => r.promptId === s.id);
    assert.ok(row?.measured?.samples, `prompt ${s.id} has a measured distribution`);
    assert.equal(row.measured.samples.rankings, asks);
    const truth = crossEntropyBits(
      s.target,
      knownDistributionForSample(s, s.id, { ...KNOWN_DISTRIBUTION_DEFAULTS, ...KNOWN }, config.seed),
    );
    return row.measured.samples.crossEntropy - truth;
  });
  return { errors, rows, config, fx };
}

const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

test('a model asked 40 times: its measured cross-entropy recovers H(p, q*), and 5 asks recover it worse', async () => {
  const many = await measuredErrors(40);
  const few = await measuredErrors(5);
  const mae = (e: number[]) => meanOf(e.map(Math.abs));
  // The library's recovery on the MovieLens mirror (jackknife-corrected): mean bias about 0.01 bits at 20 asks, 0.00 at 50.
  assert.ok(mae(many.errors) < 0.12, `mean |error| at 40 asks ${mae(many.errors).toFixed(3)} bits`);
  assert.ok(
    mae(few.errors) > mae(many.errors),
    `5 asks ${mae(few.errors).toFixed(3)} vs 40 asks ${mae(many.errors).toFixed(3)}`,
  );
  // Each answer was a ranking drawn from q*: the asks of a prompt differ.
  const responses = loadResponses(many.config, 'known', 'movielens');
  const first = responses.filter((r) => r.promptId === many.rows[0].promptId).map((r) => r.ranked.join(','));
  assert.equal(first.length, 40);
  assert.ok(new Set(first).size > 30, `${new Set(first).size} distinct rankings of 40`);
});

test('the grouped jackknife removes most of the plug-in bias at 20 asks, and is g·H(all) − (g − 1)·mean H(leave a group out)', async () => {
  const { fx, config } = setUp(20);
  await runQuery(config, 'movielens', ['known'], quiet);
  runScore(config, ['movielens'], ['known'], quiet);
  const rows = loadScores(config, 'known', 'movielens') as SampleScoreRecord[];
  const truths = fx.samples.map((s) =>
    crossEntropyBits(
      s.target,
      knownDistributionForSample(s, s.id, { ...KNOWN_DISTRIBUTION_DEFAULTS, ...KNOWN }, config.seed),
    ),
  );
  const corrected = meanOf(
    fx.samples.map((s, k) => rows.find((r) => r.promptId === s.id)!.measured!.samples!.crossEntropy - truths[k]),
  );
  const plugIn = meanOf(
    fx.samples.map((s, k) => rows.find((r) => r.promptId === s.id)!.measured!.samples!.plugInCrossEntropy - truths[k]),
  );
  assert.ok(plugIn > 0.05, `plug-in bias ${plugIn.toFixed(3)} bits`);
  assert.ok(Math.abs(corrected) < plugIn / 2, `corrected ${corrected.toFixed(3)} vs plug-in ${plugIn.toFixed(3)} bits`);
  // The formula, recomputed here from the prompt's own answers with the library's fit.
  const s = fx.samples[0];
  const position = new Map(s.candidates.map((c, i) => [c, i]));
  const rankings = loadResponses(config, 'known', 'movielens')
    .filter((r) => r.promptId === s.id)
    .sort((a, b) => (a.sample ?? 0) - (b.sample ?? 0))
    .map((r) => r.ranked.map((c) => position.get(c)!));
  const h = (rs: number[][]) =>
    crossEntropyBits(s.target, smoothIfZero(s.target, samplesDistribution(s.candidates.length, rs).q!));
  const groups = [0, 1, 2, 3, 4].map((j) => h(rankings.filter((_, i) => i % 5 !== j)));
  const expected = 5 * h(rankings) - 4 * meanOf(groups);
  const got = rows.find((r) => r.promptId === s.id)!.measured!.samples!.crossEntropy;
  assert.ok(Math.abs(got - expected) < 1e-12, `${got} vs ${expected}`);
});

/** The score stage's λ rule (λ = 0.001), written here: smoothed only when an item of the group has q exactly 0. */
function smoothIfZero(p: readonly number[], q: readonly number[]): number[] {
  if (!p.some((x, i) => x > 0 && q[i] === 0)) return [...q];
  return q.map((x) => (1 - 0.001) * x + 0.001 / q.length);
}

test('knownAnswerSamples (notebook 04) gives the errors computed here, leaves the run untouched, and falls with the asks', async () => {
  const direct = await measuredErrors(40);
  const { fx, config } = setUp(1);
  const before = filesUnder(fx.root).sort();
  const rows = await knownAnswerSamples(config, 'movielens', { prompts: 30, asks: [5, 40], known: KNOWN });
  assert.deepEqual(filesUnder(fx.root).sort(), before, 'no file of the run was written');
  assert.deepEqual(
    rows.map((r) => [r.asks, r.prompts]),
    [
      [5, 30],
      [40, 30],
    ],
  );
  assert.ok(
    Math.abs(rows[1].meanError - meanOf(direct.errors)) < 1e-12,
    `${rows[1].meanError} vs ${meanOf(direct.errors)}`,
  );
  assert.ok(rows[1].meanAbsError < rows[0].meanAbsError / 2);
});

test('the summary sets the measured distribution beside the optimistic one, per setup, with paired intervals', async () => {
  const { rows, config, fx, errors } = await measuredErrors(20);
  const summary = loadScoreSummary(config).models.known.movielens!;
  // Each prompt's true H(p, q*): its measured value minus its error.
  const truthOf = new Map(
    fx.samples.map((s, k) => [
      s.id,
      rows.find((r) => r.promptId === s.id)!.measured!.samples!.crossEntropy - errors[k],
    ]),
  );
  for (const setup of ['A', 'B', 'C'] as const) {
    const inSetup = rows.filter((r) => r.setup === setup);
    const m = summary.setups[setup]!.measured!.samples!;
    assert.equal(m.prompts, inSetup.length);
    const flatters = meanOf(inSetup.map((r) => r.measured!.samples!.crossEntropy - r.crossEntropy));
    assert.ok(Math.abs(m.flatters.estimate - flatters) < 1e-12, `${setup}: ${m.flatters.estimate} vs ${flatters}`);
    const measuredGap = meanOf(inSetup.map((r) => r.measured!.samples!.crossEntropy - r.targetEntropy));
    assert.ok(Math.abs(m.meanGap.estimate - measuredGap) < 1e-12);
    assert.ok(m.flatters.low! <= m.flatters.estimate && m.flatters.estimate <= m.flatters.high!);
    // The true flatters of this model: its own q* against the optimistic q of its rankings. The jackknife leaves
    // the estimate within a few hundredths of a bit of it (the plug-in fit was 0.1 bits above at 20 asks).
    const trueFlatters = meanOf(inSetup.map((r) => truthOf.get(r.promptId)! - r.crossEntropy));
    assert.ok(
      Math.abs(m.flatters.estimate - trueFlatters) < 0.05,
      `${setup}: ${m.flatters.estimate} vs ${trueFlatters}`,
    );
  }
});

test('the report table of measured distributions: a row per setup, and the reason when nothing was measured', async () => {
  const { config } = await measuredErrors(20);
  const summary = loadScoreSummary(config).models.known.movielens!;
  const table = domainTables(config, 'movielens').find((t) => t.name === 'measured')!;
  assert.deepEqual(
    table.rows.map((r) => (r[1] as { text: string }).text),
    ['A', 'B', 'C'],
  );
  const flatters = table.rows[0][7];
  assert.equal(flatters.kind, 'interval');
  const f = summary.setups.A!.measured!.samples!.flatters;
  assert.deepEqual(
    [
      (flatters as { estimate: number }).estimate,
      (flatters as { low: number }).low,
      (flatters as { high: number }).high,
    ],
    [f.estimate, f.low, f.high],
  );
  const once = setUp(1, 9).config;
  await runQuery(once, 'movielens', ['known'], quiet);
  runScore(once, ['movielens'], ['known'], quiet);
  const empty = domainTables(once, 'movielens').find((t) => t.name === 'measured')!;
  assert.equal(empty.rows.length, 0);
  assert.match(empty.empty, /query\.samples = 1/);
});

test('asked once (the paper design), nothing is measured: no field in the scores and none in the summary', async () => {
  const { config } = setUp(1, 9);
  await runQuery(config, 'movielens', ['known'], quiet);
  runScore(config, ['movielens'], ['known'], quiet);
  const rows = loadScores(config, 'known', 'movielens') as SampleScoreRecord[];
  assert.equal(rows.length, 9);
  assert.ok(rows.every((r) => r.measured === undefined));
  const summary = loadScoreSummary(config).models.known.movielens!;
  for (const setup of ['A', 'B', 'C'] as const) assert.equal(summary.setups[setup]!.measured, undefined);
});

test('"known" is checked when the configuration loads', () => {
  const base = {
    id: 'k',
    provider: 'baseline',
    model: 'known-distribution',
    baseURL: null,
    apiKeyEnv: null,
    concurrency: 1,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
  };
  const load = (entry: object) => () => loadConfig({ env: {}, overrides: { query: { models: [entry] } } });
  assert.throws(load({ ...base, known: { tau: 0 } }), /query\.models\[0\]\.known" "tau" must be a number > 0, got 0/);
  assert.throws(load({ ...base, known: { temperature: 1 } }), /unknown key "temperature"/);
  assert.throws(load({ ...base, known: 3 }), /must be an object/);
  assert.throws(
    load({ ...base, model: 'oracle', known: { tau: 1 } }),
    /"known" applies only to provider "baseline" with model "known-distribution"/,
  );
  assert.doesNotThrow(load({ ...base, known: { tau: 2, noise: 0, eps: 0.01 } }));
});
