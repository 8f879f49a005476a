import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  canonicalJson,
  checkAppendable,
  ResponseStore,
  storeFileName,
  storeKey,
  StoreWriteError,
  type StoredAnswer,
  type StoreKeyInput,
} from '../lib/query/store';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-store-'));
}

const baseInput: StoreKeyInput = {
  provider: 'openai',
  baseURL: 'https://api.openai.com/v1',
  model: 'gpt-4o-2024-08-06',
  messages: [
    { role: 'system', content: 'AI Rules' },
    { role: 'user', content: "Candidates: ['Heat (1995)']" },
  ],
  params: { temperature: 0, seed: 0, max_tokens: 1024 },
};

function entry(key: string, raw = '["Heat (1995)"]', model = 'gpt-4o-2024-08-06'): StoredAnswer {
  return {
    v: 1,
    key,
    request: {
      provider: 'openai',
      baseURL: 'https://api.openai.com/v1',
      model,
      params: { temperature: 0, seed: 0, max_tokens: 1024 },
    },
    raw,
    usage: { inputTokens: 100, outputTokens: 20 },
    model,
    fingerprint: 'fp_1',
    latencyMs: 12,
    costUsd: 0.00045,
    via: 'sync',
    answeredAt: '2025-01-01T00:00:00.000Z',
  };
}

function keyOf(n: number): string {
  return createHash('sha256').update(String(n)).digest('hex');
}

test('canonicalJson sorts keys at every depth and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
  assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
});

test('storeKey is the sha256 of the canonical request, independent of key order and trailing slash', () => {
  const expected = createHash('sha256')
    .update(
      '{"baseURL":"https://api.openai.com/v1","messages":[{"content":"AI Rules","role":"system"},{"content":"Candidates: [\'Heat (1995)\']","role":"user"}],' +
        '"model":"gpt-4o-2024-08-06","params":{"max_tokens":1024,"seed":0,"temperature":0},"provider":"openai"}',
    )
    .digest('hex');
  assert.equal(storeKey(baseInput), expected);
  assert.equal(storeKey({ ...baseInput, baseURL: 'https://api.openai.com/v1/' }), expected);
  assert.equal(storeKey({ ...baseInput, params: { max_tokens: 1024, seed: 0, temperature: 0 } }), expected);
});

test('storeKey changes with everything that changes the answer', () => {
  const k = storeKey(baseInput);
  assert.notEqual(storeKey({ ...baseInput, model: 'gpt-4o-mini-2024-07-18' }), k);
  assert.notEqual(storeKey({ ...baseInput, baseURL: 'http://127.0.0.1:8000/v1' }), k);
  assert.notEqual(storeKey({ ...baseInput, provider: 'openai-compatible' }), k);
  assert.notEqual(storeKey({ ...baseInput, params: { ...baseInput.params, seed: 1 } }), k);
  assert.notEqual(storeKey({ ...baseInput, params: { ...baseInput.params, temperature: 0.7 } }), k);
  assert.notEqual(storeKey({ ...baseInput, messages: [{ role: 'user', content: 'other' }] }), k);
});

test('put appends one fsynced line that a fresh open reads back; get/has; file per provider+model', () => {
  const dir = tmpDir();
  const store = ResponseStore.open(dir);
  assert.equal(store.size, 0);
  store.put(entry(keyOf(1)));
  store.put(entry(keyOf(2), '["x"]', 'other-model'));
  assert.ok(store.has(keyOf(1)));
  const file1 = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  const file2 = path.join(dir, storeFileName('openai', 'other-model'));
  assert.equal(fs.readFileSync(file1, 'utf8').split('\n').filter(Boolean).length, 1);
  assert.ok(fs.existsSync(file2));
  const again = ResponseStore.open(dir);
  assert.equal(again.size, 2);
  assert.deepEqual(again.get(keyOf(1)), entry(keyOf(1)));
  assert.equal(again.get(keyOf(2))?.raw, '["x"]');
  const onlyOne = ResponseStore.open(dir, { files: [storeFileName('openai', 'other-model')] });
  assert.equal(onlyOne.size, 1);
  assert.ok(onlyOne.has(keyOf(2)));
});

test('a second put of the same key appends nothing (append-only, first answer wins)', () => {
  const dir = tmpDir();
  const store = ResponseStore.open(dir);
  store.put(entry(keyOf(1), '["first"]'));
  store.put(entry(keyOf(1), '["second"]'));
  const file = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  assert.equal(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 1);
  assert.equal(ResponseStore.open(dir).get(keyOf(1))?.raw, '["first"]');
});

