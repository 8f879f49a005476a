import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, type Config, pathsUnder } from '../lib/core/config';
import { invertIndex, writeProcessed, type ProcessedDomain, type ProcessedInput } from '../lib/data/processed';
import { makeRng, randomInt } from '../lib/core/rng';
import { sampleDomain, sampleTrajectory } from '../lib/sample/algorithm';
import { readableSample } from '../lib/sample/display';
import { loadSamples, runSample } from '../lib/sample/sample';
import { PAPER_SAMPLE_COUNTS, formatSampleCounts, sampleCountRows } from '../lib/sample/table1';
import { FORMAT_VERSION, type SampleRecord, type UserRecord } from '../lib/core/types';
import { checkRecord, type PlainUser } from './helpers/sample-properties';

const quiet = { log: () => {} };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-sample-'));
}

/** Processed data in memory plus the same data as plain sets, for the independent checks. */
interface Fixture {
  input: ProcessedInput;
  data: ProcessedDomain;
  plain: PlainUser[];
}

function fromInput(input: ProcessedInput): Fixture {
  const userItems = input.userItems.map((l) => Int32Array.from(l));
  const data: ProcessedDomain = {
    domain: input.domain,
    users: input.users,
    items: input.items,
    userItems,
    userCounts: userItems.map(() => null),
    itemUsers: invertIndex(userItems, input.items.length),
    itemIndex: new Map(input.items.map((it, i) => [it.id, i])),
    userIndex: new Map(input.users.map((u, i) => [u.id, i])),
    summary: input.summary,
  };
  const plain = input.users.map((u, k) => ({
    proxies: u.proxies,
    items: new Set(Array.from(input.userItems[k], (i) => input.items[i].id)),
  }));
  return { input, data, plain };
}

function summaryOf(domain: 'movielens' | 'lastfm', users: number, items: number, interactions: number) {
  return {
    v: FORMAT_VERSION,
    domain,
    users,
    items,
    interactions,
    proxyValues: {},
    dropped: [],
    source: { dir: 'memory', files: {} },
  };
}

/**
 * 150 users with age (3 values, some unknown) and gender; 400 items. Each user takes items from an age-specific block
 * (so groups share items and longer histories still match) plus popularity-skewed items; items 360.. are never used.
 */
function generated(seed = 7): Fixture {
  const rng = makeRng(`fixture-${seed}`);
  const ages = ['18-24', '25-34', '35-44'];
  const users: UserRecord[] = [];
  const userItems: number[][] = [];
  for (let u = 0; u < 150; u++) {
    const a = randomInt(rng, 3);
    const age = rng() < 0.1 ? null : ages[a];
    const gender = rng() < 0.5 ? 'F' : 'M';
    users.push({ v: FORMAT_VERSION, id: `u${u}`, proxies: { age, gender } });
    const set = new Set<number>();
    const n = 15 + randomInt(rng, 50);
    while (set.size < n) {
      if (rng() < 0.6) set.add(a * 60 + randomInt(rng, 60 / (gender === 'F' ? 2 : 1)));
      else set.add(Math.floor(360 * rng() ** 2));
    }
    userItems.push([...set].sort((x, y) => x - y));
  }
  const items = Array.from({ length: 400 }, (_, i) => ({
    v: FORMAT_VERSION,
    id: String(1000 + i),
    name: `Movie ${i} (19${50 + (i % 50)})`,
  }));
  const interactions = userItems.reduce((s, l) => s + l.length, 0);
  return fromInput({
    domain: 'movielens',
    users,
    items,
    userItems,
    summary: summaryOf('movielens', users.length, items.length, interactions),
  });
}

function configFor(dir: string, sample: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      paths: pathsUnder(dir),
      sample: {
        K: 20,
        drawsPerSetting: 60,
        settings: { movielens: { none: [], age: ['age'], gender: ['gender'], all: ['age', 'gender'] } },
        ...sample,
      },
      ...extra,
    },
  });
}

