// The pilot (--limit N) and the dry run's estimate from it, against a local server over real HTTP.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type Config, type ModelConfig } from '../lib/core/config';
import { forgetAdaptations } from '../lib/query/adapt';
import { cellOf, estimateFromPilot, pilotSelection, studentTQuantile } from '../lib/query/pilot';
import { renderPrompt } from '../lib/query/prompt';
import { runQuery } from '../lib/query/runner';
import { responsesFile } from '../lib/query/inputs';
import { FakeOpenAIServer, type ChatBody } from './helpers/fake-openai-server';
import { assertSecretsAbsent, fakeModel, makeQueryFixture, type QueryFixture } from './helpers/query-fixture';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-PILOT-SECRET-44ee55ff66aa';

let server: FakeOpenAIServer;
const roots: string[] = [];
const allLogs: string[] = [];

/** Reasoning tokens that differ from prompt to prompt (so the pilot measures a spread). */
const reasoningOf = (body: ChatBody) => 50 + (body.messages.map((m) => m.content).join('').length % 97);

before(async () => {
  process.env[KEY_ENV] = FAKE_KEY;
  server = await FakeOpenAIServer.start({
    model: 'pilot-model',
    reasoning: { isReasoningModel: (m) => m.startsWith('gpt-5'), reasoningTokens: reasoningOf },
    batch: { pollsToFinish: 1 },
  });
});
after(async () => {
  await server.close();
  assertSecretsAbsent(roots, allLogs, [FAKE_KEY, 'PILOT-SECRET']);
  delete process.env[KEY_ENV];
});
beforeEach(() => {
  server.reset();
  server.clearBatches();
  forgetAdaptations();
});

function fixture(prompts: number): QueryFixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-pilot-'));
  roots.push(root);
  return makeQueryFixture(root, { prompts });
}

function configFor(fx: QueryFixture, models: Partial<ModelConfig>[], query: Record<string, unknown> = {}): Config {
  return loadConfig({ env: {}, overrides: { paths: fx.paths, query: { ...query, models } } });
}

function logger(): { log: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (l) => (lines.push(l), allLogs.push(l)) };
}

/** The user messages the server answered (the last message of each request). */
function askedPrompts(): string[] {
  return server.log
    .filter((r) => r.path.endsWith('/chat/completions') && r.status === 200)
    .map((r) => (JSON.parse(r.body) as ChatBody).messages.at(-1)?.content ?? '');
}

test("Student's t quantiles match the published table", () => {
  // Two-sided 95 % critical values from any t table.
  for (const [df, t] of [
    [1, 12.706],
    [2, 4.303],
    [3, 3.182],
    [5, 2.571],
    [10, 2.228],
    [30, 2.042],
    [1000, 1.962],
  ] as const) {
    assert.ok(Math.abs(studentTQuantile(0.975, df) - t) < 5e-4, `df ${df}: ${studentTQuantile(0.975, df)}`);
  }
  assert.ok(Math.abs(studentTQuantile(0.95, 4) - 2.132) < 5e-4);
});

test('the pilot takes the first N prompts of each (setting, history length) cell, in sample order', () => {
  const s = (id: string, proxy: string, h: number) => ({ id, proxy, history: Array.from({ length: h }, () => 'x') });
  const items = [
    s('a', 'none', 0),
    s('b', 'age', 0),
    s('c', 'none', 0),
    s('d', 'none', 0),
    s('e', 'age', 3),
    s('f', 'age', 0),
    s('g', 'age', 0),
  ];
  assert.deepEqual(
    pilotSelection(items, (x) => x, 2).map((x) => x.id),
    ['a', 'b', 'c', 'e', 'f'],
  );
  assert.throws(() => pilotSelection(items, (x) => x, 0), /whole number >= 1/);
});

test('the stratified estimate and its 95 % interval, worked by hand', () => {
  // Price 1 USD per million input tokens, output free: an answer's cost is its input tokens / 1e6.
  const model = { inputPricePerMTok: 1, outputPricePerMTok: 0 };
  const a = (cell: string, inputTokens: number) => ({ cell, usage: { inputTokens, outputTokens: 0 } });
  const measured = [a('A', 100), a('A', 300), a('B', 1000), a('B', 1000), a('B', 1300)];
  const toSend = ['A', 'A', 'A', 'A', 'B', 'B', 'C'];
  const e = estimateFromPilot(model, measured, toSend);
  // Cell means 200 and 1100; the unmeasured cell C takes the overall mean 740: 4·200 + 2·1100 + 740 = 3740.
  assert.ok(Math.abs(e.costUsd - 3740e-6) < 1e-15);
  // Pooled variance: (20000 + 60000) / (1 + 2) with 3 df; Σ M²/n = 16/2 + 4/3 + 1/5; t(0.975, 3) = 3.18245.
  const half = 3.182446305 * Math.sqrt((80000 / 3) * (8 + 4 / 3 + 1 / 5)) * 1e-6;
  assert.ok(Math.abs((e.highUsd as number) - (3740e-6 + half)) < 1e-12);
  assert.ok(Math.abs((e.lowUsd as number) - (3740e-6 - half)) < 1e-12);
  assert.deepEqual([e.answers, e.cells, e.unmeasuredCells, e.degreesOfFreedom, e.prompts], [5, 2, 1, 3, 7]);
  assert.equal(e.meanInputTokens, 740);
  // One answer per cell gives no variance: an estimate without interval.
  const single = estimateFromPilot(model, [a('A', 100), a('B', 1000)], ['A', 'B']);
  assert.deepEqual([single.costUsd, single.lowUsd, single.highUsd], [1100e-6, null, null]);
});

