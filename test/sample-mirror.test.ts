// The sample stage on the real MovieLens-1M mirror: preprocess into a temp dir, sample with the default configuration,
// check the properties of issue 3 independently, and compare the setup-C rows with the paper's Table 1.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, repoRoot, pathsUnder } from '../lib/core/config';
import { runPreprocess } from '../lib/data/preprocess';
import { loadSamples, runSample } from '../lib/sample/sample';
import { PAPER_SAMPLE_COUNTS, formatSampleCounts, sampleCountRows } from '../lib/sample/table1';
import { checkRecord, type PlainUser } from './helpers/sample-properties';

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const hasMirror = fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'));

/** The processed files read line by line with JSON.parse, not through loadProcessed and its inverted index. */
function plainUsers(dir: string): PlainUser[] {
  const lines = (f: string) =>
    fs
      .readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l.trim());
  const items = lines('items.jsonl').map((l) => JSON.parse(l).id as string);
  const itemsOf = new Map(
    lines('interactions.jsonl').map((l) => {
      const r = JSON.parse(l) as { user: string; items: number[] };
      return [r.user, new Set(r.items.map((i) => items[i]))];
    }),
  );
  return lines('users.jsonl').map((l) => {
    const u = JSON.parse(l) as { id: string; proxies: Record<string, string | null> };
    return { proxies: u.proxies, items: itemsOf.get(u.id) ?? new Set<string>() };
  });
}

test(
  "MovieLens mirror: Algorithm 1 properties, and the setup-C rows equal the paper's Table 1",
  { skip: hasMirror ? false : `no dataset mirror at ${mirror}` },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-sample-mirror-'));
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: mirror,
        download: false,
        paths: pathsUnder(dir),
      },
    });
    await runPreprocess(config, 'movielens', { log: () => {} });
    const t0 = Date.now();
    const { counts } = runSample(config, 'movielens', { log: () => {} });
    const seconds = (Date.now() - t0) / 1000;
    const samples = loadSamples(config, 'movielens');

    console.log(`our Table 1 (MovieLens mirror, default configuration, sampled in ${seconds.toFixed(1)} s):`);
    console.log(formatSampleCounts(sampleCountRows(counts, PAPER_SAMPLE_COUNTS.movielens)));

    // Setup C: one prompt per proxy value present after the paper's filters, as in the paper's "(Def)" rows.
    assert.deepEqual(Object.fromEntries(Object.entries(counts).map(([s, c]) => [s, c['0']])), {
      none: 1,
      age: 7,
      gender: 2,
      occupation: 17,
      all: 51,
    });
    for (const [s, perH] of Object.entries(counts)) {
      assert.equal(perH['1'] > 250, true, `${s}: most draws emit h = 1 (got ${perH['1']})`);
      assert.ok(
        perH['1'] >= perH['3'] && perH['3'] >= perH['5'] && perH['5'] >= perH['10'] && perH['10'] >= perH['20'],
        `${s}: counts fall with h`,
      );
    }

    const processed = path.join(dir, 'processed', 'movielens');
    const users = plainUsers(processed);
    const allItems = fs
      .readFileSync(path.join(processed, 'items.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l).id as string);
    const o = {
      K: config.sample.K,
      threshold: config.sample.matchThreshold,
      minMatching: config.sample.minMatchingUsers,
      logBase: config.score.logBase,
      settings: config.sample.settings.movielens,
      allItems,
    };
    // Every setup-C prompt and every 13th other prompt, recomputed by brute force over all users.
    const checked = samples.filter((r, k) => r.setup === 'C' || k % 13 === 0);
    const t1 = Date.now();
    for (const rec of checked) checkRecord(users, rec, o);
    console.log(`checked ${checked.length} prompts by brute force in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    assert.ok(checked.length > 400, `checked ${checked.length} prompts`);
    assert.equal(
      samples.filter((r) => r.setup !== 'C' && r.groupSize < 3).length,
      0,
      'no draw with fewer than 3 matching users',
    );
    // The "none" prompt of setup C stands for every kept user.
    assert.equal(samples.find((r) => r.id === 'movielens/none/C/all')?.groupSize, users.length);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
