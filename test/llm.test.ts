import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config, type ModelConfig } from '../lib/core/config';
import { chatRequestBody, createApiResponder, RequestFailedError, requestKey } from '../lib/query/llm';
import { modelAvailability } from '../lib/query/availability';
import { redactSecrets } from '../lib/query/keys';
import { backoffMs, retryAfterMs } from '../lib/query/retry';
import type { ChatMessage, PromptJob } from '../lib/query/models';
import { makeRng } from '../lib/core/rng';
import type { SampleRecord } from '../lib/core/types';
import { FakeOpenAIServer, findPythonLists } from './helpers/fake-openai-server';

const KEY_ENV = 'UBP_TEST_LLM_KEY';
const FAKE_KEY = 'sk-test-DO-NOT-LEAK-9f8e7d6c5b4a3210';

let server: FakeOpenAIServer;
before(async () => {
  server = await FakeOpenAIServer.start({ model: 'fake-model-2024-05-13', fingerprint: 'fp_test42' });
});
after(async () => {
  await server.close();
});

function setup(
  overrides: Partial<ModelConfig> = {},
  query: Record<string, unknown> = {},
): { config: Config; model: ModelConfig } {
  const model: ModelConfig = {
    id: 'fake',
    provider: 'openai-compatible',
    model: 'fake-model',
    baseURL: server.url,
    apiKeyEnv: KEY_ENV,
    concurrency: 4,
    inputPricePerMTok: 1,
    outputPricePerMTok: 2,
    ...overrides,
  };
  const config = loadConfig({ env: {}, overrides: { query: { ...query, models: [model] } } });
  return { config, model: config.query.models.find((m) => m.id === model.id) as ModelConfig };
}

const candidates = ['Heat (1995)', "Schindler's List (1993)", 'Matrix, The (1999)', 'Say "Anything" (1989)'];
const messages: ChatMessage[] = [
  { role: 'system', content: 'AI Rules\n\n- Output response as a Python list only.' },
  {
    role: 'user',
    content: `Recommend 2.\n\nCandidates: ['Heat (1995)', "Schindler's List (1993)", 'Matrix, The (1999)', 'Say "Anything" (1989)']`,
  },
];
const job: PromptJob = { sample: { id: 'p1' } as SampleRecord, messages };
const env = { [KEY_ENV]: FAKE_KEY };
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

test('the fake server reads the Python candidate list of a prompt', () => {
  assert.deepEqual(findPythonLists(messages[1].content), [candidates]);
  assert.deepEqual(findPythonLists(`x ['a\\'b', "c\\\\d"] y [1]`), [["a'b", 'c\\d']]);
});

test('a well-formed answer comes back with usage, snapshot and fingerprint; the request carries the configured parameters', async () => {
  server.reset();
  server.topN = 2;
  server.script = undefined;
  const { config, model } = setup();
  const responder = createApiResponder(model, config, { env });
  const a = await responder.answer(job);
  assert.equal(a.text, '["Heat (1995)", "Schindler\'s List (1993)"]');
  assert.equal(a.model, 'fake-model-2024-05-13');
  assert.equal(a.fingerprint, 'fp_test42');
  assert.ok(a.usage.inputTokens > 0 && a.usage.outputTokens > 0);
  assert.ok(a.latencyMs >= 0);
  assert.equal(server.chatRequests, 1);
  const sent = JSON.parse(server.log[0].body);
  assert.deepEqual(sent, { model: 'fake-model', messages, temperature: 0, seed: 0, max_tokens: 1024 });
  assert.deepEqual(sent, chatRequestBody(model, config, messages));
  assert.equal(
    server.log[0].headers.authorization,
    `Bearer ${FAKE_KEY}`,
    'the key reaches the server (and only the server)',
  );
  assert.equal(responder.keyFor(messages), requestKey(model, config, messages));
  server.topN = 10;
});

