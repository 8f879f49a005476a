import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { loadConfig, pathsUnder } from '../lib/core/config';
import { ChecksumError, DatasetUnavailableError, downloadFile, locateDataset } from '../lib/data/datasets';
import { makeTarGz, makeZip, md5, startServer } from './helpers/data-archives';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-'));
const quiet = { log: () => undefined };

/** A config whose paths live in `root`, with no data directory unless given. */
function configFor(root: string, over: Record<string, unknown> = {}) {
  return loadConfig({ overrides: { paths: pathsUnder(root), ...over }, env: {} });
}

const ML_FILES = {
  'users.dat': Buffer.from('1::F::1::10::48067\n2::M::56::16::70072\n', 'latin1'),
  'movies.dat': Buffer.from('1::Toy Story (1995)::Animation\n73::Misérables, Les (1995)::Drama\n', 'latin1'),
  'ratings.dat': Buffer.from('1::1::5::978300760\n2::73::3::978302109\n', 'latin1'),
  README: Buffer.from('MovieLens test README\n'),
};

test('locateDataset uses dataDir when it holds the official file names, including ratings.dat.gz', async () => {
  const root = tmp();
  const ml = path.join(root, 'mirror', 'ml-1m');
  fs.mkdirSync(ml, { recursive: true });
  fs.writeFileSync(path.join(ml, 'users.dat'), ML_FILES['users.dat']);
  fs.writeFileSync(path.join(ml, 'movies.dat'), ML_FILES['movies.dat']);
  fs.writeFileSync(path.join(ml, 'ratings.dat.gz'), zlib.gzipSync(ML_FILES['ratings.dat']));
  const got = await locateDataset(
    configFor(root, { dataDir: path.join(root, 'mirror'), download: false }),
    'movielens',
    quiet,
  );
  assert.equal(got.source, 'dataDir');
  assert.equal(got.dir, ml);
  assert.deepEqual(got.files, {
    users: path.join(ml, 'users.dat'),
    movies: path.join(ml, 'movies.dat'),
    ratings: path.join(ml, 'ratings.dat.gz'),
  });
});

test('a missing dataset says where it looked and how to get it', async () => {
  const root = tmp();
  fs.mkdirSync(path.join(root, 'mirror', 'lastfm-1k'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'mirror', 'lastfm-1k', 'userid-profile.tsv'),
    '#id\tgender\tage\tcountry\tregistered\n',
  );
  const config = configFor(root, { dataDir: path.join(root, 'mirror'), download: false });
  await assert.rejects(locateDataset(config, 'lastfm', quiet), (e: unknown) => {
    assert.ok(e instanceof DatasetUnavailableError);
    assert.equal(e.domain, 'lastfm');
    assert.equal(e.lookedIn.length, 3);
    assert.match(e.lookedIn[0], /lastfm-1k.*missing userid-timestamp-artid-artname-traid-traname\.tsv/);
    assert.match(e.lookedIn[1], new RegExp(`${path.join(root, 'raw', 'lastfm-1k').replace(/[/\\]/g, '.')}`));
    assert.match(e.message, /"download" is false/);
    assert.match(e.fix, /lastfm-dataset-1K\.tar\.gz/);
    assert.match(e.fix, /UBP_DATA_DIR/);
    assert.ok(!e.message.includes(e.fix.slice(0, 40)), 'the fix is not repeated in the message');
    return true;
  });
});

test('with dataDir set, a dataset missing there is reported, not downloaded, even with "download": true', async () => {
  const root = tmp();
  const mirror = path.join(root, 'mirror');
  fs.mkdirSync(mirror, { recursive: true });
  const zip = makeZip(Object.entries(ML_FILES).map(([name, data]) => ({ name: `ml-1m/${name}`, data })));
  const server = await startServer({ '/ml-1m.zip': zip });
  try {
    const config = configFor(root, {
      dataDir: mirror,
      download: true,
      datasets: { movielens: { url: `${server.url}/ml-1m.zip`, archiveMd5: md5(zip) } },
    });
    await assert.rejects(locateDataset(config, 'movielens', quiet), (e: unknown) => {
      assert.ok(e instanceof DatasetUnavailableError);
      assert.match(e.lookedIn[2], /ml-1m\.zip: not present, and nothing is downloaded: "dataDir" is set/);
      assert.ok(e.fix.includes(`extract it so that ${path.join(mirror, 'ml-1m')}/ holds users.dat`), e.fix);
      assert.match(
        e.fix,
        /Or remove "dataDir" from your config \(and unset UBP_DATA_DIR\) and let the project fetch it/,
      );
      assert.ok(!e.message.includes(e.fix) && !/To get it/.test(e.message), 'the fix is printed once, by the caller');
      return true;
    });
    assert.equal(server.requests.length, 0, 'nothing was requested');
    assert.ok(!fs.existsSync(path.join(root, 'raw', 'ml-1m.zip.part')));
  } finally {
    await server.close();
  }
});

