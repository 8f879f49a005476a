// Every setting is checked when the configuration is loaded (issue 23): a bad value exits 2 with its key before any
// stage runs and leaves every file, stamps included, as it was; a named run's config.json is written by the run's own
// stages and a changed configuration under the same name is refused unless --force; a missing dataset with a data
// directory set is not downloaded, and its fix is printed once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NULLABLE, SETTING_RULES } from '../lib/core/config-checks';
import { ConfigError, defaultConfig, loadConfig } from '../lib/core/config';
import { runConfigChanges } from '../lib/core/run-config';
import { fileDigest } from '../lib/core/hash';
import { generateSynthetic } from '../lib/data/synthetic';
import { runCli } from './helpers/cli-child';
import { startServer, type TestServer } from './helpers/data-archives';
import { writeScratchConfig } from './helpers/scratch-config';

/** A bad value, the key the error must name, and what the message must say about it. */
type BadCase = [string, Record<string, unknown>, RegExp];

/** The issue's cases: each also goes through the command line on a prepared folder. */
const ISSUE_CASES: BadCase[] = [
  ['sample.minMatchingUsers', { sample: { minMatchingUsers: 0 } }, /whole number >= 1 .*got 0/],
  ['sample.drawsPerSetting', { sample: { drawsPerSetting: -5 } }, /whole number >= 1 .*got -5/],
  ['sample.candidateOrders', { sample: { candidateOrders: 0 } }, /whole number >= 1 .*got 0/],
  ['sample.historyLengths', { sample: { historyLengths: [0, 1, 1] } }, /lists 1 twice/],
  ['sample.historyLengths', { sample: { historyLengths: [] } }, /at least one history length.*got \[\]/],
  ['query.samples', { query: { samples: 0 } }, /whole number >= 1 .*got 0/],
  ['figures.formats', { figures: { formats: ['bmp'] } }, /unknown format "bmp" \(supported: html, svg, pdf, png\)/],
  ['curves.range', { curves: { range: [5, 1] } }, /low < high.*got \[5,1\]/],
  ['curves.order', { curves: { order: 50 } }, /at most 15, got 50/],
  [
    'query.timeoutMs',
    { query: { timeoutMs: 3_000_000_000 } },
    /at most 2147483647 \(Node's timer limit.*got 3000000000/,
  ],
  ['run', { run: 'r'.repeat(65) }, /at most 64 characters/],
];

const MORE_CASES: BadCase[] = [
  ['sample.historyLengths', { sample: { historyLengths: [0, 2.5] } }, /whole numbers >= 0, got 2\.5/],
  ['curves.range', { curves: { range: [2, 2] } }, /low < high/],
  [
    'curves.order',
    { curves: { bins: 10, order: 10 } },
    /\(10\) must be below "curves\.bins" \(10\): an order-10 fit needs 11 points/,
  ],
  ['query.batchPollSeconds', { query: { batchPollSeconds: 3_000_000 } }, /at most 2147483\.647/],
  ['run', { run: '../escape' }, /not starting with a dot/],
  ['seed', { seed: 1.5 }, /whole number .*got 1\.5/],
  ['query.seed', { query: { seed: 0.5 } }, /whole number .*got 0\.5/],
  ['query.temperature', { query: { temperature: -1 } }, /number >= 0, got -1/],
  ['query.batchDiscount', { query: { batchDiscount: 0 } }, /in \(0, 1\]/],
  ['query.outputTokensEstimate', { query: { outputTokensEstimate: 0 } }, /whole number >= 1/],
  ['sample.retries', { sample: { retries: -1 } }, /whole number >= 0, got -1/],
  ['domains', { domains: ['movielens', 'movielens'] }, /lists "movielens" twice/],
  ['domains', { domains: [] }, /at least one domain/],
  ['paths.samples', { paths: { samples: '' } }, /a folder path, got ""/],
  [
    'preprocess.movielens.minDemographicGroupSize',
    { preprocess: { movielens: { minDemographicGroupSize: 0 } } },
    /whole number >= 1/,
  ],
  ['preprocess.lastfm.regions', { preprocess: { lastfm: { regions: [] } } }, /at least one region/],
  ['figures.pngScale', { figures: { pngScale: 0 } }, /in \(0, 25\]/],
  ['figures.width', { figures: { width: 0 } }, /whole number >= 100/],
  ['curves.bootstrap', { curves: { bootstrap: 1 } }, /0 \(no intervals\) or >= 2 resamples, got 1/],
  [
    'comparisons[1]',
    {
      comparisons: [
        ['random', 'oracle'],
        ['random', 'random'],
      ],
    },
    /two different model ids/,
  ],
];

const BAD = [...ISSUE_CASES, ...MORE_CASES];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('every bad setting is refused when the configuration is loaded, naming its key and value', () => {
  for (const [key, overrides, message] of BAD) {
    assert.throws(
      () => loadConfig({ env: {}, overrides }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, `${key}: ${e}`);
        assert.match(e.message, new RegExp(`^overrides: "${escape(key)}" `), JSON.stringify(overrides));
        assert.match(e.message, message, JSON.stringify(overrides));
        return true;
      },
    );
  }
});

