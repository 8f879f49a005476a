import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, type Config, type ModelConfig } from '../lib/core/config';
import { BASELINE_KINDS, createBaseline } from '../lib/query/baselines';
import { parseAnswer } from '../lib/query/parse-answer';
import { invertIndex, type ProcessedDomain } from '../lib/data/processed';
import { deriveSeed, makeRng, randomInt, sampleWithoutReplacement } from '../lib/core/rng';
import type { SampleRecord, UserRecord } from '../lib/core/types';

function baselineModel(kind: string, id = kind): ModelConfig {
  const model: ModelConfig = {
    id,
    provider: 'baseline',
    model: kind,
    baseURL: null,
    apiKeyEnv: null,
    concurrency: 64,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
  };
  return kind === 'departure' ? { ...model, departAt: 2 } : model;
}

function makeDomain(names: string[], users: { gender: string; items: number[] }[]): ProcessedDomain {
  const userRecords: UserRecord[] = users.map((u, i) => ({ v: 1, id: `u${i}`, proxies: { gender: u.gender } }));
  const items = names.map((name, i) => ({ v: 1, id: `i${i}`, name }));
  const userItems = users.map((u) => Int32Array.from([...u.items].sort((a, b) => a - b)));
  return {
    domain: 'movielens',
    users: userRecords,
    items,
    userItems,
    userCounts: users.map(() => null),
    itemUsers: invertIndex(userItems, items.length),
    itemIndex: new Map(items.map((it, i) => [it.id, i])),
    userIndex: new Map(userRecords.map((u, i) => [u.id, i])),
    summary: {
      v: 1,
      domain: 'movielens',
      users: users.length,
      items: items.length,
      interactions: 0,
      proxyValues: {},
      dropped: [],
      source: { dir: '', files: {} },
    },
  };
}

// Items A..G (indices 0..6). Names include both kinds of quotes so every answer also tests quoting.
const A = 0,
  B = 1,
  C = 2,
  D = 3,
  E = 4,
  F = 5,
  G = 6;
const NAMES = [
  "Schindler's List (1993)",
  'Matrix, The (1999)',
  'Say "Hello" - Band',
  `It's "Complicated" (2009)`,
  'Heat (1995)',
  'Back\\slash (2000)',
  'Spaceballs (1987)',
];
const TOY = makeDomain(NAMES, [
  { gender: 'Male', items: [A, B, C] },
  { gender: 'Male', items: [A, B] },
  { gender: 'Male', items: [A, D] },
  { gender: 'Female', items: [D, E, F] },
  { gender: 'Female', items: [D, E] },
  { gender: 'Female', items: [D, E, G] },
  { gender: 'Female', items: [D, F] },
]);
// Global counts: A 3, B 2, C 1, D 5, E 3, F 2, G 1. Male: A 3, B 2, C 1, D 1. Female: D 4, E 3, F 2, G 1.

const CONFIG7 = loadConfig({ env: {}, overrides: { query: { topN: 7 } } });

function toySample(over: Partial<SampleRecord> = {}): SampleRecord {
  const candidates = [G, C, F, A, E, B, D].map((i) => `i${i}`);
  return {
    v: 1,
    id: 'p1',
    domain: 'movielens',
    setup: 'B',
    proxy: 'none',
    demography: {},
    history: [],
    candidates,
    target: candidates.map(() => 1 / candidates.length),
    targetEntropy: Math.log2(candidates.length),
    groupSize: 7,
    drawId: 'd',
    seed: 's',
    ...over,
  };
}

async function picks(kind: string, sample: SampleRecord, data = TOY, config: Config = CONFIG7): Promise<number[]> {
  const responder = createBaseline(baselineModel(kind), data, config);
  const answer = await responder.answer({ sample, messages: [] });
  const candidates = sample.candidates.map((id) => ({ id, name: data.items[data.itemIndex.get(id) as number].name }));
  const parsed = parseAnswer(answer.text, candidates, config.query.topN);
  // Every baseline answer must read back through the LLM parser exactly.
  assert.deepEqual(parsed.diagnostics.unmatched, []);
  assert.deepEqual(parsed.diagnostics.duplicates, []);
  assert.ok(
    parsed.diagnostics.matchKinds.every((k) => k === 'exact'),
    answer.text,
  );
  return parsed.ranked.map((id) => data.itemIndex.get(id) as number);
}

