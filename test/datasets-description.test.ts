// Dataset description files: validation (each kind of mistake names the file and the key), the generic reading
// path against hand-worked data, and the equivalence of the MovieLens description with the built-in domain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addDataset, defaultConfig, loadConfig, pathsUnder, repoRoot, type Config } from '../lib/core/config';
import { withBuiltinDescriptions } from '../lib/core/builtin-defaults';
import { changesFromDefaults } from '../lib/core/config-diff';
import { readDescription, validateDescription } from '../lib/core/description';
import { runPreprocess } from '../lib/data/preprocess';
import { ML_AGE_NAMES, ML_GENDER_NAMES, ML_OCCUPATION_NAMES } from '../lib/data/movielens';
import { parseLastfmProfiles } from '../lib/data/lastfm';
import { loadProcessed } from '../lib/data/processed';
import { runSample } from '../lib/sample/sample';
import { notebookConfig } from '../lib/notebook';
import * as stages from '../lib/stages';

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const descriptionsDir = path.join(repoRoot(), 'datasets');
const quiet = { log: () => {} };

function baseDescription(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(descriptionsDir, 'lastfm-360k.json'), 'utf8')) as Record<string, unknown>;
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function writeJson(file: string, value: unknown): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

function configFor(root: string, description: string, dataDir: string): Config {
  const c = addDataset(loadConfig({ env: {} }), description);
  return { ...c, dataDir, download: false, paths: pathsUnder(path.join(root, 'out')) };
}

test('the built-in defaults come from the shipped descriptions, not from config/default.json', () => {
  const json = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'config', 'default.json'), 'utf8'));
  // default.json says nothing a description says: no download, no settings, no filter values.
  assert.equal(json.datasets, undefined);
  assert.equal(json.sample.settings, undefined);
  assert.deepEqual(json.preprocess, { lastfm: { skipMalformedLines: false } });
  const defaults = defaultConfig();
  const ml = readDescription(path.join(descriptionsDir, 'movielens.json'));
  const fm = readDescription(path.join(descriptionsDir, 'lastfm-1k.json'));
  readDescription(path.join(descriptionsDir, 'lastfm-360k.json'));
  assert.deepEqual(defaults.sample.settings.movielens, ml.settings);
  assert.deepEqual(defaults.sample.settings.lastfm, fm.settings);
  assert.deepEqual(defaults.datasets.movielens, {
    url: ml.download.url,
    archive: 'ml-1m.zip',
    archiveMd5: 'c4d9eecfca2ab87c1945afe126590906',
    folder: 'ml-1m',
  });
  assert.deepEqual(defaults.datasets.lastfm.fileMd5, fm.download.fileMd5);
  assert.equal(defaults.datasets.lastfm.folder, 'lastfm-1k');
  // The filters as data, read as the keys the hand-written parsers take: "other" is occupation code 0.
  assert.deepEqual(defaults.preprocess.movielens, { dropOccupations: [0], minDemographicGroupSize: 30 });
  assert.deepEqual(defaults.preprocess.lastfm, {
    regions: ['Europe', 'North America', 'South America', 'United Kingdom'],
    minListeningEvents: 5000,
    skipMalformedLines: false,
  });
  // The hand-written parsers label codes with the descriptions' labels.
  assert.equal(ML_OCCUPATION_NAMES.length, 21);
  assert.deepEqual([...ML_OCCUPATION_NAMES], Object.values(ml.users.proxies.occupation.labels!));
  assert.deepEqual(
    ML_AGE_NAMES,
    Object.fromEntries(Object.entries(ml.users.proxies.age.labels!).map(([k, v]) => [Number(k), v])),
  );
  assert.deepEqual(ML_GENDER_NAMES, { M: 'Male', F: 'Female' });
  const dir = tmp('ubp-profile-');
  fs.writeFileSync(path.join(dir, 'p.tsv'), '#id\tgender\tage\tcountry\tregistered\nu1\tf\t\tPeru\t\nu2\t\t\t\t\n');
  assert.deepEqual(
    parseLastfmProfiles(path.join(dir, 'p.tsv')).map((p) => p.gender),
    [fm.users.proxies.gender.labels!.f, null],
  );
});