test('the values at the edge of each rule are accepted', () => {
  const ok: Record<string, unknown>[] = [
    { curves: { order: 15 } },
    { curves: { bins: 10, order: 9 } },
    { curves: { range: [0, 0.001] } },
    { query: { timeoutMs: 2_147_483_647 } },
    { run: 'r'.repeat(64) },
    { figures: { formats: [] } },
    { figures: { formats: ['png', 'html', 'png'] } },
    // Setup C alone draws no trajectories, so it needs no draws.
    { sample: { historyLengths: [0], drawsPerSetting: 0 } },
    { sample: { historyLengths: [20, 0, 5] } },
    { seed: -3, query: { seed: 12 } },
  ];
  for (const overrides of ok) assert.doesNotThrow(() => loadConfig({ env: {}, overrides }), JSON.stringify(overrides));
});

test('every setting of the defaults has a rule or a shape, except switches, lists of names and open maps', () => {
  const openMaps = ['datasets', 'sample.settings', 'query.models'];
  const leaves = (v: unknown, prefix: string): string[] =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && !openMaps.includes(prefix)
      ? Object.entries(v).flatMap(([k, x]) => leaves(x, prefix ? `${prefix}.${k}` : k))
      : [prefix];
  const defaults = defaultConfig();
  const unchecked = leaves(defaults, '').filter(
    (key) =>
      !openMaps.includes(key) &&
      !(key in SETTING_RULES) &&
      !(key in NULLABLE) &&
      typeof key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], defaults) !== 'boolean',
  );
  assert.deepEqual(unchecked, []);
});

test("a named run's configuration differs in parameters, not in added models, domains, or waiting and retrying", () => {
  const saved = loadConfig({ env: {}, overrides: { run: 'x' } });
  const same = (over: Record<string, unknown>) =>
    runConfigChanges(saved, loadConfig({ env: {}, overrides: { run: 'x', ...over } }));
  assert.deepEqual(same({}), []);
  assert.deepEqual(
    same({
      query: { timeoutMs: 5000, maxRetries: 2, batchWait: false, models: [{ id: 'random', concurrency: 2 }] },
      domains: ['movielens'],
      download: false,
    }),
    [],
  );
  const added = {
    id: 'extra',
    provider: 'baseline',
    model: 'random',
    concurrency: 1,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
  };
  assert.deepEqual(same({ query: { models: [added] } }), [], 'a model the saved run did not have');
  const older = structuredClone(saved) as unknown as { curves: Record<string, unknown> };
  delete older.curves.edges;
  assert.deepEqual(
    runConfigChanges(older as unknown as typeof saved, saved),
    [],
    'a setting an older version did not have',
  );
  assert.deepEqual(
    same({ query: { models: [{ id: 'random', params: { top_p: 0.5 } }] } }).map((c) => c.key),
    ['query.models.random.params'],
    "a model's optional field is a choice",
  );
  assert.deepEqual(
    runConfigChanges(loadConfig({ env: {}, overrides: { run: 'x', query: { models: [added] } } }), saved),
    [],
    'a model the saved run had and this one does not configure',
  );
  assert.deepEqual(
    same({ seed: 7, query: { models: [{ id: 'random', concurrency: 64, inputPricePerMTok: 1 }] } }).map((c) => [
      c.key,
      c.from,
      c.to,
    ]),
    [
      ['query.models.random.inputPricePerMTok', 0, 1],
      ['seed', 20250707, 7],
    ],
  );
});

// ---------------------------------------------------------------- through the command line, on a prepared folder

let root: string;
let dir: string;
let server: TestServer;
const MODELS = ['--domains', 'movielens', '--models', 'random'];

function configFile(name: string, extra: Record<string, unknown> = {}): string {
  // Outside the data folder, so writing it changes nothing the digests cover.
  return writeScratchConfig(path.join(root, name), dir, {
    sample: { drawsPerSetting: 10, settings: { movielens: { none: [], age: ['age'] } } },
    curves: { bins: 30, window: 5, bootstrap: 10 },
    ...extra,
  });
}

/** Digest of every file under the data folder (stamps, outputs, the runs' config.json, the raw data). */
function digests(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) out[name] = fileDigest(p);
  }
  return out;
}

const runConfig = (name: string) => path.join(dir, 'runs', name, 'config.json');
const readRunConfig = (name: string) => JSON.parse(fs.readFileSync(runConfig(name), 'utf8'));

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-settings-'));
  dir = path.join(root, 'data');
  generateSynthetic(path.join(dir, 'datasets'), {
    domain: 'movielens',
    users: 250,
    items: 200,
    interactions: 12000,
    seed: 3,
  });
  server = await startServer({});
  const base = await runCli(['--config', configFile('a.json'), ...MODELS]);
  assert.equal(base.code, 0, base.out);
  const named = await runCli(['--config', configFile('a.json'), ...MODELS, '--run', 'x']);
  assert.equal(named.code, 0, named.out);
});

