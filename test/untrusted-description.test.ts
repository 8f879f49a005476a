// A description file (and a configuration) is untrusted input (issue 23): nothing it names may reach outside its
// folder, extraction deletes nothing it did not create, data that contradicts the description is an error naming
// file:line, user-named keys find own properties only, and domain names cannot collide. Each case is a reproduction
// from the issue; every refusal at load is checked to leave every file of the scratch folder byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadConfig, pathsUnder, repoRoot, type Config } from '../lib/core/config';
import { validateDescription } from '../lib/core/description';
import { locateDataset } from '../lib/data/datasets';
import { runPreprocess } from '../lib/data/preprocess';
import { loadProcessed } from '../lib/data/processed';
import { runCli } from './helpers/cli-child';
import { makeZip } from './helpers/data-archives';

const quiet = { log: () => {} };
const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

const READERS = 'id,sex,age,country\nr1,F,30,France\nr2,M,41,Germany\nr3,F,29,France\n';
const READS = 'reader,book,pages\nr1,b1,10\nr1,b2,5\nr2,b1,3\nr2,b2,4\nr3,b1,1\nr3,b2,2\n';
const BOOKS = 'isbn,title,author\nb1,Dune,Herbert\nb2,Emma,Austen\n';

type Json = Record<string, any>;

/** The books description (three CSV files with headers) of test/datasets-description.test.ts, smaller. */
function booksDescription(edit: (d: Json) => void = () => {}): Json {
  const table = (names: string[], columns: string[]) => ({
    names,
    separator: ',',
    encoding: 'utf8',
    header: true,
    columns,
  });
  const d: Json = {
    name: 'books',
    title: 'Books',
    folder: 'books',
    files: {
      readers: table(['readers.csv'], ['id', 'sex', 'age', 'country']),
      reads: table(['reads.csv'], ['reader', 'book', 'pages']),
      books: table(['books.csv'], ['isbn', 'title', 'author']),
    },
    users: {
      file: 'readers',
      id: 'id',
      proxies: { gender: { column: 'sex', labels: { F: 'Female', M: 'Male' } }, country: { column: 'country' } },
    },
    items: { file: 'books', id: 'isbn', name: '{title} by {author}' },
    interactions: { file: 'reads', user: 'reader', item: 'book', count: 'pages' },
    filters: [{ kind: 'minInteractions', of: 'items', min: 1 }],
    settings: { none: [], gender: ['gender'] },
    prompt: {
      itemSingular: 'book',
      itemPlural: 'books',
      verb: 'read',
      verbPast: 'read',
      historyNoun: 'reading',
      demography: { gender: 'The user is {a} {gender}.' },
    },
    download: { url: 'https://example.org/books.zip', archive: 'books.zip', archiveMd5: null },
  };
  edit(d);
  return d;
}

function writeJson(file: string, value: unknown): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

type Files = { readers?: string | Buffer; reads?: string | Buffer; books?: string | Buffer };

/** The description under root/books.json and its files under root/data/books/ (dataDir root/data). */
function writeBooks(
  root: string,
  files: Files = {},
  edit?: (d: Json) => void,
): { description: string; dataDir: string } {
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(path.join(dataDir, 'books'), { recursive: true });
  const all = { readers: READERS, reads: READS, books: BOOKS, ...files };
  for (const [name, content] of Object.entries(all))
    fs.writeFileSync(path.join(dataDir, 'books', `${name}.csv`), content);
  return { description: writeJson(path.join(root, 'books.json'), booksDescription(edit)), dataDir };
}

function configFor(root: string, description: string, dataDir: string | null): Config {
  const c = loadConfig({ env: {}, datasets: [description] });
  return { ...c, dataDir, download: false, paths: pathsUnder(path.join(root, 'out')) };
}