/** A repository root whose built-in descriptions are the shipped ones changed by `edit`. */
function rootWithDescriptions(edit: (ml: Record<string, any>, fm: Record<string, any>) => void): string {
  const root = tmp('ubp-builtin-');
  const read = (name: string) =>
    JSON.parse(fs.readFileSync(path.join(descriptionsDir, name), 'utf8')) as Record<string, any>;
  const ml = read('movielens.json');
  const fm = read('lastfm-1k.json');
  edit(ml, fm);
  writeJson(path.join(root, 'datasets', 'movielens.json'), ml);
  writeJson(path.join(root, 'datasets', 'lastfm-1k.json'), fm);
  return root;
}

test('a built-in description changes the defaults the hand-written parsers read; filters they cannot apply are refused by key', () => {
  const json = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'config', 'default.json'), 'utf8')) as Config;
  const changed = withBuiltinDescriptions(
    structuredClone(json),
    rootWithDescriptions((ml, fm) => {
      ml.filters = [
        { kind: 'dropValues', proxy: 'occupation', values: ['farmer', 'writer'] },
        { kind: 'minGroupSize', proxies: ['age', 'gender', 'occupation'], users: 12 },
      ];
      ml.settings = { none: [], gender: ['gender'] };
      fm.filters[1].min = 100;
      fm.download.url = 'https://mirror.example/lastfm-1k.tar.gz';
    }),
  );
  assert.deepEqual(changed.preprocess.movielens, { dropOccupations: [8, 20], minDemographicGroupSize: 12 });
  assert.equal(changed.preprocess.lastfm.minListeningEvents, 100);
  assert.equal(changed.preprocess.lastfm.skipMalformedLines, false);
  assert.deepEqual(changed.sample.settings.movielens, { none: [], gender: ['gender'] });
  assert.equal(changed.datasets.lastfm.url, 'https://mirror.example/lastfm-1k.tar.gz');
  const refused: [string, (ml: Record<string, any>, fm: Record<string, any>) => void, RegExp][] = [
    [
      'filters in another order',
      (ml) => ml.filters.reverse(),
      /movielens\.json: "filters\[0\]" must be a dropValues filter on "occupation" \(the built-in movielens parser reads it as "preprocess\.movielens\.dropOccupations"\)/,
    ],
    [
      'a filter the parser does not apply',
      (_ml, fm) => fm.filters.push({ kind: 'dropValues', proxy: 'gender', values: ['Male'] }),
      /lastfm-1k\.json: "filters" must hold, in this order, a keepValues filter on "continent", then a minInteractions filter/,
    ],
    [
      'an occupation without a code',
      (ml) => (ml.filters[0].values = ['astronaut']),
      /movielens\.json: "filters\[0\]\.values\[0\]" names the occupation "astronaut"/,
    ],
  ];
  for (const [what, edit, message] of refused)
    assert.throws(() => withBuiltinDescriptions(structuredClone(json), rootWithDescriptions(edit)), message, what);
});

