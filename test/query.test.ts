import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { loadConfig, repoRoot, type Config, type ModelConfig } from '../lib/core/config';
import { writeJsonl } from '../lib/core/io';
import { runQuery, type QueryRunSummary } from '../lib/query/runner';
import { samplesFile } from '../lib/sample/sample';
import { loadResponses, responsesFile } from '../lib/query/inputs';
import { renderPrompt } from '../lib/query/prompt';
import { ResponseStore, storeFileName } from '../lib/query/store';
import type { ResponseRecord, SampleRecord } from '../lib/core/types';
import { fakeServerSuite } from './helpers/server-suite';
import { exited, spawnNode, startStandaloneServer, waitFor } from './helpers/children';
import { fakeModel, filesUnder, type QueryFixture } from './helpers/query-fixture';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-QUERY-SECRET-77aa88bb99cc';
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

const suite = fakeServerSuite({
  keyEnv: KEY_ENV,
  key: FAKE_KEY,
  secrets: [FAKE_KEY, 'QUERY-SECRET'],
  tmpPrefix: 'ubp-query-',
  server: { model: 'fake-model-2024-05-13', fingerprint: 'fp_q1' },
});
const { fixture, configFor, logger, allLogs } = suite;

function storeLines(fx: QueryFixture, model = 'fake-model'): string[] {
  const file = path.join(fx.paths.store, storeFileName('openai-compatible', model));
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function nameOf(fx: QueryFixture): (id: string) => string {
  const byId = new Map(fx.items.map((it) => [it.id, it.name]));
  return (id) => byId.get(id) as string;
}

test('unknown model ids are refused with the list of configured ids', async () => {
  const fx = fixture(3);
  await assert.rejects(
    runQuery(configFor(fx), 'movielens', ['gpt-5-turbo'], { log: () => {} }),
    /unknown model id "gpt-5-turbo".*configured models: random, popularity, .*gpt-4o/,
  );
});

test('an API model: every prompt answered once, stored, parsed, costed, written in sample order; a rerun sends nothing', async () => {
  const fx = fixture(12);
  suite.server.reset();
  suite.server.script = undefined;
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 12);
  assert.equal(s.sent, 12);
  assert.equal(s.newAnswers, 12);
  assert.equal(s.answered, 12);
  assert.equal(s.missing, 0);
  assert.equal(s.failed, 0);
  assert.equal(s.fromStore, 0);
  assert.equal(s.written, 12);
  assert.equal(s.interrupted, false);
  assert.equal(storeLines(fx).length, 12);

  const records = loadResponses(config, 'fake', 'movielens');
  assert.deepEqual(
    records.map((r) => r.promptId),
    fx.samples.map((x) => x.id),
  );
  const names = nameOf(fx);
  records.forEach((r, i) => {
    const sample = fx.samples[i];
    // The fake server answers with the prompt's first 10 candidate names; parsing must recover exactly those ids.
    assert.deepEqual(r.ranked, sample.candidates.slice(0, 10));
    assert.equal(r.diagnostics.unparseable, false);
    assert.deepEqual(r.messages, renderPrompt(sample, names, config, 'movielens'));
    assert.equal(r.model, 'fake-model-2024-05-13');
    assert.equal(r.fingerprint, 'fp_q1');
    assert.equal(r.via, 'sync');
    assert.equal(r.modelId, 'fake');
    // Prices 2.5 and 10 USD per million tokens.
    assert.ok(Math.abs(r.costUsd - (r.usage.inputTokens * 2.5 + r.usage.outputTokens * 10) / 1e6) < 1e-15);
    assert.ok(r.usage.inputTokens > 100);
  });
  const spent = records.reduce((a, r) => a + r.costUsd, 0);
  assert.ok(Math.abs(s.costUsd - spent) < 1e-12);
  assert.match(lines.join('\n'), /fake movielens: 12\/12 prompts/);

  const before = fs.readFileSync(responsesFile(config, 'fake', 'movielens'));
  const [again] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 12, 'a rerun makes zero requests');
  assert.equal(again.sent, 0);
  assert.equal(again.fromStore, 12);
  assert.equal(again.answered, 12);
  assert.deepEqual(
    fs.readFileSync(responsesFile(config, 'fake', 'movielens')),
    before,
    'a rerun writes identical bytes',
  );
});

