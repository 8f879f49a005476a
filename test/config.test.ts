import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, defaultConfig, loadConfig, mergeConfig } from '../lib/core/config';

function tmpFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-config-'));
  const file = path.join(dir, 'c.json');
  fs.writeFileSync(file, content);
  return file;
}

test('defaults describe both domains and the paper settings', () => {
  const c = defaultConfig();
  assert.deepEqual(c.domains, ['movielens', 'lastfm']);
  assert.deepEqual(c.sample.historyLengths, [0, 1, 3, 5, 10, 20]);
  assert.equal(c.sample.K, 50);
  assert.deepEqual(Object.keys(c.sample.settings.movielens), ['none', 'age', 'gender', 'occupation', 'all']);
  assert.deepEqual(Object.keys(c.sample.settings.lastfm), [
    'none',
    'country',
    'continent',
    'gender',
    'gender+continent',
  ]);
  assert.equal(c.query.temperature, 0);
  for (const m of c.query.models) assert.ok(!/sk-|key/i.test(String(m.baseURL)), `no key in ${m.id}`);
});

test('a config file is merged over the defaults', () => {
  const file = tmpFile(
    JSON.stringify({ seed: 7, sample: { K: 20, historyLengths: [0, 1] }, curves: { range: [1, 4] } }),
  );
  const c = loadConfig({ configFile: file, env: {} });
  assert.equal(c.seed, 7);
  assert.equal(c.sample.K, 20);
  assert.deepEqual(c.sample.historyLengths, [0, 1]);
  assert.equal(c.sample.matchThreshold, 0.6, 'untouched keys keep their defaults');
  assert.deepEqual(c.curves.range, [1, 4]);
});

test('unknown keys are rejected with their full path and the file name', () => {
  const file = tmpFile(JSON.stringify({ sample: { kk: 3 } }));
  assert.throws(
    () => loadConfig({ configFile: file, env: {} }),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /c\.json/);
      assert.match(e.message, /unknown key "sample\.kk"/);
      assert.match(e.message, /matchThreshold/, 'lists the known keys');
      return true;
    },
  );
});

test('wrong types are rejected naming the key, the expected and the actual type', () => {
  const base = defaultConfig();
  assert.throws(
    () => mergeConfig(base, { sample: { K: '50' } }, 'x.json'),
    /x\.json: "sample\.K" must be a number, got string "50"/,
  );
  assert.throws(
    () => mergeConfig(base, { sample: { historyLengths: [1, 'a'] } }, 'x.json'),
    /"sample\.historyLengths\[1\]" must be a number/,
  );
  assert.throws(
    () => mergeConfig(base, { curves: { range: [1] } }, 'x.json'),
    /"curves\.range" must be null or \[low, high\], got \[1\]/,
  );
  assert.throws(() => mergeConfig(base, { domains: ['films'] }, 'x.json'), /unknown domain "films"/);
  assert.throws(() => mergeConfig(base, { score: { logBase: 1 } }, 'x.json'), /logBase/);
});

test('invalid JSON names the file', () => {
  const file = tmpFile('{ "seed": 1,, }');
  assert.throws(() => loadConfig({ configFile: file, env: {} }), /c\.json: not valid JSON/);
});

test('models are added, or replace the default with the same id field by field', () => {
  const base = defaultConfig();
  const c = mergeConfig(base, {
    query: {
      models: [
        { id: 'gpt-4o', concurrency: 4 },
        {
          id: 'qwen',
          provider: 'openai-compatible',
          model: 'Qwen/Qwen2.5-7B-Instruct',
          baseURL: 'http://127.0.0.1:8001/v1',
          apiKeyEnv: null,
          concurrency: 2,
          inputPricePerMTok: 0,
          outputPricePerMTok: 0,
        },
      ],
    },
  });
  const gpt = c.query.models.find((m) => m.id === 'gpt-4o')!;
  assert.equal(gpt.concurrency, 4);
  assert.equal(gpt.model, base.query.models.find((m) => m.id === 'gpt-4o')!.model, 'other fields kept');
  assert.equal(c.query.models.length, base.query.models.length + 1);
  assert.equal(c.query.models.at(-1)!.id, 'qwen');
  assert.equal(c.query.temperature, 0, 'query keys outside models keep defaults');
});

test('a new model must be complete and well-typed', () => {
  const base = defaultConfig();
  assert.throws(
    () => mergeConfig(base, { query: { models: [{ id: 'x', provider: 'openai' }] } }),
    /new model "x" is missing "model"/,
  );
  assert.throws(
    () => mergeConfig(base, { query: { models: [{ id: 'x', provider: 'acme' }] } }),
    /provider" must be one of/,
  );
  assert.throws(
    () => mergeConfig(base, { query: { models: [{ id: 'gpt-4o', apiKey: 'sk-123' }] } }),
    /unknown key "query\.models\[0\]\.apiKey"/,
  );
  assert.throws(() => mergeConfig(base, { query: { models: [{ id: 'gpt-4o', concurrency: 0 }] } }), /concurrency/);
});