test('a configuration overrides the description-made defaults by key, and the changes report names those keys', () => {
  const c = loadConfig({
    env: {},
    overrides: {
      preprocess: { movielens: { minDemographicGroupSize: 40 }, lastfm: { regions: ['Europe'] } },
      sample: { settings: { movielens: { none: [], age: ['age'] } } },
    },
  });
  assert.deepEqual(c.preprocess.movielens, { dropOccupations: [0], minDemographicGroupSize: 40 });
  assert.deepEqual(c.preprocess.lastfm, { regions: ['Europe'], minListeningEvents: 5000, skipMalformedLines: false });
  assert.deepEqual(c.sample.settings.movielens, { none: [], age: ['age'] });
  assert.deepEqual(c.sample.settings.lastfm, defaultConfig().sample.settings.lastfm);
  const keys = changesFromDefaults(c).map((x) => x.key);
  assert.deepEqual(keys, [
    'preprocess.lastfm.regions',
    'preprocess.movielens.minDemographicGroupSize',
    'sample.settings.movielens.all',
    'sample.settings.movielens.gender',
    'sample.settings.movielens.occupation',
  ]);
  assert.deepEqual(changesFromDefaults(loadConfig({ env: {} })), []);
  assert.throws(
    () => loadConfig({ env: {}, overrides: { preprocess: { movielens: { minDemographicGroupSize: '40' } } } }),
    /overrides: "preprocess\.movielens\.minDemographicGroupSize" must be a number, got string "40"/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { preprocess: { movielens: { minGroupSize: 40 } } } }),
    /overrides: unknown key "preprocess\.movielens\.minGroupSize" \(known keys here: dropOccupations, minDemographicGroupSize\)/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { sample: { settings: { movielens: { age: 'age' } } } } }),
    /overrides: "sample\.settings\.movielens\.age" must be an array/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { datasets: { movielens: { archiveMd5: 'abc' } } } }),
    /overrides: "datasets\.movielens\.archiveMd5" must be null or 32 hex digits/,
  );
});

test('description mistakes name the file and the key', () => {
  const file = '/x/books.json';
  const cases: [string, (d: Record<string, any>) => void, RegExp][] = [
    [
      'missing column',
      (d) => (d.users.proxies.gender.column = 'sex'),
      /\/x\/books\.json: "users\.proxies\.gender\.column" names the column "sex", which files\.profile\.columns does not have/,
    ],
    [
      'missing item column in a name template',
      (d) => (d.items.name = '{artist-name} ({year})'),
      /"items\.name" names the column "year"/,
    ],
    [
      'unknown proxy in a setting',
      (d) => (d.settings.region = ['region']),
      /\/x\/books\.json: "settings\.region\[0\]" names the proxy "region", which "users\.proxies" does not define/,
    ],
    [
      'bad separator',
      (d) => (d.files.plays.separator = ''),
      /\/x\/books\.json: "files\.plays\.separator" must be one or more characters/,
    ],
    ['separator with a line end', (d) => (d.files.plays.separator = '\n'), /"files\.plays\.separator"/],
    ['unknown filter kind', (d) => (d.filters[0].kind = 'keep'), /"filters\[0\]\.kind" must be one of dropValues/],
    [
      'a setting without a sentence',
      (d) => (d.settings.x = ['age', 'country']),
      /"prompt\.demography" has no sentence for "age\+country", which the setting "x" needs/,
    ],
    [
      'an unsorted sentence key',
      (d) => (d.prompt.demography['gender+age'] = 'The user is {a} {age} {gender}.'),
      /"prompt\.demography\.gender\+age" must name its proxies sorted/,
    ],
    [
      'a placeholder outside the key',
      (d) => (d.prompt.demography.age = 'The user is {age} from {country}.'),
      /"prompt\.demography\.age" uses the placeholder \{country\}/,
    ],
    ['unknown key', (d) => (d.users.colour = 'x'), /"users\.colour" is not a known key/],
    [
      'missing key',
      (d) => delete d.interactions.user,
      /\/x\/books\.json: "interactions\.user" must be a non-empty string, but it is missing/,
    ],
    [
      'bad checksum',
      (d) => (d.download.archiveMd5 = 'abc'),
      /"download\.archiveMd5" must be 32 lower-case hex digits or null/,
    ],
    [
      'overlapping age groups',
      (d) => (d.users.proxies.age.groups[1].min = 17),
      /"users\.proxies\.age\.groups" ranges "Under 18" and "18-24" overlap/,
    ],
    [
      'derived from nothing',
      (d) => (d.users.proxies.continent.derive.from = 'city'),
      /"users\.proxies\.continent\.derive\.from" names "city"/,
    ],
    [
      'count filter without a count column',
      (d) => {
        delete d.interactions.count;
        delete d.interactions.minCount;
        d.filters[2].of = 'count';
      },
      /"filters\[2\]\.of" is "count" but "interactions\.count" names no count column/,
    ],
  ];
  for (const [what, mutate, message] of cases) {
    const d = baseDescription();
    mutate(d);
    assert.throws(() => validateDescription(d, file), message, what);
  }
  assert.doesNotThrow(() => validateDescription(baseDescription(), file));
});