test('identical prompts cost one request; the shared answer is costed once', async () => {
  const fx = fixture(4);
  const samplesFile = path.join(fx.paths.samples, 'movielens', 'samples.jsonl');
  const twin: SampleRecord = { ...fx.samples[1], id: 'movielens-twin' };
  const samples = [...fx.samples, twin];
  writeJsonl(samplesFile, samples);
  suite.server.reset();
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  const [s] = await runQuery(config, 'movielens', ['fake'], { log: logger().log });
  assert.equal(suite.server.chatRequests, 4);
  assert.equal(s.prompts, 5);
  assert.equal(s.distinctRequests, 4);
  assert.equal(s.answered, 5);
  const records = loadResponses(config, 'fake', 'movielens');
  const a = records.find((r) => r.promptId === fx.samples[1].id) as ResponseRecord;
  const b = records.find((r) => r.promptId === 'movielens-twin') as ResponseRecord;
  assert.equal(a.key, b.key);
  assert.equal(a.raw, b.raw);
  assert.ok(a.costUsd > 0);
  assert.equal(b.costUsd, 0);
});

test('failed prompts are summarised and not stored; retryable errors are retried; a rerun asks only the failed ones', async () => {
  const fx = fixture(9);
  suite.server.reset();
  const failing = new Set([fx.samples[2].id, fx.samples[5].id]);
  const names = nameOf(fx);
  const config = configFor(fx, [fakeModel(suite.server.url)], { maxRetries: 3 });
  const failingText = new Set(
    fx.samples.filter((x) => failing.has(x.id)).map((x) => renderPrompt(x, names, config, 'movielens')[1].content),
  );
  suite.server.script = ({ body, attempt }) => {
    if (failingText.has(body.messages[1].content))
      return { kind: 'error', status: 400, message: 'context_length_exceeded' };
    if (attempt === 1 && body.messages[1].content.includes(names(fx.samples[0].candidates[0])))
      return { kind: 'error', status: 500 };
    if (attempt === 1 && body.messages[1].content.includes(names(fx.samples[1].candidates[0]))) return { kind: 'drop' };
    if (attempt === 1 && body.messages[1].content.includes(names(fx.samples[3].candidates[0]))) {
      return { kind: 'error', status: 429, headers: { 'retry-after-ms': '50' } };
    }
    return undefined;
  };
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(s.failed, 2);
  assert.equal(s.failures.length, 2);
  assert.ok(s.failures.every((f) => f.status === 400 && f.attempts === 1 && f.kind === 'client'));
  assert.deepEqual(new Set(s.failures.flatMap((f) => f.promptIds)), failing);
  assert.equal(s.answered, 7);
  assert.equal(s.missing, 2);
  assert.ok(s.retries >= 3, `retries ${s.retries}`);
  assert.equal(s.httpRequests, 9 + s.retries);
  assert.equal(suite.server.chatRequests, s.httpRequests);
  assert.equal(storeLines(fx).length, 7, 'errors are never stored');
  assert.match(lines.join('\n'), /2 prompts failed \(not stored; a rerun asks them again\)/);
  assert.match(lines.join('\n'), /2 × fake: HTTP 400.*context_length_exceeded/);
  const records = loadResponses(config, 'fake', 'movielens');
  assert.equal(records.length, 7);
  assert.ok(records.every((r) => !failing.has(r.promptId)));

  suite.server.reset();
  suite.server.script = undefined;
  const [again] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 2, 'only the two failed prompts are sent again');
  assert.equal(again.answered, 9);
  assert.equal(again.failed, 0);
});

