// The `samples` method asked as one request with `n` choices where the server takes `n` (issue 22), over real HTTP
// with the real `openai` client: one request per prompt carrying n, each choice read as an ask, the prompt paid once,
// a rerun sends nothing; a server that returns fewer choices leaves those asks missing (never asked again for free);
// without `capabilities.n` the n asks are n requests with distinct seeds; temperature 0 is refused before any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../lib/core/config';
import { runQuery } from '../lib/query/runner';
import { loadResponses, responsesFile, storeFile } from '../lib/query/inputs';
import type { StoredAnswer } from '../lib/query/store';
import { checkElicitation } from '../lib/query/elicit';
import { loadScores } from '../lib/score/files';
import { runScore } from '../lib/score/score';
import type { SampleScoreRecord } from '../lib/score/spread';
import { FakeOpenAIServer, type FakeAction } from './helpers/fake-openai-server';
import { makeQueryFixture, storeEntriesByKey } from './helpers/query-fixture';

const quiet = { log: () => {} };
const ASKS = 4;

function setUp(server: FakeOpenAIServer, capabilities: Record<string, unknown>, query: Record<string, unknown> = {}) {
  const fx = makeQueryFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-samples-n-')), { prompts: 12 });
  const api = {
    id: 'local',
    provider: 'openai-compatible',
    model: 'sim-1',
    baseURL: server.url,
    apiKeyEnv: null,
    concurrency: 4,
    inputPricePerMTok: 1,
    outputPricePerMTok: 2,
    capabilities,
  };
  const config = loadConfig({
    env: {},
    overrides: {
      paths: fx.paths,
      query: { models: [api], elicitation: ['ranking', 'samples'], samples: ASKS, temperature: 1, ...query },
      curves: { calibration: 0 },
    },
  });
  return { fx, config };
}

const chatBodies = (server: FakeOpenAIServer) =>
  server.log.filter((r) => r.path.endsWith('/chat/completions')).map((r) => JSON.parse(r.body));

test('with capabilities.n: one request per prompt with n, each choice an ask, paid once, scored, a rerun sends nothing', async () => {
  // Answers drawn blind to the listed order, each choice its own draw (the default lists the first ten candidates).
  const server = await FakeOpenAIServer.start({ picks: 'by-name' });
  try {
    const { fx, config } = setUp(server, { n: true });
    const [summary] = await runQuery(config, 'movielens', ['local'], quiet);
    const bodies = chatBodies(server);
    assert.equal(bodies.length, 12, 'one request per prompt');
    assert.ok(bodies.every((b) => b.n === ASKS && b.temperature === 1 && b.seed === config.query.seed));
    assert.equal(summary.sent, 12);
    assert.equal(summary.written, 12 * ASKS);
    const records = loadResponses(config, 'local', 'movielens');
    for (const s of fx.samples) {
      const asks = records.filter((r) => r.promptId === s.id).sort((a, b) => (a.sample ?? 0) - (b.sample ?? 0));
      assert.deepEqual(
        asks.map((r) => r.sample),
        [0, 1, 2, 3],
      );
      assert.equal(new Set(asks.map((r) => r.key)).size, 1, 'the asks share the request');
      assert.equal(new Set(asks.map((r) => r.raw)).size, ASKS, 'each ask is its own choice');
      assert.ok(asks.every((r) => r.ranked.length === 10));
      // The prompt's cost is counted once: on its first ask.
      assert.ok(asks[0].costUsd > 0);
      assert.deepEqual(
        asks.slice(1).map((r) => r.costUsd),
        [0, 0, 0],
      );
    }
    // The file's costs sum to what the run paid (input once, the n choices' output).
    const paid = records.reduce((a, r) => a + r.costUsd, 0);
    assert.ok(Math.abs(paid - summary.costUsd) < 1e-12);
    const again = await runQuery(config, 'movielens', ['local'], quiet);
    assert.equal(again[0].sent, 0);
    assert.equal(chatBodies(server).length, 12, 'a rerun sends nothing');
    // The score stage fits the n choices as n asks.
    runScore(config, ['movielens'], ['local'], quiet);
    const rows = loadScores(config, 'local', 'movielens') as SampleScoreRecord[];
    assert.ok(rows.every((r) => r.measured?.samples?.rankings === ASKS));
  } finally {
    await server.close();
  }
});