function checkAll(fx: Fixture, config: Config, samples: SampleRecord[]): void {
  const o = {
    K: config.sample.K,
    threshold: config.sample.matchThreshold,
    minMatching: config.sample.minMatchingUsers,
    logBase: config.score.logBase,
    settings: config.sample.settings[fx.data.domain],
    allItems: fx.input.items.map((it) => it.id),
  };
  for (const rec of samples) checkRecord(fx.plain, rec, o);
}

test('every record of generated data has the properties of issue 3 (history from the group)', () => {
  const fx = generated();
  const config = configFor(tmpDir());
  const { samples, counts, stops } = sampleDomain(fx.data, config, quiet);
  assert.ok(samples.length > 200, `expected many prompts, got ${samples.length}`);
  checkAll(fx, config, samples);
  // History items come from the items the demographic group interacted with.
  for (const r of samples.filter((s) => s.setup !== 'C')) {
    const group = fx.plain.filter((u) => Object.entries(r.demography).every(([k, v]) => u.proxies[k] === v));
    for (const id of r.history)
      assert.ok(
        group.some((u) => u.items.has(id)),
        `${r.id}: history item ${id} not interacted with by the group`,
      );
  }
  // Setup C: one prompt per value present (age: 3 values; unknown ages excluded), one for none, 6 for age × gender.
  assert.deepEqual(Object.fromEntries(Object.entries(counts).map(([s, c]) => [s, c['0']])), {
    none: 1,
    age: 3,
    gender: 2,
    all: 6,
  });
  // counts.json tallies the records.
  for (const [setting, perH] of Object.entries(counts)) {
    for (const [h, n] of Object.entries(perH)) {
      assert.equal(
        samples.filter((s) => s.proxy === setting && s.history.length === Number(h)).length,
        n,
        `${setting} h${h}`,
      );
    }
  }
  assert.deepEqual(Object.keys(counts.age), ['0', '1', '3', '5', '10', '20']);
  // Trajectories walk the lengths in increasing order and stop at the first failure (no fewC2Items skips here).
  const lengths = [1, 3, 5, 10, 20];
  const byDraw = new Map<string, SampleRecord[]>();
  for (const s of samples.filter((r) => r.setup !== 'C')) byDraw.set(s.drawId, [...(byDraw.get(s.drawId) ?? []), s]);
  assert.ok(byDraw.size > 3 * 60, `most draws emit h = 1 (got ${byDraw.size})`);
  const skipped = Object.values(stops).some((perH) => Object.values(perH).some((r) => r.fewC2Items));
  assert.equal(skipped, false);
  for (const [id, recs] of byDraw) {
    const hs = recs.map((r) => r.history.length);
    assert.deepEqual(hs, lengths.slice(0, hs.length), `${id}: lengths form a prefix of ${lengths}`);
    assert.ok(
      recs.every((r) => JSON.stringify(r.demography) === JSON.stringify(recs[0].demography)),
      `${id}: one group per draw`,
    );
    assert.match(id, /^movielens\/(none|age|gender|all)\/d\d{4}$/);
    recs.forEach((r) => assert.equal(r.id, `${id}/h${r.history.length}`));
  }
  // Some trajectories stop (fewer than 3 matching users at long histories), and the stops are counted.
  const stopped = Object.values(stops).reduce(
    (n, perH) => n + Object.values(perH).reduce((m, r) => m + (r.fewMatchingUsers ?? 0), 0),
    0,
  );
  const emitted20 = Object.values(counts).reduce((n, c) => n + c['20'], 0);
  assert.ok(stopped > 0, 'expected some trajectories to stop');
  assert.equal(stopped + emitted20, 4 * 60, 'every draw either reaches h = 20 or stops exactly once');
});

