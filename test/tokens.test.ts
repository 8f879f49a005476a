import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { repoRoot } from '../lib/core/config';
import { countTokens, tokenizerFor, tokenizerKind } from '../lib/query/tokens';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const llama = (
  require('llama3-tokenizer-js/bundle/commonjs-llama3-tokenizer-with-baked-data.cjs') as {
    llama3Tokenizer: { encode(t: string, o?: { bos?: boolean; eos?: boolean }): number[] };
  }
).llama3Tokenizer;

const TRICKY = [
  "The user has previously watched the following movies: ['Out of Sight (1998)', 'Horse Whisperer, The (1998)'].",
  "Candidates: ['Mr. & Mrs. Smith (1941)', \"Schindler's List (1993)\", 'Freedom for Us (À nous la liberté) (1931)', 'Naked Gun 33 1/3: The Final Insult (1994)']",
  'AI Rules\n\n- Output response as a Python list only.\n- Do not output any extra text.\n   \n\t\tindented   spaces  x',
  "We'LL see THEY'RE it's 1234567 12 ab12cd   \n\n\n  trailing   ",
  'Motörhead - Ace of Spades; Björk - Jóga; 坂本龍一 - Merry Christmas Mr. Lawrence; Sigur Rós - Hoppípolla 🎵',
  '',
];

function movielensTitles(): string[] {
  const file = path.resolve(repoRoot(), '..', 'shared', 'datasets', 'ml-1m', 'movies.dat');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'latin1')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('::')[1]);
}

test('piece-by-piece counting equals encoding the whole text (o200k_base, cl100k_base, Llama 3)', () => {
  const titles = movielensTitles();
  // Prompt-sized texts built from real titles: lists of 50, as the prompts show them.
  const texts = [...TRICKY];
  for (let i = 0; i + 50 <= titles.length && texts.length < 60; i += 50)
    texts.push(`Candidates: ${JSON.stringify(titles.slice(i, i + 50))}`);
  const o200k = getEncoding('o200k_base');
  const cl100k = getEncoding('cl100k_base');
  for (const t of texts) {
    assert.equal(countTokens('o200k_base', t), o200k.encode(t).length, `o200k: ${t.slice(0, 60)}`);
    assert.equal(countTokens('cl100k_base', t), cl100k.encode(t).length, `cl100k: ${t.slice(0, 60)}`);
    assert.equal(
      countTokens('llama3', t),
      llama.encode(t, { bos: false, eos: false }).length,
      `llama3: ${t.slice(0, 60)}`,
    );
  }
  // Counted twice (now from the cache), the same.
  for (const t of texts) assert.equal(countTokens('o200k_base', t), o200k.encode(t).length);
});

test('tokenizer choice by model name', () => {
  assert.deepEqual(tokenizerKind('gpt-4o-2024-08-06'), { name: 'o200k_base', exact: true });
  assert.deepEqual(tokenizerKind('gpt-4o-mini-2024-07-18'), { name: 'o200k_base', exact: true });
  assert.deepEqual(tokenizerKind('meta-llama/Llama-3.1-8B-Instruct'), { name: 'llama3', exact: true });
  assert.deepEqual(tokenizerKind('llama3.1:8b-instruct-q8_0'), { name: 'llama3', exact: true });
  assert.deepEqual(tokenizerKind('gpt-4-0613'), { name: 'cl100k_base', exact: true });
  assert.deepEqual(tokenizerKind('mistral-7b-instruct'), { name: 'o200k_base', exact: false });
});

test('chat framing: OpenAI adds 3 per message and 3 for the reply; Llama 3 its header tokens', () => {
  const msgs = [
    { role: 'system' as const, content: 'AI Rules' },
    { role: 'user' as const, content: 'Hello there' },
  ];
  const o200k = getEncoding('o200k_base');
  const content = o200k.encode('AI Rules').length + o200k.encode('Hello there').length;
  // "system", "user" are one token each in o200k_base.
  assert.equal(tokenizerFor({ model: 'gpt-4o' }).countChat(msgs), content + 2 + 3 * 2 + 3);
  // Llama 3 template: <|begin_of_text|> + per message (<|start_header_id|> role <|end_header_id|> "\n\n" content <|eot_id|>)
  // + <|start_header_id|>assistant<|end_header_id|>"\n\n".
  const lc =
    llama.encode('AI Rules', { bos: false, eos: false }).length +
    llama.encode('Hello there', { bos: false, eos: false }).length;
  assert.equal(tokenizerFor({ model: 'Llama-3.1-8B' }).countChat(msgs), 1 + (4 + 1) * 2 + lc + 4);
});