test('popularity ranks by global interaction count, ties by item index', async () => {
  assert.deepEqual(await picks('popularity', toySample()), [D, A, E, B, F, C, G]);
});

test("group-popularity counts only the users of the sample's group; empty demography falls back to global", async () => {
  assert.deepEqual(await picks('group-popularity', toySample({ demography: { gender: 'Male' } })), [
    A,
    B,
    C,
    D,
    E,
    F,
    G,
  ]);
  assert.deepEqual(await picks('group-popularity', toySample({ demography: { gender: 'Female' } })), [
    D,
    E,
    F,
    G,
    A,
    B,
    C,
  ]);
  assert.deepEqual(await picks('group-popularity', toySample({ demography: {} })), [D, A, E, B, F, C, G]);
  await assert.rejects(
    picks('group-popularity', toySample({ demography: { gender: 'Other' } })),
    /no user .* matches the demography/,
  );
});

test('item-cf prefers the items that co-occur with the history', async () => {
  const without = (h: number[]) => [G, C, F, A, E, B, D].filter((i) => !h.includes(i)).map((i) => `i${i}`);
  // History B (users 0, 1): cos(A,B) = 2/sqrt(3·2) ≈ 0.816, cos(C,B) = 1/sqrt(1·2) ≈ 0.707, the rest 0 → by popularity D, E, F, G.
  assert.deepEqual(
    await picks('item-cf', toySample({ history: ['i1'], candidates: without([B]), target: Array(6).fill(1 / 6) })),
    [A, C, D, E, F, G],
  );
  // History G (user 5): cos(E,G) = 1/sqrt(3) ≈ 0.577 > cos(D,G) = 1/sqrt(5) ≈ 0.447, then A, B, F, C by popularity and index.
  assert.deepEqual(
    await picks('item-cf', toySample({ history: ['i6'], candidates: without([G]), target: Array(6).fill(1 / 6) })),
    [E, D, A, B, F, C],
  );
  // History B and G: the similarities add up: A 0.816, C 0.707, E 0.577, D 0.447, F 0.
  assert.deepEqual(
    await picks(
      'item-cf',
      toySample({ history: ['i1', 'i6'], candidates: without([B, G]), target: Array(5).fill(1 / 5) }),
    ),
    [A, C, E, D, F],
  );
  // No history: popularity.
  assert.deepEqual(await picks('item-cf', toySample()), [D, A, E, B, F, C, G]);
});

test('item-cf agrees with pairwise cosine similarities computed directly', async () => {
  const rng = makeRng('item-cf-check');
  const nItems = 60;
  const users = Array.from({ length: 80 }, () => ({
    gender: 'Male',
    items: sampleWithoutReplacement(
      rng,
      Array.from({ length: nItems }, (_, i) => i),
      3 + randomInt(rng, 15),
    ),
  }));
  const data = makeDomain(
    Array.from({ length: nItems }, (_, i) => `Film ${i} (19${String(i).padStart(2, '0')})`),
    users,
  );
  const config = loadConfig({ env: {}, overrides: { query: { topN: 10 } } });
  const has = (u: number, i: number) => users[u].items.includes(i);
  for (let trial = 0; trial < 20; trial++) {
    const chosen = sampleWithoutReplacement(
      rng,
      Array.from({ length: nItems }, (_, i) => i),
      25,
    );
    const history = chosen.slice(0, 1 + (trial % 5));
    const cands = chosen.slice(5);
    const cosine = (a: number, b: number) => {
      let both = 0,
        na = 0,
        nb = 0;
      for (let u = 0; u < users.length; u++) {
        if (has(u, a)) na++;
        if (has(u, b)) nb++;
        if (has(u, a) && has(u, b)) both++;
      }
      return na && nb ? both / Math.sqrt(na * nb) : 0;
    };
    const pop = (i: number) => users.filter((_, u) => has(u, i)).length;
    const score = (c: number) => history.reduce((s, h) => s + cosine(c, h), 0);
    const expected = [...cands].sort((x, y) => score(y) - score(x) || pop(y) - pop(x) || x - y).slice(0, 10);
    const sample = toySample({
      id: `t${trial}`,
      history: history.map((i) => `i${i}`),
      candidates: cands.map((i) => `i${i}`),
      target: cands.map(() => 0.05),
    });
    const got = await picks('item-cf', sample, data, config);
    // Equal scores computed in another order may differ in the last bit; compare the scores rank by rank.
    assert.deepEqual(
      got.map((i) => score(i).toFixed(9)),
      expected.map((i) => score(i).toFixed(9)),
      `trial ${trial}`,
    );
    assert.equal(new Set(got).size, 10);
  }
});