test('history sources "catalogue" and "user" keep every property', () => {
  const fx = generated(11);
  for (const historySource of ['catalogue', 'user'] as const) {
    const config = configFor(tmpDir(), { historySource, drawsPerSetting: 40 });
    const { samples } = sampleDomain(fx.data, config, quiet);
    checkAll(fx, config, samples);
    const ab = samples.filter((s) => s.setup !== 'C');
    assert.ok(ab.length > 40, `${historySource}: ${ab.length} A/B prompts`);
    if (historySource === 'user') {
      for (const r of ab) {
        const group = fx.plain.filter((u) => Object.entries(r.demography).every(([k, v]) => u.proxies[k] === v));
        assert.ok(
          group.some((u) => r.history.every((id) => u.items.has(id))),
          `${r.id}: some group member holds the whole history`,
        );
      }
    } else {
      // Items 360..399 nobody interacted with: the catalogue source reaches them, so some draws must fail at h = 1.
      const everyone = new Set(fx.plain.flatMap((u) => [...u.items]));
      const groupOnly = sampleDomain(fx.data, configFor(tmpDir(), { drawsPerSetting: 40 }), quiet).counts;
      assert.ok(
        samples.filter((s) => s.history.length === 1).length < Object.values(groupOnly).reduce((n, c) => n + c['1'], 0),
      );
      assert.ok(ab.every((r) => r.history.every((id) => everyone.has(id)) || r.groupSize >= 3));
    }
  }
});

test('Last.fm-shaped data: default music settings, unknown proxy values, "+" in setting and group names', () => {
  const rng = makeRng('lastfm-fixture');
  const countries: [string, string][] = [
    ['Poland', 'Europe'],
    ['Germany', 'Europe'],
    ['United States', 'North America'],
    ['Brazil', 'South America'],
    ['United Kingdom', 'United Kingdom'],
  ];
  const users: UserRecord[] = [];
  const userItems: number[][] = [];
  for (let u = 0; u < 90; u++) {
    const c = randomInt(rng, countries.length);
    const gender = rng() < 0.15 ? null : rng() < 0.5 ? 'Female' : 'Male';
    users.push({
      v: 1,
      id: `user_${String(u).padStart(6, '0')}`,
      proxies: { country: countries[c][0], continent: countries[c][1], gender },
    });
    const set = new Set<number>();
    const n = 40 + randomInt(rng, 80);
    while (set.size < n) set.add(rng() < 0.5 ? c * 80 + randomInt(rng, 80) : Math.floor(600 * rng() ** 3));
    userItems.push([...set].sort((x, y) => x - y));
  }
  // 600 tracks the users listened to plus 20 nobody did: the catalogue is the whole dataset, so C1 can hold K/2.
  const items = Array.from({ length: 620 }, (_, i) => ({
    v: 1,
    id: `t${i.toString(16).padStart(8, '0')}`,
    name: `Track ${i} - Artist ${i % 37}`,
  }));
  const fx = fromInput({
    domain: 'lastfm',
    users,
    items,
    userItems,
    summary: summaryOf(
      'lastfm',
      90,
      620,
      userItems.reduce((n, l) => n + l.length, 0),
    ),
  });
  const config = configFor(tmpDir(), {
    K: 30,
    drawsPerSetting: 40,
    settings: { lastfm: loadConfig({ env: {} }).sample.settings.lastfm },
  });
  const { samples, counts } = sampleDomain(fx.data, config, quiet);
  checkAll(fx, config, samples);
  assert.deepEqual(Object.keys(counts), ['none', 'country', 'continent', 'gender', 'gender+continent']);
  assert.deepEqual(Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, c['0']])), {
    none: 1,
    country: 5,
    continent: 4,
    gender: 2,
    'gender+continent': 8,
  });
  assert.ok(samples.some((r) => r.id === 'lastfm/gender+continent/C/Female+Europe'));
  assert.ok(
    samples
      .filter((r) => r.proxy.startsWith('gender'))
      .every((r) => r.demography.gender === 'Female' || r.demography.gender === 'Male'),
    'users of unknown gender belong to no gender group',
  );
  assert.ok(samples.some((r) => /^lastfm\/gender\+continent\/d\d{4}\/h3$/.test(r.id)));
});