test('a server that returns fewer choices than n: the missing asks are counted missing, and a rerun does not pay again', async () => {
  const server = await FakeOpenAIServer.start({
    script: (): FakeAction => ({ kind: 'answer', choices: 2 }),
  });
  try {
    const { config } = setUp(server, { n: true });
    const [summary] = await runQuery(config, 'movielens', ['local'], quiet);
    assert.equal(summary.sent, 12);
    assert.equal(summary.written, 12 * 2);
    assert.equal(summary.missing, 12 * (ASKS - 2));
    const again = await runQuery(config, 'movielens', ['local'], quiet);
    assert.equal(again[0].sent, 0, 'the paid requests are not sent again');
  } finally {
    await server.close();
  }
});

test('without capabilities.n: n requests per prompt with distinct seeds; temperature 0 is refused before any request', async () => {
  const server = await FakeOpenAIServer.start({});
  try {
    const { config } = setUp(server, {});
    const [summary] = await runQuery(config, 'movielens', ['local'], quiet);
    const bodies = chatBodies(server);
    assert.equal(bodies.length, 12 * ASKS);
    assert.ok(bodies.every((b) => b.n === undefined));
    assert.deepEqual(
      [...new Set(bodies.map((b) => b.seed))].sort(),
      [0, 1, 2, 3].map((r) => config.query.seed + r).sort(),
    );
    assert.equal(summary.written, 12 * ASKS);

    const cold = setUp(server, { n: true }, { temperature: 0 });
    const before = chatBodies(server).length;
    assert.throws(
      () => checkElicitation(cold.config, ['local']),
      /model "local" cannot be asked "samples": its asks would be sent at temperature 0/,
    );
    await assert.rejects(runQuery(cold.config, 'movielens', ['local'], quiet), /temperature 0/);
    assert.equal(chatBodies(server).length, before, 'nothing was sent');
    // The entry's own temperature is the one sent: it decides.
    const warm = setUp(server, { n: true }, { temperature: 0 });
    warm.config.query.models.find((m) => m.id === 'local')!.params = { temperature: 0.7 };
    assert.doesNotThrow(() => checkElicitation(warm.config, ['local']));
  } finally {
    await server.close();
  }
});

test('a store that lost the answers of requests with n: they come back from the responses file with their choices and parameters, nothing is paid again, the same responses are written', async () => {
  const server = await FakeOpenAIServer.start({ picks: 'by-name' });
  try {
    const { config } = setUp(server, { n: true });
    await runQuery(config, 'movielens', ['local'], quiet);
    const model = config.query.models.find((m) => m.id === 'local')!;
    const store = storeFile(config, model);
    const entries = () => storeEntriesByKey(store);
    const paid = entries();
    assert.equal(paid.length, 12);
    const responses = fs.readFileSync(responsesFile(config, 'local', 'movielens'));
    fs.rmSync(store);

    const [again] = await runQuery(config, 'movielens', ['local'], quiet);
    assert.equal(again.sent, 0);
    assert.equal(again.recovered, 12);
    assert.equal(chatBodies(server).length, 12, 'nothing was paid again');
    const back = entries();
    const kept = (e: StoredAnswer) => [e.key, e.request, e.raw, e.choices, e.usage, e.costUsd, e.finishReason];
    assert.deepEqual(back.map(kept), paid.map(kept), 'each entry as it was paid: its n choices, its request with n');
    assert.ok(back.every((e) => e.choices?.length === ASKS && e.request.params.n === ASKS));
    assert.deepEqual(fs.readFileSync(responsesFile(config, 'local', 'movielens')), responses);
  } finally {
    await server.close();
  }
});
