import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';
import { DataFormatError } from '../lib/data/datasets';
import {
  lastfmDisplayName,
  lastfmTrackId,
  parseLastfmEvents,
  parseLastfmProfiles,
  trackDisplayName,
  trackIdFromKeys,
  trackNames,
  type LastfmEvents,
} from '../lib/data/lastfm';
import { generateSynthetic } from '../lib/data/synthetic';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-'));
const mirrorProfile = () => {
  const dir = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
  const p = path.join(dir, 'lastfm-1k', 'userid-profile.tsv');
  return fs.existsSync(p) ? p : null;
};

function write(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, text, 'utf8');
  return p;
}

test('profiles: gender m/f/empty, empty age and country become null', () => {
  const file = write(
    tmp(),
    'userid-profile.tsv',
    '#id\tgender\tage\tcountry\tregistered\nuser_000001\tm\t\tJapan\tAug 13, 2006\nuser_000002\tf\t22\t\t\nuser_000003\t\t\tUnited Kingdom\tFeb 24, 2006\n',
  );
  assert.deepEqual(parseLastfmProfiles(file), [
    { id: 'user_000001', gender: 'Male', age: null, country: 'Japan', registered: 'Aug 13, 2006' },
    { id: 'user_000002', gender: 'Female', age: 22, country: null, registered: null },
    { id: 'user_000003', gender: null, age: null, country: 'United Kingdom', registered: 'Feb 24, 2006' },
  ]);
});

test('the real profile file parses with the counts its README gives', (t) => {
  const file = mirrorProfile();
  if (!file) return t.skip('the dataset mirror is not available');
  const users = parseLastfmProfiles(file);
  assert.equal(users.length, 992);
  assert.equal(users.filter((u) => u.gender === 'Male').length, 502);
  assert.equal(users.filter((u) => u.gender === 'Female').length, 382);
  assert.equal(users.filter((u) => u.gender === null).length, 108);
  assert.equal(users.filter((u) => u.age !== null).length, 286);
  assert.equal(users.filter((u) => u.country === null).length, 85);
  assert.equal(users.filter((u) => u.country === 'United Kingdom').length, 126);
  assert.ok(users.some((u) => u.country === 'Congo, the Democratic Republic of the'));
});

test('malformed profile lines name file, line and field', () => {
  const dir = tmp();
  const h = '#id\tgender\tage\tcountry\tregistered\n';
  assert.throws(
    () => parseLastfmProfiles(write(dir, 'p1.tsv', `${h}user_000001\tx\t\tJapan\t\n`)),
    /p1\.tsv:2: field "gender": expected "m", "f" or empty, got "x"/,
  );
  assert.throws(
    () => parseLastfmProfiles(write(dir, 'p2.tsv', `${h}user_000001\tm\tabc\tJapan\t\n`)),
    /p2\.tsv:2: field "age": expected a whole number or empty/,
  );
  assert.throws(
    () => parseLastfmProfiles(write(dir, 'p3.tsv', `${h}user_000001\tm\t\n`)),
    /p3\.tsv:2: field "country": missing: expected 5 tab-separated fields, found 3/,
  );
  assert.throws(() => parseLastfmProfiles(write(dir, 'p4.tsv', '')), /p4\.tsv: the file is empty/);
  assert.throws(
    () => parseLastfmProfiles(write(dir, 'p5.tsv', '#id,gender,age,country,registered\n')),
    /p5\.tsv:1: expected the header/,
  );
});

// Hand-made events: quotes in names, empty and present MBIDs for the same track, a UTF-8 name.
const EVENTS = [
  'user_000002\t2009-05-04T23:08:57Z\t\tDeep "Dish"\t\tFlashdance',
  'user_000002\t2009-05-04T13:54:10Z\t2e3d5b5e-8d6b-4b3e-8e2b-4b1a0f6a9a10\tDeep "Dish"\t4e2a1b9c-2b7c-4c5e-9f3a-6d1e0c7b8a21\tFlashdance',
  "user_000002\t2009-05-04T13:52:04Z\t\tGuns N' Roses\t\tDon't Cry",
  'user_000001\t2009-05-03T10:00:00Z\t\tSigur Rós\t\tHoppípolla',
  'user_000002\t2009-05-02T10:00:00Z\t\tDeep "Dish"\t\tFlashdance',
  'user_000001\t2009-05-01T10:00:00Z\t\tDeep "Dish"\t\tFlashdance',
].join('\n');