test('target distribution on hand-made data (setup C) matches values worked out by hand', () => {
  // F: u0 {0,1,2}, u1 {0,1}; M: u2 {3,4}, u3 {3}; items 5..9 untouched. K = 4: C1 = 2, C2 = 2.
  const users: UserRecord[] = [
    { v: 1, id: 'u0', proxies: { gender: 'F' } },
    { v: 1, id: 'u1', proxies: { gender: 'F' } },
    { v: 1, id: 'u2', proxies: { gender: 'M' } },
    { v: 1, id: 'u3', proxies: { gender: 'M' } },
  ];
  const items = Array.from({ length: 10 }, (_, i) => ({ v: 1, id: `i${i}`, name: `Item ${i}` }));
  const fx = fromInput({
    domain: 'movielens',
    users,
    items,
    userItems: [[0, 1, 2], [0, 1], [3, 4], [3]],
    summary: summaryOf('movielens', 4, 10, 8),
  });
  for (const [logBase, hM] of [
    [2, Math.log2(3) - 2 / 3],
    [Math.E, Math.log(3) - (2 / 3) * Math.log(2)],
  ] as const) {
    const config = configFor(
      tmpDir(),
      { K: 4, historyLengths: [0], settings: { movielens: { gender: ['gender'] } } },
      { score: { logBase }, query: { topN: 4 } },
    );
    const { samples } = sampleDomain(fx.data, config, quiet);
    assert.deepEqual(
      samples.map((s) => s.id),
      ['movielens/gender/C/F', 'movielens/gender/C/M'],
    );
    const [f, m] = samples;
    // M: C2 must be {i3 (2 users), i4 (1 user)} → target 2/3, 1/3; entropy log2 3 − 2/3 bits.
    const mTarget = Object.fromEntries(m.candidates.map((c, k) => [c, m.target[k]]));
    assert.equal(mTarget.i3, 2 / 3);
    assert.equal(mTarget.i4, 1 / 3);
    assert.ok(Math.abs(m.targetEntropy - hM) < 1e-12, `M entropy ${m.targetEntropy} vs ${hM}`);
    assert.equal(m.groupSize, 2);
    // F: C2 is two of {i0 (2), i1 (2), i2 (1)} → {1/2, 1/2} or {2/3, 1/3}.
    const fMass = f.target
      .filter((p) => p > 0)
      .sort()
      .reverse();
    assert.ok(
      JSON.stringify(fMass) === JSON.stringify([0.5, 0.5]) || JSON.stringify(fMass) === JSON.stringify([2 / 3, 1 / 3]),
      `F target ${fMass}`,
    );
    for (const [c, p] of f.candidates.map((c, k) => [c, f.target[k]] as const))
      if (p === 0) assert.ok(!['i0', 'i1', 'i2'].includes(c));
  }
});

test('C1 always holds K/2 never-interacted items; a catalogue that cannot fill it is an error naming the setting (hand-made data)', () => {
  // u0 {0,1,2,3}, u1 {0,1,4,5}, u2 {0,6,7}: 8 interacted items. With 10 catalogue items only 8 and 9 were never
  // interacted with, fewer than K/2 = 5 for "none" (all users): an error, not a refill of C1 from C2.
  const users: UserRecord[] = [0, 1, 2].map((u) => ({ v: 1, id: `u${u}`, proxies: {} }));
  const userItems = [
    [0, 1, 2, 3],
    [0, 1, 4, 5],
    [0, 6, 7],
  ];
  const catalogue = (n: number) => Array.from({ length: n }, (_, i) => ({ v: 1, id: `i${i}`, name: `Item ${i}` }));
  const config = configFor(tmpDir(), { K: 10, historyLengths: [0], settings: { movielens: { none: [] } } });
  const small = fromInput({
    domain: 'movielens',
    users,
    items: catalogue(10),
    userItems,
    summary: summaryOf('movielens', 3, 10, 11),
  });
  assert.throws(
    () => sampleDomain(small.data, config, { log: () => {} }),
    /sample movielens\/none \(all users, setup C, 3 users\): C1 needs 5 catalogue items \(K\/2, K = 10\) that no matching user interacted with, but only 2 of the 10 catalogue items are/,
  );
  // 13 catalogue items (5 never interacted with: 8..12): C1 = those 5 (target 0), C2 = 5 of the 8 interacted items.
  const full = fromInput({
    domain: 'movielens',
    users,
    items: catalogue(13),
    userItems,
    summary: summaryOf('movielens', 3, 13, 11),
  });
  const { samples, stops } = sampleDomain(full.data, config, { log: () => {} });
  assert.equal(samples.length, 1);
  const [r] = samples;
  const p = Object.fromEntries(r.candidates.map((c, k) => [c, r.target[k]]));
  for (const id of ['i8', 'i9', 'i10', 'i11', 'i12']) assert.equal(p[id], 0, `${id} is in C1`);
  assert.equal(r.candidates.filter((c) => Number(c.slice(1)) < 8).length, 5, 'C2: 5 interacted items');
  assert.ok(r.target.filter((t) => t > 0).length === 5);
  assert.deepEqual(stops.none ?? {}, {});
});

