import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  catalogue,
  ConfigError,
  loadConfig,
  mergeConfig,
  defaultConfig,
  withCatalogueModels,
  type ModelConfig,
} from '../lib/core/config';
import { apiClient, createApiResponder, effectiveBaseURL, generationParams, requestKey } from '../lib/query/llm';
import { modelFamily } from '../lib/query/families';
import { tokenizerFor } from '../lib/query/tokens';
import { FakeOpenAIServer } from './helpers/fake-openai-server';

const messages = [
  { role: 'system' as const, content: 'You rank items.' },
  { role: 'user' as const, content: 'Candidates: ["A", "B"]' },
];

test('every catalogue entry passes config validation on its own and with all the others', () => {
  const entries = catalogue();
  assert.ok(entries.length >= 20);
  for (const m of entries) {
    const merged = mergeConfig(defaultConfig(), { query: { models: [m] } }, `catalogue entry ${m.id}`);
    assert.deepEqual(
      merged.query.models.find((x) => x.id === m.id),
      m,
    );
  }
  const all = mergeConfig(defaultConfig(), { query: { models: entries } }, 'catalogue');
  assert.equal(new Set(all.query.models.map((m) => m.id)).size, all.query.models.length);
});

test('every catalogue entry dates its prices, names their page, and names a page for every quirk', () => {
  for (const m of catalogue()) {
    assert.match(m.pricesAsOf ?? '', /^\d{4}-\d{2}-\d{2}$/, m.id);
    assert.match(m.priceSource ?? '', /^https:\/\//, m.id);
    assert.ok((m.quirks ?? []).length > 0, `${m.id} lists no quirk`);
    for (const q of m.quirks ?? []) assert.match(q.source, /^https:\/\//, `${m.id}: ${q.note}`);
    assert.ok(m.inputPricePerMTok >= 0 && m.outputPricePerMTok >= 0);
  }
});

test('the catalogue covers the providers the issue names', () => {
  const ids = catalogue().map((m) => m.id);
  for (const id of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-5', 'gpt-5-mini', 'o4-mini'])
    assert.ok(ids.includes(id), id);
  const urls = catalogue().map((m) => m.baseURL ?? '');
  for (const host of [
    'api.anthropic.com',
    'generativelanguage.googleapis.com',
    'openrouter.ai',
    'api.together.xyz',
    'api.groq.com',
    'api.deepseek.com',
    'api.mistral.ai',
  ]) {
    assert.ok(
      urls.some((u) => u.includes(host)),
      host,
    );
  }
  for (const port of [':8000/', ':30000/', ':11434/', ':8080/', ':1234/'])
    assert.ok(
      urls.some((u) => u.includes(port)),
      port,
    );
  assert.ok(catalogue().some((m) => m.provider === 'azure-openai'));
});

test('the catalogue gpt-4o entries ask exactly what the default config asks (same store keys)', () => {
  const config = loadConfig({ env: {} });
  for (const id of ['gpt-4o', 'gpt-4o-mini']) {
    const configured = config.query.models.find((m) => m.id === id) as ModelConfig;
    const listed = catalogue().find((m) => m.id === id) as ModelConfig;
    assert.equal(requestKey(listed, config, messages), requestKey(configured, config, messages));
  }
});

test('a store key of an existing entry is today’s key exactly (existing paid answers stay valid)', () => {
  const config = loadConfig({ env: {} });
  const gpt4o = config.query.models.find((m) => m.id === 'gpt-4o') as ModelConfig;
  // sha256 of {"baseURL":"https://api.openai.com/v1","messages":[…],"model":"gpt-4o-2024-08-06",
  // "params":{"max_tokens":1024,"seed":0,"temperature":0},"provider":"openai"}, computed before this change.
  assert.equal(requestKey(gpt4o, config, messages), '257c317bd1b0541815e19b9df25f20463d7a0206d811ebe43ace6b39bf2d0edc');
  assert.deepEqual(generationParams(config, gpt4o), { temperature: 0, seed: 0, max_tokens: 1024 });
});

test('reasoning models send max_completion_tokens and no temperature; entry params win and null removes', () => {
  const config = loadConfig({ env: {} });
  const base: ModelConfig = {
    id: 'r',
    provider: 'openai',
    model: 'o4-mini-2025-04-16',
    baseURL: null,
    apiKeyEnv: 'K',
    concurrency: 1,
    inputPricePerMTok: 1,
    outputPricePerMTok: 1,
  };
  assert.deepEqual(generationParams(config, base), { seed: 0, max_completion_tokens: 1024 });
  assert.deepEqual(generationParams(config, { ...base, params: { temperature: 1, reasoning_effort: 'low' } }), {
    seed: 0,
    max_completion_tokens: 1024,
    temperature: 1,
    reasoning_effort: 'low',
  });
  assert.deepEqual(generationParams(config, { ...base, model: 'gpt-4.1', params: { temperature: null, seed: 7 } }), {
    seed: 7,
    max_tokens: 1024,
  });
  // Parameters sent are exactly the parameters keyed: a different budget is a different answer.
  assert.notEqual(
    requestKey({ ...base, params: { max_completion_tokens: 4000 } }, config, messages),
    requestKey(base, config, messages),
  );
  for (const name of ['o1', 'o3-mini', 'o4-mini', 'gpt-5', 'gpt-5-mini-2025-08-07', 'gpt-5-nano', 'gpt-5.1'])
    assert.ok(modelFamily(name), name);
  for (const name of [
    'gpt-4o',
    'gpt-4.1-mini',
    'gpt-5-chat-latest',
    'omni-moderation-latest',
    'openai/gpt-4o-mini',
    'claude-haiku-4-5',
  ])
    assert.equal(modelFamily(name), undefined, name);
});

test('a user entry with a catalogue id overrides it field by field', () => {
  const listed = catalogue().find((m) => m.id === 'gpt-5-mini') as ModelConfig;
  const config = loadConfig({
    env: {},
    overrides: { query: { models: [{ id: 'gpt-5-mini', baseURL: 'http://proxy.local/v1', apiKeyEnv: 'PROXY_KEY' }] } },
  });
  const m = config.query.models.find((x) => x.id === 'gpt-5-mini') as ModelConfig;
  assert.deepEqual(m, { ...listed, baseURL: 'http://proxy.local/v1', apiKeyEnv: 'PROXY_KEY' });
  // Selecting by id without any config adds the catalogue entry; a configured id keeps its own.
  const plain = loadConfig({ env: {} });
  assert.equal(
    plain.query.models.some((x) => x.id === 'o4-mini'),
    false,
  );
  const selected = withCatalogueModels(plain, ['o4-mini', 'gpt-4o', 'no-such-model']);
  assert.deepEqual(
    selected.query.models.find((x) => x.id === 'o4-mini'),
    catalogue().find((x) => x.id === 'o4-mini'),
  );
  assert.equal(selected.query.models.filter((x) => x.id === 'gpt-4o').length, 1);
  assert.equal(selected.query.models.length, plain.query.models.length + 1);
});

test('bad model entries are refused naming the file, the key and what was expected', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-cat-'));
  const file = path.join(dir, 'models.json');
  const entry = {
    id: 'x',
    provider: 'openai-compatible',
    model: 'x',
    baseURL: 'http://h/v1',
    apiKeyEnv: null,
    concurrency: 1,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
  };
  const cases: [unknown, RegExp][] = [
    [
      { ...entry, quirks: [{ note: 'n' }] },
      /models\.json: "query\.models\[0\]\.quirks" must be an array of \{"note": text, "source": documentation URL\}/,
    ],
    [{ ...entry, pricesAsOf: 'last week' }, /"query\.models\[0\]\.pricesAsOf" must be a date YYYY-MM-DD/],
    [{ ...entry, params: [1] }, /"query\.models\[0\]\.params" must be an object of request parameters/],
    [{ ...entry, provider: 'azure-openai' }, /model "x" has provider azure-openai but no "azure" block/],
    [{ ...entry, params: { model: 'y' } }, /"params" may not set "model"/],
    [{ ...entry, outputPricePerMTok: -1 }, /"query\.models\[0\]\.outputPricePerMTok" must be a number >= 0/],
    [{ id: 'x', provider: 'openai' }, /catalogue model "x" is missing "model"/],
  ];
  for (const [bad, message] of cases) {
    fs.writeFileSync(file, JSON.stringify({ models: [bad] }));
    assert.throws(
      () => catalogue(file),
      (e: unknown) => e instanceof ConfigError && message.test(e.message) && e.message.includes(file),
      JSON.stringify(bad),
    );
  }
  assert.throws(
    () => mergeConfig(defaultConfig(), { query: { models: [{ id: 'brand-new', baseURL: 'http://h/v1' }] } }),
    /new model "brand-new" is missing "provider".*not a catalogue id/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every catalogue model has a tokenizer; exact ones for the GPT-4o/4.1/5/o-series and Llama 3 families', () => {
  const expected: Record<string, string> = {
    'gpt-4o': 'o200k_base',
    'gpt-4.1-mini': 'o200k_base',
    'gpt-5-mini': 'o200k_base',
    'o4-mini': 'o200k_base',
    'together-llama-3.1-70b': 'llama3',
    'groq-llama-3.1-8b': 'llama3',
    'ollama-llama3.1-8b': 'llama3',
    'vllm-llama-3.1-8b': 'llama3',
    'lmstudio-llama-3.1-8b': 'llama3',
  };
  for (const m of catalogue()) {
    const t = tokenizerFor(m);
    if (expected[m.id]) {
      assert.equal(t.name, expected[m.id], m.id);
      assert.equal(t.exact, true, m.id);
    }
  }
  for (const id of ['claude-haiku-4.5', 'gemini-2.5-flash', 'deepseek-chat', 'mistral-small']) {
    const t = tokenizerFor(catalogue().find((m) => m.id === id) as ModelConfig);
    assert.deepEqual([t.name, t.exact], ['o200k_base', false], id);
  }
});

// ---------- Azure OpenAI through the openai package's AzureOpenAI client ----------

let server: FakeOpenAIServer;
before(async () => {
  server = await FakeOpenAIServer.start({ model: 'gpt-4o-mini-2024-07-18' });
});
after(async () => {
  await server.close();
});

test('an Azure entry builds the client with the deployment URL, the api-version and the api-key header', async () => {
  const azure = catalogue().find((m) => m.provider === 'azure-openai') as ModelConfig;
  const endpoint = `http://127.0.0.1:${server.port}/`;
  const env = {
    AZURE_OPENAI_ENDPOINT: endpoint,
    AZURE_OPENAI_DEPLOYMENT: 'ubp-mini',
    OPENAI_API_VERSION: '2024-10-21',
    AZURE_OPENAI_API_KEY: 'az-test-key-1234',
    OPENAI_BASE_URL: 'http://wrong.example/v1',
  };
  const config = loadConfig({ env: {} });
  const deploymentURL = `http://127.0.0.1:${server.port}/openai/deployments/ubp-mini`;
  assert.equal(effectiveBaseURL(azure, env), deploymentURL);
  const client = apiClient(azure, { apiKey: env.AZURE_OPENAI_API_KEY, env, timeoutMs: 5000 });
  assert.equal(client.baseURL, `http://127.0.0.1:${server.port}/openai`);

  server.reset();
  const responder = createApiResponder(azure, config, { env });
  const a = await responder.answer({ sample: {} as never, messages });
  assert.equal(a.text, '["A", "B"]');
  assert.equal(server.log.length, 1);
  const sent = server.log[0];
  assert.equal(sent.path, '/openai/deployments/ubp-mini/chat/completions');
  assert.equal(new URLSearchParams(sent.query).get('api-version'), '2024-10-21');
  assert.equal(sent.headers['api-key'], 'az-test-key-1234');
  assert.equal(sent.headers.authorization, undefined);
  assert.equal(sent.status, 200);
  // The deployment is part of the key: another deployment is another model.
  assert.notEqual(
    requestKey(azure, config, messages, env),
    requestKey(azure, config, messages, { ...env, AZURE_OPENAI_DEPLOYMENT: 'other' }),
  );
  assert.throws(
    () => effectiveBaseURL(azure, { ...env, AZURE_OPENAI_DEPLOYMENT: '' }),
    /set the environment variable AZURE_OPENAI_DEPLOYMENT/,
  );
});
