import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cancelOpenBatches, forgetBatches, parseBatchResults, splitBatchLines } from '../lib/query/batch';
import { loadConfig, type Config, type ModelConfig } from '../lib/core/config';
import { requestKey } from '../lib/query/llm';
import { renderPrompt } from '../lib/query/prompt';
import { runQuery } from '../lib/query/runner';
import { loadResponses, responsesFile } from '../lib/query/inputs';
import { loadScores } from '../lib/score/files';
import { runScore } from '../lib/score/score';
import type { SampleScoreRecord } from '../lib/score/spread';
import type { StoredAnswer } from '../lib/query/store';
import {
  FakeOpenAIServer,
  type BatchLineAction,
  type FakeAction,
  type FakeBatchBehavior,
} from './helpers/fake-openai-server';
import {
  assertSecretsAbsent,
  collectingLogger,
  fakeModel,
  filesUnder,
  makeQueryFixture,
  type QueryFixture,
} from './helpers/query-fixture';
import { spawnNode } from './helpers/children';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-BATCH-SECRET-11dd22ee33ff';
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };
const allLogs: string[] = [];
const roots: string[] = [];

before(() => {
  process.env[KEY_ENV] = FAKE_KEY;
});
after(() => {
  assertSecretsAbsent(roots, allLogs, [FAKE_KEY, 'BATCH-SECRET']);
  delete process.env[KEY_ENV];
});

function fixture(prompts: number): QueryFixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-batch-'));
  roots.push(root);
  return makeQueryFixture(root, { prompts });
}

function configFor(
  fx: QueryFixture,
  server: FakeOpenAIServer,
  query: Record<string, unknown> = {},
  model: Partial<ModelConfig> = {},
): Config {
  return loadConfig({
    env: {},
    overrides: {
      paths: fx.paths,
      query: { batchPollSeconds: 0.005, ...query, models: [fakeModel(server.url, model)] },
    },
  });
}

const logger = () => collectingLogger(allLogs);