test('dry run: counts missing prompts, tokens with the model tokenizer, cost and the Batch API price, and sends nothing', async () => {
  const fx = fixture(6);
  suite.server.reset();
  const config = configFor(fx, [fakeModel(suite.server.url, { model: 'gpt-4o-2024-08-06' })], {
    outputTokensEstimate: 200,
  });
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { dryRun: true, log });
  assert.equal(suite.server.requestCount(), 0, 'a dry run makes no request at all');
  assert.equal(s.toSend, 6);
  assert.ok(!fs.existsSync(responsesFile(config, 'fake', 'movielens')), 'a dry run writes nothing');
  // Independent count: o200k_base on each message's role and content, plus OpenAI's 3 tokens per message and 3 for the reply.
  const enc = getEncoding('o200k_base');
  const names = nameOf(fx);
  const expected = fx.samples
    .map((x) => renderPrompt(x, names, config, 'movielens'))
    .reduce(
      (n, msgs) =>
        n + 3 + msgs.reduce((m, msg) => m + 3 + enc.encode(msg.role).length + enc.encode(msg.content).length, 0),
      0,
    );
  const est = s.estimate!;
  assert.equal(est.tokenizer, 'o200k_base');
  assert.equal(est.tokenizerExact, true);
  assert.equal(est.inputTokens, expected);
  assert.equal(est.outputTokensEstimate, 1200);
  assert.ok(Math.abs(est.costUsd - (expected * 2.5 + 1200 * 10) / 1e6) < 1e-12);
  assert.ok(Math.abs(est.batchCostUsd - est.costUsd / 2) < 1e-12);
  assert.match(lines.join('\n'), /\[dry run\] fake movielens: 6 prompts to send .*Batch API USD/);

  // After answering half, the dry run prices only the other half.
  const samplesFile = path.join(fx.paths.samples, 'movielens', 'samples.jsonl');
  writeJsonl(samplesFile, fx.samples.slice(0, 3));
  await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 3);
  writeJsonl(samplesFile, fx.samples);
  const [d2] = await runQuery(config, 'movielens', ['fake'], { dryRun: true, log });
  assert.equal(d2.toSend, 3);
  assert.equal(d2.alreadyStored, 3);
  assert.equal(suite.server.chatRequests, 3);
  const expectedRest = fx.samples
    .slice(3)
    .map((x) => renderPrompt(x, names, config, 'movielens'))
    .reduce(
      (n, msgs) =>
        n + 3 + msgs.reduce((m, msg) => m + 3 + enc.encode(msg.role).length + enc.encode(msg.content).length, 0),
      0,
    );
  assert.equal(d2.estimate?.inputTokens, expectedRest);
});

test('dry run of a Llama model counts with the Llama 3 tokenizer; an unknown model is labelled an estimate', async () => {
  const fx = fixture(2);
  const config = configFor(fx, [
    fakeModel('http://127.0.0.1:9/v1', { id: 'llama', model: 'meta-llama/Llama-3.1-8B-Instruct' }),
    fakeModel('http://127.0.0.1:9/v1', { id: 'mystery', model: 'mystery-7b' }),
  ]);
  const [llama, mystery] = await runQuery(config, 'movielens', ['llama', 'mystery'], {
    dryRun: true,
    log: logger().log,
  });
  assert.equal(llama.estimate?.tokenizer, 'llama3');
  assert.equal(mystery.estimate?.tokenizer, 'o200k_base');
  assert.equal(mystery.estimate?.tokenizerExact, false);
  assert.ok((llama.estimate?.inputTokens ?? 0) > 500);
  assert.notEqual(llama.estimate?.inputTokens, mystery.estimate?.inputTokens);
});

test('baselines answer offline: no store, deterministic bytes, oracle ranks by the target', async () => {
  const fx = fixture(9);
  suite.server.reset();
  const config = configFor(fx);
  const { log } = logger();
  const summaries = await runQuery(config, 'movielens', ['random', 'oracle'], { log });
  assert.deepEqual(
    summaries.map((x) => [x.modelId, x.answered, x.sent]),
    [
      ['random', 9, 0],
      ['oracle', 9, 0],
    ],
  );
  assert.equal(suite.server.requestCount(), 0);
  assert.ok(!fs.existsSync(fx.paths.store) || filesUnder(fx.paths.store).length === 0, 'baselines are not stored');
  const oracle = loadResponses(config, 'oracle', 'movielens');
  oracle.forEach((r, i) => {
    const x = fx.samples[i];
    const byTarget = x.candidates
      .map((id, k) => ({ id, p: x.target[k] }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 10)
      .map((c) => c.id);
    assert.deepEqual(r.ranked, byTarget);
    assert.equal(r.via, 'baseline');
    assert.equal(r.costUsd, 0);
  });
  const random = loadResponses(config, 'random', 'movielens');
  assert.ok(random.every((r) => r.ranked.length === 10 && new Set(r.ranked).size === 10));
  const bytes = fs.readFileSync(responsesFile(config, 'random', 'movielens'));
  await runQuery(config, 'movielens', ['random'], { log });
  assert.deepEqual(fs.readFileSync(responsesFile(config, 'random', 'movielens')), bytes);
  const [dry] = await runQuery(config, 'movielens', ['random'], { dryRun: true, log });
  assert.equal(dry.toSend, 0);
});

test('an unreachable server: nothing sent, reported, stored answers still written', async () => {
  const fx = fixture(3);
  const config = configFor(fx, [fakeModel('http://127.0.0.1:9/v1')]);
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log });
  assert.match(s.unavailable ?? '', /failed/);
  assert.equal(s.notSent, 3);
  assert.equal(s.missing, 3);
  assert.equal(s.written, 0);
  assert.match(lines.join('\n'), /cannot be asked/);
});

