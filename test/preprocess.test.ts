import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, repoRoot, pathsUnder } from '../lib/core/config';
import { readJsonl } from '../lib/core/io';
import { loadProcessed } from '../lib/data/processed';
import { countProxyValues, demographicTables, runPreprocess, type DemographicTables } from '../lib/data/preprocess';
import { generateSynthetic } from '../lib/data/synthetic';
import type { InteractionRecord, ItemRecord, ProcessedSummary, UserRecord } from '../lib/core/types';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-'));
const quiet = { log: () => undefined };

function configFor(root: string, dataDir: string, over: Record<string, unknown> = {}) {
  return loadConfig({
    overrides: { dataDir, download: false, paths: pathsUnder(root), ...over },
    env: {},
  });
}

function readOut(dir: string) {
  return {
    users: readJsonl<UserRecord>(path.join(dir, 'users.jsonl')).records,
    items: readJsonl<ItemRecord>(path.join(dir, 'items.jsonl')).records,
    inter: readJsonl<InteractionRecord>(path.join(dir, 'interactions.jsonl')).records,
    summary: JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as ProcessedSummary,
  };
}

test('MovieLens filters on hand-made data: occupation 0 dropped, small groups dropped, every movie kept in the catalogue', async () => {
  const root = tmp();
  const ml = path.join(root, 'data', 'ml-1m');
  fs.mkdirSync(ml, { recursive: true });
  // groups: (25-34, M, programmer) 3 users; (18-24, F, college/grad student) 2; occupation 0: 2; (56+, F, retired) 1
  fs.writeFileSync(
    path.join(ml, 'users.dat'),
    '1::M::25::12::1\n2::M::25::12::1\n3::M::25::12::1\n4::F::18::4::1\n5::F::18::4::1\n6::M::35::0::1\n7::M::35::0::1\n8::F::56::13::1\n',
  );
  fs.writeFileSync(
    path.join(ml, 'movies.dat'),
    Buffer.from(
      '10::Misérables, Les (1995)::Drama\n20::Heat (1995)::Action\n30::Matrix, The (1999)::Sci-Fi\n40::Only Dropped (1990)::Drama\n',
      'latin1',
    ),
  );
  fs.writeFileSync(
    path.join(ml, 'ratings.dat'),
    '1::20::5::1\n1::10::4::1\n2::10::3::1\n3::30::2::1\n4::20::1::1\n5::20::5::1\n6::40::4::1\n7::10::2::1\n8::40::3::1\n8::30::1::1\n',
  );
  const config = configFor(root, path.join(root, 'data'), {
    preprocess: { movielens: { minDemographicGroupSize: 2 } },
  });
  let tables: DemographicTables | null = null;
  const summary = await runPreprocess(config, 'movielens', { ...quiet, onTables: (t) => (tables = t) });
  const out = readOut(path.join(root, 'processed', 'movielens'));
  assert.deepEqual(
    out.users.map((u) => u.id),
    ['1', '2', '3', '4', '5'],
  );
  assert.deepEqual(out.users[0].proxies, { age: '25-34', gender: 'Male', occupation: 'programmer' });
  assert.deepEqual(out.users[3].proxies, { age: '18-24', gender: 'Female', occupation: 'college/grad student' });
  assert.deepEqual(
    out.items.map((i) => [i.id, i.name]),
    [
      ['10', 'Misérables, Les (1995)'],
      ['20', 'Heat (1995)'],
      ['30', 'Matrix, The (1999)'],
      ['40', 'Only Dropped (1990)'], // rated by dropped users only: still in the catalogue, a possible C1 item
    ],
  );
  assert.deepEqual(
    out.inter.map((r) => r.items),
    [[0, 1], [0], [2], [1], [1]],
  );
  assert.equal(summary.users, 5);
  assert.equal(summary.items, 4);
  assert.equal(summary.interactedItems, 3);
  assert.equal(summary.interactions, 6);
  assert.deepEqual(summary.proxyValues, { age: 2, gender: 2, occupation: 2, all: 2 });
  assert.deepEqual(summary.dropped, [
    { reason: 'occupation 0 ("other" or not specified)', users: 2, interactions: 2 },
    { reason: '(age, gender, occupation) group with fewer than 2 users', users: 1, interactions: 2 },
  ]);
  assert.deepEqual(out.summary, summary);
  const t = tables as unknown as DemographicTables;
  assert.deepEqual(
    t.steps.map((s) => s.users),
    [8, 6, 5],
  );
  assert.equal(t.groupsBefore.shape[0], 4);
  assert.deepEqual(t.groupsAfter['users'].values, [3, 2]);
});

const PROFILE = [
  '#id\tgender\tage\tcountry\tregistered',
  'u1\tm\t\tUnited Kingdom\t',
  'u2\tf\t\tGermany\t',
  'u3\t\t\tUnited States\t',
  'u4\tm\t\tJapan\t',
  'u5\tf\t\t\t',
  'u6\tm\t\tBrazil\t',
  'u7\tf\t\tRussian Federation\t',
].join('\n');