async function withServer(batch: FakeBatchBehavior, fn: (server: FakeOpenAIServer) => Promise<void>): Promise<void> {
  const server = await FakeOpenAIServer.start({ model: 'fake-model-2024-05-13', fingerprint: 'fp_b1', batch });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

const ledgerPath = (fx: QueryFixture) => path.join(fx.paths.store, 'batches', 'openai-compatible--fake-model.jsonl');
const storePath = (fx: QueryFixture) => path.join(fx.paths.store, 'openai-compatible--fake-model.jsonl');

function ledger(fx: QueryFixture): Record<string, any>[] {
  const f = ledgerPath(fx);
  if (!fs.existsSync(f)) return [];
  // Tolerant: another process may be mid-append while a test polls the file.
  return fs
    .readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}

function stored(fx: QueryFixture): StoredAnswer[] {
  const f = storePath(fx);
  return fs.existsSync(f)
    ? fs
        .readFileSync(f, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StoredAnswer)
    : [];
}

function keysOf(fx: QueryFixture, config: Config): string[] {
  const byId = new Map(fx.items.map((it) => [it.id, it.name]));
  const model = config.query.models.find((m) => m.id === 'fake') as ModelConfig;
  return fx.samples.map((x) =>
    requestKey(
      model,
      config,
      renderPrompt(x, (id) => byId.get(id) as string, config, 'movielens'),
    ),
  );
}

/** The request lines of every uploaded input file, in upload order. */
function uploadedLines(server: FakeOpenAIServer): { custom_id: string; method: string; url: string; body: any }[][] {
  return server.listBatches().map((b) =>
    (server.fileText(b.input_file_id) ?? '')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  );
}

const roughTokens = (text: string) => Math.max(1, Math.ceil(text.length / 4));

// ---------- pure parts ----------

test('splitBatchLines: cuts at the request limit and the byte limit (newlines counted); an oversized line is set aside', () => {
  const lines = ['aaaa', 'bb', 'cccccc', 'd', 'eeeeeeeeeeeeeeeeeeee', 'ff'];
  // Sizes with newline: 5, 3, 7, 2, 21, 3.
  assert.deepEqual(splitBatchLines(lines, 2, 1000), {
    chunks: [
      [0, 1],
      [2, 3],
      [4, 5],
    ],
    tooLarge: [],
  });
  // At most 10 bytes: [5+3] then 7 (+2 = 9) then 21 is too large alone, then 3.
  assert.deepEqual(splitBatchLines(lines, 100, 10), { chunks: [[0, 1], [2, 3], [5]], tooLarge: [4] });
  assert.deepEqual(splitBatchLines(lines, 1, 8), { chunks: [[0], [1], [2], [3], [5]], tooLarge: [4] });
  // Multi-byte characters count in bytes: "é" is 2 bytes, so "éé" + newline is 5.
  assert.deepEqual(splitBatchLines(['éé', 'éé'], 10, 9), { chunks: [[0], [1]], tooLarge: [] });
  assert.deepEqual(splitBatchLines([], 5, 5), { chunks: [], tooLarge: [] });
});

test('parseBatchResults: 200 answers, non-200 responses, error-file lines; unreadable lines reported', () => {
  const text = [
    JSON.stringify({
      id: 'r1',
      custom_id: 'k1',
      response: {
        status_code: 200,
        request_id: 'q1',
        body: {
          model: 'm',
          choices: [{ message: { content: '["A"]' } }],
          usage: { prompt_tokens: 3, completion_tokens: 2 },
        },
      },
      error: null,
    }),
    JSON.stringify({
      id: 'r2',
      custom_id: 'k2',
      response: {
        status_code: 400,
        request_id: 'q2',
        body: { error: { message: 'bad request', code: 'context_length_exceeded' } },
      },
      error: null,
    }),
    JSON.stringify({ id: 'r3', custom_id: 'k3', response: null, error: { code: 'batch_expired', message: 'not run' } }),
    '{"id": "r4", "custom_id": "k4", "respo',
  ].join('\n');
  const { results, problems } = parseBatchResults(text, 'out.jsonl');
  assert.equal(results.length, 3);
  assert.equal(results[0].key, 'k1');
  assert.equal(results[0].completion?.choices?.[0].message?.content, '["A"]');
  assert.equal(results[0].requestId, 'q1');
  assert.deepEqual(results[1].failure, { status: 400, code: 'context_length_exceeded', message: 'bad request' });
  assert.deepEqual(results[2].failure, { code: 'batch_expired', message: 'not run' });
  assert.deepEqual(
    problems.map((p) => [p.file, p.line]),
    [['out.jsonl', 4]],
  );
});

// ---------- round trip ----------

test('a full round trip: one upload and one batch, answers stored via batch at batch prices, responses parsed; a rerun makes zero requests', async () => {
  await withServer({ pollsToFinish: 3 }, async (server) => {
    const fx = fixture(12);
    const config = configFor(fx, server);
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], {
      batch: true,
      log,
      retry: fastRetry,
      progressIntervalMs: 0,
    });
    assert.equal(server.chatRequests, 0, 'no synchronous request');
    assert.equal(server.routeCount('POST', '/v1/files'), 1);
    assert.equal(server.routeCount('POST', '/v1/batches'), 1);
    assert.equal(server.routeCount('GET', '/v1/batches/:id'), 4, 'validating→in_progress ×3, then completed');
    assert.equal(
      server.routeCount('GET', '/v1/files/:id/content'),
      1,
      'the output file (no error file: nothing failed)',
    );
    assert.equal(s.httpRequests, server.requestCount() - server.routeCount('GET', '/v1/models'));
    assert.equal(s.sent, 12);
    assert.equal(s.newAnswers, 12);
    assert.equal(s.answered, 12);
    assert.equal(s.failed, 0);
    assert.equal(s.missing, 0);
    assert.equal(s.interrupted, false);
    assert.deepEqual(s.batch?.submittedBatches, ['batch_fake0001']);
    assert.deepEqual(s.batch?.collectedBatches, ['batch_fake0001']);
    assert.deepEqual(s.batch?.openBatches, []);
    // The uploaded request lines: custom_id = the prompt's store key, the chat-completions endpoint.
    const [input] = uploadedLines(server);
    const keys = keysOf(fx, config);
    assert.deepEqual(
      input.map((l) => l.custom_id),
      keys,
    );
    assert.ok(input.every((l) => l.method === 'POST' && l.url === '/v1/chat/completions'));
    assert.deepEqual(server.listBatches()[0].metadata?.ubp_model_id, 'fake');
    assert.equal(
      server.log.find((r) => r.path === '/v1/batches')?.headers.authorization,
      `Bearer ${FAKE_KEY}`,
      'the key is sent to the server',
    );

    // Store: one batch answer per prompt, cost = synchronous price × 0.5 from the answer's own usage.
    const entries = stored(fx);
    assert.equal(entries.length, 12);
    const byKey = new Map(entries.map((e) => [e.key, e]));
    for (const [i, key] of keys.entries()) {
      const e = byKey.get(key) as StoredAnswer;
      assert.equal(e.via, 'batch');
      assert.equal(e.meta?.batchId, 'batch_fake0001');
      const body = input[i].body;
      assert.equal(
        e.usage.inputTokens,
        roughTokens(body.messages.map((m: { content: string }) => m.content).join('\n')),
      );
      assert.equal(e.usage.outputTokens, roughTokens(e.raw));
      assert.ok(Math.abs(e.costUsd - ((e.usage.inputTokens * 2.5 + e.usage.outputTokens * 10) / 1e6) * 0.5) < 1e-15);
      assert.deepEqual(e.request.params, { temperature: 0, seed: 0, max_tokens: 1024 });
    }
    assert.ok(Math.abs(s.costUsd - entries.reduce((a, e) => a + e.costUsd, 0)) < 1e-12);

    // Responses: the same parsing as synchronous answers.
    const records = loadResponses(config, 'fake', 'movielens');
    assert.deepEqual(
      records.map((r) => r.promptId),
      fx.samples.map((x) => x.id),
    );
    records.forEach((r, i) => {
      assert.deepEqual(r.ranked, fx.samples[i].candidates.slice(0, 10));
      assert.equal(r.diagnostics.unparseable, false);
      assert.equal(r.diagnostics.tooFew, false);
      assert.equal(r.via, 'batch');
      assert.equal(r.model, 'fake-model-2024-05-13');
      assert.equal(r.fingerprint, 'fp_b1');
    });

    // Ledger: reserved, submitted, closed — with the model, keys, input file and the final status.
    const events = ledger(fx);
    assert.deepEqual(
      events.map((e) => e.event),
      ['creating', 'submitted', 'closed'],
    );
    assert.deepEqual(events[0].keys, keys);
    assert.equal(events[0].modelId, 'fake');
    assert.equal(events[0].requests, 12);
    assert.equal(events[0].inputFileId, server.listBatches()[0].input_file_id);
    assert.equal(events[1].batchId, 'batch_fake0001');
    assert.equal(events[2].status, 'completed');
    assert.deepEqual(events[2].counts, { total: 12, completed: 12, failed: 0 });
    assert.deepEqual(events[2].failures, []);
    assert.ok(
      fs.existsSync(path.join(fx.paths.store, 'batches', 'files', 'batch_fake0001.output.jsonl')),
      'the output file is kept',
    );
    assert.deepEqual(
      filesUnder(path.join(fx.paths.store, 'batches', 'requests')),
      [],
      'request files are removed once the batch is collected',
    );
    const text = lines.join('\n');
    assert.match(text, /submitted batch batch_fake0001 \(12 requests/);
    assert.match(text, /batch batch_fake0001: in_progress \(\d+ completed, 0 failed of 12\)/);
    assert.match(text, /fake movielens batches: 12\/12 requests/, 'progress with counts');

    // A rerun: everything is stored, no request at all.
    const requests = server.requestCount();
    const bytes = fs.readFileSync(path.join(fx.paths.responses, 'fake', 'movielens.jsonl'));
    const [again] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(server.requestCount(), requests, 'a rerun makes zero requests');
    assert.equal(again.sent, 0);
    assert.equal(again.fromStore, 12);
    assert.deepEqual(
      fs.readFileSync(path.join(fx.paths.responses, 'fake', 'movielens.jsonl')),
      bytes,
      'and writes identical bytes',
    );
    const [sync] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
    assert.equal(server.requestCount(), requests, 'a synchronous rerun also makes zero requests');
    assert.equal(sync.answered, 12);

    // The batch body is exactly the synchronous body: a synchronous run elsewhere sends the same bodies.
    const fx2 = fixture(12);
    await runQuery(configFor(fx2, server), 'movielens', ['fake'], { log, retry: fastRetry });
    const syncBodies = server.log.filter((r) => r.path === '/v1/chat/completions').map((r) => JSON.parse(r.body));
    assert.equal(syncBodies.length, 12);
    const canon = (b: unknown) => JSON.stringify(b);
    assert.deepEqual(new Set(syncBodies.map(canon)), new Set(input.map((l) => canon(l.body))));
  });
});