test('429 is retried after waiting at least retry-after (seconds) and retry-after-ms', async () => {
  server.reset();
  const { config, model } = setup();
  server.script = ({ attempt }) =>
    attempt === 1 ? { kind: 'error', status: 429, headers: { 'retry-after': '1' } } : undefined;
  const logs: string[] = [];
  const responder = createApiResponder(model, config, { env, retry: fastRetry, log: (l) => logs.push(l) });
  let t0 = Date.now();
  await responder.answer(job);
  assert.ok(Date.now() - t0 >= 1000, `waited ${Date.now() - t0} ms, retry-after said 1 s`);
  assert.equal(server.chatRequests, 2);
  assert.equal(responder.stats.retries, 1);
  assert.match(logs.join('\n'), /HTTP 429.*retry 1\/6/);

  server.reset();
  server.script = ({ attempt }) =>
    attempt <= 2
      ? { kind: 'error', status: 429, headers: { 'retry-after-ms': '150', 'retry-after': '30' } }
      : undefined;
  t0 = Date.now();
  await createApiResponder(model, config, { env, retry: fastRetry }).answer(job);
  const elapsed = Date.now() - t0;
  assert.ok(
    elapsed >= 300 && elapsed < 5000,
    `two retry-after-ms 150 waits took ${elapsed} ms (retry-after-ms wins over retry-after)`,
  );
  assert.equal(server.chatRequests, 3);
});

test('500s, dropped connections, unreadable bodies and timeouts are retried', async () => {
  const { config, model } = setup({}, { timeoutMs: 1000 });
  const cases: [string, (attempt: number) => ReturnType<NonNullable<FakeOpenAIServer['script']>>][] = [
    ['500', (a) => (a <= 2 ? { kind: 'error', status: 500 } : undefined)],
    ['502', (a) => (a === 1 ? { kind: 'error', status: 502 } : undefined)],
    ['drop', (a) => (a <= 2 ? { kind: 'drop' } : undefined)],
    ['garbage', (a) => (a === 1 ? { kind: 'garbage' } : undefined)],
    ['hang', (a) => (a === 1 ? { kind: 'hang' } : undefined)],
    ['408', (a) => (a === 1 ? { kind: 'error', status: 408 } : undefined)],
  ];
  for (const [name, script] of cases) {
    server.reset();
    server.script = ({ attempt }) => script(attempt);
    const responder = createApiResponder(model, config, { env, retry: fastRetry });
    const a = await responder.answer(job);
    assert.match(a.text, /Heat \(1995\)/, name);
    const expected = name === '500' || name === 'drop' ? 3 : 2;
    assert.equal(server.chatRequests, expected, `${name}: requests`);
    assert.equal(responder.stats.retries, expected - 1, `${name}: retries`);
  }
});

test('a 400 fails at once without retries; a persistent 500 gives up after maxRetries', async () => {
  const { config, model } = setup({}, { maxRetries: 2 });
  server.reset();
  server.script = () => ({ kind: 'error', status: 400, message: 'bad request: messages too long' });
  const responder = createApiResponder(model, config, { env, retry: fastRetry });
  await assert.rejects(responder.answer(job), (e: unknown) => {
    assert.ok(e instanceof RequestFailedError);
    assert.equal(e.status, 400);
    assert.equal(e.kind, 'client');
    assert.equal(e.attempts, 1);
    assert.match(e.message, /HTTP 400.*messages too long.*not retryable/);
    return true;
  });
  assert.equal(server.chatRequests, 1);

  server.reset();
  server.script = () => ({ kind: 'error', status: 503 });
  await assert.rejects(createApiResponder(model, config, { env, retry: fastRetry }).answer(job), (e: unknown) => {
    assert.ok(e instanceof RequestFailedError);
    assert.equal(e.kind, 'server');
    assert.equal(e.attempts, 3);
    assert.match(e.message, /gave up after 3 attempts/);
    return true;
  });
  assert.equal(server.chatRequests, 3, '1 request + maxRetries 2');
  server.script = undefined;
});

test('an abort signal stops a request and its retries', async () => {
  const { config, model } = setup();
  server.reset();
  server.script = () => ({ kind: 'error', status: 500 });
  const ac = new AbortController();
  const p = createApiResponder(model, config, { env, retry: { baseDelayMs: 10_000, maxDelayMs: 10_000 } }).answer(
    job,
    ac.signal,
  );
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  await assert.rejects(p, (e: unknown) => e instanceof RequestFailedError && e.kind === 'aborted');
  assert.ok(Date.now() - t0 < 3000);
  server.script = undefined;
});