/** Every file under `dir` (symbolic links as their target text) with its sha256: compared before and after a run. */
function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p);
      if (e.isSymbolicLink()) out[rel] = `-> ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) {
        out[`${rel}/`] = 'dir';
        walk(p);
      } else out[rel] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/**
 * A scratch layout as a new user's: the stage folders under dir/data (paths.raw = dir/data/raw), a response store
 * holding paid answers, another dataset already in data/raw, the description's archive beside it, and a folder
 * beside data/ that belongs to someone else.
 */
function scratch(): { dir: string; data: string; config: string } {
  const dir = tmp('ubp-untrusted-');
  const data = path.join(dir, 'data');
  const paths = pathsUnder(data);
  const store = paths.store;
  fs.mkdirSync(store, { recursive: true });
  const answer = (i: number) => JSON.stringify({ v: 1, key: `k${i}`, text: `answer ${i}` });
  fs.writeFileSync(path.join(store, 'openai--gpt-5-mini.jsonl'), `${[1, 2, 3].map(answer).join('\n')}\n`);
  fs.writeFileSync(path.join(store, 'openai--gpt-4o.jsonl'), `${answer(4)}\n`);
  fs.mkdirSync(path.join(paths.raw, 'ml-1m'), { recursive: true });
  fs.writeFileSync(path.join(paths.raw, 'ml-1m', 'users.dat'), '1::F::1::10::48067\n');
  const csv = (s: string) => Buffer.from(s);
  fs.writeFileSync(
    path.join(paths.raw, 'books.zip'),
    makeZip([
      { name: 'books/readers.csv', data: csv(READERS) },
      { name: 'books/reads.csv', data: csv(READS) },
      { name: 'books/books.csv', data: csv(BOOKS) },
    ]),
  );
  fs.mkdirSync(path.join(dir, 'victim'));
  fs.writeFileSync(path.join(dir, 'victim', 'thesis.tex'), 'four years of work\n');
  const config = writeJson(path.join(dir, 'config.json'), { download: false, paths });
  return { dir, data, config };
}

const containmentCases: { what: string; edit: (d: Json) => void; key: RegExp }[] = [
  {
    what: 'folder "../responses/store"',
    edit: (d) => (d.folder = '../responses/store'),
    key: /books\.json: "folder" must be one plain name .*has the part "\.\." .*got "\.\.\/responses\/store"/,
  },
  { what: 'folder "."', edit: (d) => (d.folder = '.'), key: /books\.json: "folder" .*is "\." \(the folder itself\)/ },
  {
    what: 'folder "../victim"',
    edit: (d) => (d.folder = '../victim'),
    key: /books\.json: "folder" .*got "\.\.\/victim"/,
  },
  {
    what: 'folder ".."',
    edit: (d) => (d.folder = '..'),
    key: /books\.json: "folder" .*is "\.\." \(the folder above\)/,
  },
  {
    what: 'an absolute folder',
    edit: (d) => (d.folder = path.join(os.tmpdir(), 'elsewhere')),
    key: /books\.json: "folder" .*is an absolute path/,
  },
  {
    what: 'a file name climbing to /etc/passwd',
    edit: (d) => {
      d.files.readers.names = ['../../../../../../../../../../etc/passwd'];
      d.files.readers.separator = ':';
      d.files.readers.header = false;
    },
    key: /books\.json: "files\.readers\.names\[0\]" must be plain names joined by "\/": it names a file inside the dataset's folder; it has the part "\.\."/,
  },
  {
    what: 'an archive outside data/raw',
    edit: (d) => (d.download.archive = '../responses/store/openai--gpt-5-mini.jsonl'),
    key: /books\.json: "download\.archive" must be one plain name/,
  },
];

for (const c of containmentCases) {
  test(`${c.what}: exit 2 before any work, every file of data/ and beside it byte-identical`, async () => {
    const { dir, config } = scratch();
    const description = writeJson(path.join(dir, 'books.json'), booksDescription(c.edit));
    const before = treeDigest(dir);
    const run = await runCli(['--config', config, '--dataset', description, '--stages', 'preprocess']);
    assert.equal(run.code, 2, run.out);
    assert.match(run.out, /configuration error: /);
    assert.match(run.out, c.key);
    assert.deepEqual(treeDigest(dir), before, 'nothing was touched');
  });
}

test('a config file cannot point a dataset\'s folder or archive outside data/raw either ("datasets.x.folder")', () => {
  const root = tmp('ubp-untrusted-config-');
  const { description } = writeBooks(root);
  for (const [key, value] of [
    ['folder', '../responses/store'],
    ['folder', '..'],
    ['archive', '../../x.zip'],
  ]) {
    assert.throws(
      () => loadConfig({ env: {}, overrides: { datasets: { books: { description, [key]: value } } } }),
      new RegExp(`overrides: "datasets\\.books\\.${key}" must be one plain name .*got ${JSON.stringify(value)}`),
      `${key} ${value}`,
    );
  }
});

test('a raw folder that is, or leads into, the store or another stage folder is refused at load, naming the key', () => {
  const { dir, data } = scratch();
  const { description } = writeBooks(path.join(dir, 'src'));
  const paths = pathsUnder(data);
  const load = (over: Json) => () => loadConfig({ env: {}, datasets: [description], overrides: over });
  // The store configured where the description's folder lands.
  assert.throws(
    load({ paths: { ...paths, store: path.join(paths.raw, 'books') } }),
    /"datasets\.books\.folder" \(.*books\.json: "folder"\) is "books": .*raw\/books is the response store \(paths\.store/,
  );
  // The configuration's own folder for the dataset, set to another stage's folder by way of paths.raw.
  assert.throws(
    load({ paths: { ...paths, raw: paths.responses }, datasets: { books: { folder: 'store' } } }),
    /"datasets\.movielens\.folder" is "ml-1m": .*responses\/ml-1m lies inside the responses folder/,
  );
  // paths.raw inside the processed folder: every raw folder would lie inside another stage's folder.
  assert.throws(
    load({ paths: { ...paths, raw: path.join(paths.processed, 'raw') } }),
    /"datasets\.movielens\.folder" is "ml-1m": .* lies inside the processed folder/,
  );
  // A symbolic link data/raw/books → the store: the real folder is the store.
  fs.symlinkSync(paths.store, path.join(paths.raw, 'books'));
  const before = treeDigest(dir);
  assert.throws(load({ paths }), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /"datasets\.books\.folder" .*raw\/books is the response store/);
    return true;
  });
  assert.deepEqual(treeDigest(dir), before);
  fs.rmSync(path.join(paths.raw, 'books'));
  assert.doesNotThrow(load({ paths }));
});

test('extraction replaces only the files it extracts: what else the folder holds stays', async () => {
  const { data } = scratch();
  const { description } = writeBooks(path.join(data, '..', 'src'));
  const config: Config = { ...loadConfig({ env: {}, datasets: [description] }), download: false, dataDir: null };
  config.paths = pathsUnder(data);
  const folder = path.join(config.paths.raw, 'books');
  fs.mkdirSync(folder);
  fs.writeFileSync(path.join(folder, 'notes.txt'), 'my notes\n');
  fs.writeFileSync(path.join(folder, 'readers.csv'), 'stale\n');
  const storeBefore = treeDigest(config.paths.store);
  const got = await locateDataset(config, 'books', quiet);
  assert.equal(got.source, 'download');
  assert.equal(fs.readFileSync(path.join(folder, 'notes.txt'), 'utf8'), 'my notes\n');
  assert.equal(fs.readFileSync(path.join(folder, 'readers.csv'), 'utf8'), READERS);
  assert.equal(fs.readFileSync(path.join(config.paths.raw, 'ml-1m', 'users.dat'), 'utf8'), '1::F::1::10::48067\n');
  assert.ok(fs.existsSync(path.join(folder, '.ubp-verified.json')));
  assert.ok(!fs.existsSync(`${folder}.extracting`));
  assert.deepEqual(treeDigest(config.paths.store), storeBefore);
  assert.equal((await locateDataset(config, 'books', quiet)).source, 'raw', 'verified once extracted');

  // A temporary folder left by a crash is cleared of the files extraction puts there, and of nothing else.
  fs.rmSync(path.join(folder, '.ubp-verified.json'));
  fs.mkdirSync(`${folder}.extracting`);
  fs.writeFileSync(path.join(`${folder}.extracting`, 'reads.csv'), 'half written');
  await locateDataset(config, 'books', quiet);
  assert.ok(!fs.existsSync(`${folder}.extracting`));
  fs.rmSync(path.join(folder, '.ubp-verified.json'));
  fs.mkdirSync(`${folder}.extracting`);
  fs.writeFileSync(path.join(`${folder}.extracting`, 'diary.txt'), "not the tool's");
  await assert.rejects(
    locateDataset(config, 'books', quiet),
    /books\.extracting holds files that extraction did not put there; move them away/,
  );
  assert.equal(fs.readFileSync(path.join(`${folder}.extracting`, 'diary.txt'), 'utf8'), "not the tool's");
});

test("extraction refuses another dataset's folder when the two come from different archives", async () => {
  const { dir, data } = scratch();
  const books = writeBooks(path.join(dir, 'src')).description;
  const novels = writeJson(
    path.join(dir, 'src', 'novels.json'),
    booksDescription((d) => {
      d.name = 'novels';
      d.files.readers.names = ['people.csv'];
      d.download = { url: 'https://example.org/novels.zip', archive: 'novels.zip', archiveMd5: null };
    }),
  );
  fs.copyFileSync(path.join(data, 'raw', 'books.zip'), path.join(data, 'raw', 'novels.zip'));
  const configOf = (files: string[]): Config => ({
    ...loadConfig({ env: {}, datasets: files }),
    download: false,
    dataDir: null,
    paths: pathsUnder(data),
  });
  // Extracted while it was the only dataset; a second description then names the same folder.
  await locateDataset(configOf([books]), 'books', quiet);
  const config = configOf([books, novels]);
  const before = treeDigest(dir);
  await assert.rejects(locateDataset(config, 'novels', quiet), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(
      e.message,
      /"datasets\.novels\.folder" is "books": .*raw\/books is the folder of the dataset "books" too, which comes from another archive \(https:\/\/example\.org\/books\.zip\); nothing was extracted/,
    );
    return true;
  });
  assert.deepEqual(treeDigest(dir), before);
  assert.equal((await locateDataset(config, 'books', quiet)).source, 'raw', 'the verified books files are still used');
});

// ---------- data that can be wrong ----------

const latin1 = (s: string) => Buffer.from(s, 'latin1');
const utf16le = (s: string, bom: boolean) =>
  Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), Buffer.from(s, 'utf16le')]);

const dataCases: { what: string; files: Files; edit?: (d: Json) => void; message: RegExp; not?: RegExp }[] = [
  {
    // "b2,Caf" is 6 bytes: é (e9 in Latin-1) is byte 7 of line 3, in the title column.
    what: 'a Latin-1 file declared utf8',
    files: { books: latin1('isbn,title,author\nb1,Dune,Herbert\nb2,Café Señor,Austen\n') },
    message:
      /books\.csv:3: field "title": the bytes e9 at byte 7 of the line are not valid UTF-8, which .*books\.json "files\.books" declares \("encoding": "utf8"\); if the file is Latin-1 \(ISO-8859-1\), set "encoding": "latin1"/,
  },
  {
    what: 'a header naming author and title the other way round',
    files: { books: 'isbn,author,title\nb1,Herbert,Dune\nb2,Austen,Emma\n' },
    message:
      /books\.csv:1: the header line does not match "columns" of .*books\.json "files\.books": column 2 is "author" in the file but "title" in "columns"; column 3 is "title" in the file but "author" in "columns" \(the same names in another order: the fields would be read swapped\)/,
  },
  {
    what: 'a header with 5 names against 4 columns',
    files: { readers: 'id,sex,age,country,city\nr1,F,30,France,Paris\nr2,M,41,Germany,Bonn\nr3,F,29,France,Lyon\n' },
    message:
      /readers\.csv:1: the header line names 5 columns \("id", "sex", "age", "country", "city"\), but .*"files\.readers" lists 4 in "columns"/,
  },
  {
    what: 'a UTF-16 file with its byte-order mark',
    files: { readers: utf16le(READERS, true) },
    message:
      /readers\.csv: the file is UTF-16 \(little-endian: it starts with the byte-order mark ff fe\), but .*"files\.readers" declares "encoding": "utf8"; convert it to UTF-8/,
    not: /truncated/,
  },
  {
    what: 'a UTF-16 file without a byte-order mark',
    files: { readers: utf16le(READERS, false) },
    message: /readers\.csv: the file is UTF-16 \(little-endian, without a byte-order mark/,
    not: /truncated/,
  },
  {
    what: 'a UTF-8 byte-order mark on a file declared latin1',
    files: { reads: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(READS)]) },
    edit: (d) => (d.files.reads.encoding = 'latin1'),
    message:
      /reads\.csv: the file is UTF-8 \(it starts with the UTF-8 byte-order mark ef bb bf\).*set "encoding": "utf8"/,
  },
  {
    what: 'a NUL byte inside a line',
    files: { reads: 'reader,book,pages\nr1,b1,10\nr1,b2,5\nr2,b1\u00003\n' },
    message: /reads\.csv:4: field "book": a NUL byte \(00\) at byte 6 of the line: this is not utf8 text/,
  },
  {
    what: 'an overlong UTF-8 encoding of "/" (c0 af)',
    files: {
      books: Buffer.concat([Buffer.from(BOOKS), Buffer.from([0x62, 0x33, 0x2c, 0xc0, 0xaf, 0x2c, 0x78, 0x0a])]),
    },
    message: /books\.csv:4: field "title": the bytes c0 at byte 4 of the line are not valid UTF-8/,
  },
  {
    what: 'a truncated UTF-8 sequence (e2 82 without its last byte)',
    files: {
      books: Buffer.concat([Buffer.from(BOOKS), Buffer.from([0x62, 0x33, 0x2c, 0xe2, 0x82, 0x2c, 0x78, 0x0a])]),
    },
    message: /books\.csv:4: field "title": the bytes e2 82 at byte 4 of the line are not valid UTF-8/,
  },
  {
    what: 'a semicolon-separated data line under a right header',
    files: { readers: 'id,sex,age,country\nr1;F;30;France\n' },
    message: /readers\.csv:2: field "sex": missing: expected 4 fields separated by ",".*looks semicolon-separated/,
  },
];

for (const c of dataCases) {
  test(`data check: ${c.what} is an error naming the file and line`, async () => {
    const root = tmp('ubp-untrusted-data-');
    const { description, dataDir } = writeBooks(root, c.files, c.edit);
    await assert.rejects(runPreprocess(configFor(root, description, dataDir), 'books', quiet), (e: Error) => {
      assert.match(e.message, c.message);
      if (c.not) assert.doesNotMatch(e.message, c.not);
      return true;
    });
    assert.ok(!fs.existsSync(path.join(root, 'out', 'processed', 'books', 'items.jsonl')), 'nothing written');
  });
}

test('what the checks must let through: UTF-8 names, a UTF-8 byte-order mark, a "#" header, Latin-1 declared latin1', async () => {
  const root = tmp('ubp-untrusted-good-');
  const { description, dataDir } = writeBooks(
    root,
    {
      readers: `\ufeff#id,sex,age,country\r\nr1,F,30,France\r\nr2,M,41,Germany\r\nr3,F,29,France\r\n`,
      books: latin1('isbn,title,author\nb1,Café Señor,Herbert\nb2,Emma,Austen\n'),
    },
    (d) => (d.files.books.encoding = 'latin1'),
  );
  await runPreprocess(configFor(root, description, dataDir), 'books', quiet);
  const data = loadProcessed(path.join(root, 'out', 'processed', 'books'));
  assert.deepEqual(
    data.users.map((u) => u.id),
    ['r1', 'r2', 'r3'],
  );
  assert.deepEqual(
    data.items.map((i) => i.name),
    ['Café Señor by Herbert', 'Emma by Austen'],
  );
  const utf8Root = tmp('ubp-untrusted-good8-');
  const utf8 = writeBooks(utf8Root, { books: 'isbn,title,author\nb1,Café Señor 東京 🎵,Herbert\nb2,Emma,Austen\n' });
  await runPreprocess(configFor(utf8Root, utf8.description, utf8.dataDir), 'books', quiet);
  assert.equal(
    loadProcessed(path.join(utf8Root, 'out', 'processed', 'books')).items[0].name,
    'Café Señor 東京 🎵 by Herbert',
  );
});

