// The query stage under concurrency, broken servers and bad settings (issue 12): every case over real HTTP on
// 127.0.0.1 with the real `openai` client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigError,
  loadConfig,
  mergeConfig,
  pathsUnder,
  repoRoot,
  type Config,
  type ModelConfig,
} from '../lib/core/config';
import { runQuery, type QueryRunSummary } from '../lib/query/runner';
import { loadResponses } from '../lib/query/inputs';
import { ResponseStore, storeFileName } from '../lib/query/store';
import { fakeServerSuite } from './helpers/server-suite';
import { exited, spawnNode, startStandaloneServer } from './helpers/children';
import { fakeModel, type QueryFixture } from './helpers/query-fixture';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-RELIABLE-SECRET-1234abcd';
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

const suite = fakeServerSuite({
  keyEnv: KEY_ENV,
  key: FAKE_KEY,
  secrets: [FAKE_KEY, 'RELIABLE-SECRET'],
  tmpPrefix: 'ubp-rel-',
  server: { model: 'fake-model-2024-05-13' },
});
const { fixture, configFor, logger, allLogs, roots } = suite;

function storePath(fx: QueryFixture, model = 'fake-model'): string {
  return path.join(fx.paths.store, storeFileName('openai-compatible', model));
}

function storeLines(fx: QueryFixture): string[] {
  const file = storePath(fx);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

// ---------- money: two runs at once ----------

test('two runs at once on one store: every prompt paid once, the second waits naming the first one’s pid, both end with every answer', async () => {
  const fx = fixture(30);
  const standalone = await startStandaloneServer(40);
  try {
    const model = fakeModel(standalone.url, { concurrency: 4 });
    const args = JSON.stringify({
      overrides: { paths: fx.paths, query: { models: [model] } },
      domain: 'movielens',
      models: ['fake'],
      retry: fastRetry,
    });
    const a = spawnNode('query-child', [args]);
    const b = spawnNode('query-child', [args]);
    const [ea, eb] = await Promise.all([exited(a), exited(b)]);
    const errs = [a.err.join(''), b.err.join('')];
    for (const e of errs) for (const l of e.split('\n')) allLogs.push(l);
    assert.equal(ea.code, 0, errs[0]);
    assert.equal(eb.code, 0, errs[1]);
    assert.equal((await standalone.stats()).chat, 30, 'each prompt is paid once across both runs');
    const waited = errs.findIndex((e) => /another run \(pid \d+\) is querying this model/.test(e));
    assert.ok(waited >= 0, `one run waited: ${errs.join('\n---\n')}`);
    const holderPid = [a.pid, b.pid][1 - waited];
    assert.match(errs[waited], new RegExp(`another run \\(pid ${holderPid}\\)`));
    const summaries = [a, b].map((c) => (JSON.parse(c.out.join('')) as QueryRunSummary[])[0]);
    assert.deepEqual(
      summaries.map((s) => s.answered),
      [30, 30],
    );
    assert.equal(summaries[0].sent + summaries[1].sent, 30);
    assert.equal(new Set(storeLines(fx).map((l) => JSON.parse(l).key)).size, 30);
    assert.equal(storeLines(fx).length, 30, 'no answer stored twice');
    assert.ok(!fs.existsSync(`${storePath(fx)}.lock`), 'the lock is released');
  } finally {
    standalone.proc.kill('SIGTERM');
    await exited(standalone.proc);
  }
});

test('a stale store lock of a dead pid is taken over; a live holder in this process makes a second run wait', async () => {
  const fx = fixture(4);
  suite.server.reset();
  suite.server.script = undefined;
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  fs.mkdirSync(fx.paths.store, { recursive: true });
  const dead = spawn(process.execPath, ['-e', '0']);
  await exited(dead);
  fs.writeFileSync(`${storePath(fx)}.lock`, String(dead.pid));
  const [s] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
  assert.equal(s.answered, 4);
  assert.equal(suite.server.chatRequests, 4);
  assert.ok(!fs.existsSync(`${storePath(fx)}.lock`));

  // Two runs in one process (a notebook): the second waits for the first and pays nothing.
  const fx2 = fixture(6);
  suite.server.reset();
  suite.server.latencyMs = 30;
  try {
    const config2 = configFor(fx2, [fakeModel(suite.server.url, { concurrency: 2 })]);
    const l2 = logger();
    const [r1, r2] = await Promise.all([
      runQuery(config2, 'movielens', ['fake'], { log: logger().log, retry: fastRetry }),
      runQuery(config2, 'movielens', ['fake'], { log: l2.log, retry: fastRetry }),
    ]);
    assert.equal(suite.server.chatRequests, 6);
    assert.equal(r1[0].answered + r2[0].answered, 12);
    assert.equal(r2[0].sent, 0);
    assert.match(l2.lines.join('\n'), new RegExp(`another run \\(pid ${process.pid}\\)`));
  } finally {
    suite.server.latencyMs = 0;
  }
});

test('a run stopped while waiting for the lock sends nothing and says so', async () => {
  const fx = fixture(3);
  suite.server.reset();
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  fs.mkdirSync(fx.paths.store, { recursive: true });
  // The test runner's parent is alive for the whole test.
  fs.writeFileSync(`${storePath(fx)}.lock`, String(process.ppid));
  const ac = new AbortController();
  const { log, lines } = logger();
  setTimeout(() => ac.abort(), 300);
  const [s] = await runQuery(config, 'movielens', ['fake'], {
    log,
    signal: ac.signal,
    retry: fastRetry,
    handleSigint: false,
  });
  assert.equal(suite.server.chatRequests, 0);
  assert.equal(s.interrupted, true);
  assert.equal(s.missing, 3);
  assert.match(lines.join('\n'), new RegExp(`another run \\(pid ${process.ppid}\\) is querying this model`));
  // Batch API runs take the same lock before submitting anything.
  const batchStop = new AbortController();
  setTimeout(() => batchStop.abort(), 300);
  const [b] = await runQuery(config, 'movielens', ['fake'], {
    log,
    signal: batchStop.signal,
    batch: true,
    retry: fastRetry,
    handleSigint: false,
  });
  assert.equal(b.interrupted, true);
  assert.equal(suite.server.routeCount('POST', '/v1/files'), 0);
  assert.equal(suite.server.routeCount('POST', '/v1/batches'), 0);
  fs.rmSync(`${storePath(fx)}.lock`);
});

// ---------- money: HTTP 200s that are not completions ----------

test('a 200 that is not a completion is retried once at most, its usage is counted, and the answer on the retry is kept', async () => {
  const fx = fixture(6);
  suite.server.reset();
  // Every prompt first gets a reply with empty choices (billed 100 + 20 tokens), then an answer.
  suite.server.script = ({ attempt }) =>
    attempt === 1 ? { kind: 'empty-choices', usage: { prompt_tokens: 100, completion_tokens: 20 } } : undefined;
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 1 })]);
  const [s] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 12, 'one wasted reply and one answer per prompt');
  assert.equal(s.answered, 6);
  const stored = storeLines(fx).map((l) => JSON.parse(l) as { usage: { inputTokens: number; outputTokens: number } });
  const storedIn = stored.reduce((n, e) => n + e.usage.inputTokens, 0);
  const storedOut = stored.reduce((n, e) => n + e.usage.outputTokens, 0);
  assert.equal(s.usage.inputTokens, storedIn + 6 * 100, 'the tokens billed by the empty replies are counted');
  assert.equal(s.usage.outputTokens, storedOut + 6 * 20);
  // Prices 2.5 and 10 USD per million tokens.
  const expected = ((storedIn + 600) * 2.5 + (storedOut + 120) * 10) / 1e6;
  assert.ok(Math.abs(s.costUsd - expected) < 1e-12, `${s.costUsd} vs ${expected}`);

  suite.server.reset();
  suite.server.script = () => ({ kind: 'html' });
  const fx2 = fixture(1);
  const [h] = await runQuery(configFor(fx2, [fakeModel(suite.server.url, { concurrency: 1 })]), 'movielens', ['fake'], {
    log: logger().log,
    retry: fastRetry,
  });
  assert.equal(suite.server.chatRequests, 2, 'an HTML page is asked again once, not maxRetries times');
  assert.equal(h.failed, 1);
  assert.match(
    h.failures[0].message,
    /HTTP 200 that is not a chat completion: the body is not JSON .*content-type text\/html/,
  );
  suite.server.script = undefined;
});