function ev(user: string, artist: string, track: string): string {
  return `${user}\t2009-05-04T23:08:57Z\t\t${artist}\t\t${track}`;
}

test('Last.fm filters on hand-made data: regions, minimum events, proxies and counts', async () => {
  const root = tmp();
  const dir = path.join(root, 'data', 'lastfm-1k');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'userid-profile.tsv'), `${PROFILE}\n`);
  const events = [
    ev('u1', 'Art "A"', 'a'),
    ev('u1', 'Art "A"', 'a'),
    ev('u1', 'Art B', 'b'),
    ev('u2', 'Art "A"', 'a'),
    ev('u2', 'Art C', 'c'),
    ev('u2', 'Art C', 'c'),
    ev('u2', 'Art C', 'c'),
    ev('u3', 'Art D', 'd'),
    ev('u3', 'Art D', 'd'),
    ev('u3', 'Art "A"', 'a'),
    ev('u4', 'Art E', 'e'),
    ev('u4', 'Art E', 'e'),
    ev('u4', 'Art E', 'e'),
    ev('u4', 'Art E', 'e'),
    ev('u4', 'Art E', 'e'),
    ev('u5', 'Art "A"', 'a'),
    ev('u5', 'Art "A"', 'a'),
    ev('u5', 'Art "A"', 'a'),
    ev('u6', 'Art F', 'f'),
    ev('u6', 'Art F', 'f'),
    ev('u7', 'Art G', 'g'),
    ev('u7', 'Art G', 'g'),
    ev('u7', 'Art G', 'g'),
  ];
  fs.writeFileSync(path.join(dir, 'userid-timestamp-artid-artname-traid-traname.tsv'), `${events.join('\n')}\n`);
  const config = configFor(root, path.join(root, 'data'), { preprocess: { lastfm: { minListeningEvents: 3 } } });
  const summary = await runPreprocess(config, 'lastfm', quiet);
  const out = readOut(path.join(root, 'processed', 'lastfm'));
  assert.deepEqual(out.users, [
    { v: 1, id: 'u1', proxies: { country: 'United Kingdom', continent: 'United Kingdom', gender: 'Male' } },
    { v: 1, id: 'u2', proxies: { country: 'Germany', continent: 'Europe', gender: 'Female' } },
    { v: 1, id: 'u3', proxies: { country: 'United States', continent: 'North America', gender: null } },
  ]);
  // Every track of the events file, in order of first appearance; e, f, g only have dropped listeners.
  assert.deepEqual(
    out.items.map((i) => i.name),
    ['a - Art "A"', 'b - Art B', 'c - Art C', 'd - Art D', 'e - Art E', 'f - Art F', 'g - Art G'],
  );
  assert.equal(summary.items, 7);
  assert.equal(summary.interactedItems, 4);
  assert.deepEqual(
    out.inter.map((r) => [r.items, r.counts]),
    [
      [
        [0, 1],
        [2, 1],
      ],
      [
        [0, 2],
        [1, 3],
      ],
      [
        [0, 3],
        [1, 2],
      ],
    ],
  );
  assert.equal(summary.interactions, 6);
  assert.deepEqual(summary.proxyValues, { country: 3, continent: 3, gender: 2, 'gender+continent': 2 });
  assert.deepEqual(summary.dropped, [
    { reason: 'no country in the profile', users: 1, interactions: 1 },
    { reason: 'region Asia not among Europe, North America, South America, United Kingdom', users: 2, interactions: 2 },
    { reason: 'fewer than 3 listening events (2 events in all)', users: 1, interactions: 1 },
  ]);
});

test('Last.fm events of a user missing from the profile file are an error with file and line', async () => {
  const root = tmp();
  const dir = path.join(root, 'data', 'lastfm-1k');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'userid-profile.tsv'), `${PROFILE}\n`);
  fs.writeFileSync(
    path.join(dir, 'userid-timestamp-artid-artname-traid-traname.tsv'),
    `${ev('u1', 'A', 'a')}\n${ev('u9', 'A', 'a')}\n`,
  );
  await assert.rejects(
    runPreprocess(configFor(root, path.join(root, 'data')), 'lastfm', quiet),
    /traname\.tsv:2: field "userid": unknown user "u9": not in .*userid-profile\.tsv/,
  );
});

test('countProxyValues counts combinations among users whose values are all known', () => {
  const u = (p: Record<string, string | null>): UserRecord => ({ v: 1, id: 'x', proxies: p });
  const users = [u({ g: 'M', c: 'EU' }), u({ g: 'F', c: 'EU' }), u({ g: null, c: 'NA' }), u({ g: 'M', c: 'EU' })];
  assert.deepEqual(countProxyValues(users, { none: [], g: ['g'], c: ['c'], both: ['g', 'c'] }), {
    g: 2,
    c: 2,
    both: 2,
  });
});