test('the API key never appears in errors or logs, even when the server echoes it', async () => {
  const { config, model } = setup({}, { maxRetries: 1 });
  server.reset();
  server.script = ({ headers }) => ({
    kind: 'error',
    status: 401,
    message: `Incorrect API key provided: ${String(headers.authorization).replace('Bearer ', '')}`,
  });
  const logs: string[] = [];
  let message = '';
  await assert.rejects(
    createApiResponder(model, config, { env, log: (l) => logs.push(l) }).answer(job),
    (e: unknown) => {
      message = `${(e as Error).message}\n${(e as Error).stack}\n${JSON.stringify(e)}`;
      return true;
    },
  );
  assert.match(message, /HTTP 401/);
  assert.ok(!message.includes(FAKE_KEY), 'key in the error');
  assert.ok(!message.includes('DO-NOT-LEAK'), 'part of the key in the error');
  server.reset();
  server.script = ({ attempt, headers }) =>
    attempt === 1 ? { kind: 'error', status: 500, message: `echo ${String(headers.authorization)}` } : undefined;
  await createApiResponder(model, config, { env, log: (l) => logs.push(l), retry: fastRetry }).answer(job);
  assert.ok(logs.length > 0);
  assert.ok(
    logs.every((l) => !l.includes(FAKE_KEY) && !l.includes('DO-NOT-LEAK')),
    logs.join('\n'),
  );
  server.script = undefined;

  // An OpenAI model without its key: the error names the variable, not a value.
  const openai = setup({ id: 'oa', provider: 'openai', apiKeyEnv: 'UBP_TEST_UNSET_KEY' });
  assert.throws(() => createApiResponder(openai.model, openai.config, { env: {} }), /UBP_TEST_UNSET_KEY/);
});

test('redactSecrets removes secrets and anything shaped like an OpenAI key', () => {
  assert.equal(redactSecrets('key=abcd1234 and again abcd1234', ['abcd1234']), 'key=[REDACTED] and again [REDACTED]');
  assert.equal(
    redactSecrets('Incorrect API key provided: sk-proj-abcdefghijkl', []),
    'Incorrect API key provided: sk-[REDACTED]',
  );
});

test('retry-after parsing: milliseconds, seconds, HTTP date, absent', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  assert.equal(retryAfterMs(h({ 'retry-after-ms': '250' })), 250);
  assert.equal(retryAfterMs(h({ 'retry-after': '2' })), 2000);
  assert.equal(retryAfterMs(h({ 'retry-after': '0.5' })), 500);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs(h({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now), 3000);
  assert.equal(retryAfterMs(h({})), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});

test('backoff doubles per retry, is capped, jittered into [0.5, 1) of the step, and seeded', () => {
  const policy = { maxRetries: 6, baseDelayMs: 100, maxDelayMs: 1000 };
  const a = makeRng('s');
  const b = makeRng('s');
  for (let retry = 1; retry <= 6; retry++) {
    const step = Math.min(1000, 100 * 2 ** (retry - 1));
    const d = backoffMs(policy, retry, a);
    assert.ok(d >= step * 0.5 && d < step, `retry ${retry}: ${d} not in [${step / 2}, ${step})`);
    assert.equal(backoffMs(policy, retry, b), d);
  }
});

test('modelAvailability: baselines always; OpenAI needs its key variable; compatible servers must answer /models', async () => {
  const base = setup();
  assert.deepEqual(await modelAvailability({ ...base.model, provider: 'baseline' }), { available: true });
  const oa = { ...base.model, provider: 'openai' as const, apiKeyEnv: 'UBP_TEST_OA_KEY' };
  assert.equal((await modelAvailability(oa, {})).available, false);
  assert.match((await modelAvailability(oa, {})).reason ?? '', /UBP_TEST_OA_KEY is not set/);
  assert.equal((await modelAvailability(oa, { UBP_TEST_OA_KEY: 'k' })).available, true);

  server.reset();
  const up = await modelAvailability(base.model, {});
  assert.equal(up.available, true);
  assert.equal(server.requestCount('/v1/models'), 1);

  // A closed port answers nothing.
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const down = await modelAvailability({ ...base.model, baseURL: `http://127.0.0.1:${port}/v1` }, {});
  assert.equal(down.available, false);
  assert.match(down.reason ?? '', /failed/);

  // A server that never answers is given up on within the timeout.
  const silent = http.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const t0 = Date.now();
  const hung = await modelAvailability(
    { ...base.model, baseURL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1` },
    {},
    300,
  );
  assert.equal(hung.available, false);
  assert.match(hung.reason ?? '', /within 300 ms/);
  assert.ok(Date.now() - t0 < 2000);
  silent.closeAllConnections();
  await new Promise<void>((r) => silent.close(() => r()));
});