test('put refuses malformed entries (errors are never stored as answers)', () => {
  const store = ResponseStore.open(tmpDir());
  assert.throws(() => store.put({ ...entry(keyOf(1)), raw: undefined as unknown as string }), /raw/);
  assert.throws(() => store.put({ ...entry(keyOf(1)), key: 'not-a-key' }), /key/);
  assert.throws(() => store.put({ ...entry(keyOf(1)), via: 'error' as 'sync' }), /via/);
  assert.equal(store.size, 0);
});

test('a torn last line is ignored and reported, and the next append starts on a new line', () => {
  const dir = tmpDir();
  const file = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  const first = JSON.stringify(entry(keyOf(1)));
  const torn = JSON.stringify(entry(keyOf(2))).slice(0, 57);
  fs.writeFileSync(file, `${first}\n${torn}`);
  const store = ResponseStore.open(dir);
  assert.equal(store.size, 1);
  assert.equal(store.tornLines, 1);
  assert.equal(store.problems[0].line, 2);
  assert.ok(!store.has(keyOf(2)));
  store.put(entry(keyOf(3)));
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines[1], torn, 'the torn fragment stays as it was (append-only)');
  assert.deepEqual(JSON.parse(lines[2]), entry(keyOf(3)), 'the new entry is a whole line of its own');
  // Reopened: the fragment is now a middle line; still skipped and reported, never fatal.
  const reopened = ResponseStore.open(dir);
  assert.equal(reopened.size, 2);
  assert.equal(reopened.tornLines, 1);
  assert.ok(reopened.has(keyOf(1)) && reopened.has(keyOf(3)));
});

test('a complete last line missing only its newline is kept and not glued to the next append', () => {
  const dir = tmpDir();
  const file = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  fs.writeFileSync(file, JSON.stringify(entry(keyOf(1))));
  const store = ResponseStore.open(dir);
  assert.equal(store.size, 1);
  assert.equal(store.tornLines, 0);
  store.put(entry(keyOf(2)));
  const reopened = ResponseStore.open(dir);
  assert.equal(reopened.size, 2);
  assert.equal(reopened.tornLines, 0);
});

test('a fragment torn by another process after open is detected at put time', () => {
  const dir = tmpDir();
  const file = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  const store = ResponseStore.open(dir);
  store.put(entry(keyOf(1)));
  fs.appendFileSync(file, '{"v":1,"key":"ab');
  store.put(entry(keyOf(2)));
  const reopened = ResponseStore.open(dir);
  assert.equal(reopened.size, 2);
  assert.equal(reopened.tornLines, 1);
});

test('fetchOnce shares one in-flight produce between identical keys, stores its result, and stores nothing on error', async () => {
  const dir = tmpDir();
  const store = ResponseStore.open(dir);
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const produce = async () => {
    calls++;
    await gate;
    return entry(keyOf(1));
  };
  const a = store.fetchOnce(keyOf(1), produce);
  const b = store.fetchOnce(keyOf(1), produce);
  release();
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(calls, 1);
  assert.equal(ra, rb);
  assert.ok(ResponseStore.open(dir).has(keyOf(1)));
  // Already stored: produce is not called at all.
  await store.fetchOnce(keyOf(1), async () => {
    calls++;
    return entry(keyOf(1));
  });
  assert.equal(calls, 1);

  await assert.rejects(
    store.fetchOnce(keyOf(2), async () => {
      throw new Error('HTTP 500');
    }),
    /HTTP 500/,
  );
  assert.ok(!store.has(keyOf(2)));
  assert.ok(!ResponseStore.open(dir).has(keyOf(2)));
  // After a failure, the key can be produced again.
  await store.fetchOnce(keyOf(2), async () => entry(keyOf(2)));
  assert.ok(store.has(keyOf(2)));
});

test('a missing store directory opens empty and is created on the first put', () => {
  const dir = path.join(tmpDir(), 'nested', 'store');
  const store = ResponseStore.open(dir);
  assert.equal(store.size, 0);
  store.put(entry(keyOf(1)));
  assert.equal(ResponseStore.open(dir).size, 1);
});

test('putDurable: concurrent appends share fsyncs, every line lands whole, and a reopened store sees them all', async () => {
  const dir = tmpDir();
  const store = ResponseStore.open(dir);
  await Promise.all(Array.from({ length: 200 }, (_, i) => store.putDurable(entry(keyOf(i), `["answer ${i}"]`))));
  assert.equal(store.size, 200);
  const file = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'the file ends with a newline');
  assert.equal(lines.length, 200);
  const reopened = ResponseStore.open(dir);
  assert.equal(reopened.size, 200);
  assert.equal(reopened.tornLines, 0);
  for (let i = 0; i < 200; i++) assert.equal(reopened.get(keyOf(i))?.raw, `["answer ${i}"]`);
});