/** A tiny described dataset: books with readers' age and country, worked by hand below. */
function writeBooks(
  root: string,
  opts: { separator?: string; labels?: Record<string, string> } = {},
): { description: string; dataDir: string } {
  const sep = opts.separator ?? ',';
  const dataDir = path.join(root, 'data');
  const folder = path.join(dataDir, 'books');
  fs.mkdirSync(folder, { recursive: true });
  const readers = [
    'id,sex,age,country',
    'r1,F,30,France',
    'r2,M,41,France',
    'r3,F,17,Japan',
    'r4,M,,Germany',
    'r5,F,29,Germany',
    'r6,F,200,France',
  ];
  // r2 read b1 twice (counted once, pages summed); r5 has one book only; b9 is read by the Japanese reader only.
  const reads = [
    'reader,book,pages',
    'r1,b1,10',
    'r1,b2,5',
    'r2,b1,3',
    'r2,b1,4',
    'r2,b3,1',
    'r3,b9,2',
    'r3,b1,2',
    'r4,b2,8',
    'r4,b3,8',
    'r5,b2,0',
    'r6,b3,1',
    'r6,b1,1',
  ];
  const books = ['isbn,title,author', 'b1,Dune,Herbert', 'b2,Emma,Austen', 'b3,Ubik,Dick', 'b9,Kokoro,Soseki'];
  fs.writeFileSync(path.join(folder, 'readers.csv'), `${readers.join('\n').replaceAll(',', sep)}\n`);
  fs.writeFileSync(path.join(folder, 'reads.csv'), `${reads.join('\n')}\n`);
  fs.writeFileSync(path.join(folder, 'books.csv'), `${books.join('\n')}\n`);
  const description = writeJson(path.join(root, 'books.json'), {
    name: 'books',
    title: 'Books',
    folder: 'books',
    files: {
      readers: {
        names: ['readers.csv'],
        separator: ',',
        encoding: 'utf8',
        header: true,
        columns: ['id', 'sex', 'age', 'country'],
      },
      reads: {
        names: ['reads.csv'],
        separator: ',',
        encoding: 'utf8',
        header: true,
        columns: ['reader', 'book', 'pages'],
      },
      books: {
        names: ['books.csv'],
        separator: ',',
        encoding: 'utf8',
        header: true,
        columns: ['isbn', 'title', 'author'],
      },
    },
    users: {
      file: 'readers',
      id: 'id',
      proxies: {
        gender: { column: 'sex', labels: opts.labels ?? { F: 'Female', M: 'Male' } },
        age: {
          column: 'age',
          groups: [
            { label: 'young', min: 13, max: 35 },
            { label: 'older', min: 35, max: 90 },
          ],
        },
        country: { column: 'country' },
        continent: { derive: { from: 'country', kind: 'continent' } },
      },
    },
    items: { file: 'books', id: 'isbn', name: '{title} by {author}' },
    interactions: { file: 'reads', user: 'reader', item: 'book', count: 'pages', minCount: 1 },
    filters: [
      { kind: 'keepValues', proxy: 'continent', values: ['Europe'] },
      { kind: 'minInteractions', of: 'items', min: 2 },
    ],
    settings: { none: [], gender: ['gender'], age: ['age'] },
    prompt: {
      itemSingular: 'book',
      itemPlural: 'books',
      verb: 'read',
      verbPast: 'read',
      historyNoun: 'reading',
      demography: { gender: 'The user is {a} {gender}.', age: 'The user is {age}.' },
    },
    download: { url: 'https://example.org/books.zip', archive: 'books.zip', archiveMd5: null },
  });
  return { description, dataDir };
}

