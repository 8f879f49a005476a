import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendLineDurable, forEachLine, readJsonl, writeJsonLines, writeJsonl } from '../lib/core/io';
import { makeRng, sampleDistinct, sampleWithoutReplacement, shuffleInPlace, deriveSeed } from '../lib/core/rng';
import { digestOf } from '../lib/core/hash';
import { canonicalJson } from '../lib/core/canonical-json';
import { invertIndex, loadProcessed, writeProcessed } from '../lib/data/processed';
import type { UserRecord } from '../lib/core/types';
import { dataFrameHtml, escapeHtml, htmlTable, withTableOfContents } from '../lib/plot/html';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-io-'));

test('JSON Lines round-trip and a torn last line is reported, not fatal', () => {
  const dir = tmp();
  const file = path.join(dir, 'a.jsonl');
  writeJsonl(file, [{ a: 1 }, { a: 2 }]);
  fs.appendFileSync(file, '{"a": 3, "b"');
  const r = readJsonl<{ a: number }>(file);
  assert.deepEqual(
    r.records.map((x) => x.a),
    [1, 2],
  );
  assert.equal(r.tornLastLine, true);
});

test('a malformed line in the middle names file and line', () => {
  const dir = tmp();
  const file = path.join(dir, 'b.jsonl');
  fs.writeFileSync(file, '{"a":1}\nnot json\n{"a":2}\n');
  assert.throws(() => readJsonl(file), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: not valid JSON`));
});

test('durable appends add whole lines', () => {
  const file = path.join(tmp(), 'c.jsonl');
  appendLineDurable(file, '{"x":1}');
  appendLineDurable(file, '{"x":2}\n');
  assert.equal(fs.readFileSync(file, 'utf8'), '{"x":1}\n{"x":2}\n');
});

test('seeded RNG is reproducible and streams differ by label', () => {
  const a = makeRng(42);
  const b = makeRng(42);
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b()),
  );
  assert.notEqual(deriveSeed(1, 'movielens', 'age'), deriveSeed(1, 'movielens', 'gender'));
  const s = sampleWithoutReplacement(makeRng(1), [1, 2, 3, 4, 5, 6, 7, 8], 5);
  assert.equal(new Set(s).size, 5);
  assert.throws(() => sampleWithoutReplacement(makeRng(1), [1, 2], 3), /cannot draw 3 distinct items from 2/);
  const arr = shuffleInPlace(makeRng(3), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...arr].sort(), [1, 2, 3, 4, 5, 6]);
});

test('sampleDistinct rejects repeated positions for small draws and is partial Fisher–Yates otherwise', () => {
  const pool = Int32Array.from({ length: 20 }, (_, i) => 100 + i);
  // k <= n/2: the positions are floor(u·n) of successive uniforms, repeats skipped.
  const u = makeRng('pin');
  const positions: number[] = [];
  while (positions.length < 6) {
    const j = Math.floor(u() * 20);
    if (!positions.includes(j)) positions.push(j);
  }
  assert.deepEqual(
    sampleDistinct(makeRng('pin'), pool, 6),
    positions.map((j) => 100 + j),
  );
  // k > n/2: exactly the draws of sampleWithoutReplacement.
  assert.deepEqual(
    sampleDistinct(makeRng('pin'), pool, 15),
    sampleWithoutReplacement(makeRng('pin'), Array.from(pool), 15),
  );
  assert.throws(() => sampleDistinct(makeRng(1), pool, 21), /cannot draw 21 distinct items from 20/);
  // Uniform: with k = 2 of n = 6, each element is drawn in a third of the trials.
  const rng = makeRng('distinct-uniformity');
  const hits = new Array(6).fill(0);
  const trials = 60000;
  for (let t = 0; t < trials; t++) {
    const s = sampleDistinct(rng, [0, 1, 2, 3, 4, 5], 2);
    assert.notEqual(s[0], s[1]);
    for (const x of s) hits[x]++;
  }
  for (const h of hits) assert.ok(Math.abs(h - trials / 3) < 0.03 * (trials / 3), `hits ${h}`);
});

test('shuffle is uniform enough: each of 3! orders appears about equally often', () => {
  const rng = makeRng('uniformity');
  const counts = new Map<string, number>();
  const n = 60000;
  for (let i = 0; i < n; i++) {
    const k = shuffleInPlace(rng, [1, 2, 3]).join('');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  for (const c of counts.values()) assert.ok(Math.abs(c - n / 6) < 0.05 * (n / 6), `count ${c}`);
});

test('stamp digests do not depend on key order', () => {
  assert.equal(digestOf({ b: 1, a: 2 }), digestOf({ a: 2, b: 1 }));
  assert.notEqual(digestOf({ a: 3, b: 1 }), digestOf({ a: 2, b: 1 }));
  assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[1,{"c":2,"d":1}]}');
});

test('inverted index lists users per item in ascending order', () => {
  const inv = invertIndex([[0, 2], [1, 2], [2]], 3);
  assert.deepEqual(
    inv.map((a) => Array.from(a)),
    [[0], [1], [0, 1, 2]],
  );
});

test('processed files are byte-identical to JSON.stringify of each record, unusual values included', () => {
  const dir = tmp();
  const names = [
    'Matrix, The (1999)',
    'Say "Hi" \\ back',
    'tab\there',
    'emoji 🎵 - Artïst',
    'lone \ud800 surrogate',
    '',
    'À nous la liberté',
  ];
  const items = names.map((name, i) => ({ v: 1, id: i % 2 ? `id-${i}` : String(1000 + i), name }));
  const users: UserRecord[] = [
    { v: 1, id: 'user_000001', proxies: { gender: 'Male', country: null } },
    { v: 1, id: 'u"2', proxies: { gender: null, country: 'Korea, Republic of' } },
    { v: 1, id: 'u3', proxies: {} },
  ];
  const userItems = [Int32Array.from([0, 2, 6]), [1, 3], new Int32Array(0)];
  const userCounts = [Int32Array.from([1, 2147483647, 10]), [7, 0], new Int32Array(0)];
  const summary = {
    v: 1,
    domain: 'lastfm',
    users: 3,
    items: items.length,
    interactions: 5,
    proxyValues: {},
    dropped: [],
    source: { dir, files: {} },
  } as const;
  writeProcessed(dir, { domain: 'lastfm', users, items, userItems, userCounts, summary: summary as never });
  const expectLines = (recs: unknown[]) => recs.map((r) => `${JSON.stringify(r)}\n`).join('');
  assert.equal(fs.readFileSync(path.join(dir, 'items.jsonl'), 'utf8'), expectLines(items));
  assert.equal(fs.readFileSync(path.join(dir, 'users.jsonl'), 'utf8'), expectLines(users));
  assert.equal(
    fs.readFileSync(path.join(dir, 'interactions.jsonl'), 'utf8'),
    expectLines(
      users.map((u, i) => ({ v: 1, user: u.id, items: Array.from(userItems[i]), counts: Array.from(userCounts[i]) })),
    ),
  );
  const back = loadProcessed(dir);
  assert.deepEqual(
    back.items.map((it) => it.name),
    names,
  );
  assert.deepEqual(Array.from(back.itemUsers[2]), [0]);
});

test('HTML tables escape their cells; a DataFrame-like shows its title, rows and a cut-off note', () => {
  assert.equal(escapeHtml('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  const t = htmlTable(
    ['a', 'b<'],
    [
      [1, '<i>'],
      [null, 'x & y'],
    ],
  );
  assert.match(t, /<th>b&lt;<\/th>/);
  assert.match(t, /<td>&lt;i&gt;<\/td>/);
  assert.match(t, /<td>null<\/td><td>x &amp; y<\/td>/);
  const df = { columns: ['n'], values: [[1], [2], [3]], shape: [3, 1] };
  const html = dataFrameHtml(df, { title: 'Counts', maxRows: 2 });
  assert.match(html, /<h4>Counts \(3 rows\)<\/h4>/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 3, 'header + 2 rows');
  assert.match(html, /… 1 more rows/);
  assert.match(dataFrameHtml({ columns: ['x'], values: [], shape: [0, 1] }), /<tbody>\n\n<\/tbody>/);
});

test('HTML tables let a long unspaced value (JSON, a path) break anywhere, and nothing else', () => {
  const json = JSON.stringify({ topN: 10, samples: 1, temperature: 0, seed: 0 }); // 44 characters, no space
  const t = htmlTable(
    ['k', 'v'],
    [
      ['a key', json],
      ['interval', '0.123 [0.100, 0.150] and some words here'],
    ],
  );
  assert.equal((t.match(/overflow-wrap:anywhere/g) ?? []).length, 1, t);
  assert.ok(t.includes(`<td style="overflow-wrap:anywhere;min-width:12em">${escapeHtml(json)}</td>`), t);
  assert.match(t, /<td>0\.123 \[0\.100, 0\.150\] and some words here<\/td>/);
  // 31 characters without a space stay as they are; 32 may break.
  assert.doesNotMatch(htmlTable(['x'], [['a'.repeat(31)]]), /anywhere/);
  assert.match(htmlTable(['x'], [['a'.repeat(32)]]), /anywhere/);
});

test('the table of contents links every h2 and h3 by a unique id, nested, before the first section', () => {
  const body = [
    '<h1>Report</h1><p>intro</p>',
    '<h2>Run</h2><p>r</p>',
    '<h2>movielens</h2><h3>Dataset</h3><h3>Table 1: prompts &amp; settings</h3><h4>not listed</h4>',
    '<h2>lastfm</h2><h3>Dataset</h3>',
    '<h2>Run</h2>',
    '<h2 id="kept">Has an id</h2>',
  ].join('\n');
  const out = withTableOfContents(body);
  const nav = /<nav class="toc"[^>]*>([\s\S]*?)<\/nav>/.exec(out);
  assert.ok(nav, out);
  assert.ok(out.indexOf('<nav') > out.indexOf('<p>intro</p>') && out.indexOf('<nav') < out.indexOf('>Run</h2>'));
  const links = [...nav![1].matchAll(/<a href="#([^"]+)">(.*?)<\/a>/g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(links, [
    ['run', 'Run'],
    ['movielens', 'movielens'],
    ['movielens-dataset', 'Dataset'],
    ['movielens-table-1-prompts-settings', 'Table 1: prompts &amp; settings'],
    ['lastfm', 'lastfm'],
    ['lastfm-dataset', 'Dataset'],
    ['run-2', 'Run'],
  ]);
  for (const [id] of links) assert.equal(out.split(` id="${id}"`).length, 2, `one element with id ${id}`);
  // h3s nest under their h2: the movielens item holds its own list.
  assert.match(nav![1], /<li><a href="#movielens">movielens<\/a><ul><li><a href="#movielens-dataset">/);
  assert.match(out, /<h2 id="kept">Has an id<\/h2>/);
  assert.equal(withTableOfContents('<p>no sections</p>'), '<p>no sections</p>');
});

test('forEachLine reads in chunks what split("\\n") reads whole: lines across chunk edges, multi-byte characters cut by an edge, CRLF, an unterminated last line', () => {
  const dir = tmp();
  const file = path.join(dir, 'lines.txt');
  const rng = makeRng('lines-7');
  const pieces = ['a', 'é', '€', '𝄞', '{"k":1}', '\r', ' ', 'xyz'];
  for (const terminated of [true, false]) {
    const lines = Array.from({ length: 40 }, (_, i) =>
      i % 9 === 4
        ? ''
        : Array.from({ length: Math.floor(rng() * 12) }, () => pieces[Math.floor(rng() * pieces.length)]).join(''),
    );
    const text = lines.join('\n') + (terminated ? '\n' : 'tail');
    fs.writeFileSync(file, text);
    // The independent reading: the whole text split at "\n" (a terminated file ends in one empty piece).
    const expected = text.split('\n');
    if (terminated) expected.pop();
    for (const chunkBytes of [1, 2, 3, 5, 7, 64, 1 << 16]) {
      const seen: [string, number, boolean][] = [];
      forEachLine(file, (line, n, unterminated) => seen.push([line, n, unterminated]), chunkBytes);
      assert.deepEqual(
        seen,
        expected.map((l, i) => [l, i + 1, !terminated && i === expected.length - 1]),
        `chunks of ${chunkBytes} bytes, ${terminated ? 'terminated' : 'unterminated'}`,
      );
    }
  }
  fs.writeFileSync(file, '');
  let calls = 0;
  forEachLine(file, () => calls++);
  assert.equal(calls, 0, 'an empty file has no lines');
});

test('writeJsonLines streams a generator into place; a generator that throws, or a rename that fails, leaves the old file and no temporary file', () => {
  const dir = tmp();
  const file = path.join(dir, 'r.jsonl');
  writeJsonLines(file, ['{"a":1}', '{"a":2}']);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"a":1}\n{"a":2}\n', 'the bytes of lines.join("\\n") + "\\n"');
  writeJsonLines(file, []);
  assert.equal(fs.readFileSync(file, 'utf8'), '', 'no lines: an empty file');
  writeJsonLines(file, ['{"old":true}']);
  function* failing(): Generator<string> {
    yield '{"new":1}';
    throw new Error('record 2 cannot be built');
  }
  assert.throws(() => writeJsonLines(file, failing()), /record 2 cannot be built/);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"old":true}\n');
  assert.deepEqual(fs.readdirSync(dir), ['r.jsonl']);
  // The rename into place fails (the target is a folder that is not empty): no temporary file is left either.
  fs.mkdirSync(path.join(dir, 'taken'));
  fs.writeFileSync(path.join(dir, 'taken', 'x'), '');
  assert.throws(() => writeJsonLines(path.join(dir, 'taken'), ['{"a":1}']), /EISDIR|ENOTEMPTY|EEXIST/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['r.jsonl', 'taken']);
});
