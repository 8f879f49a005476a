// Candidate orders, repeated asks, per-sample spread and position bias (issue 16).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, pathsUnder, type Config, type ModelConfig } from '../lib/core/config';
import { writeJsonl } from '../lib/core/io';
import type { ResponseRecord, SampleRecord, ScoreRecord } from '../lib/core/types';
import { runPreprocess } from '../lib/data/preprocess';
import { runQuery } from '../lib/query/runner';
import { loadResponses } from '../lib/query/inputs';
import { requestKey } from '../lib/query/llm';
import { baseSampleId, withCandidateOrders } from '../lib/sample/orders';
import { loadSamples, runSample, samplesFile } from '../lib/sample/sample';
import { chiSquareSurvival, logGamma } from '../lib/score/chi-square';
import { chiSquareAgainstShares, positionBias } from '../lib/score/position-bias';
import { aggregatePerSample, varianceComponents } from '../lib/score/spread';
import { loadScores, runScore } from '../lib/score/score';
import { positionBiasFigure } from '../lib/plot/position-bias-figure';
import { figureLook } from '../lib/plot/figure-look';
import { FakeOpenAIServer, type ChatBody } from './helpers/fake-openai-server';
import { fakeModel, makeQueryFixture, type QueryFixture } from './helpers/query-fixture';

const mirror = process.env.UBP_DATA_DIR ?? '';
const hasMirror = mirror !== '' && fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'));
const quiet = { log: () => {} };
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

let server: FakeOpenAIServer;
before(async () => {
  process.env.UBP_TEST_QUERY_KEY = 'sk-test-robustness-0000';
  server = await FakeOpenAIServer.start({ model: 'fake-model' });
});
after(async () => {
  await server.close();
  delete process.env.UBP_TEST_QUERY_KEY;
});

// ---------------------------------------------------------------- the statistics, against independent values

test('chi-square survival matches tabulated critical values and closed forms', () => {
  // Critical values from standard chi-square tables (upper-tail probability, df).
  const table: [number, number, number][] = [
    [3.841, 1, 0.05],
    [6.635, 1, 0.01],
    [10.828, 1, 0.001],
    [9.488, 4, 0.05],
    [13.277, 4, 0.01],
    [18.467, 4, 0.001],
    [18.307, 10, 0.05],
    [23.209, 10, 0.01],
    [124.342, 100, 0.05],
  ];
  for (const [x, df, p] of table)
    assert.ok(
      Math.abs(chiSquareSurvival(x, df) - p) / p < 2e-3,
      `χ²(${df}) ≥ ${x}: ${chiSquareSurvival(x, df)} vs ${p}`,
    );
  // df = 2: P = exp(−x/2); df = 4: P = exp(−x/2)(1 + x/2). Exact, checked to 1e-12.
  for (const x of [0.1, 1, 5, 20, 60]) {
    assert.ok(Math.abs(chiSquareSurvival(x, 2) - Math.exp(-x / 2)) < 1e-12);
    assert.ok(Math.abs(chiSquareSurvival(x, 4) - Math.exp(-x / 2) * (1 + x / 2)) < 1e-12);
  }
  assert.equal(chiSquareSurvival(0, 4), 1);
  // ln Γ: Γ(5) = 24, Γ(1/2) = √π.
  assert.ok(Math.abs(logGamma(5) - Math.log(24)) < 1e-12);
  assert.ok(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-12);
  assert.throws(() => chiSquareSurvival(1, 0), /df must be a whole number >= 1/);
});

test('chi-square against shares: all picks in the first of five bins gives χ² = 4N (worked by hand)', () => {
  // Expected N/5 per bin: (N − N/5)²/(N/5) = 3.2N for the first, N/5 for each of the other four.
  const r = chiSquareAgainstShares([100, 0, 0, 0, 0], [0.2, 0.2, 0.2, 0.2, 0.2]);
  assert.ok(Math.abs(r.chiSquare - 400) < 1e-9);
  assert.equal(r.degreesOfFreedom, 4);
  assert.ok(r.pValue < 1e-80);
  assert.equal(chiSquareAgainstShares([20, 20, 20, 20, 20], [0.2, 0.2, 0.2, 0.2, 0.2]).pValue, 1);
});