test('a data value named like an Object member ("constructor") has no label: an error, not a function', async () => {
  const root = tmp('ubp-untrusted-label-');
  const { description, dataDir } = writeBooks(root, { readers: 'id,sex,age,country\nr1,constructor,30,France\n' });
  await assert.rejects(
    runPreprocess(configFor(root, description, dataDir), 'books', quiet),
    /readers\.csv:2: field "sex": value "constructor" has no label in .*books\.json "users\.proxies\.gender\.labels"/,
  );
});

// ---------- own-property lookups ----------

test('names of JavaScript built-ins are not proxies, files or columns of a description', () => {
  const file = '/x/books.json';
  const cases: [string, (d: Json) => void, RegExp][] = [
    [
      'a setting naming toString',
      (d) => (d.settings.weird = ['toString']),
      /\/x\/books\.json: "settings\.weird\[0\]" names the proxy "toString", which "users\.proxies" does not define/,
    ],
    [
      'a keepValues filter on valueOf',
      (d) => (d.filters = [{ kind: 'keepValues', proxy: 'valueOf', values: ['x'] }]),
      /"filters\[0\]\.proxy" names the proxy "valueOf", which "users\.proxies" does not define/,
    ],
    [
      'users.file constructor',
      (d) => (d.users.file = 'constructor'),
      /"users\.file" names the file "constructor", which "files" does not describe \(described: readers, reads, books\)/,
    ],
    ['items.file toString', (d) => (d.items.file = 'toString'), /"items\.file" names the file "toString"/],
    [
      'a proxy derived from hasOwnProperty',
      (d) => (d.users.proxies.continent = { derive: { from: 'hasOwnProperty', kind: 'continent' } }),
      /"users\.proxies\.continent\.derive\.from" names "hasOwnProperty", which is not another proxy/,
    ],
    [
      'a minGroupSize over constructor',
      (d) => (d.filters = [{ kind: 'minGroupSize', proxies: ['constructor'], users: 2 }]),
      /"filters\[0\]\.proxies\[0\]" names the proxy "constructor"/,
    ],
    [
      'a prompt form for isPrototypeOf',
      (d) => (d.prompt.values = { isPrototypeOf: { '*': '{value}' } }),
      /"prompt\.values\.isPrototypeOf" names the proxy "isPrototypeOf"/,
    ],
    [
      'a "__proto__" key',
      (d) => (d.users.proxies = JSON.parse('{"__proto__": {"column": "sex"}, "gender": {"column": "sex"}}')),
      /"users\.proxies\.__proto__" is not allowed: "__proto__" is reserved by JavaScript/,
    ],
  ];
  for (const [what, edit, message] of cases)
    assert.throws(() => validateDescription(booksDescription(edit), file), message, what);
  // A description whose setting needs a sentence only under an Object member's name still needs one.
  assert.throws(
    () =>
      validateDescription(
        booksDescription((d) => {
          d.users.proxies.constructor = { column: 'country' };
          d.settings.weird = ['constructor'];
        }),
        file,
      ),
    /"prompt\.demography" has no sentence for "constructor", which the setting "weird" needs/,
  );
});

