// A UTF-8 byte-order mark at the start of a raw file (an editor re-saved it) is skipped, not read into the first field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileBomLength, utf8BomLength } from '../lib/core/io';
import { parseMlMovies, parseMlRatings, parseMlUsers } from '../lib/data/movielens';
import { parseLastfmEvents, parseLastfmProfiles } from '../lib/data/lastfm';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function write(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-bom-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([BOM, Buffer.from(text, 'utf8')]));
  return file;
}

test('utf8BomLength: EF BB BF only, at the start only', () => {
  assert.equal(utf8BomLength(Buffer.from([0xef, 0xbb, 0xbf, 0x31])), 3);
  assert.equal(utf8BomLength(Buffer.from([0xef, 0xbb])), 0);
  assert.equal(utf8BomLength(Buffer.from('1::F', 'utf8')), 0);
  assert.equal(fileBomLength(write('x.txt', '1')), 3);
});

test('MovieLens users, movies and ratings files starting with a BOM parse with the right first ids', () => {
  const users = parseMlUsers(write('users.dat', '1::F::1::10::48067\n2::M::56::16::70072\n'));
  assert.deepEqual(
    users.map((u) => u.id),
    [1, 2],
  );
  const movies = parseMlMovies(write('movies.dat', '1::Toy Story (1995)::Animation\n2::Jumanji (1995)::Adventure\n'));
  assert.deepEqual(
    movies.map((m) => m.id),
    [1, 2],
  );
  const ratings = parseMlRatings(write('ratings.dat', '1::2::5::978300760\n2::1::3::978302109\n'), users, movies);
  assert.equal(ratings.count, 2);
  assert.deepEqual([...ratings.user.subarray(0, 2)], [0, 1]);
  assert.deepEqual([...ratings.movie.subarray(0, 2)], [1, 0]);
});

test('Last.fm profile and event files starting with a BOM parse with the right first user id', async () => {
  const profiles = parseLastfmProfiles(
    write('userid-profile.tsv', '#id\tgender\tage\tcountry\tregistered\nuser_000001\tm\t\tJapan\t\n'),
  );
  assert.deepEqual(
    profiles.map((p) => p.id),
    ['user_000001'],
  );
  const line = (u: string) =>
    `${u}\t2009-05-04T23:08:57Z\tf1b1cf71-bd35-4e99-8624-24a6e15f133a\tDeep Dish\t\tFuck Me Im Famous\n`;
  const events = await parseLastfmEvents(write('events.tsv', line('user_000001') + line('user_000002')), {
    threads: 1,
  });
  assert.deepEqual(events.users, ['user_000001', 'user_000002']);
});
