// The `stated` and `logprobs` elicitation methods through the query and score stages (issue 22): a simulated model
// whose own distribution q* is known answers them offline, and a local server answers them over real HTTP with the
// real `openai` client (json_schema structured output, first-token logprobs); the measured cross-entropy must recover
// H(p, q*), a rerun sends nothing, the default run is untouched, and a model that cannot serve a method is refused
// before any request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Config, ConfigError, loadConfig } from '../lib/core/config';
import {
  KNOWN_DISTRIBUTION_DEFAULTS,
  knownDistributionForSample,
  knownDistributionModel,
} from '../lib/query/known-distribution';
import { runQuery } from '../lib/query/runner';
import { responsesFile, storeFile } from '../lib/query/inputs';
import type { StoredAnswer } from '../lib/query/store';
import { checkElicitation, renderElicitPrompt, statedEntries } from '../lib/query/elicit';
import { elicitationExamples } from '../lib/score/elicited';
import { knownAnswerSamples } from '../lib/score/known-answer';
import { promptTemplate } from '../lib/query/prompt';
import { loadScores } from '../lib/score/files';
import { loadScoreSummary, runScore } from '../lib/score/score';
import type { SampleScoreRecord } from '../lib/score/spread';
import { domainTables } from '../lib/plot/tables';
import { FakeOpenAIServer } from './helpers/fake-openai-server';
import { makeQueryFixture, storeEntriesByKey, type QueryFixture } from './helpers/query-fixture';

const quiet = { log: () => {} };
const KNOWN = { tau: 1, noise: 0.5 };

// The simulated model's entry, renamed: the config loads it as it loads a user's entry.
const knownModel = { ...knownDistributionModel(KNOWN), id: 'known' };

function setUp(
  elicitation: string[],
  models: unknown[] = [knownModel],
  prompts = 30,
): { fx: QueryFixture; config: Config } {
  const fx = makeQueryFixture(fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-elicit-')), { prompts });
  const config = loadConfig({
    env: {},
    overrides: { paths: fx.paths, query: { models, elicitation }, curves: { calibration: 0 } },
  });
  return { fx, config };
}

/** H(p, q) in bits, computed here. */
function crossEntropyBits(p: readonly number[], q: readonly number[]): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log2(q[i]);
  return h;
}

const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

function qStar(fx: QueryFixture, config: Config) {
  return fx.samples.map((s) =>
    knownDistributionForSample(s, s.id, { ...KNOWN_DISTRIBUTION_DEFAULTS, ...KNOWN }, config.seed),
  );
}

test('stated and logprobs of a model with a known q*: stated recovers H(p, q*) to rounding, logprobs within its top-k fill error', async () => {
  const { fx, config } = setUp(['ranking', 'stated', 'logprobs']);
  const summaries = await runQuery(config, 'movielens', ['known'], quiet);
  assert.deepEqual(
    summaries.map((s) => [s.method ?? 'ranking', s.written]),
    [
      ['ranking', 30],
      ['stated', 30],
      ['logprobs', 30],
    ],
  );
  runScore(config, ['movielens'], ['known'], quiet);
  const rows = loadScores(config, 'known', 'movielens') as SampleScoreRecord[];
  const truths = qStar(fx, config);
  const stated: number[] = [];
  const logprobs: number[] = [];
  fx.samples.forEach((s, k) => {
    const row = rows.find((r) => r.promptId === s.id)!;
    const truth = crossEntropyBits(s.target, truths[k]);
    stated.push(row.measured!.stated!.crossEntropy - truth);
    logprobs.push(row.measured!.logprobs!.crossEntropy - truth);
    // The fill can only lose: labels outside the top 20 share what is left evenly.
    assert.ok(row.measured!.logprobs!.covered! <= 1 && row.measured!.logprobs!.covered! > 0.5);
  });
  // 3 decimals of rounding move H(p, q) by about a thousandth of a bit (docs/decisions.md: 0.0014–0.0016 on the mirror).
  assert.ok(Math.abs(meanOf(stated)) < 0.01, `stated mean error ${meanOf(stated)}`);
  assert.ok(meanOf(logprobs) > 0 && meanOf(logprobs) < 0.4, `logprobs mean error ${meanOf(logprobs)}`);
  const summary = loadScoreSummary(config).models.known.movielens!;
  for (const setup of ['A', 'B', 'C'] as const) {
    const m = summary.setups[setup]!.measured!;
    const inSetup = rows.filter((r) => r.setup === setup);
    assert.equal(m.stated!.prompts, inSetup.length);
    const flatters = meanOf(inSetup.map((r) => r.measured!.stated!.crossEntropy - r.crossEntropy));
    assert.ok(Math.abs(m.stated!.flatters.estimate - flatters) < 1e-12);
    assert.ok(m.logprobs!.coveredMean! > 0.5 && m.logprobs!.coveredMean! <= 1);
  }
  const table = domainTables(config, 'movielens').find((t) => t.name === 'measured')!;
  assert.deepEqual(
    table.rows.map((r) => `${(r[1] as { text: string }).text}:${(r[2] as { text: string }).text}`),
    ['A:stated', 'A:logprobs', 'B:stated', 'B:logprobs', 'C:stated', 'C:logprobs'],
  );
});

