// Last.fm-360K end to end through the real command line on the mirror's 1,000-profile sample (linked under the
// official file names), with the offline baselines: `npm start -- --dataset datasets/lastfm-360k.json --domains lastfm-360k`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathsUnder, repoRoot } from '../lib/core/config';
import type { ProcessedSummary, SampleCounts } from '../lib/core/types';
import { renderPrompt } from '../lib/query/prompt';
import { addDataset, loadConfig } from '../lib/core/config';
import { runPreprocess } from '../lib/data/preprocess';
import { generateSynthetic } from '../lib/data/synthetic';
import type { SampleRecord } from '../lib/core/types';

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const sampleDir = path.join(mirror, 'lastfm-360k-sample');
const OFFICIAL = ['usersha1-profile.tsv', 'usersha1-artmbid-artname-plays.tsv'];
const BASELINES = ['random', 'popularity', 'group-popularity', 'item-cf', 'oracle'];

function linkSample(root: string): string {
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(path.join(dataDir, 'lastfm-360k'), { recursive: true });
  for (const f of OFFICIAL)
    fs.symlinkSync(path.join(sampleDir, f.replace(/\.tsv$/, '.sample.tsv')), path.join(dataDir, 'lastfm-360k', f));
  return dataDir;
}

/** Users of the plays file with at least `min` distinct artists, counted straight from the raw lines. */
function usersWithArtists(min: number): Set<string> {
  const perUser = new Map<string, Set<string>>();
  for (const line of fs
    .readFileSync(path.join(sampleDir, 'usersha1-artmbid-artname-plays.sample.tsv'), 'utf8')
    .split('\n')) {
    if (!line) continue;
    const [user, , artist] = line.split('\t');
    if (!perUser.has(user)) perUser.set(user, new Set());
    perUser.get(user)!.add(artist);
  }
  return new Set([...perUser].filter(([, a]) => a.size >= min).map(([u]) => u));
}

test(
  'Last.fm-360K sample: npm start --dataset runs every stage with the offline baselines; small groups are reported',
  { timeout: 240_000, skip: !fs.existsSync(sampleDir) && `no ${sampleDir}` },
  () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-360k-'));
    const dataDir = linkSample(root);
    const configFile = path.join(root, 'run.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        download: false,
        dataDir,
        paths: pathsUnder(path.join(root, 'out')),
        sample: { drawsPerSetting: 30 },
        curves: { bins: 40, window: 5, bootstrap: 20 },
        figures: { formats: ['html'] },
      }),
    );
    const run = spawnSync(
      process.execPath,
      [
        path.join(repoRoot(), 'build', 'cli', 'main.js'),
        '--config',
        configFile,
        '--dataset',
        'datasets/lastfm-360k.json',
        '--domains',
        'lastfm-360k',
        '--models',
        BASELINES.join(','),
      ],
      {
        cwd: repoRoot(),
        env: { ...process.env, UBP_CONFIG: '', UBP_DATA_DIR: '' },
        encoding: 'utf8',
      },
    );
    const out = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, out);
    assert.match(out, /everything requested ran/);

    const summary = JSON.parse(
      fs.readFileSync(path.join(root, 'out', 'processed', 'lastfm-360k', 'summary.json'), 'utf8'),
    ) as ProcessedSummary;
    // Every kept user has >= 10 distinct artists (counted here from the raw lines), and the filters are reported.
    const rich = usersWithArtists(10);
    const users = fs
      .readFileSync(path.join(root, 'out', 'processed', 'lastfm-360k', 'users.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; proxies: Record<string, string | null> });
    assert.equal(users.length, summary.users);
    assert.ok(
      summary.users > 0 && summary.users <= rich.size,
      `${summary.users} kept of ${rich.size} with >= 10 artists`,
    );
    for (const u of users) {
      assert.ok(rich.has(u.id), `${u.id} kept with fewer than 10 artists`);
      assert.ok(
        ['Europe', 'North America', 'South America', 'United Kingdom'].includes(u.proxies.continent!),
        `${u.id} from ${u.proxies.continent}`,
      );
    }
    assert.deepEqual(
      summary.dropped.slice(0, 3).map((d) => d.reason.split(' ')[0]),
      ['continent', '(continent,', 'fewer'],
    );

    // Setup C: one prompt per proxy value present (the summary's count), one over all users for "none".
    const counts = JSON.parse(
      fs.readFileSync(path.join(root, 'out', 'samples', 'lastfm-360k', 'counts.json'), 'utf8'),
    ) as SampleCounts;
    assert.deepEqual(Object.keys(counts), [
      'none',
      'country',
      'continent',
      'gender',
      'age',
      'gender+continent',
      'age+gender+continent',
    ]);
    assert.equal(counts.none['0'], 1);
    for (const [setting, n] of Object.entries(summary.proxyValues)) assert.equal(counts[setting]['0'], n, setting);
    // The sample's users hold ~50 artists each, so long histories find too few matching users: reported, not fatal.
    assert.match(out, /fewMatchingUsers/);
    for (const m of BASELINES)
      assert.ok(fs.statSync(path.join(root, 'out', 'scores', m, 'lastfm-360k.jsonl')).size > 0, m);
    assert.match(
      fs.readFileSync(path.join(root, 'out', 'figures', 'report.html'), 'utf8'),
      /lastfm-360k|Last\.fm-360K/,
    );
  },
);