test('a host name that does not resolve fails at the first attempt, with the reason and the fix', async () => {
  const root = tmp();
  const lines: string[] = [];
  const t0 = Date.now();
  // .invalid never resolves (RFC 2606): without a network the real hosts fail the same way.
  await assert.rejects(
    downloadFile('http://ubp-no-such-host.invalid/ml-1m.zip', path.join(root, 'ml-1m.zip'), {
      log: (s) => lines.push(s),
      retryDelayMs: 5000,
    }),
    /the host ubp-no-such-host\.invalid could not be resolved \((ENOTFOUND|EAI_AGAIN)\): no network connection, or a wrong URL$/,
  );
  assert.deepEqual(lines, [], 'no retry');
  assert.ok(Date.now() - t0 < 5000, 'no retry delay');
  const config = configFor(root, { datasets: { movielens: { url: 'http://ubp-no-such-host.invalid/ml-1m.zip' } } });
  await assert.rejects(locateDataset(config, 'movielens', quiet), (e: unknown) => {
    assert.ok(e instanceof DatasetUnavailableError);
    assert.match(e.lookedIn[2], /download failed: .*could not be resolved/);
    assert.match(
      e.fix,
      /^check the network connection and run again .*, or download http:\/\/ubp-no-such-host\.invalid/,
    );
    return true;
  });
});

test('downloads the zip, resumes after a cut connection, verifies the MD5, extracts it, and reuses it next time', async () => {
  const root = tmp();
  const zip = makeZip(Object.entries(ML_FILES).map(([name, data]) => ({ name: `ml-1m/${name}`, data })));
  const server = await startServer({ '/ml-1m.zip': zip }, { '/ml-1m.zip': Math.floor(zip.length / 2) });
  try {
    const config = configFor(root, {
      datasets: { movielens: { url: `${server.url}/ml-1m.zip`, archiveMd5: md5(zip) } },
    });
    const lines: string[] = [];
    const got = await locateDataset(config, 'movielens', { log: (s) => lines.push(s) });
    assert.equal(got.source, 'download');
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[0].range, null);
    assert.equal(server.requests[1].range, `bytes=${Math.floor(zip.length / 2)}-`);
    assert.ok(
      lines.some((l) => /resuming ml-1m\.zip/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /ml-1m\.zip: .*\/.*\(100\.0%\)/.test(l)),
      'progress with total and percentage',
    );
    for (const [name, data] of Object.entries(ML_FILES))
      assert.deepEqual(fs.readFileSync(path.join(root, 'raw', 'ml-1m', name)), data, name);
    assert.equal(got.files.ratings, path.join(root, 'raw', 'ml-1m', 'ratings.dat'));
    assert.ok(!fs.existsSync(path.join(root, 'raw', 'ml-1m.zip.part')));
    const again = await locateDataset(config, 'movielens', quiet);
    assert.equal(again.source, 'raw');
    assert.equal(server.requests.length, 2, 'no new request once extracted and verified');
  } finally {
    await server.close();
  }
});

test('a .part left by an earlier run is resumed with a Range request', async () => {
  const root = tmp();
  const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const server = await startServer({ '/f.bin': body });
  try {
    const dest = path.join(root, 'f.bin');
    fs.writeFileSync(`${dest}.part`, body.subarray(0, 1234));
    await downloadFile(`${server.url}/f.bin`, dest, { log: () => undefined, retryDelayMs: 1 });
    assert.deepEqual(
      server.requests.map((r) => r.range),
      ['bytes=1234-'],
    );
    assert.deepEqual(fs.readFileSync(dest), body);
  } finally {
    await server.close();
  }
});