test('with the default elicitation nothing new is asked or written: no method files, no measured field', async () => {
  const { config } = setUp(['ranking']);
  const summaries = await runQuery(config, 'movielens', ['known'], quiet);
  assert.equal(summaries.length, 1);
  assert.equal(summaries[0].method, undefined);
  assert.ok(!fs.existsSync(responsesFile(config, 'known', 'movielens', 'stated')));
  runScore(config, ['movielens'], ['known'], quiet);
  assert.ok((loadScores(config, 'known', 'movielens') as SampleScoreRecord[]).every((r) => r.measured === undefined));
});

test('an offline baseline without a distribution is a comparator: answers the ranking prompt only, never refused, no method file', async () => {
  const random = { ...knownModel, id: 'rnd', model: 'random', known: undefined };
  delete (random as Record<string, unknown>).known;
  const { config } = setUp(['ranking', 'stated'], [knownModel, random]);
  assert.doesNotThrow(() => checkElicitation(config, ['known', 'rnd']));
  const summaries = await runQuery(config, 'movielens', ['known', 'rnd'], quiet);
  assert.deepEqual(
    summaries.map((s) => [s.modelId, s.method ?? 'ranking']),
    [
      ['known', 'ranking'],
      ['known', 'stated'],
      ['rnd', 'ranking'],
    ],
  );
  assert.ok(fs.existsSync(responsesFile(config, 'known', 'movielens', 'stated')));
  assert.ok(!fs.existsSync(responsesFile(config, 'rnd', 'movielens', 'stated')), 'the comparator was not asked');
  // Scoring reads no method file for it: its entry has no measured field and no method entry.
  const summary = runScore(config, ['movielens'], ['known', 'rnd'], quiet);
  assert.ok((loadScores(config, 'rnd', 'movielens') as SampleScoreRecord[]).every((r) => r.measured === undefined));
  assert.deepEqual(Object.keys(summary.models).sort(), ['known', 'known@stated', 'rnd']);
  assert.throws(
    () => loadConfig({ env: {}, overrides: { query: { elicitation: ['stated'] } } }),
    /query\.elicitation.*must include "ranking"/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { query: { elicitation: ['ranking', 'samples'] } } }),
    /needs "query\.samples" >= 2/,
  );
});

test('the prompts: the same introduction, demography and history as the ranking prompt, candidates by id (stated) or number (logprobs)', () => {
  const { fx, config } = setUp(['ranking']);
  const sample = fx.samples.find((s) => s.setup === 'A')!;
  const name = (id: string) => `Item ${id}`;
  const template = promptTemplate(config, 'movielens');
  const stated = renderElicitPrompt('stated', sample, name, config, 'movielens', template)[1].content;
  const logprobs = renderElicitPrompt('logprobs', sample, name, config, 'movielens', template)[1].content;
  for (const text of [stated, logprobs]) {
    assert.match(text, /^You are proficient in recommending new movie/);
    assert.match(text, /The user has previously watched the following movies:/);
  }
  assert.ok(stated.includes(`${JSON.stringify(sample.candidates[0])}: "Item ${sample.candidates[0]}"`));
  assert.ok(logprobs.includes(`\n1. Item ${sample.candidates[0]}\n2. Item ${sample.candidates[1]}`));
  assert.ok(logprobs.includes(`\n50. Item ${sample.candidates[49]}`));
  // A repeated key is seen twice (JSON.parse would keep only the last); text around the object is ignored.
  assert.deepEqual(statedEntries('Sure: {"a": 0.5, "b": "x", "a": 0.2}'), [
    ['a', 0.5],
    ['b', 'x'],
    ['a', 0.2],
  ]);
  assert.equal(statedEntries('no json here'), null);
});