test('a Last.fm-360K prompt uses the description words: artists, and the age sentence', () => {
  const config = addDataset(loadConfig({ env: {} }), path.join(repoRoot(), 'datasets', 'lastfm-360k.json'));
  const sample: SampleRecord = {
    v: 1,
    id: 'x',
    domain: 'lastfm-360k',
    setup: 'A',
    proxy: 'age+gender+continent',
    demography: { age: '18-24', gender: 'Female', continent: 'United Kingdom' },
    history: ['a1'],
    candidates: ['a1', 'a2'],
    target: [0.5, 0.5],
    targetEntropy: 1,
    groupSize: 3,
    drawId: 'd',
    seed: 's',
  };
  const [system, user] = renderPrompt(
    sample,
    (id) => ({ a1: 'die Ärzte', a2: 'elvenking' })[id]!,
    config,
    'lastfm-360k',
  );
  assert.match(system.content, /^AI Rules/);
  assert.equal(
    user.content,
    [
      'You are proficient in recommending new artist for users to listen to based on their background, previous listening history, or a combination of both.',
      'The user is an 18-24 years old Female from the United Kingdom.',
      "The user has previously listened to the following artists: ['die Ärzte'].",
      "From the candidates listed below, recommend the next 10 artist for the user to listen to based on the user's background, previous listening history, or a combination of both.",
      'Format your response as a Python list of item names. The list must be ranked from the most likely to the least likely artist.',
      "Candidates: ['die Ärzte', 'elvenking']",
    ].join('\n\n'),
  );
});

test('the synthetic generator writes the 360K format: every user in the profiles, distinct artists per user, plays descending', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-360k-synthetic-'));
  generateSynthetic(path.join(root, 'data'), {
    domain: 'lastfm-360k',
    users: 300,
    items: 800,
    interactions: 9000,
    seed: 5,
  });
  const profiles = fs
    .readFileSync(path.join(root, 'data', 'lastfm-360k', 'usersha1-profile.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  const rows = fs
    .readFileSync(path.join(root, 'data', 'lastfm-360k', 'usersha1-artmbid-artname-plays.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
  assert.equal(profiles.length, 300);
  assert.ok(profiles.every((p) => p.length === 5 && /^[0-9a-f]{40}$/.test(p[0]) && ['m', 'f', ''].includes(p[1])));
  assert.equal(rows.length, 9000);
  const ids = new Set(profiles.map((p) => p[0]));
  const seen = new Map<string, { artists: Set<string>; last: number }>();
  for (const [user, mbid, artist, plays] of rows) {
    assert.ok(ids.has(user));
    assert.ok(mbid === '' || /^[0-9a-f-]{36}$/.test(mbid));
    const s = seen.get(user) ?? { artists: new Set<string>(), last: Infinity };
    assert.ok(!s.artists.has(artist), `${user} lists ${artist} twice`);
    assert.ok(Number(plays) <= s.last, 'plays descend within a user');
    s.artists.add(artist);
    s.last = Number(plays);
    seen.set(user, s);
  }
  // And the description reads it: every row is a distinct (user, artist) pair.
  const config = {
    ...addDataset(loadConfig({ env: {} }), path.join(repoRoot(), 'datasets', 'lastfm-360k.json')),
    dataDir: path.join(root, 'data'),
    download: false,
    paths: pathsUnder(path.join(root, 'out')),
  };
  const summary = await runPreprocess(config, 'lastfm-360k', { log: () => {} });
  const kept =
    summary.interactions + summary.dropped.reduce((n, d) => n + (d.users !== undefined ? (d.interactions ?? 0) : 0), 0);
  assert.equal(kept, 9000);
});
