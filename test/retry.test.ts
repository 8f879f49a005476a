// The shared retry mechanics (lib/query/retry.ts), checked against errors the real `openai` SDK throws for real HTTP
// answers of the fake server, and against waits measured on the clock.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { loadConfig } from '../lib/core/config';
import { makeRng } from '../lib/core/rng';
import {
  abortableSleep,
  AbortedError,
  backoffMs,
  classifyFailure,
  retryAfterMs,
  retryDelayMs,
  retryPolicy,
  withRetries,
  type ClassifiedFailure,
} from '../lib/query/retry';
import { FakeOpenAIServer, type FakeAction } from './helpers/fake-openai-server';

let server: FakeOpenAIServer;
before(async () => {
  server = await FakeOpenAIServer.start();
});
after(async () => {
  await server.close();
});

const body = {
  model: 'fake-model',
  messages: [{ role: 'user' as const, content: "Candidates: ['A (1990)', 'B (1991)']" }],
};

/** What the SDK throws for one chat request answered by `action` (no SDK retries, short timeout). */
async function sdkErrorFor(
  action: FakeAction | undefined,
  opts: { baseURL?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<unknown> {
  server.reset();
  server.script = () => action;
  const client = new OpenAI({
    apiKey: 'no-key',
    baseURL: opts.baseURL ?? server.url,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 2000,
    logLevel: 'off',
  });
  try {
    await client.chat.completions.create(body, { signal: opts.signal });
  } catch (e) {
    return e;
  }
  throw new Error(`the request answered by ${JSON.stringify(action)} succeeded; expected the SDK to throw`);
}

test('classifyFailure sorts the SDK errors of real HTTP answers into kinds, retryable or not', async () => {
  const cases: [string, FakeAction, Partial<ClassifiedFailure>][] = [
    [
      '429',
      { kind: 'error', status: 429, headers: { 'retry-after': '2' } },
      { kind: 'rate-limit', retryable: true, status: 429, retryAfterMs: 2000 },
    ],
    ['500', { kind: 'error', status: 500 }, { kind: 'server', retryable: true, status: 500 }],
    [
      '503',
      { kind: 'error', status: 503, headers: { 'retry-after-ms': '250' } },
      { kind: 'server', retryable: true, status: 503, retryAfterMs: 250 },
    ],
    ['408', { kind: 'error', status: 408 }, { kind: 'timeout', retryable: true, status: 408 }],
    ['409', { kind: 'error', status: 409 }, { kind: 'client', retryable: true, status: 409 }],
    [
      '400',
      { kind: 'error', status: 400, message: 'messages too long' },
      { kind: 'client', retryable: false, status: 400 },
    ],
    ['401', { kind: 'error', status: 401 }, { kind: 'client', retryable: false, status: 401 }],
    ['404', { kind: 'error', status: 404 }, { kind: 'client', retryable: false, status: 404 }],
    ['drop', { kind: 'drop' }, { kind: 'connection', retryable: true, status: undefined }],
    ['garbage', { kind: 'garbage' }, { kind: 'bad-response', retryable: true, status: undefined }],
  ];
  for (const [name, action, expected] of cases) {
    const c = classifyFailure(await sdkErrorFor(action));
    for (const [field, value] of Object.entries(expected))
      assert.equal(c[field as keyof ClassifiedFailure], value, `${name}: ${field} (${JSON.stringify(c)})`);
    if (c.status !== undefined) assert.match(c.message, new RegExp(`^HTTP ${c.status}: `), name);
  }
  assert.match(
    classifyFailure(await sdkErrorFor({ kind: 'error', status: 400, message: 'messages too long' })).message,
    /messages too long/,
  );
});

test('classifyFailure: a timeout, a refused connection and an abort', async () => {
  const timeout = classifyFailure(await sdkErrorFor({ kind: 'hang' }, { timeoutMs: 150 }));
  assert.deepEqual([timeout.kind, timeout.retryable], ['timeout', true]);

  // A port that was just listening and is now closed: the connection is refused.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const refused = classifyFailure(await sdkErrorFor(undefined, { baseURL: `http://127.0.0.1:${port}/v1` }));
  assert.deepEqual([refused.kind, refused.retryable], ['connection', true]);
  assert.match(refused.message, /ECONNREFUSED/);

  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 50);
  const aborted = classifyFailure(await sdkErrorFor({ kind: 'hang' }, { signal: ctl.signal }));
  assert.deepEqual([aborted.kind, aborted.retryable], ['aborted', false]);
});

test('retry-after: milliseconds win over seconds; seconds; an HTTP date, past dates clamp to 0; nonsense is ignored', () => {
  const h = (o: Record<string, string>) => new Headers(o);
  const now = Date.parse('2025-06-01T12:00:00Z');
  assert.equal(retryAfterMs(h({ 'retry-after-ms': '40', 'retry-after': '9' }), now), 40);
  assert.equal(retryAfterMs(h({ 'retry-after': '7' }), now), 7000);
  assert.equal(retryAfterMs(h({ 'retry-after': 'Sun, 01 Jun 2025 12:00:10 GMT' }), now), 10_000);
  assert.equal(retryAfterMs(h({ 'retry-after': 'Sun, 01 Jun 2025 11:59:00 GMT' }), now), 0);
  assert.equal(retryAfterMs(h({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(retryAfterMs(h({ 'retry-after': '' }), now), undefined);
});

test('back-off: base·2^(n−1) capped, jittered into [0.5, 1) of the step, the same for the same seed; retry-after adds at most 10 %', () => {
  const policy = { maxRetries: 8, baseDelayMs: 1000, maxDelayMs: 6000 };
  // Steps worked by hand: 1000, 2000, 4000, then the 6000 cap.
  const steps = [1000, 2000, 4000, 6000, 6000];
  const a = makeRng('jitter');
  const b = makeRng('jitter');
  const draws: number[] = [];
  steps.forEach((step, i) => {
    const d = backoffMs(policy, i + 1, a);
    assert.ok(d >= step / 2 && d < step, `retry ${i + 1}: ${d} not in [${step / 2}, ${step})`);
    assert.equal(backoffMs(policy, i + 1, b), d);
    draws.push(d / step);
  });
  assert.ok(new Set(draws).size > 1, 'the jitter varies between retries');
  // The extremes of the generator: 0 gives half the step, a value just under 1 just under the whole step.
  assert.equal(
    backoffMs(policy, 2, () => 0),
    1000,
  );
  assert.ok(backoffMs(policy, 2, () => 0.999999) < 2000);
  assert.equal(
    retryDelayMs({ retryAfterMs: 3000 }, policy, 1, () => 0),
    3000,
  );
  assert.ok(Math.abs(retryDelayMs({ retryAfterMs: 3000 }, policy, 1, () => 0.5) - 3150) < 1e-9);
  assert.equal(
    retryDelayMs({}, policy, 3, () => 0),
    2000,
  );
  const config = loadConfig({ env: {} });
  assert.deepEqual(retryPolicy(config), { maxRetries: config.query.maxRetries, baseDelayMs: 1000, maxDelayMs: 60_000 });
  assert.deepEqual(retryPolicy(config, { maxRetries: 1, baseDelayMs: 5 }), {
    maxRetries: 1,
    baseDelayMs: 5,
    maxDelayMs: 60_000,
  });
});

test('abortableSleep resolves after its time, rejects at once when already aborted, and promptly when aborted while waiting', async () => {
  let t0 = Date.now();
  await abortableSleep(60);
  assert.ok(Date.now() - t0 >= 55, `slept ${Date.now() - t0} ms of 60`);

  await assert.rejects(
    abortableSleep(10_000, AbortSignal.abort()),
    (e: unknown) => e instanceof AbortedError && e.name === 'AbortError',
  );

  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 30);
  t0 = Date.now();
  await assert.rejects(abortableSleep(10_000, ctl.signal), AbortedError);
  assert.ok(Date.now() - t0 < 1000, `an abort after 30 ms ended a 10 s sleep after ${Date.now() - t0} ms`);
});

test('withRetries: retries retryable failures up to maxRetries, gives up at once on the rest, and an abort ends the wait', async () => {
  const policy = { maxRetries: 2, baseDelayMs: 5, maxDelayMs: 10 };
  const loop = (log: string[], signal?: AbortSignal) => ({
    policy,
    rng: makeRng('loop'),
    signal,
    giveUp: (f: ClassifiedFailure, n: number) => new Error(`gave up: ${f.kind} after ${n}`),
    aborted: (n: number) => new Error(`aborted after ${n}`),
    onRetry: (f: ClassifiedFailure, retry: number) => log.push(`${f.kind} ${retry}`),
  });

  // A server answering 500 twice, then a completion.
  server.reset();
  server.script = ({ attempt }) => (attempt <= 2 ? { kind: 'error', status: 500 } : undefined);
  const client = new OpenAI({ apiKey: 'no-key', baseURL: server.url, maxRetries: 0, logLevel: 'off' });
  const log: string[] = [];
  const completion = await withRetries(() => client.chat.completions.create(body), loop(log));
  assert.ok(completion.choices.length > 0);
  assert.deepEqual(log, ['server 1', 'server 2']);
  assert.equal(server.chatRequests, 3);

  server.reset();
  server.script = () => ({ kind: 'error', status: 500 });
  await assert.rejects(
    withRetries(() => client.chat.completions.create(body), loop([])),
    /gave up: server after 3/,
  );
  assert.equal(server.chatRequests, 3, 'maxRetries 2: three attempts');

  server.reset();
  server.script = () => ({ kind: 'error', status: 400 });
  await assert.rejects(
    withRetries(() => client.chat.completions.create(body), loop([])),
    /gave up: client after 1/,
  );
  assert.equal(server.chatRequests, 1);

  // A value from beforeRetry settles the call without a second attempt.
  let attempts = 0;
  const settled = await withRetries(
    async () => {
      attempts++;
      throw new Error('lost answer');
    },
    { ...loop([]), beforeRetry: async () => 'found' },
  );
  assert.deepEqual([settled, attempts], ['found', 1]);

  // A long retry-after wait cut short by the signal: the loop stops with the caller's abort error, no further attempt.
  const ctl = new AbortController();
  server.reset();
  server.script = () => ({ kind: 'error', status: 429, headers: { 'retry-after': '30' } });
  setTimeout(() => ctl.abort(), 100);
  const t0 = Date.now();
  await assert.rejects(
    withRetries(() => client.chat.completions.create(body), loop([], ctl.signal)),
    /aborted after 1/,
  );
  assert.ok(Date.now() - t0 < 2000, `Ctrl-C during a 30 s wait stopped the loop after ${Date.now() - t0} ms`);
  assert.equal(server.chatRequests, 1);
  await assert.rejects(
    withRetries(async () => 'never', loop([], ctl.signal)),
    /aborted after 0/,
  );
});