test('UBP_DATA_DIR and UBP_CONFIG come from the environment', () => {
  const file = tmpFile(JSON.stringify({ seed: 99 }));
  const c = loadConfig({ env: { UBP_DATA_DIR: '/somewhere/datasets', UBP_CONFIG: file } });
  assert.equal(c.dataDir, '/somewhere/datasets');
  assert.equal(c.seed, 99);
});

test('proxy settings of a domain are replaced as a whole, so a user can drop settings', () => {
  const c = mergeConfig(defaultConfig(), { sample: { settings: { movielens: { none: [], age: ['age'] } } } });
  assert.deepEqual(Object.keys(c.sample.settings.movielens), ['none', 'age']);
  assert.deepEqual(Object.keys(c.sample.settings.lastfm).length, 5, 'the other domain keeps its settings');
});

test('figures: style, size in inches (presets or explicit), font size and dpi are checked with what is expected', () => {
  const ok = mergeConfig(
    defaultConfig(),
    { figures: { style: 'paper', size: { widthIn: 3.3, heightIn: 2.4 }, fontPt: 9, dpi: 600 } },
    'x.json',
  );
  assert.deepEqual(ok.figures.size, { widthIn: 3.3, heightIn: 2.4 });
  assert.equal(mergeConfig(defaultConfig(), { figures: { size: 'single-column' } }).figures.size, 'single-column');
  assert.throws(
    () => mergeConfig(defaultConfig(), { figures: { size: 'A4' } }, 'x.json'),
    /x\.json: "figures\.size" must be "single-column", "double-column", \{"widthIn": 3\.3, "heightIn": 2\.4\} or null, got "A4"/,
  );
  assert.throws(() => mergeConfig(defaultConfig(), { figures: { size: { widthIn: 3.3 } } }, 'x.json'), /figures\.size/);
  assert.throws(
    () => mergeConfig(defaultConfig(), { figures: { size: { widthIn: -1, heightIn: 2 } } }, 'x.json'),
    /figures\.size/,
  );
  assert.throws(
    () => mergeConfig(defaultConfig(), { figures: { style: 'print' } }, 'x.json'),
    /"figures\.style" must be "screen" or "paper", got "print"/,
  );
  assert.throws(
    () => mergeConfig(defaultConfig(), { figures: { fontPt: 0 } }, 'x.json'),
    /"figures\.fontPt" must be a text size in points/,
  );
  assert.throws(
    () => mergeConfig(defaultConfig(), { figures: { dpi: 10 } }, 'x.json'),
    /"figures\.dpi" must be between 50 and 2400/,
  );
});

test("score.missingPicks, curves.edges, curves.departureGap and a simulated model's departAt are validated", () => {
  const base = defaultConfig();
  assert.equal(base.score.missingPicks, 'worst');
  assert.equal(base.curves.edges, 'shrink');
  assert.equal(base.curves.departureGap, 0.1);
  assert.throws(
    () => mergeConfig(base, { score: { missingPicks: 'none' } }, 'my.json'),
    /my\.json: "score\.missingPicks" must be "worst" or "best"/,
  );
  assert.throws(() => mergeConfig(base, { curves: { edges: 'keep' } }), /"curves\.edges" must be "shrink" or "drop"/);
  assert.throws(
    () => mergeConfig(base, { curves: { departureGap: 0 } }),
    /"curves\.departureGap" must be a number > 0/,
  );
  assert.throws(() => mergeConfig(base, { curves: { bootstrap: 2.5 } }), /"curves\.bootstrap" must be a whole number/);
  const sim = {
    id: 'sim-4.1',
    provider: 'baseline',
    model: 'departure',
    departAt: 4.1,
    concurrency: 64,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
  };
  const merged = mergeConfig(base, { query: { models: [sim] } });
  assert.equal(merged.query.models.find((m) => m.id === 'sim-4.1')!.departAt, 4.1);
  const { departAt: _omit, ...noDepartAt } = sim;
  assert.throws(
    () => mergeConfig(base, { query: { models: [noDepartAt] } }),
    /model "sim-4\.1" \(baseline "departure"\) needs "departAt"/,
  );
  assert.throws(
    () => mergeConfig(base, { query: { models: [{ ...sim, departAt: '4.1' }] } }),
    /"query\.models\[0\]\.departAt" must be a finite number/,
  );
  assert.throws(
    () => mergeConfig(base, { query: { models: [{ id: 'random', departAt: 4 }] } }),
    /model "random": "departAt" applies only to provider "baseline" with model "departure"/,
  );
});