test('variance components and per-sample folding, worked by hand', () => {
  // Groups [1, 3] and [5, 7]: MSW = 4/2 = 2; MSB = 16; n0 = (4 − 8/4)/1 = 2; σ²_b = (16 − 2)/2 = 7; share = 2/9.
  const vc = varianceComponents([
    [1, 3],
    [5, 7],
  ]);
  assert.equal(vc.within, 2);
  assert.equal(vc.between, 7);
  assert.ok(Math.abs((vc.share as number) - 2 / 9) < 1e-12);
  // Equal group means: no between-sample variance, share 1.
  assert.equal(
    varianceComponents([
      [1, 3],
      [3, 1],
    ]).share,
    1,
  );
  // One answer per sample: no within-sample information.
  assert.equal(varianceComponents([[1], [2]]).share, null);

  const rec = (promptId: string, crossEntropy: number): ScoreRecord => ({
    v: 1,
    promptId,
    modelId: 'm',
    domain: 'movielens',
    setup: 'A',
    proxy: 'age',
    historyLength: 1,
    groupSize: 3,
    targetEntropy: 1,
    crossEntropy,
    smoothed: false,
    validPicks: 10,
    outsideCandidates: 0,
    duplicates: 0,
    zeroMassPositive: 0,
    jensenShannon: 0,
    totalVariation: 0,
  });
  const single = [rec('a', 1), rec('b', 2)];
  assert.equal(
    aggregatePerSample(single, (id) => id),
    single,
    'one answer per sample: records unchanged',
  );
  const folded = aggregatePerSample(
    [rec('a', 1), rec('a/o2', 3), rec('a/o3', 5), rec('b', 2)],
    (id) => id.split('/')[0],
  );
  assert.equal(folded.length, 2);
  assert.equal(folded[0].promptId, 'a');
  assert.equal(folded[0].crossEntropy, 3);
  assert.equal(folded[0].crossEntropySpread, 2); // sd of 1, 3, 5 with n − 1
  assert.equal(folded[0].answers, 3);
  assert.equal(folded[1].crossEntropySpread, null);
});

// ---------------------------------------------------------------- query: repeated asks

function configFor(
  fx: QueryFixture,
  query: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  models: ModelConfig[] = [fakeModel(server.url)],
): Config {
  return loadConfig({
    env: {},
    overrides: { paths: fx.paths, query: { ...query, models }, curves: { bootstrap: 0 }, ...extra },
  });
}

test('query.samples = 2: each prompt is asked exactly twice with two seeds; a rerun asks nothing; the first ask keeps the single-ask key', async () => {
  const fx = makeQueryFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-robust-')), { prompts: 6 });
  server.reset();
  server.picks = 'by-name';
  const seen = new Map<string, number[]>();
  server.script = ({ body }: { body: ChatBody }) => {
    const prompt = body.messages.map((m) => m.content).join('\n');
    seen.set(prompt, [...(seen.get(prompt) ?? []), body.seed as number]);
    return undefined;
  };
  try {
    const config = configFor(fx, { samples: 2, seed: 5, temperature: 0.7 });
    const [s] = await runQuery(config, 'movielens', ['fake'], { ...quiet, retry: fastRetry });
    assert.equal(server.chatRequests, 12);
    assert.equal(s.newAnswers, 12);
    assert.equal(seen.size, 6);
    for (const seeds of seen.values()) assert.deepEqual([...seeds].sort(), [5, 6]);
    const records = loadResponses(config, 'fake', 'movielens');
    assert.deepEqual(
      records.map((r) => `${r.promptId}#${r.sample}`),
      fx.samples.flatMap((p) => [`${p.id}#0`, `${p.id}#1`]),
    );
    // The two asks differ (the fake answers by a seeded hash), so the spread is measurable.
    assert.ok(records.some((r, i) => i % 2 === 1 && r.raw !== records[i - 1].raw));

    const [again] = await runQuery(config, 'movielens', ['fake'], { ...quiet, retry: fastRetry });
    assert.equal(server.chatRequests, 12, 'a rerun sends nothing');
    assert.equal(again.fromStore, 12);

    // Ask 0 is the request of a single ask: its key is the key of query.samples = 1.
    const single = configFor(fx, { samples: 1, seed: 5, temperature: 0.7 });
    const model = single.query.models.find((m) => m.id === 'fake')!;
    assert.equal(records[0].key, requestKey(model, single, records[0].messages));
    assert.notEqual(records[1].key, records[0].key);
    const [one] = await runQuery(single, 'movielens', ['fake'], { ...quiet, retry: fastRetry });
    assert.equal(one.sent, 0, 'samples = 1 after samples = 2 asks nothing: the first asks are stored');
    assert.equal(loadResponses(single, 'fake', 'movielens')[0].sample, undefined);

    const dry: string[] = [];
    await runQuery(configFor(fx, { samples: 3, seed: 5, temperature: 0.7 }), 'movielens', ['fake'], {
      dryRun: true,
      log: (l) => dry.push(l),
    });
    assert.ok(
      dry.some((l) => /6 samples × 1 candidate orders × 3 asks = 18 requests/.test(l)),
      dry.join('\n'),
    );
    assert.ok(
      dry.some((l) => /\b6 prompts to send \(12 already stored\)/.test(l)),
      dry.join('\n'),
    );
    // Refused when the configuration is loaded, before the query stage could start.
    assert.throws(() => configFor(fx, { samples: 0 }), /"query.samples" must be a whole number >= 1 .*got 0/);
  } finally {
    server.script = undefined;
    server.picks = 'first-listed';
  }
});

