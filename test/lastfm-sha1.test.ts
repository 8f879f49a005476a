import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseLastfmEvents, trackItemFields, trackNames } from '../lib/data/lastfm';
import { Sha1Prefix } from '../lib/data/lastfm/sha1-prefix';

const prefixOf = (bytes: Uint8Array) => {
  const sha = new Sha1Prefix();
  sha.hash(bytes, 0, bytes.length);
  return ((BigInt(sha.h0 >>> 0) << 32n) | BigInt(sha.h1 >>> 0)).toString(16).padStart(16, '0');
};

test('the JavaScript sha1 gives the FIPS 180 digests (first 64 bits)', () => {
  assert.equal(prefixOf(Buffer.from('abc')), 'a9993e364706816a');
  assert.equal(prefixOf(Buffer.from('')), 'da39a3ee5e6b4b0d');
  // 448 bits: the padding no longer fits the first block, so the digest takes two.
  assert.equal(prefixOf(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')), '84983e441c3bd26e');
});

test('the JavaScript sha1 agrees with node:crypto at every padding boundary and inside a larger buffer', () => {
  const sha = new Sha1Prefix();
  const src = crypto.randomBytes(400);
  for (let s = 0; s < 3; s++) {
    for (let len = 0; len <= 300; len++) {
      sha.hash(src, s, s + len);
      const want = crypto
        .createHash('sha1')
        .update(src.subarray(s, s + len))
        .digest();
      assert.deepEqual([sha.h0, sha.h1], [want.readInt32BE(0), want.readInt32BE(4)], `offset ${s}, ${len} bytes`);
    }
  }
});

test('item ids from trackItemFields are sha1 prefixes of the keys, with or without the parser-computed prefixes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-'));
  const file = path.join(dir, 'e.tsv');
  const lines: string[] = [];
  // Two users so two threads each get a range; names long enough for two-block keys and non-ASCII bytes.
  for (const u of ['u1', 'u2'])
    for (let i = 0; i < 400; i++)
      lines.push(`${u}\t2009-05-04T23:08:57Z\t\tArtïst ${i % 37}\t\tTrack ${'é'.repeat(i % 40)} ${i}`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  const ev = await parseLastfmEvents(file, { threads: 2, sha1Prefixes: true });
  const order = Int32Array.from({ length: ev.tracks.count }, (_, t) => ev.tracks.count - 1 - t);
  const fromParser = trackItemFields(ev.tracks, order, ev.sha1Prefixes);
  const computed = trackItemFields(ev.tracks, order);
  order.forEach((t, k) => {
    const { artist, track } = trackNames(ev.tracks, t);
    const want = crypto.createHash('sha1').update(`${artist}\t${track}`, 'utf8').digest('hex').slice(0, 16);
    assert.equal(fromParser.ids[k], want, `track ${t}`);
    assert.equal(computed.ids[k], want, `track ${t}`);
    assert.equal(fromParser.idKeys[k], parseInt(want.slice(0, 13), 16));
    assert.equal(fromParser.names[k], `${track} - ${artist}`);
  });
});
