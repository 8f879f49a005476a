// The query stage under concurrency, broken servers and bad settings (issue 12): every case over real HTTP on
// 127.0.0.1 with the real `openai` client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type Config, type ModelConfig } from '../lib/core/config';
import { runQuery, type QueryRunSummary } from '../lib/query/runner';
import { storeFileName } from '../lib/query/store';
import { FakeOpenAIServer } from './helpers/fake-openai-server';
import { exited, spawnNode, startStandaloneServer } from './helpers/children';
import { assertSecretsAbsent, fakeModel, makeQueryFixture, type QueryFixture } from './helpers/query-fixture';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-RELIABLE-SECRET-1234abcd';
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

let server: FakeOpenAIServer;
const allLogs: string[] = [];
const roots: string[] = [];

before(async () => {
  process.env[KEY_ENV] = FAKE_KEY;
  server = await FakeOpenAIServer.start({ model: 'fake-model-2024-05-13' });
});
after(async () => {
  await server.close();
  assertSecretsAbsent(roots, allLogs, [FAKE_KEY, 'RELIABLE-SECRET']);
  delete process.env[KEY_ENV];
});

function fixture(prompts: number): QueryFixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-rel-'));
  roots.push(root);
  return makeQueryFixture(root, { prompts });
}

function configFor(fx: QueryFixture, models: Partial<ModelConfig>[] = [], query: Record<string, unknown> = {}): Config {
  return loadConfig({ env: {}, overrides: { paths: fx.paths, query: { ...query, models } } });
}

function logger(): { log: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: (l: string) => {
      lines.push(l);
      allLogs.push(l);
    },
  };
}

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
    const args = JSON.stringify({ overrides: { paths: fx.paths, query: { models: [model] } }, domain: 'movielens', models: ['fake'], retry: fastRetry });
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
    assert.deepEqual(summaries.map((s) => s.answered), [30, 30]);
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
  server.reset();
  server.script = undefined;
  const config = configFor(fx, [fakeModel(server.url)]);
  fs.mkdirSync(fx.paths.store, { recursive: true });
  const dead = spawn(process.execPath, ['-e', '0']);
  await exited(dead);
  fs.writeFileSync(`${storePath(fx)}.lock`, String(dead.pid));
  const [s] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
  assert.equal(s.answered, 4);
  assert.equal(server.chatRequests, 4);
  assert.ok(!fs.existsSync(`${storePath(fx)}.lock`));

  // Two runs in one process (a notebook): the second waits for the first and pays nothing.
  const fx2 = fixture(6);
  server.reset();
  server.latencyMs = 30;
  try {
    const config2 = configFor(fx2, [fakeModel(server.url, { concurrency: 2 })]);
    const l2 = logger();
    const [r1, r2] = await Promise.all([
      runQuery(config2, 'movielens', ['fake'], { log: logger().log, retry: fastRetry }),
      runQuery(config2, 'movielens', ['fake'], { log: l2.log, retry: fastRetry }),
    ]);
    assert.equal(server.chatRequests, 6);
    assert.equal(r1[0].answered + r2[0].answered, 12);
    assert.equal(r2[0].sent, 0);
    assert.match(l2.lines.join('\n'), new RegExp(`another run \\(pid ${process.pid}\\)`));
  } finally {
    server.latencyMs = 0;
  }
});

test('a run stopped while waiting for the lock sends nothing and says so', async () => {
  const fx = fixture(3);
  server.reset();
  const config = configFor(fx, [fakeModel(server.url)]);
  fs.mkdirSync(fx.paths.store, { recursive: true });
  // The test runner's parent is alive for the whole test.
  fs.writeFileSync(`${storePath(fx)}.lock`, String(process.ppid));
  const ac = new AbortController();
  const { log, lines } = logger();
  setTimeout(() => ac.abort(), 300);
  const [s] = await runQuery(config, 'movielens', ['fake'], { log, signal: ac.signal, retry: fastRetry, handleSigint: false });
  assert.equal(server.chatRequests, 0);
  assert.equal(s.interrupted, true);
  assert.equal(s.missing, 3);
  assert.match(lines.join('\n'), new RegExp(`another run \\(pid ${process.ppid}\\) is querying this model`));
  fs.rmSync(`${storePath(fx)}.lock`);
});