// ---------- submit and return; crash after submission ----------

test('batchWait false: submits and returns; dry and synchronous runs do not pay again for waiting prompts; a later run collects', async () => {
  await withServer({ pollsToFinish: 1_000_000 }, async (server) => {
    const fx = fixture(8);
    const config = configFor(fx, server, { batchWait: false });
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(server.routeCount('POST', '/v1/batches'), 1);
    assert.equal(server.routeCount('GET', '/v1/batches/:id'), 0, 'submit and return: no polling');
    assert.equal(s.sent, 8);
    assert.equal(s.answered, 0);
    assert.equal(s.missing, 8);
    assert.equal(s.failed, 0);
    assert.deepEqual(s.batch?.openBatches, ['batch_fake0001']);
    assert.equal(s.batch?.pendingPrompts, 8);
    assert.match(
      lines.join('\n'),
      /1 batch still open \(batch_fake0001 submitted\), holding 8 of the requested prompts; recorded in .*run again with --batch to collect/,
    );

    const [dry] = await runQuery(config, 'movielens', ['fake'], { dryRun: true, log });
    assert.equal(dry.toSend, 0, 'a dry run does not price prompts waiting in an open batch');
    const [second] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(
      server.routeCount('POST', '/v1/batches'),
      1,
      'a second --batch run does not submit the waiting prompts again',
    );
    assert.equal(second.sent, 0);
    assert.equal(second.batch?.pendingPrompts, 8);

    // A synchronous run while the batch runs: no chat request for the waiting prompts.
    const [sync] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
    assert.equal(server.chatRequests, 0);
    assert.equal(sync.batch?.pendingPrompts, 8);
    assert.equal(server.routeCount('GET', '/v1/batches/:id'), 2, 'one look at the open batch per run');
    assert.match(lines.join('\n'), /8 prompts wait in open batches and are not sent synchronously/);

    // Once it has finished, even a synchronous run collects it (and sends nothing).
    server.batch.pollsToFinish = 0;
    const [later] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
    assert.equal(server.chatRequests, 0);
    assert.equal(later.answered, 8);
    assert.equal(later.newAnswers, 8);
    assert.deepEqual(later.batch?.collectedBatches, ['batch_fake0001']);
    assert.equal(server.routeCount('POST', '/v1/batches'), 1);
    assert.ok(loadResponses(config, 'fake', 'movielens').every((r) => r.via === 'batch'));
  });
});

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('kill -9 after submission: the next run finds the open batch in the ledger and collects it instead of submitting again', async () => {
  await withServer({ pollsToFinish: 1_000_000 }, async (server) => {
    const fx = fixture(10);
    const overrides = { paths: fx.paths, query: { batchPollSeconds: 0.02, models: [fakeModel(server.url)] } };
    const child = spawnNode('query-child', [
      JSON.stringify({
        overrides,
        domain: 'movielens',
        models: ['fake'],
        batch: true,
        retry: fastRetry,
        progressIntervalMs: 50,
      }),
    ]);
    await waitFor(
      () => ledger(fx).some((e) => e.event === 'submitted') || child.exitCode !== null,
      30_000,
      'the child to submit',
    );
    // Let it poll a few times, then kill it while it waits.
    await waitFor(
      () => server.routeCount('GET', '/v1/batches/:id') >= 2 || child.exitCode !== null,
      30_000,
      'the child to poll',
    );
    assert.equal(child.exitCode, null, `the child ended early: ${child.err.join('')}`);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    for (const l of child.err.join('').split('\n')) allLogs.push(l);
    assert.equal(stored(fx).length, 0, 'nothing was collected before the kill');
    assert.ok(fs.existsSync(`${ledgerPath(fx)}.lock`), 'the killed run left its lock behind');

    // The next run first sees the batch still running (so it must not resubmit its prompts), then sees it finish.
    server.batch.pollsToFinish = server.routeCount('GET', '/v1/batches/:id') + 2;
    const config = configFor(fx, server);
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.match(lines.join('\n'), /10 requests already wait in open batches; not submitted again/);
    assert.equal(server.routeCount('POST', '/v1/batches'), 1, 'exactly one batch in total');
    assert.equal(server.routeCount('POST', '/v1/files'), 1);
    assert.equal(server.chatRequests, 0);
    assert.equal(s.sent, 0);
    assert.equal(s.newAnswers, 10);
    assert.equal(s.answered, 10);
    assert.deepEqual(s.batch?.collectedBatches, ['batch_fake0001']);
    assert.match(lines.join('\n'), /batch batch_fake0001 completed: 10 answers stored/);
    assert.deepEqual(
      ledger(fx).map((e) => e.event),
      ['creating', 'submitted', 'closed'],
    );
    assert.ok(!fs.existsSync(`${ledgerPath(fx)}.lock`), 'the stale lock was taken over and released');
  });
});