test('over HTTP: json_schema and logprobs requests reach the server in the API shapes, are stored, scored, and a rerun sends nothing', async () => {
  // The server answers as the known model would: q* of the prompt, found by its candidates as the prompt lists them.
  const fx0 = setUp(['ranking']);
  const truths = qStar(fx0.fx, fx0.config);
  const names = new Map(fx0.fx.items.map((it) => [it.id, it.name]));
  const byListing = new Map<string, number[]>();
  fx0.fx.samples.forEach((s, k) => {
    byListing.set(`stated:${s.candidates.join('|')}`, truths[k]);
    byListing.set(`logprobs:${s.candidates.map((c) => names.get(c)).join('|')}`, truths[k]);
  });
  const server = await FakeOpenAIServer.start({
    script: ({ body }) => {
      const user = body.messages[1].content;
      if (body.logprobs) {
        const listed = [...user.matchAll(/^\d+\. (.*)$/gm)].map((m) => m[1]);
        const q = byListing.get(`logprobs:${listed.join('|')}`)!;
        const top = q
          .map((x, i) => ({ token: String(i + 1), logprob: Math.log(x) }))
          .sort((x, y) => y.logprob - x.logprob)
          .slice(0, Number(body.top_logprobs));
        return { kind: 'answer', text: top[0].token, topLogprobs: top, finishReason: 'length' };
      }
      if (body.response_format) {
        const ids = [...user.matchAll(/^"([^"]+)": /gm)].map((m) => m[1]);
        const q = byListing.get(`stated:${ids.join('|')}`)!;
        return { kind: 'answer', text: `{${ids.map((id, i) => `"${id}": ${q[i].toFixed(3)}`).join(', ')}}` };
      }
      return undefined;
    },
  });
  try {
    const api = {
      id: 'local',
      provider: 'openai-compatible',
      model: 'sim-1',
      baseURL: server.url,
      apiKeyEnv: null,
      concurrency: 8,
      inputPricePerMTok: 0,
      outputPricePerMTok: 0,
      capabilities: { logprobs: true, topLogprobs: 20, jsonSchema: true },
    };
    const config = loadConfig({
      env: {},
      overrides: {
        paths: fx0.fx.paths,
        query: { models: [api], elicitation: ['ranking', 'stated', 'logprobs'] },
        curves: { calibration: 0 },
      },
    });
    const first = await runQuery(config, 'movielens', ['local'], quiet);
    assert.deepEqual(
      first.map((s) => [s.method ?? 'ranking', s.written, s.sent]),
      [
        ['ranking', 30, 30],
        ['stated', 30, 30],
        ['logprobs', 30, 30],
      ],
    );
    const bodies = server.log.filter((r) => r.path.endsWith('/chat/completions')).map((r) => JSON.parse(r.body));
    const logprobBodies = bodies.filter((b) => b.logprobs === true);
    assert.equal(logprobBodies.length, 30);
    assert.ok(logprobBodies.every((b) => b.top_logprobs === 20 && b.max_tokens === 2));
    const statedBodies = bodies.filter((b) => b.response_format);
    assert.equal(statedBodies.length, 30);
    const schema = statedBodies[0].response_format.json_schema.schema;
    assert.equal(statedBodies[0].response_format.type, 'json_schema');
    assert.equal(schema.required.length, 50);
    assert.equal(schema.additionalProperties, false);
    const again = await runQuery(config, 'movielens', ['local'], quiet);
    assert.deepEqual(
      again.map((s) => s.sent),
      [0, 0, 0],
      'a rerun sends nothing',
    );
    // A store that lost every answer: each method's answers come back from its own responses file, each with its own
    // request's parameters (the stated schema of its prompt), and nothing is paid again.
    const store = storeFile(
      config,
      config.query.models.find((m) => m.id === 'local')!,
    );
    const entries = () => storeEntriesByKey(store);
    const paid = entries();
    fs.rmSync(store);
    const recovered = await runQuery(config, 'movielens', ['local'], quiet);
    assert.deepEqual(
      recovered.map((s) => [s.sent, s.recovered]),
      [
        [0, 30],
        [0, 30],
        [0, 30],
      ],
    );
    const kept = (e: StoredAnswer) => [e.key, e.request, e.raw, e.topLogprobs, e.usage, e.costUsd];
    assert.deepEqual(entries().map(kept), paid.map(kept));
    runScore(config, ['movielens'], ['local'], quiet);
    const rows = loadScores(config, 'local', 'movielens') as SampleScoreRecord[];
    const statedErr = fx0.fx.samples.map(
      (s, k) =>
        rows.find((r) => r.promptId === s.id)!.measured!.stated!.crossEntropy - crossEntropyBits(s.target, truths[k]),
    );
    assert.ok(Math.abs(meanOf(statedErr)) < 0.01, `stated over HTTP: ${meanOf(statedErr)}`);
    const withLogprobs = rows.filter((r) => r.measured?.logprobs);
    assert.equal(withLogprobs.length, 30);
  } finally {
    await server.close();
  }
});