test('a torn last store line is reported, its answer recovered from the responses file (or asked again without it), and the next append is intact', async () => {
  const fx = fixture(4);
  suite.server.reset();
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  await runQuery(config, 'movielens', ['fake'], { log: logger().log });
  const file = path.join(fx.paths.store, storeFileName('openai-compatible', 'fake-model'));
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  // Simulate a crash mid-append of the last answer.
  fs.writeFileSync(file, `${lines.slice(0, 3).join('\n')}\n${lines[3].slice(0, 40)}`);
  suite.server.reset();
  const { log, lines: logLines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { log });
  assert.equal(s.tornStoreLines, 1);
  assert.match(logLines.join('\n'), /skipped unreadable line .*:4 .*a torn append/);
  assert.equal(suite.server.chatRequests, 0, 'the responses file still held the answer: not paid again');
  assert.equal(s.recovered, 1);
  assert.match(
    logLines.join('\n'),
    /1 answers missing from the store were recovered from .*movielens\.jsonl \(not paid again\)/,
  );
  assert.equal(s.answered, 4);
  const store = ResponseStore.open(fx.paths.store);
  assert.equal(store.size, 4);
  assert.equal(store.tornLines, 1);
  assert.equal(store.all().filter((e) => e.meta?.recoveredFrom).length, 1);

  // Without the responses file, the torn answer is asked again.
  const again = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  fs.writeFileSync(file, `${again.slice(0, 3).join('\n')}\n${again[3].slice(0, 40)}`);
  fs.rmSync(responsesFile(config, 'fake', 'movielens'));
  suite.server.reset();
  const [s2] = await runQuery(config, 'movielens', ['fake'], { log });
  assert.equal(suite.server.chatRequests, 1);
  assert.equal(s2.answered, 4);
});

test('an abort stops sending; in-flight answers are stored and written; the rerun completes without paying twice', async () => {
  const fx = fixture(24);
  suite.server.reset();
  suite.server.latencyMs = 80;
  try {
    const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 3 })]);
    const ac = new AbortController();
    // Abort when the 6th request arrives: 3 answered, 3 in flight (concurrency 3).
    suite.server.script = ({ n }) => {
      if (n === 6) ac.abort();
      return undefined;
    };
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { log, signal: ac.signal });
    assert.equal(s.interrupted, true);
    assert.equal(s.newAnswers, 6, 'the 3 answered before the abort and the 3 in flight');
    assert.equal(s.newAnswers, suite.server.chatRequests, 'in-flight requests finished and were stored');
    assert.equal(s.written, s.newAnswers);
    assert.equal(loadResponses(config, 'fake', 'movielens').length, s.newAnswers);
    assert.match(lines.join('\n'), /interrupted — .*run the same command again to resume/);
    suite.server.latencyMs = 0;
    suite.server.script = undefined;
    const [again] = await runQuery(config, 'movielens', ['fake'], { log });
    assert.equal(again.sent, 24 - s.newAnswers);
    assert.equal(suite.server.chatRequests, 24);
    assert.equal(again.answered, 24);
  } finally {
    suite.server.latencyMs = 0;
    suite.server.script = undefined;
  }
});

// ---------- separate processes: kill -9 and Ctrl-C ----------