test('names of JavaScript built-ins are not keys of a configuration either', async () => {
  const root = tmp('ubp-untrusted-cfg-');
  const { description } = writeBooks(root);
  const cases: [string, unknown, RegExp][] = [
    ['a top-level toString', { toString: 1 }, /overrides: unknown key "toString"/],
    ['sample.constructor', { sample: { constructor: 1 } }, /overrides: unknown key "sample\.constructor"/],
    [
      'a model key valueOf',
      { query: { models: [{ id: 'random', valueOf: 1 }] } },
      /unknown key "query\.models\[0\]\.valueOf"/,
    ],
    ['figures.size toString', { figures: { size: 'toString' } }, /overrides: "figures\.size" must be "single-column"/],
    ['a "__proto__" key', JSON.parse('{"sample": {"__proto__": {"K": 3}}}'), /"sample\.__proto__" is not allowed/],
    [
      'a setting naming toString',
      { datasets: { books: { description } }, sample: { settings: { books: { weird: ['toString'] } } } },
      /"sample\.settings\.books\.weird\[0\]" names the proxy "toString", which the books description does not define \(proxies: gender, country\)/,
    ],
    [
      "a built-in domain's setting naming valueOf",
      { sample: { settings: { movielens: { none: [], weird: ['valueOf'] } } } },
      /"sample\.settings\.movielens\.weird\[0\]" names the proxy "valueOf"/,
    ],
  ];
  for (const [what, overrides, message] of cases)
    assert.throws(() => loadConfig({ env: {}, overrides }), message, what);
  const run = await runCli(['--domains', 'constructor', '--stages', 'preprocess']);
  assert.equal(run.code, 2, run.out);
  assert.match(run.out, /unknown domain "constructor"/);
});