test('Ctrl-C while waiting: the run stops polling, the batch stays open in the ledger, and the rerun collects it', async () => {
  await withServer({ pollsToFinish: 1_000_000 }, async (server) => {
    const fx = fixture(6);
    const config = configFor(fx, server);
    const ac = new AbortController();
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], {
      batch: true,
      retry: fastRetry,
      signal: ac.signal,
      log: (l) => {
        log(l);
        if (/: in_progress/.test(l)) ac.abort();
      },
    });
    assert.equal(s.interrupted, true);
    assert.equal(s.answered, 0);
    assert.deepEqual(s.batch?.openBatches, ['batch_fake0001']);
    assert.match(lines.join('\n'), /still open .*run again with --batch to collect/);
    server.batch.pollsToFinish = 0;
    const [again] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(again.answered, 6);
    assert.equal(server.routeCount('POST', '/v1/batches'), 1);
  });
});

// ---------- failures and expiry ----------

async function partialFailureRun(server: FakeOpenAIServer, fx: QueryFixture, config: Config) {
  const keys = keysOf(fx, config);
  const scripted = new Map<string, BatchLineAction>([
    [keys[1], { kind: 'status', status: 400, code: 'context_length_exceeded', message: 'too long' }],
    [keys[4], { kind: 'status', status: 500, message: 'upstream hiccup' }],
    [keys[6], { kind: 'error', code: 'server_error', message: 'the model crashed' }],
    [keys[8], { kind: 'unprocessed' }],
  ]);
  server.batch.line = ({ customId }) => scripted.get(customId);
  const { log, lines } = logger();
  const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
  server.batch.line = undefined;
  const failedIds = [1, 4, 6, 8].map((i) => fx.samples[i].id);
  assert.equal(s.answered, 6);
  assert.equal(s.failed, 4);
  assert.deepEqual(new Set(s.failures.flatMap((f) => f.promptIds)), new Set(failedIds));
  const byPrompt = new Map(s.failures.map((f) => [f.promptIds[0], f]));
  assert.equal(byPrompt.get(fx.samples[1].id)?.status, 400);
  assert.equal(byPrompt.get(fx.samples[1].id)?.code, 'context_length_exceeded');
  assert.equal(byPrompt.get(fx.samples[6].id)?.code, 'server_error');
  assert.equal(byPrompt.get(fx.samples[8].id)?.code, 'no_result');
  assert.ok(s.failures.every((f) => f.kind === 'batch' && f.batchId === 'batch_fake0001'));
  assert.equal(stored(fx).length, 6, 'failures are never stored');
  const closed = ledger(fx).find((e) => e.event === 'closed') as Record<string, any>;
  assert.deepEqual(
    closed.counts,
    { total: 10, completed: 6, failed: 3 },
    'the server counts the 3 failures it reported',
  );
  assert.deepEqual(
    new Set(closed.failures.map((f: { key: string }) => f.key)),
    new Set([1, 4, 6, 8].map((i) => keys[i])),
  );
  assert.match(
    lines.join('\n'),
    /4 batch requests failed \(listed in .*the next run, batch or synchronous, sends only them\)/,
  );
  assert.match(lines.join('\n'), /1 × HTTP 400 context_length_exceeded: too long — movielens-000001/);
  assert.equal(server.routeCount('GET', '/v1/files/:id/content'), 2, 'output and error files downloaded');
  return { keys, failedKeys: [1, 4, 6, 8].map((i) => keys[i]) };
}

test('partial failures are listed, and the next --batch run resubmits only them; every prompt answered exactly once', async () => {
  await withServer({ pollsToFinish: 1 }, async (server) => {
    const fx = fixture(10);
    const config = configFor(fx, server);
    const { failedKeys } = await partialFailureRun(server, fx, config);
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log: logger().log, retry: fastRetry });
    assert.equal(server.routeCount('POST', '/v1/batches'), 2);
    const second = uploadedLines(server)[1];
    assert.deepEqual(
      new Set(second.map((l) => l.custom_id)),
      new Set(failedKeys),
      'only the failed requests are resubmitted',
    );
    assert.equal(s.sent, 4);
    assert.equal(s.answered, 10);
    assert.equal(s.failed, 0);
    assert.equal(server.chatRequests, 0);
    const entries = stored(fx);
    assert.equal(entries.length, 10);
    assert.equal(new Set(entries.map((e) => e.key)).size, 10);
    assert.deepEqual(
      loadResponses(config, 'fake', 'movielens').map((r) => r.promptId),
      fx.samples.map((x) => x.id),
    );
  });
});