test('a described dataset is read and filtered as worked by hand', async () => {
  const root = tmp('ubp-books-');
  const { description, dataDir } = writeBooks(root);
  const config = configFor(root, description, dataDir);
  assert.ok(config.domains.includes('books'));
  const summary = await runPreprocess(config, 'books', quiet);
  // r3 (Japan, Asia) leaves at the region filter; r5's only row has 0 pages (< minCount 1), so 0 items < 2.
  const data = loadProcessed(path.join(root, 'out', 'processed', 'books'));
  assert.deepEqual(
    data.users.map((u) => u.id),
    ['r1', 'r2', 'r4', 'r6'],
  );
  assert.deepEqual(
    data.users.map((u) => u.proxies),
    [
      { gender: 'Female', age: 'young', country: 'France', continent: 'Europe' },
      { gender: 'Male', age: 'older', country: 'France', continent: 'Europe' },
      { gender: 'Male', age: null, country: 'Germany', continent: 'Europe' },
      // 200 is in no age group: unknown.
      { gender: 'Female', age: null, country: 'France', continent: 'Europe' },
    ],
  );
  // The whole catalogue in books.csv order (C1 is drawn from it); Kokoro was read only by r3, who left, so 3 of the 4
  // items have a kept reader.
  assert.deepEqual(
    data.items.map((i) => [i.id, i.name]),
    [
      ['b1', 'Dune by Herbert'],
      ['b2', 'Emma by Austen'],
      ['b3', 'Ubik by Dick'],
      ['b9', 'Kokoro by Soseki'],
    ],
  );
  assert.equal(summary.interactedItems, 3);
  assert.deepEqual(
    data.userItems.map((l) => Array.from(l)),
    [
      [0, 1],
      [0, 2],
      [1, 2],
      [0, 2],
    ],
  );
  // r2's two b1 rows: 3 + 4 pages.
  assert.deepEqual(
    data.userCounts.map((l) => Array.from(l!)),
    [
      [10, 5],
      [7, 1],
      [8, 8],
      [1, 1],
    ],
  );
  assert.equal(summary.interactions, 8);
  assert.deepEqual(summary.proxyValues, { gender: 2, age: 2 });
  const reasons = summary.dropped.map((d) => [d.reason, d.users ?? null, d.interactions ?? null, d.items ?? null]);
  assert.deepEqual(reasons, [
    ['continent unknown or not among Europe', 1, 2, null],
    ['fewer than 2 distinct items', 1, 0, null],
    ['repeated (user, item) rows counted once (counts summed)', null, 1, null],
    ['rows with pages below 1', null, 1, null],
  ]);
});

test('data mistakes against the description name the file, the line and the key', async () => {
  const root = tmp('ubp-books-bad-');
  const semi = writeBooks(path.join(root, 'a'), { separator: ';' });
  await assert.rejects(
    runPreprocess(configFor(path.join(root, 'a'), semi.description, semi.dataDir), 'books', quiet),
    (e: Error) => {
      // The header line is checked against "columns" first.
      assert.match(
        e.message,
        /readers\.csv:1: the header line names 1 column \("id;sex;age;country"\), but .* lists 4/,
      );
      assert.match(e.message, /looks semicolon-separated: check "separator"/);
      return true;
    },
  );
  const extra = writeBooks(path.join(root, 'b'), { labels: { F: 'Female', M: 'Male', X: 'Other' } });
  await assert.rejects(
    runPreprocess(configFor(path.join(root, 'b'), extra.description, extra.dataDir), 'books', quiet),
    (e: Error) => {
      assert.match(
        e.message,
        /books\.json: "users\.proxies\.gender\.labels\.X" labels a value that does not occur in column "sex" of .*readers\.csv/,
      );
      return true;
    },
  );
  const few = writeBooks(path.join(root, 'c'), { labels: { F: 'Female' } });
  await assert.rejects(
    runPreprocess(configFor(path.join(root, 'c'), few.description, few.dataDir), 'books', quiet),
    /readers\.csv:3: field "sex": value "M" has no label in .*books\.json "users\.proxies\.gender\.labels"/,
  );
});

