// Issue 23, "the store is sacred": nothing is paid into a store that cannot be written. The store is checked before
// the first request; the first failed append stops sending, the answers in flight are kept in a recovery file, and the
// next run stores them before it sends anything. Real HTTP to the fake server, real file-system errors: a folder in the
// store file's place (EISDIR), chattr +i (EPERM), and /dev/full in the store file's place mid-run (ENOSPC).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonl } from '../lib/core/io';
import { recoveryFile, responsesFile } from '../lib/query/inputs';
import { runQuery } from '../lib/query/runner';
import { queryStage } from '../lib/query/stage';
import { storeFileName, type StoredAnswer } from '../lib/query/store';
import { fakeServerSuite } from './helpers/server-suite';
import { fakeModel, type QueryFixture } from './helpers/query-fixture';
import type { FakeOpenAIServer } from './helpers/fake-openai-server';

const KEY_ENV = 'UBP_TEST_QUERY_KEY';
const FAKE_KEY = 'sk-test-STORE-FAILURE-SECRET-5678';
const fastRetry = { baseDelayMs: 5, maxDelayMs: 20 };

const suite = fakeServerSuite({
  keyEnv: KEY_ENV,
  key: FAKE_KEY,
  secrets: [FAKE_KEY, 'STORE-FAILURE-SECRET'],
  tmpPrefix: 'ubp-storefail-',
  server: { model: 'fake-model-2024-05-13', latencyMs: 15 },
});
const { fixture, configFor, logger } = suite;

const storePath = (fx: QueryFixture) => path.join(fx.paths.store, storeFileName('openai-compatible', 'fake-model'));
const keysIn = (file: string) =>
  fs.existsSync(file) ? readJsonl<StoredAnswer>(file).records.map((e) => e.key) : ([] as string[]);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The disk fills up: from now on every write to the store file fails with the kernel's own ENOSPC. */
function fillDisk(file: string): void {
  if (fs.existsSync(file)) fs.renameSync(file, `${file}.healthy`);
  else fs.writeFileSync(`${file}.healthy`, '');
  fs.symlinkSync('/dev/full', file);
}

/** Space is freed: the store file is the one it was before the disk filled up. */
function freeDisk(file: string): void {
  fs.rmSync(file);
  fs.renameSync(`${file}.healthy`, file);
}

/** Breaks the store when the server receives chat request `n`, and notes how many it had when the run noticed. */
function breakAtRequest(server: FakeOpenAIServer, file: string, n: number) {
  const seen = { atFailure: -1 };
  server.script = (req) => {
    if (req.n === n) fillDisk(file);
    return undefined;
  };
  const { log, lines } = logger();
  const watch = (l: string) => {
    if (seen.atFailure < 0 && /no new request is sent/.test(l)) seen.atFailure = server.chatRequests;
    log(l);
  };
  return { seen, log: watch, lines };
}

test('a folder in the store file’s place: the run stops before the first request, naming the file and the fix', async () => {
  const fx = fixture(8);
  suite.server.reset();
  fs.mkdirSync(storePath(fx), { recursive: true });
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  await assert.rejects(
    runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry }),
    new RegExp(
      `^StoreRefusedError: fake movielens: the response store ${escape(storePath(fx))} cannot be written \\(EISDIR: illegal operation on a directory\\); ` +
        'nothing was sent\\. Fix: a store file must be a regular file',
    ),
  );
  assert.equal(suite.server.chatRequests, 0);
  assert.ok(!fs.existsSync(responsesFile(config, 'fake', 'movielens')));
});

test('an immutable store file (chattr +i): EPERM before the first request; a dry run still works', async (t) => {
  const fx = fixture(8);
  suite.server.reset();
  const file = storePath(fx);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  if (spawnSync('chattr', ['+i', file]).status !== 0) return t.skip('chattr +i is not available here');
  try {
    const config = configFor(fx, [fakeModel(suite.server.url)]);
    await assert.rejects(
      runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry }),
      new RegExp(
        `the response store ${escape(file)} cannot be written \\(EPERM: operation not permitted\\); nothing was sent\\. Fix: make it writable \\(chmod u\\+w, chattr -i`,
      ),
    );
    assert.equal(suite.server.chatRequests, 0);
    const [dry] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, dryRun: true });
    assert.equal(dry.toSend, 8, 'a dry run writes nothing, so it is not refused');
  } finally {
    spawnSync('chattr', ['-i', file]);
  }
});