test('partial failures re-sent synchronously: a normal run sends only the failed prompts', async () => {
  await withServer({ pollsToFinish: 1 }, async (server) => {
    const fx = fixture(10);
    const config = configFor(fx, server);
    const { failedKeys } = await partialFailureRun(server, fx, config);
    const [s] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
    assert.equal(server.chatRequests, 4);
    assert.equal(server.routeCount('POST', '/v1/batches'), 1, 'no new batch');
    assert.equal(s.answered, 10);
    const entries = stored(fx);
    assert.equal(entries.length, 10);
    assert.deepEqual(new Set(entries.filter((e) => e.via === 'sync').map((e) => e.key)), new Set(failedKeys));
    const records = loadResponses(config, 'fake', 'movielens');
    assert.deepEqual(records.filter((r) => r.via === 'sync').length, 4);
    // Synchronous answers cost the full price, batch answers half.
    for (const e of entries) {
      const full = (e.usage.inputTokens * 2.5 + e.usage.outputTokens * 10) / 1e6;
      assert.ok(Math.abs(e.costUsd - (e.via === 'batch' ? full / 2 : full)) < 1e-15);
    }
  });
});

test('an expired batch: its partial output is collected, the rest listed as expired and resubmitted by the next run', async () => {
  await withServer({ pollsToFinish: 1, finalStatus: 'expired', processedBeforeStop: 5 }, async (server) => {
    const fx = fixture(12);
    const config = configFor(fx, server);
    const keys = keysOf(fx, config);
    const { log } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(s.answered, 5);
    assert.equal(s.failed, 7);
    assert.ok(s.failures.every((f) => f.code === 'batch_expired'));
    assert.deepEqual(
      new Set(stored(fx).map((e) => e.key)),
      new Set(keys.slice(0, 5)),
      'the lines that ran before expiry',
    );
    const closed = ledger(fx).find((e) => e.event === 'closed') as Record<string, any>;
    assert.equal(closed.status, 'expired');
    assert.equal(closed.answered, 5);
    assert.equal(closed.failures.length, 7);
    server.batch.finalStatus = 'completed';
    const [again] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(again.sent, 7);
    assert.equal(again.answered, 12);
    assert.deepEqual(new Set(uploadedLines(server)[1].map((l) => l.custom_id)), new Set(keys.slice(5)));
  });
});

test('a failed batch: every request listed with the batch error; a cancelled batch: partial output collected', async () => {
  await withServer({ pollsToFinish: 1, finalStatus: 'failed' }, async (server) => {
    const fx = fixture(4);
    const config = configFor(fx, server);
    const { log } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(s.answered, 0);
    assert.equal(s.failed, 4);
    assert.ok(
      s.failures.every(
        (f) => f.code === 'batch_failed' && /fake_failure: the batch failed \(scripted\)/.test(f.message),
      ),
    );
    assert.equal(server.routeCount('GET', '/v1/files/:id/content'), 0, 'a failed batch has no files');
    assert.equal(ledger(fx).at(-1)?.status, 'failed');
    server.batch.finalStatus = 'completed';
    const [again] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(again.answered, 4);
  });
  await withServer({ pollsToFinish: 1_000_000, processedBeforeStop: 3 }, async (server) => {
    const fx = fixture(8);
    const config = configFor(fx, server, { batchWait: false });
    const { log } = logger();
    await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.deepEqual(
      await cancelOpenBatches(config, config.query.models.find((m) => m.id === 'fake') as ModelConfig, { log }),
      ['batch_fake0001'],
    );
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    // The cancelled batch's 3 answers are collected; the 5 others are submitted again in a new batch (not collected yet).
    assert.equal(stored(fx).length, 3);
    assert.deepEqual(s.batch?.collectedBatches, ['batch_fake0001']);
    assert.equal(uploadedLines(server)[1].length, 5);
    assert.equal(s.batch?.pendingPrompts, 5);
    assert.equal(s.failed, 0, 'cancelled requests that are waiting again are not failures');
  });
});

// ---------- limits ----------

test('large runs are split by batchMaxRequests and batchMaxBytes', async () => {
  await withServer({ pollsToFinish: 1 }, async (server) => {
    const fx = fixture(12);
    const [s] = await runQuery(configFor(fx, server, { batchMaxRequests: 5 }), 'movielens', ['fake'], {
      batch: true,
      log: logger().log,
      retry: fastRetry,
    });
    assert.deepEqual(
      uploadedLines(server).map((l) => l.length),
      [5, 5, 2],
    );
    assert.equal(server.routeCount('POST', '/v1/batches'), 3);
    assert.equal(s.batch?.submittedBatches.length, 3);
    assert.equal(s.answered, 12);
    assert.equal(
      new Set(
        ledger(fx)
          .filter((e) => e.event === 'closed')
          .map((e) => e.batchId),
      ).size,
      3,
    );

    // By bytes: lines are ~1.5–2.5 kB; allow 2.5 times the longest line per batch.
    const fx2 = fixture(12);
    const keys = keysOf(fx2, configFor(fx2, server));
    const lineBytes = uploadedLines(server)
      .flat()
      .map((l) => Buffer.byteLength(JSON.stringify(l)) + 1);
    const maxBytes = Math.floor(2.5 * Math.max(...lineBytes));
    server.reset();
    server.clearBatches();
    const [s2] = await runQuery(configFor(fx2, server, { batchMaxBytes: maxBytes }), 'movielens', ['fake'], {
      batch: true,
      log: logger().log,
      retry: fastRetry,
    });
    const files = server.listBatches().map((b) => Buffer.byteLength(server.fileText(b.input_file_id) ?? ''));
    assert.ok(files.length >= 5 && files.length <= 6, `12 lines at 2 per batch (sometimes 1): ${files.length} batches`);
    assert.ok(
      files.every((n) => n <= maxBytes),
      `every upload within ${maxBytes} bytes: ${files}`,
    );
    assert.deepEqual(
      uploadedLines(server)
        .flat()
        .map((l) => l.custom_id),
      keys,
      'in order, nothing lost',
    );
    assert.equal(s2.answered, 12);
  });
});