for (const kind of ['html', 'empty-choices', 'garbage'] as const) {
  test(`5 replies in a row that are 200 but not completions (${kind}) stop the model, naming the base URL, content type and body start`, async () => {
    const fx = fixture(40);
    suite.server.reset();
    suite.server.script = () => ({ kind });
    const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 2 })]);
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
    assert.ok(
      suite.server.chatRequests >= 5 && suite.server.chatRequests <= 6,
      `${suite.server.chatRequests} requests (5, plus at most one in flight at concurrency 2): ${lines.join('\n')}`,
    );
    assert.ok(s.stopped, 'the summary says why the model was stopped');
    assert.match(
      s.stopped!,
      new RegExp(
        `5 replies in a row from ${suite.server.url.replace(/[.]/g, '\\.')} were HTTP 200 but not chat completions`,
      ),
    );
    if (kind === 'html')
      assert.match(
        s.stopped!,
        /content-type text\/html; charset=utf-8; body starts "<!DOCTYPE html><html><head><title>Gateway/,
      );
    if (kind === 'empty-choices')
      assert.match(s.stopped!, /content-type application\/json; body starts "\{\\"id\\":\\"chatcmpl-empty/);
    if (kind === 'empty-choices') assert.equal(s.usage.inputTokens, 100 * suite.server.chatRequests);
    assert.equal(s.answered, 0);
    const notSent = 40 - s.failed;
    assert.ok(notSent >= 36);
    assert.match(lines.join('\n'), new RegExp(`stopped asking this model: .*${notSent} prompts not sent`));
    suite.server.script = undefined;
  });
}