test(
  'the MovieLens description read by the generic path under another name equals the built-in movielens domain',
  { timeout: 240_000 },
  async () => {
    const root = tmp('ubp-equivalence-');
    const copy = writeJson(path.join(root, 'movielens-generic.json'), {
      ...JSON.parse(fs.readFileSync(path.join(descriptionsDir, 'movielens.json'), 'utf8')),
      name: 'movielens-generic',
    });
    const base = configFor(root, copy, mirror);
    const config: Config = { ...base, sample: { ...base.sample, drawsPerSetting: 30 } };
    const builtIn = await runPreprocess(config, 'movielens', quiet);
    const generic = await runPreprocess(config, 'movielens-generic', quiet);
    const dirOf = (d: string) => path.join(root, 'out', 'processed', d);
    for (const f of ['users.jsonl', 'items.jsonl', 'interactions.jsonl']) {
      assert.ok(
        fs
          .readFileSync(path.join(dirOf('movielens'), f))
          .equals(fs.readFileSync(path.join(dirOf('movielens-generic'), f))),
        `${f} differs`,
      );
    }
    assert.equal(generic.domain, 'movielens-generic');
    const numbers = (s: typeof builtIn) => ({
      users: s.users,
      items: s.items,
      interactions: s.interactions,
      proxyValues: s.proxyValues,
      source: s.source,
      dropped: s.dropped.map((d) => [d.users, d.items, d.interactions]),
    });
    assert.deepEqual(numbers(generic), numbers(builtIn));
    // The count independently established in test/preprocess.test.ts (awk on users.dat): 3,727 users remain.
    assert.equal(builtIn.users, 3727);

    // Samples: seeds are keyed by the domain name (another domain draws independently), so the generic output is
    // sampled under the name "movielens" and must then give the built-in domain's samples byte for byte.
    const relabelled = { ...config, paths: pathsUnder(path.join(root, 'relabelled')) };
    const target = path.join(root, 'relabelled', 'processed', 'movielens');
    fs.mkdirSync(target, { recursive: true });
    for (const f of ['users.jsonl', 'items.jsonl', 'interactions.jsonl'])
      fs.copyFileSync(path.join(dirOf('movielens-generic'), f), path.join(target, f));
    writeJson(path.join(target, 'summary.json'), { ...generic, domain: 'movielens' });
    runSample(config, 'movielens', quiet);
    runSample(relabelled, 'movielens', quiet);
    const samples = (r: string) => fs.readFileSync(path.join(r, 'samples', 'movielens', 'samples.jsonl'));
    assert.ok(samples(path.join(root, 'out')).length > 0);
    assert.ok(samples(path.join(root, 'out')).equals(samples(path.join(root, 'relabelled'))), 'samples differ');
  },
);