// ---------- domain names ----------

test("domain names may not collide with built-ins, with each other or with the figures folder's files", () => {
  const root = tmp('ubp-untrusted-names-');
  const file = (name: string, edit: (d: Json) => void) =>
    writeJson(path.join(root, `${name}.json`), booksDescription(edit));
  for (const builtin of ['movielens', 'lastfm']) {
    const f = file(`my-${builtin}`, (d) => (d.name = builtin));
    assert.throws(
      () => loadConfig({ env: {}, datasets: [f] }),
      new RegExp(
        `my-${builtin}\\.json: "name" is "${builtin}", the name of a built-in domain \\(built-in: movielens, lastfm\\); choose another name`,
      ),
    );
  }
  // The built-in description itself is the built-in domain.
  assert.doesNotThrow(() => loadConfig({ env: {}, datasets: [path.join(repoRoot(), 'datasets', 'movielens.json')] }));
  for (const name of ['report.html', 'readme.md', 'report.html.1234.tmp', 'constructor'])
    assert.throws(
      () =>
        validateDescription(
          booksDescription((d) => (d.name = name)),
          '/x/d.json',
        ),
      new RegExp(
        `/x/d\\.json: "name" (would name a folder beside the figures folder's own|is a name every JavaScript object already has).*got "${name.replace(/\./g, '\\.')}"`,
      ),
      name,
    );
  assert.throws(
    () => loadConfig({ env: {}, overrides: { datasets: { 'report.html': { folder: 'x', url: 'u', archive: 'a' } } } }),
    /overrides: "datasets\.report\.html" would name a folder beside the figures folder's own "report\.html"/,
  );
  const a = file('a', () => {});
  const b = file('b', (d) => (d.folder = 'other-books'));
  assert.throws(
    () => loadConfig({ env: {}, datasets: [a, b] }),
    /b\.json: "name" is "books", which the description .*a\.json already names \("datasets\.books\.description"\); two datasets cannot share a domain name/,
  );
  assert.doesNotThrow(() => loadConfig({ env: {}, datasets: [a, a] }), 'the same file twice is one dataset');
});