// ---------- never hang, stop early ----------

test('a server that never answers: at most two waves of timeouts stop the model (scaled: 1 s timeout, 6 retries)', async () => {
  const fx = fixture(50);
  suite.server.reset();
  suite.server.script = () => ({ kind: 'hang' });
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 8 })], { timeoutMs: 1000, maxRetries: 6 });
  const { log, lines } = logger();
  const t0 = Date.now();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  const elapsed = Date.now() - t0;
  // The first attempt goes alone (the parameter probe), then the others fan out: two timeout waves, ~2 s.
  // Without the breaker: 50 prompts / 8 × 7 attempts × 1 s ≈ 44 s; probing one request at a time: 8 × 1 s = 8 s.
  assert.ok(elapsed < 2.8 * 1000, `took ${elapsed} ms`);
  assert.ok(suite.server.chatRequests >= 8 && suite.server.chatRequests <= 16, `${suite.server.chatRequests} requests`);
  assert.match(s.stopped ?? '', /8 requests timed out and none has succeeded in this run/);
  assert.match(lines.join('\n'), /stopped asking this model: .* prompts not sent/);
  assert.equal(s.answered, 0);
  suite.server.script = undefined;
});

test('defaults against a never-answering server: two timeout waves (the test above) stay well within 300 s', () => {
  // Worked from the defaults: query.timeoutMs 120 000; the probe's wave and the fan-out's wave → about 240 s.
  const config = loadConfig({ env: {} });
  assert.equal(config.query.timeoutMs, 120_000);
  assert.ok(config.query.timeoutMs * 2 < 300_000, 'one wave plus a retry of a request started late stay under 300 s');
});