test('an archive with the wrong MD5 is an error naming the file, the expected and the actual hash', async () => {
  const root = tmp();
  const zip = makeZip(Object.entries(ML_FILES).map(([name, data]) => ({ name: `ml-1m/${name}`, data })));
  const server = await startServer({ '/ml-1m.zip': zip });
  try {
    const wrong = '0123456789abcdef0123456789abcdef';
    const config = configFor(root, { datasets: { movielens: { url: `${server.url}/ml-1m.zip`, archiveMd5: wrong } } });
    await assert.rejects(locateDataset(config, 'movielens', quiet), (e: unknown) => {
      assert.ok(e instanceof ChecksumError);
      assert.match(e.message, new RegExp(path.join(root, 'raw', 'ml-1m.zip').replace(/[/\\.]/g, '.')));
      assert.match(e.message, new RegExp(`expected ${wrong}`));
      assert.match(e.message, new RegExp(`got ${md5(zip)}`));
      return true;
    });
    assert.ok(!fs.existsSync(path.join(root, 'raw', 'ml-1m.zip')), 'the corrupt archive is removed');
  } finally {
    await server.close();
  }
});

test('Last.fm tar.gz: per-file MD5s are checked while extracting', async () => {
  const profile = Buffer.from('#id\tgender\tage\tcountry\tregistered\nuser_000001\tm\t\tJapan\tAug 13, 2006\n');
  const events = Buffer.from('user_000001\t2009-05-04T23:08:57Z\t\tDeep "Dish"\t\tFlashdance\n');
  const tgz = await makeTarGz([
    { name: 'lastfm-dataset-1K/userid-profile.tsv', data: profile },
    { name: 'lastfm-dataset-1K/userid-timestamp-artid-artname-traid-traname.tsv', data: events },
    { name: 'lastfm-dataset-1K/README.txt', data: Buffer.from('readme') },
  ]);
  const server = await startServer({ '/lastfm.tar.gz': tgz });
  try {
    const good = {
      'userid-profile.tsv': md5(profile),
      'userid-timestamp-artid-artname-traid-traname.tsv': md5(events),
    };
    const root = tmp();
    const config = configFor(root, {
      datasets: { lastfm: { url: `${server.url}/lastfm.tar.gz`, archive: 'lastfm.tar.gz', fileMd5: good } },
    });
    const got = await locateDataset(config, 'lastfm', quiet);
    assert.deepEqual(fs.readFileSync(got.files.events), events);
    assert.deepEqual(fs.readFileSync(got.files.profile), profile);

    const root2 = tmp();
    const badMd5 = { ...good, 'userid-timestamp-artid-artname-traid-traname.tsv': 'ffffffffffffffffffffffffffffffff' };
    const config2 = configFor(root2, {
      datasets: { lastfm: { url: `${server.url}/lastfm.tar.gz`, archive: 'lastfm.tar.gz', fileMd5: badMd5 } },
    });
    await assert.rejects(locateDataset(config2, 'lastfm', quiet), (e: unknown) => {
      assert.ok(e instanceof ChecksumError);
      assert.match(e.message, /userid-timestamp-artid-artname-traid-traname\.tsv/);
      assert.match(e.message, /expected ffffffffffffffffffffffffffffffff/);
      assert.match(e.message, new RegExp(`got ${md5(events)}`));
      return true;
    });
    assert.ok(!fs.existsSync(path.join(root2, 'raw', 'lastfm-1k')), 'nothing unverified is left in place');
    assert.ok(!fs.existsSync(path.join(root2, 'raw', 'lastfm-1k.extracting')));
  } finally {
    await server.close();
  }
});

test('a download that fails (HTTP 404) is reported with the URL and how to get the data', async () => {
  const server = await startServer({});
  try {
    const root = tmp();
    const config = configFor(root, { datasets: { movielens: { url: `${server.url}/missing.zip` } } });
    await assert.rejects(locateDataset(config, 'movielens', quiet), (e: unknown) => {
      assert.ok(e instanceof DatasetUnavailableError);
      assert.match(e.message, /HTTP 404/);
      assert.match(e.message, /missing\.zip/);
      assert.match(e.message, /dataDir/);
      return true;
    });
    assert.equal(server.requests.length, 1, 'a 4xx answer is not retried');
  } finally {
    await server.close();
  }
});