test('runSample writes byte-identical files for the same seed, different samples for another seed', () => {
  const fx = generated();
  const dirs = [tmpDir(), tmpDir(), tmpDir()];
  const read = (d: string, f: string) => fs.readFileSync(path.join(d, 'samples', 'movielens', f));
  dirs.forEach((d, k) => {
    writeProcessed(path.join(d, 'processed', 'movielens'), fx.input);
    runSample(configFor(d, {}, { seed: k === 2 ? 99 : 12345 }), 'movielens', quiet);
  });
  assert.ok(
    read(dirs[0], 'samples.jsonl').equals(read(dirs[1], 'samples.jsonl')),
    'same seed ⇒ byte-identical samples.jsonl',
  );
  assert.ok(read(dirs[0], 'counts.json').equals(read(dirs[1], 'counts.json')));
  assert.ok(
    !read(dirs[0], 'samples.jsonl').equals(read(dirs[2], 'samples.jsonl')),
    'different seed ⇒ different samples',
  );
  const a = loadSamples(configFor(dirs[0]), 'movielens');
  const c = loadSamples(configFor(dirs[2]), 'movielens');
  const sameCandidates = a.filter((r) => {
    const o = c.find((x) => x.id === r.id);
    return o && JSON.stringify(o.candidates) === JSON.stringify(r.candidates);
  });
  assert.equal(sameCandidates.length, 0, 'no prompt keeps its candidate list under another seed');
  // counts.json: setting → history length (strings) → count.
  const counts = JSON.parse(read(dirs[0], 'counts.json').toString());
  assert.deepEqual(Object.keys(counts), ['none', 'age', 'gender', 'all']);
  assert.equal(counts.age['0'], 3);
  assert.equal(
    a.length,
    Object.values(counts as Record<string, Record<string, number>>).reduce(
      (n, c) => n + Object.values(c).reduce((x, y) => x + y, 0),
      0,
    ),
  );
});

test('settings are independent, more draws keep the earlier ones, sampleTrajectory reproduces a draw', () => {
  const fx = generated();
  const d = tmpDir();
  const full = sampleDomain(fx.data, configFor(d), quiet).samples;
  const ageOnly = sampleDomain(fx.data, configFor(d, { settings: { movielens: { age: ['age'] } } }), quiet).samples;
  assert.deepEqual(
    ageOnly,
    full.filter((s) => s.proxy === 'age'),
  );
  const more = sampleDomain(fx.data, configFor(d, { drawsPerSetting: 80 }), quiet).samples;
  for (const s of full)
    assert.deepEqual(
      more.find((x) => x.id === s.id),
      s,
    );
  const traj = sampleTrajectory(fx.data, configFor(d), 'all', 17, [1, 3, 5, 10, 20]);
  assert.ok(traj.length > 0);
  assert.deepEqual(
    traj,
    full.filter((s) => s.drawId === 'movielens/all/d0017'),
  );
});