test('401 on every request: the model is stopped after 20 identical failures (at most 50 requests), the rest not sent', async () => {
  const fx = fixture(200);
  suite.server.reset();
  // The server echoes the key, as OpenAI's 401 does in part: the stop message must not carry it.
  suite.server.script = () => ({ kind: 'error', status: 401, message: `Incorrect API key provided: ${FAKE_KEY}` });
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 8 })]);
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.ok(
    suite.server.chatRequests >= 20 && suite.server.chatRequests <= 50,
    `${suite.server.chatRequests} requests`,
  );
  assert.match(s.stopped ?? '', /20 requests in a row failed with the same error: HTTP 401/);
  assert.ok(!(s.stopped ?? '').includes(FAKE_KEY), s.stopped);
  assert.equal(s.failed + s.notSent, 200);
  assert.ok(s.notSent >= 150);
  assert.match(lines.join('\n'), new RegExp(`${s.notSent} prompts not sent`));
  suite.server.script = undefined;
});

test('the first abort (Ctrl-C) stops retries as well as new prompts; in-flight requests finish; the second aborts them at once', async () => {
  const fx = fixture(12);
  suite.server.reset();
  // Every first attempt fails with a 500, so every prompt sits in a retry wait when the stop comes.
  const ac = new AbortController();
  suite.server.script = ({ n, attempt }) => {
    // Stop shortly after the third prompt's first attempt, while all three wait for their retry.
    if (n === 3) setTimeout(() => ac.abort(), 100);
    return attempt === 1 ? { kind: 'error', status: 500 } : undefined;
  };
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 3 })]);
  const { log, lines } = logger();
  const t0 = Date.now();
  const [s] = await runQuery(config, 'movielens', ['fake'], {
    log,
    signal: ac.signal,
    retry: { baseDelayMs: 5000, maxDelayMs: 5000 },
  });
  assert.ok(Date.now() - t0 < 2000, 'the retry waits were cut short');
  assert.equal(
    suite.server.chatRequests,
    3,
    `no retry went out after the stop: ${JSON.stringify(suite.server.log.map((r) => [r.status, r.at - t0, r.path, r.body.slice(0, 0), String(r.headers['user-agent']), r.headers['x-stainless-retry-count']]))} ${lines.join('\n')}`,
  );
  assert.equal(s.interrupted, true);
  assert.equal(s.failed, 3, 'the three prompts cut short in their retry wait are listed');
  assert.equal(s.notSent, 9);
  assert.match(lines.join('\n'), /interrupted — 0 new answers stored, 9 prompts not sent, 3 failed or cut short/);
  suite.server.script = undefined;
});

// ---------- answers that were paid but say less than asked ----------

test('content null and finish_reason length are stored, recorded with finishReason, flagged in the diagnostics and counted', async () => {
  const fx = fixture(6);
  suite.server.reset();
  // Prompts 1–2: a content filter (content null); 3: cut off mid-list; the rest answer normally.
  suite.server.script = ({ n }) =>
    n <= 2
      ? { kind: 'answer', content: null }
      : n === 3
        ? { kind: 'answer', finishReason: 'length', text: '["Heat' }
        : undefined;
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 1 })]);
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 6, 'paid answers are not asked again');
  assert.equal(s.answered, 6);
  const records = loadResponses(config, 'fake', 'movielens');
  assert.deepEqual(
    records.map((r) => r.finishReason),
    ['content_filter', 'content_filter', 'length', 'stop', 'stop', 'stop'],
  );
  assert.deepEqual(
    records.map((r) => r.diagnostics.answerIssues ?? []),
    [['empty answer'], ['empty answer'], ['cut off by max tokens'], [], [], []],
  );
  assert.equal(records[0].raw, '');
  assert.deepEqual(s.parse.byFinishReason, { content_filter: 2, length: 1, stop: 3 });
  assert.equal(s.parse.empty, 2);
  assert.equal(s.parse.cutOff, 1);
  assert.match(
    lines.join('\n'),
    /6\/6 prompts answered \(finish: stop 3, content_filter 2, length 1; 1 cut off by max tokens .*, 2 empty answers\)/,
  );
  const stored = storeLines(fx).map((l) => JSON.parse(l) as { finishReason: string });
  assert.deepEqual(stored.map((e) => e.finishReason).sort(), [
    'content_filter',
    'content_filter',
    'length',
    'stop',
    'stop',
    'stop',
  ]);
  suite.server.script = undefined;
});

