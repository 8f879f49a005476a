import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { canonicalJson } from '../lib/core/canonical-json';
import { storeKey } from '../lib/query/store';
import { digestOf } from '../lib/core/hash';

test('canonicalJson sorts keys by UTF-16 code units, as RFC 8785 section 3.2.3 orders its example', () => {
  // RFC 8785's sorting example: the keys below in the order the RFC lists as sorted.
  const sorted = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
  const obj: Record<string, number> = {};
  for (const k of [...sorted].reverse()) obj[k] = 1;
  assert.equal(canonicalJson(obj), `{${sorted.map((k) => `${JSON.stringify(k)}:1`).join(',')}}`);
  assert.equal(canonicalJson({ b: [1, { d: 1, c: 2 }], a: null }), '{"a":null,"b":[1,{"c":2,"d":1}]}');
  assert.equal(canonicalJson('é"\n'), '"é\\"\\n"');
});

test('canonicalJson writes numbers as RFC 8785 appendix B does', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [1e21, '1e+21'],
    [1e-7, '1e-7'],
    [0.000001, '0.000001'],
    [333333333.33333329, '333333333.3333333'],
    [4.5, '4.5'],
    [0.002, '0.002'],
    [1e30, '1e+30'],
    [5e-324, '5e-324'],
    [-1.7976931348623157e308, '-1.7976931348623157e+308'],
  ];
  for (const [n, text] of cases) assert.equal(canonicalJson(n), text, String(n));
});

test('canonicalJson drops undefined members, writes undefined elsewhere as null, and rejects what JSON cannot hold', () => {
  assert.equal(canonicalJson({ a: undefined, b: 1 }), '{"b":1}');
  assert.equal(canonicalJson([1, undefined, null]), '[1,null,null]');
  assert.equal(canonicalJson(undefined), 'null');
  assert.throws(
    () => canonicalJson({ params: { temperature: NaN } }),
    /NaN at \$\.params\.temperature has no JSON form/,
  );
  assert.throws(() => canonicalJson([1, Infinity]), /Infinity at \$\[1\] has no JSON form/);
  assert.throws(() => canonicalJson({ f: () => 1 }), /a function at \$\.f has no JSON form/);
  assert.throws(() => canonicalJson({ n: 1n }), /a bigint at \$\.n has no JSON form/);
  assert.throws(() => digestOf({ x: -Infinity }), /-Infinity at \$\.x/);
});

test('a store key is the sha256 of the canonical request written out by hand (keys of stored answers never move)', () => {
  const key = storeKey({
    provider: 'openai-compatible',
    baseURL: null,
    model: 'llama-3.1-8b',
    messages: [
      { role: 'system', content: 'You rank items.' },
      { role: 'user', content: 'Rank for a 25-34 year old: ["Amélie (2001)", "Heat (1995)"]' },
    ],
    params: { top_p: 0.95, temperature: 0.7, seed: 7, max_tokens: 64, stop: null, logprobs: undefined },
  });
  // The canonical text of that request is
  //   {"baseURL":null,"messages":[{"content":"You rank items.","role":"system"},{"content":"Rank for a 25-34 year old:
  //   [\"Amélie (2001)\", \"Heat (1995)\"]","role":"user"}],"model":"llama-3.1-8b","params":{"max_tokens":64,"seed":7,
  //   "stop":null,"temperature":0.7,"top_p":0.95},"provider":"openai-compatible"}
  // (one line, 301 bytes of UTF-8); its sha256, computed with coreutils' sha256sum:
  assert.equal(key, '1e7f5f81d4912d6871dddc389f1267018d7fe178b7bc7ff9c74e9b83540362c6');
});