// ---------------------------------------------------------------- a model that always picks the first ten listed

test('a server that picks the first 10 listed: position bias p < 0.001, within-sample share near 1; an order-blind server shows none', async () => {
  const fx = makeQueryFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-robust-')), { prompts: 60 });
  const config = configFor(fx, {}, { sample: { candidateOrders: 3 } });
  const ordered = withCandidateOrders(fx.samples, config);
  writeJsonl(samplesFile(config, 'movielens'), ordered);
  server.reset();
  const blind = fakeModel(server.url, { id: 'blind', model: 'blind-model' });
  const first = fakeModel(server.url);
  const both = configFor(fx, {}, { sample: { candidateOrders: 3 } }, [first, blind]);
  await runQuery(both, 'movielens', ['fake'], { ...quiet, retry: fastRetry });
  server.picks = 'by-name';
  try {
    await runQuery(both, 'movielens', ['blind'], { ...quiet, retry: fastRetry });
  } finally {
    server.picks = 'first-listed';
  }
  assert.equal(server.chatRequests, 360);
  const summary = runScore(both, ['movielens'], ['fake', 'blind'], quiet);

  const firstSummary = summary.models.fake.movielens!;
  const bias = firstSummary.positionBias!;
  assert.equal(bias.picks, 180 * 10);
  assert.deepEqual(
    bias.bins.map((b) => b.share),
    [1, 0, 0, 0, 0],
  );
  assert.ok(bias.pValue < 0.001);
  for (const setup of ['A', 'B', 'C'] as const) {
    const spread = firstSummary.setups[setup]!.spread!;
    assert.equal(spread.samples, 20);
    assert.equal(spread.answers, 60);
    assert.ok((spread.withinShare as number) > 0.8, `setup ${setup}: within-sample share ${spread.withinShare}`);
    assert.ok((spread.meanSpread as number) > 0);
  }
  const scores = loadScores(both, 'fake', 'movielens');
  assert.equal(scores.length, 60, 'one score record per sample, not per order');
  assert.deepEqual(
    scores.map((s) => s.promptId),
    fx.samples.map((s) => s.id),
  );

  const blindSummary = summary.models.blind.movielens!;
  assert.ok(blindSummary.positionBias!.pValue > 0.01, `order-blind p = ${blindSummary.positionBias!.pValue}`);
  // Blind to the order: every order of a sample gets the same picks, so no within-sample variance beyond rounding
  // (the orders sum the same terms in another order).
  for (const setup of ['A', 'B', 'C'] as const)
    assert.ok((blindSummary.setups[setup]!.spread!.withinShare as number) < 1e-9);
  const figure = positionBiasFigure(
    'movielens',
    { fake: bias, blind: blindSummary.positionBias },
    figureLook(loadConfig({ env: {} }).figures),
  )!;
  const bars = figure.figure.data as { name: string; y: number[] }[];
  assert.equal(bars.length, 5, 'one bar per position bin, grouped by model');
  assert.deepEqual(
    bars.map((b) => b.y[0]),
    [1, 0, 0, 0, 0],
  );
  assert.ok(
    bars.every((b) => Math.abs(b.y[1] - 0.2) < 0.05),
    'the order-blind model near 20 % in every bin',
  );
  console.log(
    `first-listed: χ² = ${bias.chiSquare.toFixed(1)}, p = ${bias.pValue.toExponential(2)}, within-sample shares ` +
      `${(['A', 'B', 'C'] as const).map((s) => firstSummary.setups[s]!.spread!.withinShare!.toFixed(3)).join(' / ')}; ` +
      `order-blind: p = ${blindSummary.positionBias!.pValue.toFixed(3)}`,
  );
});