test('--retry-finish length after raising maxTokens asks again exactly the cut-off prompts and keeps both answers', async () => {
  const fx = fixture(8);
  suite.server.reset();
  const cutOff = new Set([2, 5]);
  suite.server.script = ({ n }) =>
    cutOff.has(n) ? { kind: 'answer', finishReason: 'length', text: '["Heat' } : undefined;
  const model = fakeModel(suite.server.url, { concurrency: 1 });
  await runQuery(configFor(fx, [model], { maxTokens: 300 }), 'movielens', ['fake'], {
    log: logger().log,
    retry: fastRetry,
  });
  assert.equal(suite.server.chatRequests, 8);
  const firstRecords = loadResponses(configFor(fx, [model], { maxTokens: 300 }), 'fake', 'movielens');
  const cutIds = firstRecords.filter((r) => r.finishReason === 'length').map((r) => r.promptId);
  assert.equal(cutIds.length, 2);

  suite.server.reset();
  suite.server.script = undefined;
  const raised = configFor(fx, [model], { maxTokens: 900 });
  const { log, lines } = logger();
  const [s] = await runQuery(raised, 'movielens', ['fake'], { log, retry: fastRetry, retryFinish: ['length'] });
  assert.equal(suite.server.chatRequests, 2, 'only the two cut-off prompts are asked again');
  assert.deepEqual(
    suite.server.log.filter((r) => r.path === '/v1/chat/completions').map((r) => JSON.parse(r.body).max_tokens),
    [900, 900],
  );
  assert.equal(s.sent, 2);
  assert.equal(s.answered, 8);
  assert.match(
    lines.join('\n'),
    /--retry-finish length: 2 earlier answers ended that way and are asked again; 6 earlier answers are kept/,
  );
  const records = loadResponses(raised, 'fake', 'movielens');
  assert.deepEqual(
    records.map((r) => r.promptId),
    fx.samples.map((x) => x.id),
  );
  assert.ok(records.every((r) => r.finishReason === 'stop'));
  assert.equal(storeLines(fx).length, 10, 'both answers of the cut-off prompts are stored');
  // Without the option, raised settings are a new request for every prompt (the usual rule).
  suite.server.reset();
  const fx2 = fixture(2);
  await runQuery(configFor(fx2, [model], { maxTokens: 300 }), 'movielens', ['fake'], { log: logger().log });
  await runQuery(configFor(fx2, [model], { maxTokens: 900 }), 'movielens', ['fake'], { log: logger().log });
  assert.equal(suite.server.chatRequests, 4);
});

// ---------- availability, keys ----------

test('a server whose /models answers 404 or 501 is probed with one chat request and used; refused only when that fails', async () => {
  const fx = fixture(3);
  for (const status of [404, 501]) {
    suite.server.reset();
    suite.server.modelsStatus = status;
    const { log, lines } = logger();
    const [s] = await runQuery(configFor(fx, [fakeModel(suite.server.url)]), 'movielens', ['fake'], {
      log,
      retry: fastRetry,
    });
    assert.equal(s.unavailable, undefined);
    assert.equal(s.answered, 3);
    assert.match(
      lines.join('\n'),
      new RegExp(`GET .*/models answered HTTP ${status}; a one-token chat request .* answered, so the model is used`),
    );
    fs.rmSync(fx.paths.responses, { recursive: true, force: true });
  }
  suite.server.reset();
  suite.server.modelsStatus = 404;
  suite.server.script = () => ({ kind: 'error', status: 404, message: 'no such route' });
  const [s] = await runQuery(configFor(fx, [fakeModel(suite.server.url)]), 'movielens', ['fake'], {
    log: logger().log,
    retry: fastRetry,
  });
  assert.match(s.unavailable ?? '', /answered HTTP 404, and a one-token chat request to .* failed: HTTP 404/);
  assert.equal(suite.server.chatRequests, 1, 'the probe only');
  suite.server.modelsStatus = undefined;
  suite.server.script = undefined;
});