test('--limit 2 asks exactly 2 prompts per cell; the dry run estimates the rest from them with an interval; the full run asks only the rest', async () => {
  const fx = fixture(30);
  const cells = new Map<string, string[]>();
  for (const s of fx.samples) cells.set(cellOf(s), [...(cells.get(cellOf(s)) ?? []), s.id]);
  assert.equal(cells.size, 3);
  const model = fakeModel(server.url, {
    id: 'g5',
    model: 'gpt-5-mini-2025-08-07',
    inputPricePerMTok: 0.25,
    outputPricePerMTok: 2,
    concurrency: 8,
  });
  const config = configFor(fx, [model]);
  const { log, lines } = logger();

  // Before any pilot the dry run says its output is an assumption.
  const [before] = await runQuery(config, 'movielens', ['g5'], { dryRun: true, log });
  assert.equal(before.estimate?.basis, 'assumed');
  assert.match(lines.at(-1) ?? '', /an assumption of 250\/answer.*--limit N/);

  const [pilot] = await runQuery(config, 'movielens', ['g5'], { limit: 2, log });
  assert.equal(server.chatRequests, 6);
  assert.deepEqual(pilot.pilot, { limit: 2, cells: 3, prompts: 6, ofPrompts: 30 });
  assert.equal(pilot.answered, 6);
  assert.ok(!fs.existsSync(responsesFile(config, 'g5', 'movielens')), 'a pilot writes no responses file');
  // Exactly the first two prompts of each cell, which the full run would ask first.
  const byId = new Map(fx.items.map((it) => [it.id, it.name]));
  const firstTwo = [...cells.values()].flatMap((ids) => ids.slice(0, 2));
  const expectedPrompts = fx.samples
    .filter((s) => firstTwo.includes(s.id))
    .map((s) => renderPrompt(s, (id) => byId.get(id) as string, config, 'movielens').at(-1)?.content);
  assert.deepEqual(askedPrompts().sort(), expectedPrompts.sort());

  const [dry] = await runQuery(config, 'movielens', ['g5'], { dryRun: true, log });
  assert.equal(server.chatRequests, 6, 'the dry run sends nothing');
  const est = dry.estimate!;
  assert.equal(est.basis, 'pilot');
  assert.equal(est.pilot?.answers, 6);
  assert.equal(est.pilot?.prompts, 24);
  assert.ok(est.pilot!.lowUsd! < est.costUsd && est.costUsd < est.pilot!.highUsd!);
  assert.ok(est.pilot!.meanReasoningTokens >= 50);
  assert.match(
    lines.at(-1) ?? '',
    /24 prompts to send \(6 already stored\); estimated from the pilot's 6 measured answers in 3 cells .*reasoning \d+\).*95 % interval USD/,
  );

  // The estimate against what the full run then pays: measured per-cell means × remaining prompts, checked independently.
  server.reset();
  const [full] = await runQuery(config, 'movielens', ['g5'], { log });
  assert.equal(server.chatRequests, 24, 'the full run asks only the prompts the pilot did not');
  assert.equal(full.fromStore, 6);
  assert.equal(full.answered, 30);
  assert.ok(full.usage.reasoningTokens! > 0);
  assert.ok(
    Math.abs(full.costUsd - est.costUsd) / full.costUsd < 0.5,
    `estimate ${est.costUsd} vs paid ${full.costUsd}`,
  );
});

test('a pilot with --batch submits only the pilot prompts; the dry run then estimates from them; the full run asks only the rest', async () => {
  const fx = fixture(18);
  const model = fakeModel(server.url, {
    id: 'b5',
    model: 'gpt-5-mini-2025-08-07',
    provider: 'openai-compatible',
    inputPricePerMTok: 0.25,
    outputPricePerMTok: 2,
  });
  const config = configFor(fx, [model], { batchPollSeconds: 0.01 });
  const { log, lines } = logger();
  const [pilot] = await runQuery(config, 'movielens', ['b5'], { batch: true, limit: 2, log });
  assert.equal(pilot.answered, 6);
  assert.equal(server.routeCount('POST', '/v1/batches'), 1);
  const batch = server.listBatches()[0];
  const uploaded = (server.fileText(batch.input_file_id) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { body: ChatBody });
  assert.equal(uploaded.length, 6);
  // The batch lines follow the reasoning-model rules too (the server would answer 400 otherwise).
  assert.ok(
    uploaded.every(
      (l) => l.body.max_completion_tokens === 1024 && !('max_tokens' in l.body) && !('temperature' in l.body),
    ),
  );
  const [dry] = await runQuery(config, 'movielens', ['b5'], { dryRun: true, log });
  assert.equal(dry.estimate?.basis, 'pilot');
  assert.equal(dry.estimate?.pilot?.answers, 6);
  assert.match(
    lines.at(-1) ?? '',
    /12 prompts to send .*estimated from the pilot's 6 measured answers.*95 % interval.*Batch API USD/,
  );
  server.reset();
  const [full] = await runQuery(config, 'movielens', ['b5'], { log });
  assert.equal(server.chatRequests, 12);
  assert.equal(full.answered, 18);
});