test('a server whose entry says it returns no logprobs is refused for logprobs before any request', async () => {
  const server = await FakeOpenAIServer.start({});
  try {
    const { fx } = setUp(['ranking']);
    const config = loadConfig({
      env: {},
      overrides: {
        paths: fx.paths,
        query: {
          models: [
            {
              id: 'nolp',
              provider: 'openai-compatible',
              model: 'm',
              baseURL: server.url,
              apiKeyEnv: null,
              concurrency: 2,
              inputPricePerMTok: 0,
              outputPricePerMTok: 0,
              capabilities: { logprobs: false },
            },
          ],
          elicitation: ['ranking', 'logprobs'],
        },
      },
    });
    await assert.rejects(
      runQuery(config, 'movielens', ['nolp'], quiet),
      /"nolp" cannot be asked "logprobs": its entry says the server returns no logprobs/,
    );
    assert.equal(server.log.length, 0, 'no request reached the server');
  } finally {
    await server.close();
  }
});

test('elicitationExamples (notebook 03): each method’s prompt, a simulated answer and the q read from it, nothing written', async () => {
  const { fx, config } = setUp(['ranking']);
  const before = fs.readdirSync(fx.root, { recursive: true }).length;
  const rows = await elicitationExamples(config, 'movielens', { setup: 'A', top: 3 });
  assert.deepEqual(
    rows.map((r) => r.method),
    ['stated', 'logprobs'],
  );
  const sample = fx.samples.find((s) => s.id === rows[0].sampleId)!;
  assert.equal(sample.setup, 'A');
  const q = knownDistributionForSample(sample, sample.id, KNOWN_DISTRIBUTION_DEFAULTS, config.seed);
  const names = new Map(fx.items.map((it) => [it.id, it.name]));
  const best = sample.candidates.map((c, i) => ({ name: names.get(c), q: q[i] })).sort((a, b) => b.q - a.q)[0];
  for (const r of rows) {
    assert.equal(r.top.length, 3);
    assert.equal(r.top[0].name, best.name, `${r.method}: the most likely candidate is q*'s`);
    assert.ok(r.top[0].q >= r.top[1].q && r.top[1].q >= r.top[2].q);
  }
  assert.ok(Math.abs(rows[0].top[0].q - best.q) < 0.002, 'stated: q* to rounding');
  assert.match(rows[0].prompt, /\[system\]\nAI Rules/);
  assert.match(rows[1].answer, /^\d+ {2}\(top logprobs: /);
  assert.ok(Math.abs(rows[0].crossEntropy - crossEntropyBits(sample.target, q)) < 0.01);
  assert.equal(fs.readdirSync(fx.root, { recursive: true }).length, before, 'no file was written');
});

test('the dry run prices each method with its own output assumption, at Batch API prices too, and sends nothing', async () => {
  const server = await FakeOpenAIServer.start({});
  try {
    const { fx } = setUp(['ranking']);
    const model = {
      id: 'priced',
      provider: 'openai-compatible',
      model: 'm',
      baseURL: server.url,
      apiKeyEnv: null,
      concurrency: 2,
      inputPricePerMTok: 1,
      outputPricePerMTok: 10,
    };
    const config = loadConfig({
      env: {},
      overrides: { paths: fx.paths, query: { models: [model], elicitation: ['ranking', 'stated', 'logprobs'] } },
    });
    const lines: string[] = [];
    const dry = await runQuery(config, 'movielens', ['priced'], { dryRun: true, log: (s) => lines.push(s) });
    assert.deepEqual(
      dry.map((s) => [s.method ?? 'ranking', s.estimate!.outputTokensEstimate]),
      [
        ['ranking', 30 * config.query.outputTokensEstimate],
        ['stated', 30 * 8 * config.sample.K],
        ['logprobs', 30 * 2],
      ],
    );
    // Every method is one request per prompt, so the Batch API sends it at the batch discount.
    for (const s of dry) assert.equal(s.estimate!.batchCostUsd, s.estimate!.costUsd * config.query.batchDiscount);
    assert.ok(lines.some((l) => /priced movielens \(stated\): .*\(Batch API USD \d/.test(l)));
    assert.equal(server.log.length, 0, 'a dry run sends nothing');
  } finally {
    await server.close();
  }
});

test('knownAnswerSamples with methods (notebook 04): stated recovers H(p, q*) to rounding, logprobs overstates it, each from one answer', async () => {
  const { fx, config } = setUp(['ranking']);
  const rows = await knownAnswerSamples(config, 'movielens', {
    prompts: 30,
    asks: [],
    methods: ['stated', 'logprobs'],
  });
  assert.deepEqual(
    rows.map((r) => [r.method, r.asks, r.prompts]),
    [
      ['stated', 1, 30],
      ['logprobs', 1, 30],
    ],
  );
  const truths = qStar(fx, config);
  const direct = meanOf(fx.samples.map((s, k) => crossEntropyBits(s.target, truths[k])));
  assert.ok(Math.abs(rows[0].meanTruth - direct) < 1e-12, `${rows[0].meanTruth} vs ${direct}`);
  assert.ok(Math.abs(rows[0].meanError) < 0.01, `stated ${rows[0].meanError}`);
  assert.ok(rows[1].meanError > 0.01, `logprobs ${rows[1].meanError}`);
});