test('a description named movielens: exit 2 before work, the shared processed movielens data and its stamp untouched', async () => {
  const { dir, data, config } = scratch();
  const processed = path.join(pathsUnder(data).processed, 'movielens');
  fs.mkdirSync(processed, { recursive: true });
  fs.writeFileSync(path.join(processed, 'users.jsonl'), '{"v":1}\n');
  fs.writeFileSync(path.join(processed, '.stamp-preprocess.json'), '{"status":"done"}\n');
  const description = writeJson(
    path.join(dir, 'movielens.json'),
    booksDescription((d) => (d.name = 'movielens')),
  );
  const before = treeDigest(dir);
  const run = await runCli(['--config', config, '--dataset', description, '--stages', 'preprocess']);
  assert.equal(run.code, 2, run.out);
  assert.match(run.out, /movielens\.json: "name" is "movielens", the name of a built-in domain/);
  assert.deepEqual(treeDigest(dir), before);
});

test('a domain named report.html is refused at load, before query and score could run', async () => {
  const { dir, config } = scratch();
  const description = writeJson(
    path.join(dir, 'report.json'),
    booksDescription((d) => (d.name = 'report.html')),
  );
  const before = treeDigest(dir);
  const run = await runCli(['--config', config, '--dataset', description]);
  assert.equal(run.code, 2, run.out);
  assert.match(run.out, /report\.json: "name" would name a folder beside the figures folder's own "report\.html"/);
  assert.deepEqual(treeDigest(dir), before);
});