test('events: tracks keyed by artist and track name, counted per user', async () => {
  const file = write(tmp(), 'events.tsv', `${EVENTS}\n`);
  const ev = await parseLastfmEvents(file);
  assert.equal(ev.lines, 6);
  assert.equal(ev.events, 6);
  assert.deepEqual(ev.users, ['user_000002', 'user_000001']);
  assert.deepEqual(ev.userEvents, [4, 2]);
  assert.deepEqual(ev.userFirstLine, [1, 4]);
  // tracks in order of first appearance: 0 Flashdance, 1 Don't Cry, 2 Hoppípolla
  assert.equal(ev.tracks.count, 3);
  assert.deepEqual(trackNames(ev.tracks, 0), { artist: 'Deep "Dish"', track: 'Flashdance' });
  assert.deepEqual(trackNames(ev.tracks, 2), { artist: 'Sigur Rós', track: 'Hoppípolla' });
  assert.equal(trackDisplayName(ev.tracks, 1), "Don't Cry - Guns N' Roses");
  assert.equal(trackDisplayName(ev.tracks, 2), 'Hoppípolla - Sigur Rós');
  assert.deepEqual(Array.from(ev.userTracks[0]), [0, 1]);
  assert.deepEqual(Array.from(ev.userCounts[0]), [3, 1]);
  assert.deepEqual(Array.from(ev.userTracks[1]), [0, 2]);
  assert.deepEqual(Array.from(ev.userCounts[1]), [1, 1]);
  // The id is the first 16 hex digits of sha1("artist\ttrack"), computed here independently.
  const expected = crypto.createHash('sha1').update('Sigur Rós\tHoppípolla', 'utf8').digest('hex').slice(0, 16);
  assert.equal(trackIdFromKeys(ev.tracks, 2), expected);
  assert.equal(lastfmTrackId('Sigur Rós', 'Hoppípolla'), expected);
  assert.equal(lastfmDisplayName('Sigur Rós', 'Hoppípolla'), 'Hoppípolla - Sigur Rós');
});

test('a last line without its line end and CRLF line ends are read like the others', async () => {
  const dir = tmp();
  const a = await parseLastfmEvents(write(dir, 'a.tsv', EVENTS));
  const b = await parseLastfmEvents(write(dir, 'b.tsv', `${EVENTS.split('\n').join('\r\n')}\r\n`));
  for (const ev of [a, b]) {
    assert.equal(ev.events, 6);
    assert.equal(ev.tracks.count, 3);
    assert.deepEqual(Array.from(ev.userCounts[0]), [3, 1]);
    assert.equal(trackDisplayName(ev.tracks, 0), 'Flashdance - Deep "Dish"');
  }
});

async function rejectsWith(
  p: Promise<unknown>,
  expected: { line: number | null; field?: string | null; message: RegExp },
): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataFormatError, String(e));
    assert.equal(e.line, expected.line, e.message);
    if (expected.field !== undefined) assert.equal(e.field, expected.field, e.message);
    assert.match(e.message, expected.message);
    return true;
  });
}

test('malformed event lines name file, line, field and expectation', async () => {
  const dir = tmp();
  const ok = 'user_000001\t2009-05-04T23:08:57Z\t\tArtist\t\tTrack';
  await rejectsWith(
    parseLastfmEvents(write(dir, 'e1.tsv', `${ok}\n${ok}\nuser_000001\t2009-05-04T23:08:57Z\t\tArtist\n`)),
    {
      line: 3,
      field: 'musicbrainz-track-id',
      message: /e1\.tsv:3: field "musicbrainz-track-id": missing: expected 6 tab-separated fields, found 4/,
    },
  );
  await rejectsWith(parseLastfmEvents(write(dir, 'e2.tsv', `${ok}\n${ok}\textra\n`)), {
    line: 2,
    field: null,
    message: /e2\.tsv:2: expected 6 tab-separated fields, found 7/,
  });
  await rejectsWith(
    parseLastfmEvents(write(dir, 'e3.tsv', `${ok}\nuser_000001,2009-05-04T23:08:57Z,,Artist,,Track\n`)),
    { line: 2, field: 'timestamp', message: /found 1/ },
  );
  await rejectsWith(parseLastfmEvents(write(dir, 'e4.tsv', '')), { line: null, message: /e4\.tsv: the file is empty/ });
  await rejectsWith(parseLastfmEvents(write(dir, 'e5.tsv', `${ok}\nuser_000001\t2009-05-04T23:0`)), {
    line: 2,
    field: 'musicbrainz-artist-id',
    message: /may be truncated/,
  });
  await rejectsWith(parseLastfmEvents(write(dir, 'e6.tsv', `${ok}\n\n${ok}\n`)), {
    line: 2,
    field: null,
    message: /empty line/,
  });
});