test('a store folder that is a file: the lock cannot be created; nothing sent, the message names it', async () => {
  const fx = fixture(4);
  suite.server.reset();
  fs.mkdirSync(path.dirname(fx.paths.store), { recursive: true });
  fs.writeFileSync(fx.paths.store, 'not a folder');
  const config = configFor(fx, [fakeModel(suite.server.url)]);
  await assert.rejects(
    runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry }),
    new RegExp(`the response store ${escape(storePath(fx))}\\.lock cannot be written \\(E[A-Z]+: .*nothing was sent`),
  );
  assert.equal(suite.server.chatRequests, 0);
});

test('the disk fills up mid-run: sending stops at the first failed append, the answers in flight are kept, and the rerun on a freed disk pays for none of them again', async (t) => {
  if (!fs.existsSync('/dev/full')) return t.skip('no /dev/full to fill');
  const fx = fixture(40);
  suite.server.reset();
  const file = storePath(fx);
  const concurrency = 4;
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency })]);
  const { seen, log, lines } = breakAtRequest(suite.server, file, 12);
  let outcome;
  try {
    outcome = await queryStage.run({
      config,
      ref: { stage: 'query', domain: 'movielens', model: 'fake' },
      opts: { log, retry: fastRetry, progressIntervalMs: 0 },
      code: 'test',
      log,
    });
  } finally {
    suite.server.script = undefined;
    freeDisk(file);
  }
  const s = outcome.result;
  const sent = suite.server.chatRequests;
  t.diagnostic(`${sent} sent, ${seen.atFailure} when the failure was noticed, ${s.unstored} kept for recovery`);
  assert.ok(seen.atFailure >= 12, `the failure was noticed (${lines.join('\n')})`);
  assert.ok(
    sent - seen.atFailure <= concurrency,
    `${sent - seen.atFailure} requests reached the server after the first failed write (at most one per slot)`,
  );
  assert.ok(sent < 40 && s.notSent === 40 - sent, `${sent} sent, ${s.notSent} not sent`);

  const recovery = recoveryFile(config, 'fake', 'movielens');
  const kept = keysIn(recovery);
  const stored = keysIn(file);
  assert.equal(kept.length, s.unstored);
  assert.ok(s.unstored >= 1);
  // Every paid answer is in the store or in the recovery file (one whose fsync failed may be in both).
  assert.equal(new Set([...stored, ...kept]).size, sent, 'no paid answer lost');
  assert.equal(outcome.status, 'failed');
  assert.equal(outcome.detail, s.storeFailure);
  assert.match(
    outcome.detail,
    new RegExp(
      // The first failure is the write (ENOSPC, the kernel's answer for a full device) unless a group fsync of an
      // answer appended just before the swap runs first: fsync on /dev/full answers EINVAL. Either is the first failed
      // write, and the rest of the message is the same.
      `^fake movielens: stopped sending at the first failed write to the response store \\((ENOSPC: no space left on device|EINVAL: invalid argument)\\); ` +
        `${s.unstored} answers? (was|were) paid for and could not be stored in ${escape(file)}: (ENOSPC|EINVAL); ` +
        `they are kept in ${escape(recovery)} and will be stored by the next run; ${s.notSent} requests not sent\\. Fix: (free space|check the file)`,
    ),
  );
  assert.ok(lines.includes(s.storeFailure!), 'the log says it too');
  assert.ok(!fs.existsSync(responsesFile(config, 'fake', 'movielens')), 'no responses file from a broken store');
  // What was paid for is counted in what the run spent, stored or not.
  assert.ok(s.usage.inputTokens > 0);

  const second = logger();
  const [r] = await runQuery(config, 'movielens', ['fake'], { log: second.log, retry: fastRetry });
  assert.equal(suite.server.chatRequests, 40, 'over both runs, one request per distinct prompt');
  assert.equal(r.answered, 40);
  assert.equal(r.sent, 40 - sent);
  assert.ok(!fs.existsSync(recovery), 'the recovery file is gone once its answers are stored');
  const restored = kept.filter((k) => !stored.includes(k)).length;
  assert.ok(
    second.lines.some((l) =>
      l.startsWith(
        `fake movielens: ${restored} answers paid for by an earlier run that could not store them were stored from ${recovery}`,
      ),
    ),
    second.lines.join('\n'),
  );
  assert.equal(new Set(keysIn(file)).size, 40);
});