test('larger groups are drawn more often (the group is the group of a random user)', () => {
  const fx = generated();
  const config = configFor(tmpDir(), {
    historyLengths: [1],
    drawsPerSetting: 1500,
    minMatchingUsers: 1,
    settings: { movielens: { gender: ['gender'] } },
  });
  const { samples } = sampleDomain(fx.data, config, quiet);
  const share = samples.filter((s) => s.demography.gender === 'F').length / samples.length;
  const expected = fx.plain.filter((u) => u.proxies.gender === 'F').length / fx.plain.length;
  assert.equal(samples.length, 1500);
  // Binomial standard error at n = 1500 is about 0.013; allow 4 of them.
  assert.ok(
    Math.abs(share - expected) < 0.052,
    `F drawn ${share.toFixed(3)} of the time, population share ${expected.toFixed(3)}`,
  );
});

test('the C2 shortfall of a draw skips that length and is counted; a C2 shortfall in setup C is an error', () => {
  // 5 users in one group, each with 6 items of which 4 shared: C2 (K − K/2 = 6) needs 6 items outside the history.
  const users: UserRecord[] = Array.from({ length: 5 }, (_, u) => ({ v: 1, id: `u${u}`, proxies: { gender: 'F' } }));
  const userItems = users.map((_, u) => [0, 1, 2, 3, 4 + 2 * u, 5 + 2 * u]);
  const items = Array.from({ length: 40 }, (_, i) => ({ v: 1, id: `i${i}`, name: `Item ${i}` }));
  const fx = fromInput({ domain: 'movielens', users, items, userItems, summary: summaryOf('movielens', 5, 40, 30) });
  const config = configFor(tmpDir(), {
    K: 12,
    historyLengths: [0, 1, 3],
    drawsPerSetting: 30,
    minMatchingUsers: 1,
    settings: { movielens: { gender: ['gender'] } },
  });
  const { samples, stops, counts } = sampleDomain(fx.data, config, quiet);
  checkAll(fx, config, samples);
  const skips = (stops.gender['1']?.fewC2Items ?? 0) + (stops.gender['3']?.fewC2Items ?? 0);
  assert.ok(skips > 0, 'some lengths cannot fill C2 (e.g. a history item held only by one user)');
  assert.equal(counts.gender['1'] + counts.gender['3'] + skips + (stops.gender['3']?.fewMatchingUsers ?? 0), 60);
  // The group interacted with 14 items: a history of 20 cannot be drawn from them, so every trajectory stops there.
  const long = configFor(tmpDir(), {
    K: 12,
    historyLengths: [20],
    drawsPerSetting: 5,
    minMatchingUsers: 1,
    settings: { movielens: { gender: ['gender'] } },
  });
  const longRun = sampleDomain(fx.data, long, quiet);
  assert.equal(longRun.samples.length, 0);
  assert.deepEqual(longRun.stops.gender, { '20': { fewHistoryItems: 5 } });
  const big = configFor(tmpDir(), { K: 30, historyLengths: [0], settings: { movielens: { gender: ['gender'] } } });
  assert.throws(
    () => sampleDomain(fx.data, big, quiet),
    /movielens\/gender \(group F, setup C, 5 users\): C2 needs 15 items .* only 14/,
  );
});