test('skip mode counts malformed lines instead of stopping', async () => {
  const ok = 'user_000001\t2009-05-04T23:08:57Z\t\tArtist\t\tTrack';
  const ev = await parseLastfmEvents(write(tmp(), 'e.tsv', `${ok}\nbroken line\n${ok}\n`), { badLines: 'skip' });
  assert.equal(ev.events, 2);
  assert.equal(ev.skipped.lines, 1);
  assert.match(ev.skipped.examples[0], /^line 2: /);
});

/** An independent reading of the events file with JavaScript strings: (user → "artist\ttrack" → count). */
function naiveCounts(file: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const f = line.split('\t');
    const key = `${f[3]}\t${f[5]}`;
    const m = out.get(f[0]) ?? new Map<string, number>();
    m.set(key, (m.get(key) ?? 0) + 1);
    out.set(f[0], m);
  }
  return out;
}

function asCounts(ev: LastfmEvents): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  ev.users.forEach((u, i) => {
    const m = new Map<string, number>();
    ev.userTracks[i].forEach((t, k) => {
      const n = trackNames(ev.tracks, t);
      m.set(`${n.artist}\t${n.track}`, ev.userCounts[i][k]);
    });
    out.set(u, m);
  });
  return out;
}

test('byte-level parse agrees with a naive string parse, with any number of threads and buffer size', async () => {
  const dir = tmp();
  const { files } = generateSynthetic(dir, { domain: 'lastfm', users: 12, items: 3000, interactions: 30000, seed: 11 });
  const file = files[1];
  // Reorder so one user appears in two separate runs, which the parser must merge.
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const moved = lines.splice(10, 5);
  lines.push(...moved);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const expected = naiveCounts(file);
  const one = await parseLastfmEvents(file, { threads: 1 });
  assert.deepEqual(asCounts(one), expected);
  assert.equal(one.events, 30000);
  for (const u of one.userTracks) for (let k = 1; k < u.length; k++) assert.ok(u[k] > u[k - 1], 'ascending, distinct');
  for (const opts of [{ threads: 3 }, { threads: 1, chunkBytes: 4096 }, { threads: 2, chunkBytes: 1000 }]) {
    const ev = await parseLastfmEvents(file, opts);
    assert.deepEqual(ev.users, one.users, JSON.stringify(opts));
    assert.deepEqual(
      Buffer.from(ev.tracks.bytes),
      Buffer.from(one.tracks.bytes),
      `same tracks in the same order ${JSON.stringify(opts)}`,
    );
    assert.deepEqual(
      ev.userTracks.map((a) => Array.from(a)),
      one.userTracks.map((a) => Array.from(a)),
    );
    assert.deepEqual(
      ev.userCounts.map((a) => Array.from(a)),
      one.userCounts.map((a) => Array.from(a)),
    );
    assert.deepEqual(ev.userEvents, one.userEvents);
    assert.deepEqual(ev.userFirstLine, one.userFirstLine);
  }
});

test('with threads, an error in a later range reports the line number of the whole file', async () => {
  const dir = tmp();
  const ok = 'user_000001\t2009-05-04T23:08:57Z\t\tArtist\t\tTrack';
  const lines = Array.from({ length: 4000 }, (_, i) => `${ok} ${i % 50}`);
  lines[3500] = 'user_000001\t2009-05-04T23:08:57Z';
  const file = write(dir, 'e.tsv', `${lines.join('\n')}\n`);
  await rejectsWith(parseLastfmEvents(file, { threads: 3 }), {
    line: 3501,
    field: 'musicbrainz-artist-id',
    message: /e\.tsv:3501:/,
  });
});
