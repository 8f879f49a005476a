import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { repoRoot } from '../lib/core/config';
import { DataFormatError } from '../lib/data/datasets';
import {
  ML_AGE_NAMES,
  ML_OCCUPATION_NAMES,
  parseMlMovies,
  parseMlRatings,
  parseMlUsers,
  type MlMovie,
  type MlUser,
} from '../lib/data/movielens';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-'));
const mirror = () => {
  const dir = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
  return fs.existsSync(path.join(dir, 'ml-1m', 'movies.dat')) ? path.join(dir, 'ml-1m') : null;
};

function write(dir: string, name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, typeof content === 'string' ? Buffer.from(content, 'latin1') : content);
  return p;
}

const USERS = '1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n';
const MOVIES =
  "1::Toy Story (1995)::Animation|Children's|Comedy\n73::Misérables, Les (1995)::Drama|Musical\n570::Slingshot, The (Kådisbellan ) (1993)::Comedy|Drama\n";

test('users.dat: codes are kept and named as in the dataset README', () => {
  const dir = tmp();
  const users = parseMlUsers(write(dir, 'users.dat', USERS));
  assert.deepEqual(users, [
    { id: 1, gender: 'F', age: 1, occupation: 10, zip: '48067' },
    { id: 2, gender: 'M', age: 56, occupation: 16, zip: '70072' },
    { id: 3, gender: 'M', age: 25, occupation: 15, zip: '55117' },
  ]);
  assert.equal(ML_AGE_NAMES[1], 'Under 18');
  assert.equal(ML_AGE_NAMES[56], '56+');
  assert.equal(ML_OCCUPATION_NAMES[0], 'other');
  assert.equal(ML_OCCUPATION_NAMES[3], 'clerical/admin');
  assert.equal(ML_OCCUPATION_NAMES[4], 'college/grad student');
});

test('occupation and age names match the lists in the mirror README', (t) => {
  const dir = mirror();
  if (!dir) return t.skip('the dataset mirror is not available');
  const readme = fs.readFileSync(path.join(dir, 'README'), 'latin1');
  const occ = readme.slice(readme.indexOf('Occupation is chosen'));
  for (const m of occ.matchAll(/\*\s+(\d+):\s+"([^"]+)"/g)) {
    assert.equal(ML_OCCUPATION_NAMES[Number(m[1])], m[2], `occupation ${m[1]}`);
    if (Number(m[1]) === 20) break;
  }
  const ages = readme.slice(readme.indexOf('Age is chosen'), readme.indexOf('Occupation is chosen'));
  const found = [...ages.matchAll(/\*\s+(\d+):\s+"([^"]+)"/g)];
  assert.equal(found.length, 7);
  for (const m of found) assert.equal(ML_AGE_NAMES[Number(m[1])], m[2]);
});

test('movies.dat is latin-1: titles with bytes above 0x7F decode to the right characters', () => {
  const dir = tmp();
  const file = write(dir, 'movies.dat', MOVIES);
  assert.ok(fs.readFileSync(file).includes(0xe9), 'the file holds the latin-1 byte for é');
  const movies = parseMlMovies(file);
  assert.deepEqual(
    movies.map((m) => [m.id, m.title]),
    [
      [1, 'Toy Story (1995)'],
      [73, 'Misérables, Les (1995)'],
      [570, 'Slingshot, The (Kådisbellan ) (1993)'],
    ],
  );
  assert.equal(movies[1].genres, 'Drama|Musical');
});

test('real titles from the mirror with non-ASCII bytes', (t) => {
  const dir = mirror();
  if (!dir) return t.skip('the dataset mirror is not available');
  const movies = parseMlMovies(path.join(dir, 'movies.dat'));
  assert.equal(movies.length, 3883);
  const byId = new Map(movies.map((m) => [m.id, m.title]));
  assert.equal(byId.get(73), 'Misérables, Les (1995)');
  assert.equal(byId.get(649), 'Cold Fever (Á köldum klaka) (1994)');
  assert.equal(byId.get(1117), 'Eighth Day, The (Le Huitième jour ) (1996)');
  assert.equal(byId.get(2571), 'Matrix, The (1999)');
});

function fixtures(dir: string): { users: MlUser[]; movies: MlMovie[] } {
  return {
    users: parseMlUsers(write(dir, 'users.dat', USERS)),
    movies: parseMlMovies(write(dir, 'movies.dat', MOVIES)),
  };
}

test('ratings with timestamps, without, and gzipped give the same (user, movie) pairs', () => {
  const dir = tmp();
  const { users, movies } = fixtures(dir);
  const withTs = '1::1::5::978300760\n1::570::3::978302109\n3::73::4::978301968\n';
  const noTs = '1::1::5\n1::570::3\n3::73::4\n';
  const a = parseMlRatings(write(dir, 'ratings.dat', withTs), users, movies);
  const b = parseMlRatings(write(dir, 'ratings.dat.gz', zlib.gzipSync(Buffer.from(noTs))), users, movies);
  // user indices: ids 1,1,3 → 0,0,2; movie indices: ids 1,570,73 → 0,2,1
  for (const r of [a, b]) {
    assert.equal(r.count, 3);
    assert.deepEqual(Array.from(r.user), [0, 0, 2]);
    assert.deepEqual(Array.from(r.movie), [0, 2, 1]);
  }
  assert.deepEqual([a.withTimestamp, a.withoutTimestamp], [3, 0]);
  assert.deepEqual([b.withTimestamp, b.withoutTimestamp], [0, 3]);
  const crlf = parseMlRatings(write(dir, 'crlf.dat', '1::1::5\r\n3::73::4::978301968\r\n'), users, movies);
  assert.deepEqual(Array.from(crlf.movie), [0, 1]);
});