test('an API key variable that is set but empty says "is empty", an unset one "is not set"; a key of any length is redacted', async () => {
  const model = { ...fakeModel(suite.server.url), provider: 'openai' as const, apiKeyEnv: 'UBP_TEST_EMPTY_KEY' };
  const { modelAvailability } = await import('../lib/query/availability');
  const { redactSecrets } = await import('../lib/query/keys');
  assert.match(
    (await modelAvailability(model, { UBP_TEST_EMPTY_KEY: '' })).reason ?? '',
    /UBP_TEST_EMPTY_KEY is empty/,
  );
  assert.match((await modelAvailability(model, {})).reason ?? '', /UBP_TEST_EMPTY_KEY is not set/);
  assert.equal(redactSecrets('HTTP 401: key abc is wrong', ['abc']), 'HTTP 401: key [REDACTED] is wrong');
  assert.equal(redactSecrets('token abcdef and abc', ['abc', 'abcdef']), 'token [REDACTED] and [REDACTED]');
  // End to end: a 3-character key echoed by the server's 401 appears in no message.
  const fx = fixture(2);
  suite.server.reset();
  suite.server.script = ({ headers }) => ({
    kind: 'error',
    status: 401,
    message: `Incorrect API key provided: ${String(headers.authorization).replace('Bearer ', '')}`,
  });
  const short = fakeModel(suite.server.url, { apiKeyEnv: 'UBP_TEST_SHORT_KEY' });
  const { log, lines } = logger();
  const [s] = await runQuery(configFor(fx, [short]), 'movielens', ['fake'], {
    log,
    retry: fastRetry,
    env: { UBP_TEST_SHORT_KEY: 'Zq7' },
  });
  assert.equal(s.failed, 2);
  assert.match(s.failures[0].message, /Incorrect API key provided: \[REDACTED\]/);
  assert.ok(![...lines, ...s.failures.map((f) => f.message)].some((l) => l.includes('Zq7')));
  suite.server.script = undefined;
});

// ---------- bad settings: a clear error before any work ----------

test('the whole configuration is checked when loaded: topN > K, K < 2, bins < 1, window < 1, order < 0, departureGap < 0', () => {
  const cases: [unknown, RegExp][] = [
    [{ query: { topN: 60 } }, /"query\.topN" \(60\) must not exceed "sample\.K" \(50\)/],
    [{ sample: { K: 1 } }, /"sample\.K" must be a whole number >= 2/],
    [{ curves: { bins: 0 } }, /"curves\.bins" must be a whole number >= 1, got 0/],
    [{ curves: { window: 0 } }, /"curves\.window" must be a whole number >= 1, got 0/],
    [{ curves: { order: -1 } }, /"curves\.order" must be a whole number >= 0, got -1/],
    [{ query: { topN: 0 } }, /"query\.topN" must be a whole number >= 1/],
  ];
  for (const [overrides, message] of cases) {
    assert.throws(
      () => loadConfig({ env: {}, overrides }),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
      JSON.stringify(overrides),
    );
  }
  // curves.departureGap is checked whenever it is present (the key arrives with the departure-point analysis).
  const base = loadConfig({ env: {} });
  assert.throws(
    () => mergeConfig({ ...base, curves: { ...base.curves, departureGap: -0.5 } as typeof base.curves }, {}),
    /"curves\.departureGap" must be a number > 0 .*got -0\.5/,
  );
  assert.doesNotThrow(() =>
    mergeConfig({ ...base, curves: { ...base.curves, departureGap: 0.5 } as typeof base.curves }, {}),
  );
  assert.doesNotThrow(() => loadConfig({ env: {}, overrides: { query: { topN: 50 } } }), 'topN = K is allowed');
});