test('impossible requests fail clearly', () => {
  const fx = generated();
  const d = tmpDir();
  assert.throws(
    () => sampleDomain(fx.data, configFor(d, { K: 401 }), quiet),
    /K = 401 candidates requested but the movielens catalogue holds only 400 items/,
  );
  assert.throws(
    () => sampleDomain(fx.data, configFor(d, { settings: { movielens: { job: ['occupation'] } } }), quiet),
    /setting "job" names proxy "occupation", which the movielens data does not have \(its proxies: age, gender\)/,
  );
  assert.throws(() => sampleTrajectory(fx.data, configFor(d), 'age', 0, [0, 1, 3]), /needs history lengths > 0, got 0/);
  assert.throws(() => sampleTrajectory(fx.data, configFor(d), 'age', 0, [1, 1]), /lists 1 twice/);
  assert.throws(() => sampleTrajectory(fx.data, configFor(d), 'nope', 0, [1]), /no setting "nope"/);
  assert.throws(
    () => sampleDomain(fx.data, configFor(d, { historyLengths: [0, 1, 3, 3] }), quiet),
    /"sample.historyLengths" lists 3 twice/,
  );
  assert.throws(() => configFor(d, { historyLengths: [0, -1] }), /historyLengths/);
  const bypass = configFor(d);
  bypass.sample.historyLengths = [0, -1];
  assert.throws(() => sampleDomain(fx.data, bypass, quiet), /whole numbers >= 0, got -1/);
  const noSettings = configFor(d);
  delete (noSettings.sample.settings as Partial<Config['sample']['settings']>).movielens;
  assert.throws(() => sampleDomain(fx.data, noSettings, quiet), /no entry for domain "movielens"/);
});

test('loadSamples explains a missing file and names file, line and field of a malformed record', () => {
  const d = tmpDir();
  const config = configFor(d);
  assert.throws(
    () => loadSamples(config, 'movielens'),
    /samples\.jsonl is missing; run the sample stage first \(npm start -- --stages sample\)/,
  );
  const fx = generated();
  writeProcessed(path.join(d, 'processed', 'movielens'), fx.input);
  runSample(config, 'movielens', quiet);
  const file = path.join(d, 'samples', 'movielens', 'samples.jsonl');
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(loadSamples(config, 'movielens').length, lines.length - 1);
  fs.writeFileSync(file, [lines[0], '{"id": oops', ...lines.slice(1)].join('\n'));
  assert.throws(
    () => loadSamples(config, 'movielens'),
    new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not valid JSON`),
  );
  const rec = JSON.parse(lines[1]);
  rec.target = rec.target.slice(1);
  fs.writeFileSync(file, [lines[0], JSON.stringify(rec), ''].join('\n'));
  assert.throws(
    () => loadSamples(config, 'movielens'),
    /samples\.jsonl:2: field "target" must have one probability per candidate \(20\), got 19/,
  );
  fs.writeFileSync(file, `${lines[0]}\n${lines[1].slice(0, 30)}`);
  assert.throws(() => loadSamples(config, 'movielens'), /samples\.jsonl:2: the last line is cut off/);
});

test('helpers: readable sample and Table 1 beside the paper', () => {
  const fx = generated();
  const { samples, counts } = sampleDomain(fx.data, configFor(tmpDir()), quiet);
  const r = samples.find((s) => s.setup === 'A' && s.history.length === 3)!;
  const readable = readableSample(r, fx.data);
  assert.equal(readable.history.length, 3);
  assert.equal(readable.history[0].name, fx.input.items[Number(r.history[0]) - 1000].name);
  assert.equal(readable.candidates.filter((c) => c.kind === 'C1').length, 10);
  assert.ok(readable.candidates.every((c) => (c.kind === 'C1') === (c.target === 0)));
  const rows = sampleCountRows(counts, PAPER_SAMPLE_COUNTS.movielens);
  const none0 = rows.find((x) => x.setting === 'none' && x.historyLength === 0)!;
  assert.deepEqual(none0, { setting: 'none', historyLength: 0, setup: 'C', ours: 1, paper: 1 });
  // Only what we sampled: the paper's other settings and lengths are not rows of ours.
  assert.deepEqual([...new Set(rows.map((x) => x.setting))].sort(), Object.keys(counts).sort());
  assert.equal(
    rows.length,
    Object.values(counts).reduce((n, byH) => n + Object.keys(byH).length, 0),
  );
  assert.equal(
    rows.find((x) => x.setting === 'occupation'),
    undefined,
  );
  const all20 = rows.find((x) => x.setting === 'all' && x.historyLength === 20);
  if (all20) assert.equal(all20.paper, null, 'the paper has no All row at h = 20');
  assert.match(formatSampleCounts(rows), /^setting +h +setup +ours +paper\nnone \(Def\) +0 +C +1 +1\n/);
});