function rejectsWith(
  fn: () => unknown,
  expected: { line?: number | null; field?: string | null; message: RegExp },
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataFormatError, String(e));
    if (expected.line !== undefined) assert.equal(e.line, expected.line, e.message);
    if (expected.field !== undefined) assert.equal(e.field, expected.field, e.message);
    assert.match(e.message, expected.message);
    return true;
  });
}

test('malformed ratings lines get errors naming file, line, field and expectation', () => {
  const dir = tmp();
  const { users, movies } = fixtures(dir);
  const parse = (name: string, text: string) => () => parseMlRatings(write(dir, name, text), users, movies);
  rejectsWith(parse('tab.dat', '1::1::5\n1::73::3\n1\t570\t4\t978302109\n'), {
    line: 3,
    field: null,
    message: /tab\.dat:3: expected fields separated by "::".*found tab-separated text/,
  });
  rejectsWith(parse('missing.dat', '1::1::5\n3::73\n'), {
    line: 2,
    field: 'Rating',
    message:
      /missing\.dat:2: field "Rating": missing \(expected UserID::MovieID::Rating\[::Timestamp\], found 2 fields\)/,
  });
  rejectsWith(parse('nonnum.dat', '1::1::5\nx7::73::4\n'), {
    line: 2,
    field: 'UserID',
    message: /field "UserID": expected a whole number, got "x7"/,
  });
  rejectsWith(parse('stars.dat', '1::1::9\n'), {
    line: 1,
    field: 'Rating',
    message: /expected a whole number of stars 1-5, got 9/,
  });
  rejectsWith(parse('unknown.dat', '1::1::5\n2::1::5\n99::1::5\n'), {
    line: 3,
    field: 'UserID',
    message: /unknown\.dat:3: field "UserID": unknown user 99: not in users\.dat/,
  });
  rejectsWith(parse('unknownmovie.dat', '1::2::5\n'), {
    line: 1,
    field: 'MovieID',
    message: /unknown movie 2: not in movies\.dat/,
  });
  rejectsWith(parse('extra.dat', '1::1::5::978300760::x\n'), { line: 1, message: /expected at most 4 fields/ });
  rejectsWith(parse('empty.dat', ''), { line: null, message: /empty\.dat: the file is empty/ });
  rejectsWith(parse('truncated.dat', '1::1::5::978300760\n1::570::'), {
    line: 2,
    field: 'Rating',
    message: /may be truncated/,
  });
});

test('a truncated gzip file is reported as such', () => {
  const dir = tmp();
  const { users, movies } = fixtures(dir);
  const gz = zlib.gzipSync(Buffer.from('1::1::5\n'.repeat(1000)));
  const file = write(dir, 'ratings.dat.gz', gz.subarray(0, gz.length - 30));
  rejectsWith(() => parseMlRatings(file, users, movies), {
    line: null,
    message: /ratings\.dat\.gz: not a complete gzip file.*truncated/,
  });
});

test('malformed users.dat and movies.dat lines', () => {
  const dir = tmp();
  rejectsWith(() => parseMlUsers(write(dir, 'u1.dat', '1::F::1::10::48067\n2::X::56::16::70072\n')), {
    line: 2,
    field: 'Gender',
    message: /expected "M" or "F", got "X"/,
  });
  rejectsWith(() => parseMlUsers(write(dir, 'u2.dat', '1::F::17::10::48067\n')), {
    line: 1,
    field: 'Age',
    message: /age codes 1, 18, 25, 35, 45, 50, 56, got 17/,
  });
  rejectsWith(() => parseMlUsers(write(dir, 'u3.dat', '1::F::1::21::48067\n')), {
    line: 1,
    field: 'Occupation',
    message: /code 0-20, got 21/,
  });
  rejectsWith(() => parseMlUsers(write(dir, 'u4.dat', '1::F::1::10\n')), {
    line: 1,
    field: 'Zip-code',
    message: /missing/,
  });
  rejectsWith(() => parseMlUsers(write(dir, 'u5.dat', '1,F,1,10,48067\n')), {
    line: 1,
    message: /separated by "::".*comma-separated/,
  });
  rejectsWith(() => parseMlMovies(write(dir, 'm1.dat', '1::Toy Story (1995)::Animation\nabc::Heat (1995)::Action\n')), {
    line: 2,
    field: 'MovieID',
    message: /whole number, got "abc"/,
  });
  rejectsWith(() => parseMlMovies(write(dir, 'm2.dat', '1::Toy Story (1995)\n')), {
    line: 1,
    field: 'Genres',
    message: /missing/,
  });
});