// ---------------------------------------------------------------- the MovieLens mirror

test(
  'MovieLens mirror: candidateOrders 3 triples the prompts, order 1 is byte-identical, orders share candidates and target; random shows no position bias',
  { skip: hasMirror ? false : `no dataset mirror (set UBP_DATA_DIR)` },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-robust-mirror-'));
    const one = loadConfig({
      env: {},
      overrides: {
        dataDir: mirror,
        download: false,
        paths: pathsUnder(dir),
        domains: ['movielens'],
        curves: { bootstrap: 0 },
      },
    });
    await runPreprocess(one, 'movielens', quiet);
    runSample(one, 'movielens', quiet);
    const singleLines = fs.readFileSync(samplesFile(one, 'movielens'), 'utf8').split('\n').filter(Boolean);
    const three: Config = {
      ...one,
      sample: { ...one.sample, candidateOrders: 3 },
      paths: {
        ...one.paths,
        samples: path.join(dir, 'samples-3'),
        responses: path.join(dir, 'responses-3'),
        scores: path.join(dir, 'scores-3'),
      },
    };
    const { counts } = runSample(three, 'movielens', quiet);
    const lines = fs.readFileSync(samplesFile(three, 'movielens'), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 3 * singleLines.length);
    assert.deepEqual(
      lines.filter((_, i) => i % 3 === 0),
      singleLines,
      'order 1 of every sample is the line of the run without orders',
    );
    const samples: SampleRecord[] = loadSamples(three, 'movielens');
    const total = Object.values(counts).reduce((n, perH) => n + Object.values(perH).reduce((a, b) => a + b, 0), 0);
    assert.equal(total, singleLines.length, 'Table 1 counts samples, not orders');
    let moved = 0;
    for (let i = 0; i < samples.length; i += 3) {
      const [o1, o2, o3] = samples.slice(i, i + 3);
      for (const [o, k] of [
        [o2, 2],
        [o3, 3],
      ] as const) {
        assert.equal(o.id, `${o1.id}/o${k}`);
        assert.equal(o.order, k);
        assert.equal(baseSampleId(o), o1.id);
        const mass = new Map(o1.candidates.map((c, j) => [c, o1.target[j]]));
        assert.deepEqual([...o.candidates].sort(), [...o1.candidates].sort());
        o.candidates.forEach((c, j) => assert.equal(o.target[j], mass.get(c)));
        assert.deepEqual(
          { ...o, id: o1.id, order: undefined, candidates: o1.candidates, target: o1.target },
          { ...o1, order: undefined },
        );
        if (o.candidates.join() !== o1.candidates.join()) moved++;
      }
    }
    assert.equal(moved, (2 * samples.length) / 3, 'every other order lists the candidates differently');

    await runQuery(three, 'movielens', ['random'], quiet);
    const responses: ResponseRecord[] = loadResponses(three, 'random', 'movielens');
    const bias = positionBias(samples, responses)!;
    const summary = runScore(three, ['movielens'], ['random'], quiet);
    assert.deepEqual(summary.models.random.movielens!.positionBias, bias);
    assert.ok(bias.pValue > 0.01, `random baseline position bias p = ${bias.pValue}`);
    console.log(
      `random on the mirror, 3 orders: ${bias.picks} picks, shares ${bias.bins.map((b) => b.share.toFixed(4)).join(' ')}, χ² = ${bias.chiSquare.toFixed(2)}, p = ${bias.pValue.toFixed(3)}; within-sample share ${(['A', 'B', 'C'] as const).map((s) => summary.models.random.movielens!.setups[s]?.spread?.withinShare?.toFixed(3)).join(' / ')}`,
    );
  },
);
