/**
 * A small processed domain and a samples file, written into a temp folder, for query tests and the query benchmark.
 * Titles look like MovieLens titles (articles moved to the end, apostrophes, quotes) so prompts and parsing see real shapes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig } from '../../lib/core/config';
import { writeJsonl } from '../../lib/core/io';
import type { StoredAnswer } from '../../lib/query/store';
import { writeProcessed } from '../../lib/data/processed';
import { makeRng, sampleWithoutReplacement } from '../../lib/core/rng';
import {
  FORMAT_VERSION,
  type ItemRecord,
  type ProcessedSummary,
  type SampleRecord,
  type UserRecord,
} from '../../lib/core/types';

export interface QueryFixture {
  root: string;
  samples: SampleRecord[];
  items: ItemRecord[];
  /** Config overrides pointing every stage path into the fixture folder. */
  paths: {
    processed: string;
    samples: string;
    responses: string;
    store: string;
    scores: string;
    runs: string;
    figures: string;
  };
}

const WORDS = [
  'Heat',
  'Matrix',
  'Fargo',
  'Vertigo',
  'Alien',
  'Casablanca',
  'Rocky',
  'Psycho',
  'Jaws',
  'Amadeus',
  'Gandhi',
  'Brazil',
];

function title(i: number): string {
  const w = WORDS[i % WORDS.length];
  const year = 1950 + (i % 50);
  switch (i % 5) {
    case 0:
      return `${w} ${i}, The (${year})`;
    case 1:
      return `${w}'s Story ${i} (${year})`;
    case 2:
      return `Say "${w}" ${i} (${year})`;
    case 3:
      return `${w} & Friends ${i}: Part ${i % 3} (${year})`;
    default:
      return `${w} ${i} (${year})`;
  }
}

export function makeQueryFixture(
  root: string,
  opts: { prompts: number; items?: number; candidates?: number; seed?: number },
): QueryFixture {
  const nItems = opts.items ?? 200;
  const K = opts.candidates ?? 50;
  const rng = makeRng(opts.seed ?? 7);
  const items: ItemRecord[] = Array.from({ length: nItems }, (_, i) => ({
    v: FORMAT_VERSION,
    id: String(i + 1),
    name: title(i),
  }));
  const ages = ['18-24', '25-34', '35-44'];
  const users: UserRecord[] = Array.from({ length: 30 }, (_, u) => ({
    v: FORMAT_VERSION,
    id: `u${u}`,
    proxies: { age: ages[u % 3], gender: u % 2 ? 'Male' : 'Female', occupation: 'writer' },
  }));
  const userItems = users.map(() =>
    Int32Array.from(
      sampleWithoutReplacement(
        rng,
        Array.from({ length: nItems }, (_, i) => i),
        20,
      ).sort((a, b) => a - b),
    ),
  );
  const summary: ProcessedSummary = {
    v: FORMAT_VERSION,
    domain: 'movielens',
    users: users.length,
    items: nItems,
    interactions: users.length * 20,
    proxyValues: {},
    dropped: [],
    source: { dir: 'fixture', files: {} },
  };
  const paths = {
    processed: path.join(root, 'processed'),
    samples: path.join(root, 'samples'),
    responses: path.join(root, 'responses'),
    store: path.join(root, 'responses', 'store'),
    scores: path.join(root, 'scores'),
    runs: path.join(root, 'runs'),
    figures: path.join(root, 'figures'),
  };
  writeProcessed(path.join(paths.processed, 'movielens'), { domain: 'movielens', users, items, userItems, summary });

  const setups = ['A', 'B', 'C'] as const;
  const samples: SampleRecord[] = [];
  for (let p = 0; p < opts.prompts; p++) {
    const picked = sampleWithoutReplacement(rng, items, K + 3);
    const history = picked.slice(K).map((it) => it.id);
    const candidates = picked.slice(0, K).map((it) => it.id);
    // Distinct target masses (half the candidates get none), so rankings by target have no ties.
    const weights = candidates.map((_, i) => (i % 2 === 0 ? i + 1 : 0));
    const total = weights.reduce((a, b) => a + b, 0);
    const target = weights.map((w) => w / total);
    const targetEntropy = -target.reduce((s, q) => (q > 0 ? s + q * Math.log2(q) : s), 0);
    const setup = setups[p % 3];
    samples.push({
      v: FORMAT_VERSION,
      id: `movielens-${String(p).padStart(6, '0')}`,
      domain: 'movielens',
      setup,
      proxy: setup === 'B' ? 'none' : 'age',
      demography: setup === 'B' ? {} : { age: ages[p % 3] },
      history: setup === 'C' ? [] : history,
      candidates,
      target,
      targetEntropy,
      groupSize: 10,
      drawId: `d${p}`,
      seed: `s${p}`,
    });
  }
  fs.mkdirSync(path.join(paths.samples, 'movielens'), { recursive: true });
  writeJsonl(path.join(paths.samples, 'movielens', 'samples.jsonl'), samples);
  return { root, samples, items, paths };
}

/** A model entry for a fake OpenAI-compatible server. */
export function fakeModel(baseURL: string, overrides: Partial<ModelConfig> = {}): ModelConfig {
  return {
    id: 'fake',
    provider: 'openai-compatible',
    model: 'fake-model',
    baseURL,
    apiKeyEnv: 'UBP_TEST_QUERY_KEY',
    concurrency: 4,
    inputPricePerMTok: 2.5,
    outputPricePerMTok: 10,
    ...overrides,
  };
}

/** Every file below dir (none when it does not exist). */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

/** The API key must appear in no file a test wrote and in no log line (and some log lines must exist to check). */
export function assertSecretsAbsent(roots: string[], logs: string[], secrets: string[]): void {
  for (const root of roots) {
    for (const file of filesUnder(root)) {
      const text = fs.readFileSync(file, 'utf8');
      assert.ok(!secrets.some((s) => text.includes(s)), `API key found in ${file}`);
    }
  }
  assert.ok(logs.length > 0);
  for (const l of logs) assert.ok(!secrets.some((s) => l.includes(s)), `API key in log line: ${l}`);
}

/** A log function that keeps its lines for the test and also copies them to `sink` (checked for secrets at the end). */
export function collectingLogger(sink: string[]): { log: (l: string) => void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: (l: string) => {
      lines.push(l);
      sink.push(l);
    },
  };
}

/** The entries of a response store file, ordered by key (so two readings compare whatever order they were paid in). */
export function storeEntriesByKey(file: string): StoredAnswer[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as StoredAnswer)
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}