// ---------- the windows around creation ----------

test('a lost create response: the batch is found by its local id, not created twice (same run, and across runs)', async () => {
  await withServer({ pollsToFinish: 1, dropCreateResponse: (n) => n === 1 }, async (server) => {
    const fx = fixture(6);
    const config = configFor(fx, server);
    const { log } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(server.routeCount('POST', '/v1/batches'), 1);
    assert.ok(server.routeCount('GET', '/v1/batches') >= 1, 'looked it up');
    assert.equal(s.answered, 6);
    assert.deepEqual(s.batch?.submittedBatches, ['batch_fake0001']);
  });
  // With no retries the run cannot tell; the keys stay reserved and the next run looks the batch up.
  await withServer({ pollsToFinish: 1, dropCreateResponse: (n) => n === 1 }, async (server) => {
    const fx = fixture(6);
    const config = configFor(fx, server);
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], {
      batch: true,
      log,
      retry: { ...fastRetry, maxRetries: 0 },
    });
    assert.equal(s.answered, 0);
    assert.equal(s.failed, 0);
    assert.equal(s.batch?.pendingPrompts, 6);
    assert.match(lines.join('\n'), /stay reserved in the ledger/);
    assert.deepEqual(
      ledger(fx).map((e) => e.event),
      ['creating'],
    );
    const [again] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(server.routeCount('POST', '/v1/batches'), 1, 'found, not created again');
    assert.equal(again.answered, 6);
    assert.match(lines.join('\n'), /batch batch_fake0001 \(6 requests\) was created before the last run stopped/);
    const events = ledger(fx);
    assert.deepEqual(
      events.map((e) => e.event),
      ['creating', 'submitted', 'closed'],
    );
    assert.equal(events[1].recovered, true);
  });
  // A reservation whose batch never came to exist is abandoned and its prompts submitted.
  await withServer({ pollsToFinish: 1 }, async (server) => {
    const fx = fixture(4);
    const config = configFor(fx, server);
    const keys = keysOf(fx, config);
    fs.mkdirSync(path.dirname(ledgerPath(fx)), { recursive: true });
    const reservation = {
      v: 1,
      event: 'creating',
      localId: 'ubp-lost-1',
      at: new Date().toISOString(),
      modelId: 'fake',
      provider: 'openai-compatible',
      baseURL: server.url,
      model: 'fake-model',
      params: { temperature: 0, seed: 0, max_tokens: 1024 },
      inputFileId: 'file-gone',
      requests: 2,
      bytes: 100,
      keys: keys.slice(0, 2),
      label: 'movielens',
    };
    fs.writeFileSync(ledgerPath(fx), `${JSON.stringify(reservation)}\n`);
    const { log, lines } = logger();
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.match(
      lines.join('\n'),
      /2 requests reserved by an interrupted submission were never sent; they are free again/,
    );
    assert.equal(s.answered, 4);
    assert.deepEqual(
      uploadedLines(server)[0].map((l) => l.custom_id),
      keys,
    );
    assert.equal(ledger(fx)[1].event, 'abandoned');
  });
});

test('a refused batch (401 echoing the key): nothing reserved, the key redacted everywhere, the prompts free for the next run', async () => {
  await withServer(
    {
      pollsToFinish: 1,
      failCreate: (n) => (n === 1 ? { status: 401, message: `Incorrect API key provided: ${FAKE_KEY}.` } : undefined),
    },
    async (server) => {
      const fx = fixture(3);
      const config = configFor(fx, server);
      const { log, lines } = logger();
      const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
      assert.equal(s.failed, 3);
      assert.ok(
        s.failures.every(
          (f) => f.code === 'not_submitted' && /HTTP 401/.test(f.message) && !f.message.includes(FAKE_KEY),
        ),
      );
      assert.match(lines.join('\n'), /\[REDACTED\]/);
      const events = ledger(fx);
      assert.deepEqual(
        events.map((e) => e.event),
        ['creating', 'abandoned'],
      );
      assert.ok(!JSON.stringify(events).includes(FAKE_KEY));
      const [again] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
      assert.equal(again.answered, 3);
      assert.equal(server.routeCount('POST', '/v1/batches'), 2);
    },
  );
});

