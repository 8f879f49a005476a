// Reasoning models against a local server that enforces OpenAI's reasoning-model rules with OpenAI's error bodies.
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { catalogue, loadConfig, type Config, type ModelConfig } from '../lib/core/config';
import { forgetAdaptations } from '../lib/query/adapt';
import { createApiResponder, usageFromCompletion } from '../lib/query/llm';
import { runQuery } from '../lib/query/runner';
import { loadResponses } from '../lib/query/inputs';
import { FakeOpenAIServer } from './helpers/fake-openai-server';
import { assertSecretsAbsent, fakeModel, makeQueryFixture, type QueryFixture } from './helpers/query-fixture';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-REASON-SECRET-11bb22cc33dd';
const REASONING_TOKENS = 96;

let server: FakeOpenAIServer;
const roots: string[] = [];
const allLogs: string[] = [];

before(async () => {
  process.env[KEY_ENV] = FAKE_KEY;
  server = await FakeOpenAIServer.start({
    model: 'reasoner-2025-01-01',
    reasoning: {
      isReasoningModel: (name) => /^(gpt-5|o\d|acme-thinker)/.test(name),
      reasoningTokens: REASONING_TOKENS,
    },
  });
});
after(async () => {
  await server.close();
  assertSecretsAbsent(roots, allLogs, [FAKE_KEY, 'REASON-SECRET']);
  delete process.env[KEY_ENV];
});
beforeEach(() => {
  server.reset();
  server.script = undefined;
  forgetAdaptations();
});

function fixture(prompts: number): QueryFixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-reason-'));
  roots.push(root);
  return makeQueryFixture(root, { prompts });
}

function configFor(fx: QueryFixture, models: Partial<ModelConfig>[]): Config {
  return loadConfig({ env: {}, overrides: { paths: fx.paths, query: { models } } });
}

function logger(): { log: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: (l) => (lines.push(l), allLogs.push(l)) };
}

const rejected = () => server.stats().byStatus['400'] ?? 0;

test('the fake server answers OpenAI’s own error bodies for max_tokens and temperature', async () => {
  const post = (body: unknown) =>
    fetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (r) => [r.status, await r.json()]);
  const messages = [{ role: 'user', content: 'Candidates: ["A"]' }];
  assert.deepEqual(await post({ model: 'gpt-5-mini', messages, max_tokens: 10 }), [
    400,
    {
      error: {
        message:
          "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: 'unsupported_parameter',
      },
    },
  ]);
  assert.deepEqual(await post({ model: 'gpt-5-mini', messages, max_completion_tokens: 10, temperature: 0 }), [
    400,
    {
      error: {
        message:
          "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
        type: 'invalid_request_error',
        param: 'temperature',
        code: 'unsupported_value',
      },
    },
  ]);
  const [status, ok] = (await post({ model: 'gpt-5-mini', messages, max_completion_tokens: 10 })) as [
    number,
    { usage: { completion_tokens: number; completion_tokens_details: { reasoning_tokens: number } } },
  ];
  assert.equal(status, 200);
  assert.equal(ok.usage.completion_tokens_details.reasoning_tokens, REASONING_TOKENS);
});

test('gpt-5-mini from the catalogue answers every prompt with zero rejected requests; reasoning tokens are recorded and priced', async () => {
  const fx = fixture(24);
  // Only the address changes: the rest of the entry (model, params, prices) is the catalogue's.
  const config = configFor(fx, [{ id: 'gpt-5-mini', baseURL: server.url, apiKeyEnv: KEY_ENV }]);
  const listed = catalogue().find((m) => m.id === 'gpt-5-mini') as ModelConfig;
  const { log } = logger();
  const [s] = await runQuery(config, 'movielens', ['gpt-5-mini'], { log });
  assert.equal(s.answered, 24);
  assert.equal(server.chatRequests, 24);
  assert.equal(rejected(), 0);
  for (const r of server.log.filter((x) => x.path.endsWith('/chat/completions'))) {
    const body = JSON.parse(r.body) as Record<string, unknown>;
    assert.equal(body.model, 'gpt-5-mini-2025-08-07');
    assert.equal('max_tokens' in body || 'temperature' in body, false);
    assert.equal(body.max_completion_tokens, 4000);
    assert.equal(body.reasoning_effort, 'low');
  }
  const records = loadResponses(config, 'gpt-5-mini', 'movielens');
  assert.equal(records.length, 24);
  let total = 0;
  for (const r of records) {
    assert.equal(r.usage.reasoningTokens, REASONING_TOKENS);
    // Reasoning tokens are inside the billed output: visible answer tokens + 96.
    assert.ok(r.usage.outputTokens > REASONING_TOKENS);
    const hand =
      (r.usage.inputTokens * listed.inputPricePerMTok + r.usage.outputTokens * listed.outputPricePerMTok) / 1e6;
    assert.ok(Math.abs(r.costUsd - hand) < 1e-12);
    total += r.costUsd;
  }
  // The 96 hidden tokens of each of the 24 answers cost 24 × 96 × USD 2 / 1e6 of the total.
  const withoutReasoning = records.reduce(
    (n, r) => n + (r.usage.inputTokens * 0.25 + (r.usage.outputTokens - REASONING_TOKENS) * 2) / 1e6,
    0,
  );
  assert.ok(Math.abs(total - withoutReasoning - (24 * 96 * 2) / 1e6) < 1e-12);
  assert.ok(Math.abs(s.costUsd - total) < 1e-12);
  assert.equal(s.usage.reasoningTokens, 24 * REASONING_TOKENS);
  assert.equal(s.rejectedRequests, 0);
});