test('synthetic data in the raw formats runs through preprocess deterministically, with group structure', async () => {
  const root = tmp();
  const data = path.join(root, 'data');
  generateSynthetic(data, {
    domain: 'movielens',
    users: 600,
    items: 400,
    interactions: 36000,
    seed: 3,
    gzip: true,
    timestamps: false,
  });
  generateSynthetic(data, { domain: 'lastfm', users: 40, items: 2000, interactions: 120000, seed: 3 });
  assert.ok(fs.existsSync(path.join(data, 'ml-1m', 'ratings.dat.gz')));
  // The raw formats' awkward parts are present: latin-1 bytes in titles, empty MBIDs, quote characters in names.
  assert.ok(
    fs.readFileSync(path.join(data, 'ml-1m', 'movies.dat')).some((b) => b > 0x7f),
    'latin-1 titles',
  );
  const evLines = fs
    .readFileSync(path.join(data, 'lastfm-1k', 'userid-timestamp-artid-artname-traid-traname.tsv'), 'utf8')
    .split('\n', 2000);
  assert.ok(
    evLines.some((l) => l.split('\t')[2] === '') && evLines.some((l) => l.split('\t')[4] === ''),
    'empty MBIDs',
  );
  assert.ok(
    evLines.some((l) => /["']/.test(l)),
    'quote characters in names',
  );
  const config = configFor(root, data, { preprocess: { lastfm: { minListeningEvents: 1000 } } });
  const ml = await runPreprocess(config, 'movielens', quiet);
  assert.ok(
    ml.proxyValues.all >= 2,
    `some (age, gender, occupation) groups survive the >= 30 filter: ${JSON.stringify(ml.proxyValues)}`,
  );
  const lf = await runPreprocess(config, 'lastfm', quiet);
  assert.ok(lf.users > 5 && lf.items > 100, JSON.stringify(lf));
  const loaded = loadProcessed(path.join(root, 'processed', 'movielens'));
  assert.equal(loaded.users.length, ml.users);

  // Same config and seed ⇒ byte-identical output.
  const root2 = tmp();
  generateSynthetic(path.join(root2, 'data'), {
    domain: 'lastfm',
    users: 40,
    items: 2000,
    interactions: 120000,
    seed: 3,
  });
  const config2 = configFor(root2, path.join(root2, 'data'), { preprocess: { lastfm: { minListeningEvents: 1000 } } });
  await runPreprocess(config2, 'lastfm', quiet);
  for (const f of ['users.jsonl', 'items.jsonl', 'interactions.jsonl']) {
    assert.deepEqual(
      fs.readFileSync(path.join(root2, 'processed', 'lastfm', f)),
      fs.readFileSync(path.join(root, 'processed', 'lastfm', f)),
      f,
    );
  }

  // Users of the same demographic group share taste: item overlap within an (age, gender, occupation) group beats
  // overlap across two groups.
  const byGroup = new Map<string, number[]>();
  loaded.users.forEach((u, i) => {
    const key = `${u.proxies.age}|${u.proxies.gender}|${u.proxies.occupation}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), i]);
  });
  const [g1, g2] = [...byGroup.values()].sort((a, b) => b.length - a.length);
  const jaccard = (a: Int32Array, b: Int32Array) => {
    const s = new Set(a);
    let both = 0;
    for (const x of b) if (s.has(x)) both++;
    return both / (a.length + b.length - both);
  };
  const mean = (pairs: [number, number][]) =>
    pairs.reduce((s, [a, b]) => s + jaccard(loaded.userItems[a], loaded.userItems[b]), 0) / pairs.length;
  const within: [number, number][] = [];
  const across: [number, number][] = [];
  for (let i = 0; i < 15; i++) {
    for (let j = i + 1; j < 15; j++) within.push([g1[i], g1[j]]);
    for (let j = 0; j < 15; j++) across.push([g1[i], g2[j]]);
  }
  assert.ok(
    mean(within) > 1.5 * mean(across),
    `within ${mean(within).toFixed(3)} vs across ${mean(across).toFixed(3)}`,
  );
});

const mirror = () => {
  const dir = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
  return fs.existsSync(path.join(dir, 'ml-1m', 'users.dat')) ? dir : null;
};

test("real MovieLens mirror: proxy values after filtering match the paper's Table 1 (Def) rows", async (t) => {
  const dir = mirror();
  if (!dir) return t.skip('the dataset mirror is not available');
  const root = tmp();
  const config = configFor(root, dir);
  const summary = await runPreprocess(config, 'movielens', quiet);
  // Table 1: Age (Def) 7, Gender (Def) 2, Occupation (Def) 17, All (Def) 51.
  assert.deepEqual(summary.proxyValues, { age: 7, gender: 2, occupation: 17, all: 51 });
  // 6,040 users; 711 have occupation 0 (counted independently with awk on users.dat); 3,727 remain.
  assert.equal(summary.users, 3727);
  assert.equal(summary.dropped[0].users, 711);
  const tables = await demographicTables(config, 'movielens', quiet);
  assert.equal(tables.groupsAfter.shape[0], 51);
  assert.equal(
    (tables.groupsBefore['users'].values as number[]).reduce((a, b) => a + b, 0),
    6040,
  );
});