// ---------- a store that cannot be written ----------

/** chattr +i on `file`, or false where the file system or the user cannot set the immutable attribute. */
function makeImmutable(file: string): boolean {
  return spawnSync('chattr', ['+i', file]).status === 0;
}

test('checkAppendable: creates a missing folder and file, leaves an existing file unchanged, refuses a folder, a device and an immutable file, naming the file', (t) => {
  const dir = tmpDir();
  const file = path.join(dir, 'a', 'b', storeFileName('openai', 'gpt-4o'));
  checkAppendable(file);
  assert.equal(fs.readFileSync(file, 'utf8'), '', 'created empty');
  fs.writeFileSync(file, '{"v":1}\n');
  checkAppendable(file);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"v":1}\n', 'an append of nothing changes nothing');

  const folder = path.join(dir, 'folder.jsonl');
  fs.mkdirSync(folder);
  assert.throws(
    () => checkAppendable(folder),
    (e: unknown) =>
      e instanceof StoreWriteError &&
      e.code === 'EISDIR' &&
      e.message === `the response store ${folder} cannot be written (EISDIR: illegal operation on a directory)`,
  );
  if (fs.existsSync('/dev/full')) {
    const device = path.join(dir, 'device.jsonl');
    fs.symlinkSync('/dev/full', device);
    assert.throws(() => checkAppendable(device), /device\.jsonl cannot be written \(ENOTFILE: not a regular file/);
  }
  const immutable = path.join(dir, 'immutable.jsonl');
  fs.writeFileSync(immutable, '');
  if (!makeImmutable(immutable)) return t.diagnostic('chattr +i is not available here: the immutable case is skipped');
  try {
    assert.throws(
      () => checkAppendable(immutable),
      (e: unknown) => e instanceof StoreWriteError && e.code === 'EPERM' && e.message.includes(immutable),
    );
  } finally {
    spawnSync('chattr', ['-i', immutable]);
  }
});

test('the first failed append breaks the store: ENOSPC names the file, that answer and every later one are kept in unstored, nothing more is appended', async (t) => {
  if (!fs.existsSync('/dev/full')) return t.skip('no /dev/full to fill');
  const dir = tmpDir();
  const store = ResponseStore.open(dir);
  await store.putDurable(entry(keyOf(1)));
  const file = path.join(dir, storeFileName('openai', 'gpt-4o-2024-08-06'));
  const other = path.join(dir, storeFileName('openai', 'gpt-4o-mini'));
  // The disk fills up: every write to the store file fails with a real ENOSPC from the kernel.
  fs.renameSync(file, `${file}.healthy`);
  fs.symlinkSync('/dev/full', file);
  try {
    assert.equal(store.brokenSignal.aborted, false);
    await assert.rejects(
      store.putDurable(entry(keyOf(2))),
      (e: unknown) =>
        e instanceof StoreWriteError &&
        e.code === 'ENOSPC' &&
        e.file === file &&
        e.entry?.key === keyOf(2) &&
        /cannot be written \(ENOSPC: no space left on device\)$/.test(e.message),
    );
    assert.equal(store.broken?.code, 'ENOSPC');
    assert.equal(store.brokenSignal.aborted, true, 'callers are told at once');
    assert.ok(!store.has(keyOf(2)));
    // Another model's file is healthy, but a broken store appends nothing more: its answer is kept too.
    await assert.rejects(store.putDurable(entry(keyOf(3), '["x"]', 'gpt-4o-mini')), StoreWriteError);
    assert.ok(!fs.existsSync(other), 'nothing appended after the first failure');
    assert.deepEqual(
      store.unstored.map((e) => e.key),
      [keyOf(2), keyOf(3)],
    );
    await store.putDurable(entry(keyOf(1)));
    assert.equal(store.unstored.length, 2, 'an answer already stored needs no write and is not kept again');
    assert.throws(() => store.put(entry(keyOf(4))), StoreWriteError);
    let produced = 0;
    await assert.rejects(
      store.fetchOnce(keyOf(5), async () => {
        produced++;
        return entry(keyOf(5));
      }),
      StoreWriteError,
    );
    assert.equal(produced, 0, 'nothing is produced (paid for) for a broken store');
    assert.equal(store.unstored.length, 2, 'put (answers put back from a file) keeps nothing: the file still has them');
  } finally {
    fs.rmSync(file);
    fs.renameSync(`${file}.healthy`, file);
  }
  assert.deepEqual(
    ResponseStore.open(dir)
      .all()
      .map((e) => e.key),
    [keyOf(1)],
  );
});