test('a batch the server no longer knows (404): no endless waiting, its prompts not resent until the batch is forgotten', async () => {
  await withServer({ pollsToFinish: 1_000_000 }, async (server) => {
    const fx = fixture(4);
    const config = configFor(fx, server, { batchWait: false });
    const model = config.query.models.find((m) => m.id === 'fake') as ModelConfig;
    const { log, lines } = logger();
    await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    server.clearBatches();
    const waiting = configFor(fx, server, { batchWait: true });
    const [s] = await runQuery(waiting, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(s.answered, 0);
    assert.equal(s.batch?.pendingPrompts, 4, 'still reserved: never paid twice by accident');
    assert.equal(server.routeCount('POST', '/v1/batches'), 1);
    assert.match(
      lines.join('\n'),
      /HTTP 404.*forgetBatches\(config, model, \['batch_fake0001'\], reason\) frees its requests/,
    );
    assert.deepEqual(forgetBatches(config, model, ['batch_fake0001'], 'created under another account'), [
      ledger(fx)[0].localId,
    ]);
    server.batch.pollsToFinish = 1;
    const [again] = await runQuery(waiting, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(again.answered, 4);
    assert.equal(server.routeCount('POST', '/v1/batches'), 2);
  });
});

test('a second run on the same ledger is refused while the first is alive; a dead holder’s lock is taken over', async () => {
  await withServer({ pollsToFinish: 1 }, async (server) => {
    const fx = fixture(3);
    const config = configFor(fx, server);
    const lock = `${ledgerPath(fx)}.lock`;
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    // The test runner's parent is alive for the whole test.
    fs.writeFileSync(lock, String(process.ppid));
    await assert.rejects(
      runQuery(config, 'movielens', ['fake'], { batch: true, log: logger().log }),
      new RegExp(`another run \\(pid ${process.ppid}\\) is using the batch ledger`),
    );
    assert.equal(server.routeCount('POST', '/v1/files'), 0);
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    fs.writeFileSync(lock, String(dead.pid));
    const [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log: logger().log, retry: fastRetry });
    assert.equal(s.answered, 3);
    assert.ok(!fs.existsSync(lock));
  });
});

// ---------- every elicitation method through the Batch API (issue 22) ----------

/**
 * A deterministic model for both paths: `stated` answers q ∝ 1/(rank+1) over the schema's ids, `logprobs` answers the
 * same q over the labels as its top-20; the ranking prompt gets the server's default answer (n draws with `n`).
 */
function methodAnswer(body: { [k: string]: any }): BatchLineAction & FakeAction {
  if (body.logprobs) {
    const z = Array.from({ length: 50 }, (_, i) => 1 / (i + 2)).reduce((a, x) => a + x, 0);
    const top = Array.from({ length: Number(body.top_logprobs) }, (_, i) => ({
      token: String(i + 1),
      logprob: Math.log(1 / (i + 2) / z),
    }));
    return { kind: 'answer', text: '1', topLogprobs: top };
  }
  if (body.response_format) {
    const ids: string[] = body.response_format.json_schema.schema.required;
    return {
      kind: 'answer',
      text: JSON.stringify(Object.fromEntries(ids.map((id, i) => [id, +(1 / (i + 2)).toFixed(3)]))),
    };
  }
  return { kind: 'answer' };
}

function methodsConfig(fx: QueryFixture, server: FakeOpenAIServer, capabilities: Record<string, unknown>): Config {
  return loadConfig({
    env: {},
    overrides: {
      paths: fx.paths,
      query: {
        batchPollSeconds: 0.005,
        samples: 3,
        temperature: 1,
        elicitation: ['ranking', 'samples', 'stated', 'logprobs'],
        models: [fakeModel(server.url, { capabilities })],
      },
      curves: { calibration: 0 },
    },
  });
}

const paramsOfBody = ({ model: _m, messages: _x, ...params }: Record<string, unknown>) => params;
const comparable = (r: Record<string, unknown>) => {
  const { via: _v, costUsd: _c, latencyMs: _l, answeredAt: _a, ...rest } = r;
  return rest;
};

test('stated, logprobs and samples through the Batch API: each request its own body and stored parameters, the same answers and scores as a synchronous run, request files kept until collected, a rerun sends nothing', async () => {
  await withServer({ line: (info) => methodAnswer(info.body) }, async (server) => {
    server.script = ({ body }) => (body.logprobs || body.response_format ? methodAnswer(body) : undefined);
    server.picks = 'by-name';
    const capabilities = { logprobs: true, topLogprobs: 20, jsonSchema: true, n: true };
    const fx = fixture(12);
    const config = methodsConfig(fx, server, capabilities);
    const { log } = logger();
    const summaries = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.deepEqual(
      summaries.map((s) => [s.method ?? 'ranking', s.sent, s.written, s.missing]),
      [
        ['ranking', 12, 36, 0],
        ['stated', 12, 12, 0],
        ['logprobs', 12, 12, 0],
      ],
    );
    assert.equal(server.chatRequests, 0, 'nothing synchronous');
    const uploads = uploadedLines(server);
    assert.equal(uploads.length, 3, 'one batch per pass');
    const [ranking, stated, logprobs] = uploads;
    assert.ok(
      ranking.every((l) => l.body.n === 3 && l.body.temperature === 1),
      'samples: one request with n',
    );
    assert.ok(logprobs.every((l) => l.body.logprobs === true && l.body.top_logprobs === 20 && l.body.max_tokens === 2));
    stated.forEach((l, i) => {
      assert.equal(l.body.response_format.type, 'json_schema');
      assert.deepEqual(l.body.response_format.json_schema.schema.required, fx.samples[i].candidates, 'its own schema');
    });
    // Each stored answer carries the parameters its own request was sent with (the stated schema differs per prompt).
    const byKey = new Map(stored(fx).map((e) => [e.key, e]));
    for (const l of uploads.flat()) assert.deepEqual(byKey.get(l.custom_id)?.request.params, paramsOfBody(l.body));
    assert.equal(byKey.size, 36);
    const creating = ledger(fx).filter((e) => e.event === 'creating');
    assert.deepEqual(
      creating.map((e) => e.paramsVary ?? false),
      [false, true, false],
      'only the stated batch has parameters that vary by request',
    );
    assert.deepEqual(filesUnder(path.join(fx.paths.store, 'batches', 'requests')), [], 'removed once collected');

    // The same prompts asked synchronously elsewhere: the same bodies, answers, responses and measured scores.
    const fx2 = fixture(12);
    const config2 = methodsConfig(fx2, server, capabilities);
    await runQuery(config2, 'movielens', ['fake'], { log, retry: fastRetry });
    const canon = (b: unknown) => JSON.stringify(b);
    const syncBodies = server.log
      .filter((r) => r.path === '/v1/chat/completions')
      .map((r) => canon(JSON.parse(r.body)));
    assert.equal(syncBodies.length, 36);
    assert.deepEqual(new Set(syncBodies), new Set(uploads.flat().map((l) => canon(l.body))));
    for (const method of [undefined, 'stated', 'logprobs']) {
      const read = (c: Config) =>
        fs
          .readFileSync(responsesFile(c, 'fake', 'movielens', method), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => comparable(JSON.parse(l)));
      assert.deepEqual(read(config), read(config2), `${method ?? 'ranking'}: the same records but for via and cost`);
    }
    runScore(config, ['movielens'], ['fake'], { log: () => {} });
    runScore(config2, ['movielens'], ['fake'], { log: () => {} });
    const scores = (c: Config) => (loadScores(c, 'fake', 'movielens') as SampleScoreRecord[]).map((r) => r.measured);
    assert.deepEqual(scores(config), scores(config2));
    assert.ok(scores(config).every((m) => m?.stated && m.logprobs && m.samples));

    const requests = server.requestCount();
    const again = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.deepEqual(
      again.map((s) => s.sent),
      [0, 0, 0],
    );
    assert.equal(server.requestCount(), requests, 'a rerun makes no request');
  });
});

test('samples without n through the Batch API: n requests per prompt with their own seeds; a request file no batch owns is swept; a damaged line of a kept one leaves that answer the batch’s parameters, marked', async () => {
  await withServer({ pollsToFinish: 1_000_000 }, async (server) => {
    const fx = fixture(6);
    const config = loadConfig({
      env: {},
      overrides: {
        paths: fx.paths,
        query: {
          batchPollSeconds: 0.005,
          batchWait: false,
          samples: 3,
          temperature: 0.7,
          models: [fakeModel(server.url)],
        },
      },
    });
    const { log } = logger();
    const [first] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(first.sent, 18);
    const [lines] = uploadedLines(server);
    assert.deepEqual(
      lines.map((l) => l.body.seed),
      fx.samples.flatMap(() => [0, 1, 2].map((r) => config.query.seed + r)),
      'ask r carries seed + r, as synchronously',
    );
    assert.equal(new Set(lines.map((l) => l.custom_id)).size, 18);
    const [creating] = ledger(fx).filter((e) => e.event === 'creating');
    assert.equal(creating.paramsVary, true);
    assert.deepEqual(creating.params, paramsOfBody(lines[0].body));
    const requestsDir = path.join(fx.paths.store, 'batches', 'requests', 'openai-compatible--fake-model');
    const kept = path.join(requestsDir, `${creating.localId}.jsonl`);
    assert.deepEqual(filesUnder(path.join(fx.paths.store, 'batches', 'requests')), [kept], 'kept while open');

    // A file no batch owns (a run killed during its upload) is swept by the next run; the open batch's stays.
    const orphan = path.join(requestsDir, 'ubp-20260101-000000-1-1.jsonl');
    fs.writeFileSync(orphan, lines.map((l) => JSON.stringify(l)).join('\n'));
    await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.deepEqual(filesUnder(requestsDir), [kept]);

    // A damaged line in the kept file: that answer is still collected, with the batch's parameters and marked.
    const text = fs.readFileSync(kept, 'utf8').split('\n');
    const damagedKey = JSON.parse(text[4]).custom_id;
    text[4] = text[4].slice(0, 40);
    fs.writeFileSync(kept, text.join('\n'));
    server.batch.pollsToFinish = 0;
    const [collected] = await runQuery(config, 'movielens', ['fake'], { batch: true, log, retry: fastRetry });
    assert.equal(collected.missing, 0);
    const entries = stored(fx);
    assert.equal(entries.length, 18);
    for (const e of entries) {
      const own = lines.find((l) => l.custom_id === e.key)!;
      if (e.key === damagedKey) {
        assert.deepEqual(e.request.params, creating.params);
        assert.equal(e.meta?.paramsOf, 'the batch’s first request', 'marked: not this request’s own parameters');
        assert.notDeepEqual(e.request.params, paramsOfBody(own.body), 'ask 1 of its prompt: another seed');
      } else {
        assert.deepEqual(e.request.params, paramsOfBody(own.body));
        assert.equal(e.meta?.paramsOf, undefined);
      }
    }
    assert.ok(allLogs.some((l) => /1 unreadable lines in its kept request file/.test(l)));
    assert.deepEqual(filesUnder(requestsDir), [], 'removed once collected');
    const records = loadResponses(config, 'fake', 'movielens');
    assert.equal(records.length, 18);
    assert.deepEqual(
      records.slice(0, 3).map((r) => r.sample),
      [0, 1, 2],
    );
  });
});