test('an unknown model the server treats as a reasoning model: every prompt answered after two rejected requests in the whole run, at full concurrency', async () => {
  const fx = fixture(40);
  const model = fakeModel(server.url, { id: 'thinker', model: 'acme-thinker-1', concurrency: 16 });
  const config = configFor(fx, [model]);
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['thinker'], { log });
  assert.equal(s.answered, 40);
  assert.equal(s.failed, 0);
  // One rejection per adaptation: max_tokens → max_completion_tokens, then temperature removed.
  assert.equal(rejected(), 2);
  assert.equal(server.chatRequests, 42);
  // The run summary says so too.
  assert.equal(s.rejectedRequests, 2);
  assert.deepEqual(s.adaptations, ['"max_tokens" → "max_completion_tokens"', '"temperature" removed']);
  assert.equal(s.httpRequests, 42);
  assert.ok(lines.some((l) => /adapted to the server's parameter rules .* after 2 rejected requests/.test(l)));
  assert.ok(
    lines.some((l) => /rejected unsupported_parameter "max_tokens".*"max_tokens" → "max_completion_tokens"/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /rejected unsupported_value "temperature".*"temperature" removed/.test(l)),
    lines.join('\n'),
  );
  const accepted = server.log
    .filter((r) => r.status === 200 && r.path.endsWith('/chat/completions'))
    .map((r) => JSON.parse(r.body) as Record<string, unknown>);
  assert.equal(accepted.length, 40);
  for (const b of accepted)
    assert.deepEqual([b.max_tokens, b.temperature, b.max_completion_tokens], [undefined, undefined, 1024]);
  const records = loadResponses(config, 'thinker', 'movielens');
  assert.ok(records.every((r) => r.usage.reasoningTokens === REASONING_TOKENS));

  // Another domain of the same run (same process) uses what was learned: no rejection at all.
  server.reset();
  const fx2 = fixture(10);
  const [again] = await runQuery(configFor(fx2, [model]), 'movielens', ['thinker'], { log });
  assert.equal(again.answered, 10);
  assert.equal(rejected(), 0);
  assert.equal(again.rejectedRequests, 0);
  assert.equal(again.adaptations.length, 2);
});

test('the probe holds concurrent requests back until one has gone through', async () => {
  const config = loadConfig({ env: {} });
  const model = fakeModel(server.url, { id: 'thinker2', model: 'acme-thinker-2', concurrency: 32 });
  const responder = createApiResponder(model, config, { env: { [KEY_ENV]: FAKE_KEY } });
  const messages = (i: number) => [{ role: 'user' as const, content: `Prompt ${i}. Candidates: ["A${i}", "B${i}"]` }];
  const answers = await Promise.all(
    Array.from({ length: 32 }, (_, i) => responder.answer({ sample: {} as never, messages: messages(i) })),
  );
  assert.equal(answers.length, 32);
  assert.equal(rejected(), 2);
  assert.equal(responder.stats.rejected, 2);
  assert.deepEqual(responder.adaptations(), ['"max_tokens" → "max_completion_tokens"', '"temperature" removed']);
  assert.deepEqual(answers[5].adaptations, responder.adaptations());
});

test('a 400 that names no adaptable parameter is not retried', async () => {
  server.script = () => ({ kind: 'error', status: 400, message: 'context_length_exceeded' });
  const config = loadConfig({ env: {} });
  const responder = createApiResponder(fakeModel(server.url, { model: 'plain-chat-1' }), config, {
    env: { [KEY_ENV]: FAKE_KEY },
  });
  await assert.rejects(
    responder.answer({ sample: {} as never, messages: [{ role: 'user', content: 'x' }] }),
    /HTTP 400.*not retryable/,
  );
  assert.equal(server.chatRequests, 1);
  assert.equal(responder.stats.rejected, 0);
});

test('reasoning tokens reported outside completion_tokens are added to the billed output', () => {
  // OpenAI: completion_tokens already holds them (total = prompt + completion).
  assert.deepEqual(
    usageFromCompletion({
      prompt_tokens: 100,
      completion_tokens: 150,
      total_tokens: 250,
      completion_tokens_details: { reasoning_tokens: 120 },
    }),
    { inputTokens: 100, outputTokens: 150, reasoningTokens: 120 },
  );
  // A server whose total counts them on top: 100 + 30 + 120 = 250.
  assert.deepEqual(
    usageFromCompletion({
      prompt_tokens: 100,
      completion_tokens: 30,
      total_tokens: 250,
      completion_tokens_details: { reasoning_tokens: 120 },
    }),
    { inputTokens: 100, outputTokens: 150, reasoningTokens: 120 },
  );
  assert.deepEqual(usageFromCompletion({ prompt_tokens: 5, completion_tokens: 7 }), {
    inputTokens: 5,
    outputTokens: 7,
  });
});