test('"datasets" in a config file adds a described domain as --dataset does; a name mismatch is an error', () => {
  const root = tmp('ubp-books-config-');
  const { description } = writeBooks(root);
  const c = loadConfig({ env: {}, overrides: { datasets: { books: { description } } } });
  assert.deepEqual(c.domains, ['movielens', 'lastfm', 'books']);
  assert.equal(c.datasets.books.url, 'https://example.org/books.zip');
  assert.equal(c.datasets.books.folder, 'books');
  assert.deepEqual(c.sample.settings.books, { none: [], gender: ['gender'], age: ['age'] });
  // Values the configuration gives win over the description's.
  const d = loadConfig({
    env: {},
    overrides: {
      domains: ['books'],
      datasets: { books: { description, folder: 'my-books' } },
      sample: { settings: { books: { none: [] } } },
    },
  });
  assert.deepEqual(d.domains, ['books']);
  assert.equal(d.datasets.books.folder, 'my-books');
  assert.deepEqual(d.sample.settings.books, { none: [] });
  assert.throws(
    () => loadConfig({ env: {}, overrides: { datasets: { novels: { description } } } }),
    /books\.json: "name" is "books", but the configuration lists it under "datasets\.novels"/,
  );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { domains: ['books'] } }),
    /"domains" has unknown domain "books"/,
  );
});

test("editing a description makes its domain's preprocess stale; an unchanged one stays up to date", async () => {
  const root = tmp('ubp-books-stale-');
  const { description, dataDir } = writeBooks(root);
  const config = configFor(root, description, dataDir);
  const upToDate = async (c: typeof config) =>
    (await stages.runStage(c, { stage: 'preprocess', domain: 'books' }, { log: () => {} })).status === 'up-to-date';
  await stages.preprocess(config, 'books', { log: () => {} });
  assert.equal(await upToDate(config), true);
  const edited = JSON.parse(fs.readFileSync(description, 'utf8'));
  edited.filters[1].min = 1;
  writeJson(description, edited);
  // The description cache is keyed by modification time; make sure the edit is seen as one even within a tick.
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(description, later, later);
  assert.equal(await upToDate(configFor(root, description, dataDir)), false);
});

test('the example description in docs/datasets.md is valid', () => {
  const page = fs.readFileSync(path.join(repoRoot(), 'docs', 'datasets.md'), 'utf8');
  const section = page.slice(page.indexOf('## Use your own dataset'));
  const json = /```json\n([\s\S]*?)```/.exec(section);
  assert.ok(json, 'docs/datasets.md "Use your own dataset" holds a ```json example');
  const d = validateDescription(JSON.parse(json[1]), 'docs/datasets.md');
  assert.deepEqual(Object.keys(d.settings), ['none', 'gender', 'age', 'gender+age']);
});

test('a notebook takes over a described domain\'s upstream stamps (config file "datasets", UBP_DOMAIN-style domain)', async () => {
  const root = tmp('ubp-books-notebook-');
  const { description, dataDir } = writeBooks(root);
  const file = writeJson(path.join(root, 'config.json'), {
    dataDir,
    download: false,
    paths: pathsUnder(path.join(root, 'out')),
    datasets: { books: { description } },
    sample: { K: 2, historyLengths: [0, 1], minMatchingUsers: 1, drawsPerSetting: 5 },
    query: { topN: 2 },
  });
  // notebookConfig reads the environment as a notebook would; UBP_DATA_DIR (set for the test suite) would win over dataDir.
  const before = { config: process.env.UBP_CONFIG, dataDir: process.env.UBP_DATA_DIR };
  process.env.UBP_CONFIG = file;
  delete process.env.UBP_DATA_DIR;
  try {
    const first = notebookConfig({ stage: 'preprocess', domain: 'books' });
    assert.ok(first.config.domains.includes('books'));
    await stages.preprocess(first.config, 'books', { log: () => {} });
    await stages.sample(notebookConfig({ stage: 'sample', domain: 'books' }).config, 'books', { log: () => {} });
    const later = notebookConfig({ stage: 'score', domain: 'books' });
    assert.deepEqual(later.config.sample.settings.books, { none: [], gender: ['gender'], age: ['age'] });
    assert.equal(later.config.sample.K, 2);
  } finally {
    for (const [key, value] of [
      ['UBP_CONFIG', before.config],
      ['UBP_DATA_DIR', before.dataDir],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});