test('kill -9 mid-run: the rerun sends only what was not stored; every prompt answered once', async () => {
  const fx = fixture(40);
  const standalone = await startStandaloneServer(60);
  try {
    const model = fakeModel(standalone.url, { concurrency: 4 });
    const args = JSON.stringify({
      overrides: { paths: fx.paths, query: { models: [model] } },
      domain: 'movielens',
      models: ['fake'],
      retry: fastRetry,
    });
    const child = spawnNode('query-child', [args]);
    await waitFor(() => storeLines(fx).length >= 10 || child.exitCode !== null, 30_000, 'answers from the child');
    assert.equal(child.exitCode, null, `the child finished before it was killed: ${child.err.join('')}`);
    child.kill('SIGKILL');
    const { signal } = await exited(child);
    assert.equal(signal, 'SIGKILL');
    const stored = ResponseStore.open(fx.paths.store).size;
    const requestsBefore = (await standalone.stats()).chat;
    const inFlightLost = requestsBefore - stored;
    assert.ok(stored >= 10 && stored < 40, `stored ${stored}`);
    assert.ok(inFlightLost >= 0 && inFlightLost <= 4, `${inFlightLost} requests were lost in flight (concurrency 4)`);
    for (const l of child.err.join('').split('\n')) allLogs.push(l);

    const config = configFor(fx, [model]);
    const [s] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
    assert.equal(s.fromStore, stored);
    assert.equal(s.sent, 40 - stored);
    const total = (await standalone.stats()).chat;
    assert.equal(total, 40 + inFlightLost, 'total requests = prompts + the ones lost in flight when killed');
    const records = loadResponses(config, 'fake', 'movielens');
    assert.deepEqual(
      records.map((r) => r.promptId),
      fx.samples.map((x) => x.id),
      'every prompt answered once, in order',
    );
    assert.equal(new Set(storeLines(fx).map((l) => JSON.parse(l).key)).size, 40);
  } finally {
    standalone.proc.kill('SIGTERM');
    await exited(standalone.proc);
  }
});

test('Ctrl-C (SIGINT) mid-run: the child stops sending, stores what was in flight, writes the responses and exits cleanly', async () => {
  const fx = fixture(30);
  const standalone = await startStandaloneServer(80);
  try {
    const model = fakeModel(standalone.url, { concurrency: 2 });
    const args = JSON.stringify({
      overrides: { paths: fx.paths, query: { models: [model] } },
      domain: 'movielens',
      models: ['fake'],
      retry: fastRetry,
    });
    const child = spawnNode('query-child', [args]);
    await waitFor(() => storeLines(fx).length >= 4 || child.exitCode !== null, 30_000, 'answers from the child');
    child.kill('SIGINT');
    const { code } = await exited(child);
    const stderr = child.err.join('');
    for (const l of stderr.split('\n')) allLogs.push(l);
    assert.equal(code, 0, stderr);
    assert.match(stderr, /interrupt: no new prompts are sent/);
    const [summary] = JSON.parse(child.out.join('')) as QueryRunSummary[];
    assert.equal(summary.interrupted, true);
    const requests = (await standalone.stats()).chat;
    assert.equal(summary.newAnswers, requests, 'requests in flight at Ctrl-C were answered and stored');
    assert.equal(storeLines(fx).length, requests);
    const config = configFor(fx, [model]);
    assert.equal(loadResponses(config, 'fake', 'movielens').length, requests);
    assert.ok(requests < 30);
  } finally {
    standalone.proc.kill('SIGTERM');
    await exited(standalone.proc);
  }
});

test('the prompts read for one model are reused for the next only while samples, items and settings are unchanged', async () => {
  const fx = fixture(9);
  suite.server.reset();
  const config = configFor(fx);
  const { log } = logger();
  await runQuery(config, 'movielens', ['oracle'], { log });
  const first = loadResponses(config, 'oracle', 'movielens');
  assert.equal(first.length, 9);
  // The same configuration object (as the pipeline passes it from model to model), the samples rewritten with 5.
  writeJsonl(samplesFile(config, 'movielens'), fx.samples.slice(0, 5));
  await runQuery(config, 'movielens', ['oracle'], { log });
  assert.deepEqual(
    loadResponses(config, 'oracle', 'movielens').map((r) => r.promptId),
    fx.samples.slice(0, 5).map((s) => s.id),
  );
  // A setting the prompt shows, changed on the same object: the prompts are rendered again.
  config.query.topN = 5;
  await runQuery(config, 'movielens', ['oracle'], { log });
  const again = loadResponses(config, 'oracle', 'movielens');
  assert.equal(again[0].ranked.length, 5);
  assert.deepEqual(again[0].messages, renderPrompt(fx.samples[0], nameOf(fx), config, 'movielens'));
  assert.notDeepEqual(again[0].messages, first[0].messages);
});