test('the CLI exits 2 before any work for a bad configuration value or a --models id that is not configured', async () => {
  const cli = path.join(repoRoot(), 'build', 'cli', 'main.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-rel-cli-'));
  roots.push(dir);
  const run = (args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn(process.execPath, [cli, ...args], {
        cwd: repoRoot(),
        env: { ...process.env, UBP_CONFIG: '', UBP_DATA_DIR: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ paths: pathsUnder(dir), curves: { bins: 0 } }));
  const r1 = await run(['--config', bad]);
  assert.equal(r1.code, 2, r1.out);
  assert.match(r1.out, /bad\.json: "curves\.bins" must be a whole number >= 1/);
  const ok = path.join(dir, 'ok.json');
  fs.writeFileSync(ok, JSON.stringify({ paths: pathsUnder(dir) }));
  const r2 = await run(['--config', ok, '--stages', 'query', '--models', 'gpt-5-turbo']);
  assert.equal(r2.code, 2, r2.out);
  assert.match(r2.out, /--models: "gpt-5-turbo" is not configured \(configured models: random, /);
  assert.doesNotMatch(r2.out, /at .*\.js:\d+/, 'no stack trace');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['bad.json', 'ok.json'], 'no stage ran');
});

// ---------- data that looks valid but is not ----------

test('a garbage line in the middle of a store file is reported as corruption with its line number, a torn fragment as torn', async () => {
  const fx = fixture(4);
  suite.server.reset();
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  await runQuery(config, 'movielens', ['fake'], { log: logger().log });
  const lines = storeLines(fx);
  // Line 2 is garbage (an editor, a bad disk); line 4 is the start of an answer cut off by a crash, followed by later appends.
  fs.writeFileSync(
    storePath(fx),
    `${lines[0]}\nthis is not an answer\n${lines[1]}\n${lines[2].slice(0, 70)}\n${lines[2]}\n${lines[3]}\n`,
  );
  suite.server.reset();
  const { log, lines: out } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log });
  assert.equal(s.corruptStoreLines, 1);
  assert.equal(s.tornStoreLines, 1);
  assert.match(
    out.join('\n'),
    new RegExp(
      `line 2 of ${storePath(fx).replace(/[.]/g, '\\.')} is corrupt \\(not valid JSON .*\\): not a torn append`,
    ),
  );
  assert.match(out.join('\n'), /skipped unreadable line .*:4 .*a torn append/);
  assert.equal(suite.server.chatRequests, 0, 'every answer is still in the store');
  assert.equal(s.answered, 4);
});