test('when the recovery folder cannot be written either, the answers go to the temp folder, and moved back they are stored by the next run', async (t) => {
  if (!fs.existsSync('/dev/full')) return t.skip('no /dev/full to fill');
  const fx = fixture(10);
  suite.server.reset();
  const file = storePath(fx);
  const config = configFor(fx, [fakeModel(suite.server.url, { concurrency: 2 })]);
  const recovery = recoveryFile(config, 'fake', 'movielens');
  fs.mkdirSync(path.dirname(path.dirname(recovery)), { recursive: true });
  fs.writeFileSync(path.dirname(recovery), 'a file where the recovery folder goes');
  const { log } = breakAtRequest(suite.server, file, 1);
  let s;
  try {
    [s] = await runQuery(config, 'movielens', ['fake'], { log, retry: fastRetry });
  } finally {
    suite.server.script = undefined;
    freeDisk(file);
  }
  assert.ok(s.unstored >= 1 && s.unstored <= 2);
  const m = new RegExp(
    `, so they are kept in (\\S+\\.jsonl): move it to ${escape(recovery)} and the next run stores them`,
  ).exec(s.storeFailure!);
  assert.ok(m, s.storeFailure);
  const temp = m[1];
  assert.equal(keysIn(temp).length, s.unstored);
  fs.rmSync(path.dirname(recovery));
  fs.mkdirSync(path.dirname(recovery));
  fs.renameSync(temp, recovery);
  const sent = suite.server.chatRequests;
  const [r] = await runQuery(config, 'movielens', ['fake'], { log: logger().log, retry: fastRetry });
  assert.equal(r.answered, 10);
  assert.equal(suite.server.chatRequests, 10, `none of the ${sent} paid in the first run is paid again`);
});

test('Batch API: the store breaks while a batch is collected; nothing more is submitted, the batch stays open, and the rerun collects it without paying again', async (t) => {
  if (!fs.existsSync('/dev/full')) return t.skip('no /dev/full to fill');
  const fx = fixture(6);
  suite.server.reset();
  suite.server.clearBatches();
  const file = storePath(fx);
  const config = configFor(fx, [fakeModel(suite.server.url)], { batchPollSeconds: 0.005 });
  let filled = false;
  suite.server.batch = {
    pollsToFinish: 1,
    line: () => {
      if (!filled) fillDisk(file);
      filled = true;
      return undefined;
    },
  };
  let s;
  try {
    [s] = await runQuery(config, 'movielens', ['fake'], { batch: true, log: logger().log, retry: fastRetry });
  } finally {
    suite.server.batch = {};
    freeDisk(file);
  }
  assert.equal(suite.server.routeCount('POST', '/v1/batches'), 1);
  assert.equal(s.unstored, 1, 'collecting stops at the first answer the store refuses');
  assert.match(s.storeFailure!, /1 answer was paid for and could not be stored in .*: ENOSPC; they are kept in /);
  assert.deepEqual(s.batch?.collectedBatches ?? [], []);

  const [r] = await runQuery(config, 'movielens', ['fake'], { batch: true, log: logger().log, retry: fastRetry });
  assert.equal(r.answered, 6);
  assert.equal(suite.server.routeCount('POST', '/v1/batches'), 1, 'the open batch is collected, not submitted again');
  assert.equal(suite.server.chatRequests, 0);
  assert.equal(new Set(keysIn(file)).size, 6);
});