after(async () => {
  await server.close();
});

test('each bad setting exits 2 through the CLI before any stage runs, every stamp and output as it was', async () => {
  const before = digests();
  const stamps = Object.keys(before).filter((f) => path.basename(f).startsWith('.stamp-'));
  assert.equal(
    stamps.length,
    9,
    `preprocess, then sample, query, score, plot twice (default layout and run x):\n${stamps.join('\n')}`,
  );
  for (const [key, overrides, message] of ISSUE_CASES) {
    const file = configFile('bad.json', overrides);
    const run = await runCli(['--config', file, ...MODELS, '--run', 'x']);
    assert.equal(run.code, 2, `${key}: ${run.out}`);
    assert.match(run.out, new RegExp(`bad\\.json: "${escape(key)}" `), run.out);
    assert.match(run.out, message, run.out);
    assert.doesNotMatch(run.out, /\[(preprocess|sample|query|score|plot)\]/, 'no stage ran');
  }
  const long = await runCli(['--config', configFile('a.json'), ...MODELS, '--run', 'n'.repeat(300)]);
  assert.equal(long.code, 2, long.out);
  assert.match(long.out, /--run: "n{40}…" \(300 characters\) is not a run name: .*at most 64 characters/);
  assert.deepEqual(digests(), before, 'no file changed');
});

test('a named run: config.json is written by its own stages only, and another configuration is refused unless --force', async () => {
  assert.equal(readRunConfig('x').seed, 20250707);
  // A shared stage alone writes no run configuration.
  const shared = await runCli(['--config', configFile('a.json'), ...MODELS, '--run', 'y', '--stages', 'preprocess']);
  assert.equal(shared.code, 0, shared.out);
  assert.ok(!fs.existsSync(runConfig('y')), 'preprocess wrote no config.json for run y');

  // The issue's case: a forced shared stage under another seed leaves the run's record alone.
  const seven = configFile('b.json', { seed: 7 });
  const kept = fileDigest(runConfig('x'));
  const pre = await runCli([
    '--config',
    seven,
    ...MODELS,
    '--run',
    'x',
    '--stages',
    'preprocess',
    '--force',
    'preprocess',
  ]);
  assert.equal(pre.code, 0, pre.out);
  assert.equal(fileDigest(runConfig('x')), kept, "x's config.json still holds the configuration its outputs used");

  const before = digests();
  const refused = await runCli(['--config', seven, ...MODELS, '--run', 'x']);
  assert.equal(refused.code, 2, refused.out);
  assert.match(
    refused.out,
    /run "x" was computed with another configuration \(.*config\.json\), which differs in 1 key:\n {2}seed: 20250707 → 7\n/,
  );
  assert.match(refused.out, /add --force to recompute run "x"/);
  assert.doesNotMatch(refused.out, /\[(preprocess|sample|query|score|plot)\]/, 'refused before any stage');
  assert.deepEqual(digests(), before, 'nothing changed');

  const forced = await runCli(['--config', seven, ...MODELS, '--run', 'x', '--force']);
  assert.equal(forced.code, 0, forced.out);
  assert.equal(readRunConfig('x').seed, 7);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'x', 'scores', 'summary.json'), 'utf8'));
  assert.equal(summary.parameters.movielens.seed, 7, 'the record and the outputs agree');
  const back = await runCli(['--config', configFile('a.json'), ...MODELS, '--run', 'x']);
  assert.equal(back.code, 2, back.out);
  assert.match(back.out, /seed: 7 → 20250707/);
});

test('a missing dataset with dataDir set is not downloaded, its fix is printed once, and only its own stamp is marked failed', async () => {
  const before = digests();
  const empty = path.join(root, 'empty-mirror');
  fs.mkdirSync(empty, { recursive: true });
  const file = configFile('offline.json', {
    download: true,
    dataDir: empty,
    datasets: { movielens: { url: `${server.url}/ml-1m.zip` } },
  });
  const run = await runCli(['--config', file, ...MODELS, '--stages', 'preprocess,sample', '--force', 'preprocess']);
  assert.equal(run.code, 1, run.out);
  assert.equal(server.requests.length, 0, 'no download was attempted');
  assert.match(run.out, /nothing is downloaded: "dataDir" is set/);
  const fix = `extract it so that ${path.join(empty, 'ml-1m')}/ holds`;
  assert.equal(run.out.split(fix).length - 1, 1, `the fix once:\n${run.out}`);
  assert.ok(run.seconds < 15, `no download retries (${run.seconds} s)`);
  const after = digests();
  const changed = Object.keys(before).filter((f) => before[f] !== after[f]);
  assert.deepEqual(changed, [path.join('processed', 'movielens', '.stamp-preprocess.json')]);
  const stamp = JSON.parse(fs.readFileSync(path.join(dir, changed[0]), 'utf8'));
  assert.equal(stamp.status, 'failed');
});