test('a failed run never replaces a responses file with fewer records', async () => {
  const fx = fixture(6);
  suite.server.reset();
  const model = fakeModel(suite.server.url, { concurrency: 1 });
  await runQuery(configFor(fx, [model]), 'movielens', ['fake'], { log: logger().log });
  const file = path.join(fx.paths.responses, 'fake', 'movielens.jsonl');
  const before = fs.readFileSync(file);
  // New settings (so the old records cannot stand in for the new requests), and the server now fails after 2 answers.
  fs.rmSync(fx.paths.store, { recursive: true });
  const changed = configFor(fx, [model], { temperature: 0.5 });
  suite.server.reset();
  suite.server.script = ({ n }) => (n <= 2 ? undefined : { kind: 'error', status: 400, message: 'bad request' });
  const { log, lines } = logger();
  // The model id names one file for every setting: a rerun under other settings that fails keeps the old file.
  const [s] = await runQuery(changed, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(s.failed, 4);
  assert.equal(s.written, 0);
  assert.deepEqual(fs.readFileSync(file), before, 'the 6 records are kept, not replaced by 2');
  assert.match(
    lines.join('\n'),
    /did not complete and has 2 answers, fewer than the 6 records of .*; that file is left as it was/,
  );
  suite.server.script = undefined;
  // A complete run does replace it.
  suite.server.reset();
  const [ok] = await runQuery(changed, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
  assert.equal(ok.written, 6);
  assert.equal(loadResponses(changed, 'fake', 'movielens').length, 6);
  assert.notDeepEqual(fs.readFileSync(file), before);
});

test('the query stamp covers the store file: damage to it is noticed by a normal rerun (no --force)', async () => {
  const { runPipeline } = await import('../lib/pipeline');
  const fx = fixture(5);
  suite.server.reset();
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  // The fixture's processed data and samples, stamped as the stages that would have written them.
  const { beginStage } = await import('../lib/stages');
  beginStage(config, { stage: 'preprocess', domain: 'movielens' }, []).finish();
  beginStage(config, { stage: 'sample', domain: 'movielens' }).finish();
  const run = () =>
    runPipeline(config, { stages: ['query'], domains: ['movielens'], models: ['fake'], log: logger().log });
  const first = await run();
  assert.equal(first.steps.find((x) => x.stage === 'query')?.status, 'ran');
  assert.match(
    first.steps.find((x) => x.stage === 'query')?.detail ?? '',
    /5 answers \(5 sent, 0 from the store; finish: stop 5\)/,
  );
  const second = await run();
  assert.equal(second.steps.find((x) => x.stage === 'query')?.status, 'up-to-date');
  // Truncate the store to 3 of its 5 lines: the responses file is untouched, so only the store's identity changed.
  fs.writeFileSync(storePath(fx), `${storeLines(fx).slice(0, 3).join('\n')}\n`);
  suite.server.reset();
  const third = await run();
  assert.equal(third.steps.find((x) => x.stage === 'query')?.status, 'ran', 'the damaged store is noticed');
  assert.equal(suite.server.chatRequests, 0, 'the two lost answers come back from the responses file');
  assert.equal(ResponseStore.open(fx.paths.store).size, 5);
});

test('a second Ctrl-C aborts the requests in flight at once; the child says what was stored and what is left', async () => {
  const fx = fixture(10);
  const standalone = await startStandaloneServer(60_000);
  try {
    const model = fakeModel(standalone.url, { concurrency: 2 });
    const args = JSON.stringify({
      overrides: { paths: fx.paths, query: { models: [model] } },
      domain: 'movielens',
      models: ['fake'],
      retry: fastRetry,
    });
    const child = spawnNode('query-child', [args]);
    const t0 = Date.now();
    // The first request of a model goes alone (it probes the server's parameter rules before the others fan out),
    // so one request is in flight when Ctrl-C comes, and the other nine are never sent.
    while ((await standalone.stats()).chat < 1) {
      if (Date.now() - t0 > 20_000) throw new Error(`no requests: ${child.err.join('')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    const second = Date.now();
    child.kill('SIGINT');
    const { code } = await exited(child);
    const stderr = child.err.join('');
    for (const l of stderr.split('\n')) allLogs.push(l);
    assert.ok(Date.now() - second < 3000, 'the 60 s requests were not waited for');
    assert.equal(code, 0, stderr);
    assert.match(stderr, /interrupt: no new prompts are sent/);
    assert.match(stderr, /interrupt: aborting requests in flight/);
    assert.match(stderr, /interrupted — 0 new answers stored, 9 prompts not sent/);
    const [summary] = JSON.parse(child.out.join('')) as QueryRunSummary[];
    assert.equal(summary.newAnswers, 0);
    assert.equal(summary.notSent, 9);
    assert.equal(storeLines(fx).length, 0);
  } finally {
    standalone.proc.kill('SIGTERM');
    await exited(standalone.proc);
  }
});