test('oracle ranks by the true target, ties by item index', async () => {
  // Candidates G, C, F, A, E, B, D with targets 0.1, 0, 0.3, 0.2, 0.3, 0.1, 0.
  const target = [0.1, 0, 0.3, 0.2, 0.3, 0.1, 0];
  assert.deepEqual(await picks('oracle', toySample({ target })), [E, F, A, B, G, C, D]);
  await assert.rejects(picks('oracle', toySample({ target: [1] })), /1 target probabilities for 7 candidates/);
});

test('random is seeded per prompt: same seed same picks, another seed or prompt other picks, uniform over many prompts', async () => {
  const names = Array.from({ length: 50 }, (_, i) => `Film ${i} (1990)`);
  const data = makeDomain(names, [{ gender: 'Male', items: [0] }]);
  const ids = names.map((_, i) => `i${i}`);
  const base = { candidates: ids, target: ids.map(() => 1 / 50) };
  const config = loadConfig({ env: {}, overrides: { seed: 1, query: { topN: 10 } } });
  const other = loadConfig({ env: {}, overrides: { seed: 2, query: { topN: 10 } } });
  const first = await picks('random', toySample({ ...base, id: 'p1' }), data, config);
  assert.equal(first.length, 10);
  assert.equal(new Set(first).size, 10);
  assert.deepEqual(await picks('random', toySample({ ...base, id: 'p1' }), data, config), first);
  assert.notDeepEqual(await picks('random', toySample({ ...base, id: 'p1' }), data, other), first);
  assert.notDeepEqual(await picks('random', toySample({ ...base, id: 'p2' }), data, config), first);
  // The draw is the project's seeded sampler on deriveSeed(config.seed, 'random', sample.id).
  const expected = sampleWithoutReplacement(
    makeRng(deriveSeed(1, 'random', 'p1')),
    ids.map((_, i) => i),
    10,
  );
  assert.deepEqual(first, expected);
  // Each candidate is picked with probability 10/50: 2000 prompts → 400 ± 4.4σ (σ = sqrt(2000·0.2·0.8) ≈ 17.9).
  const responder = createBaseline(baselineModel('random'), data, config);
  const counts = new Map<string, number>();
  for (let p = 0; p < 2000; p++) {
    const parsed = parseAnswer(
      (await responder.answer({ sample: toySample({ ...base, id: `q${p}` }), messages: [] })).text,
      names.map((name, i) => ({ id: ids[i], name })),
      10,
    );
    for (const id of parsed.ranked) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  for (const id of ids) {
    const c = counts.get(id) ?? 0;
    assert.ok(c > 320 && c < 480, `${id} picked ${c} times`);
  }
});

test('departure answers like the oracle at and above departAt and exactly like random below it', async () => {
  const names = Array.from({ length: 50 }, (_, i) => `Film ${i} (1990)`);
  const data = makeDomain(names, [{ gender: 'Male', items: [0] }]);
  const ids = names.map((_, i) => `i${i}`);
  const config = loadConfig({ env: {}, overrides: { query: { topN: 10 } } });
  const sim = baselineModel('departure', 'sim-2');
  // Uniform over 4 items: H = 2 bits (at departAt ⇒ oracle); uniform over 3: H = log2 3 ≈ 1.58 (below ⇒ random).
  const at = ids.map((_, i) => (i < 4 ? 0.25 : 0));
  const below = ids.map((_, i) => (i >= 10 && i < 13 ? 1 / 3 : 0));
  const ask = async (target: number[], id: string) => {
    const parsed = parseAnswer(
      (
        await createBaseline(sim, data, config).answer({
          sample: toySample({ candidates: ids, target, id }),
          messages: [],
        })
      ).text,
      names.map((name, i) => ({ id: ids[i], name })),
      10,
    );
    return parsed.ranked.map((x) => data.itemIndex.get(x) as number);
  };
  assert.deepEqual((await ask(at, 'p1')).slice(0, 4), [0, 1, 2, 3], 'oracle: the four positive items first');
  assert.deepEqual(
    await ask(below, 'p2'),
    await picks('random', toySample({ candidates: ids, target: below, id: 'p2' }), data, config),
  );
  assert.throws(() => createBaseline({ ...sim, departAt: undefined }, data, config), /needs "departAt"/);
});

test('answers carry zero usage, the baseline id, no fingerprint and a measured latency', async () => {
  for (const kind of BASELINE_KINDS) {
    const responder = createBaseline(baselineModel(kind, `my-${kind}`), TOY, CONFIG7);
    assert.equal(responder.config.id, `my-${kind}`);
    const answer = await responder.answer({
      sample: toySample({ demography: { gender: 'Male' }, history: ['i1'] }),
      messages: [],
    });
    assert.deepEqual(answer.usage, { inputTokens: 0, outputTokens: 0 });
    assert.equal(answer.model, `my-${kind}`);
    assert.equal(answer.fingerprint, null);
    assert.ok(answer.latencyMs >= 0 && answer.latencyMs < 1000);
    assert.ok(answer.text.startsWith('[') && answer.text.endsWith(']'));
  }
});

test('clear errors: unknown kind (listing the kinds), unknown item, other domain', async () => {
  assert.throws(
    () => createBaseline(baselineModel('magic'), TOY, CONFIG7),
    /unknown baseline kind "magic" \(known kinds: random, popularity, group-popularity, item-cf, oracle, departure, known-distribution\)/,
  );
  const responder = createBaseline(baselineModel('popularity'), TOY, CONFIG7);
  await assert.rejects(
    responder.answer({ sample: toySample({ candidates: ['i0', 'nope'] }), messages: [] }),
    /sample p1: item id "nope" is not in the processed movielens data/,
  );
  await assert.rejects(
    responder.answer({ sample: toySample({ domain: 'lastfm' }), messages: [] }),
    /from domain "lastfm"/,
  );
});

test('thousands of prompts per second on a realistic-size dataset', async () => {
  const rng = makeRng('speed');
  const nItems = 3000;
  const all = Array.from({ length: nItems }, (_, i) => i);
  const users = Array.from({ length: 2000 }, (_, u) => ({
    gender: u % 2 ? 'Male' : 'Female',
    items: sampleWithoutReplacement(rng, all, 100 + randomInt(rng, 200)),
  }));
  const data = makeDomain(
    all.map((i) => `Film ${i} (2000)`),
    users,
  );
  const config = loadConfig({ env: {}, overrides: { query: { topN: 10 } } });
  const samples = Array.from({ length: 1000 }, (_, p) => {
    const chosen = sampleWithoutReplacement(rng, all, 60);
    return toySample({
      id: `p${p}`,
      demography: { gender: p % 2 ? 'Male' : 'Female' },
      history: chosen.slice(0, 10).map((i) => `i${i}`),
      candidates: chosen.slice(10).map((i) => `i${i}`),
      target: Array(50).fill(0.02),
    });
  });
  for (const kind of BASELINE_KINDS) {
    const responder = createBaseline(baselineModel(kind), data, config);
    const start = process.hrtime.bigint();
    for (const sample of samples) await responder.answer({ sample, messages: [] });
    const perSecond = samples.length / (Number(process.hrtime.bigint() - start) / 1e9);
    assert.ok(perSecond > 1000, `${kind}: ${perSecond.toFixed(0)} prompts/s`);
  }
});
