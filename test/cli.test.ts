// End to end through the real command line (`node build/cli/main.js`, what `npm start` runs) on generated
// MovieLens-format data, with an OpenAI-compatible model served by the fake server over real HTTP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateSynthetic } from '../lib/data/synthetic';
import { FakeOpenAIServer } from './helpers/fake-openai-server';
import { runCli } from './helpers/cli-child';
import { writeScratchConfig } from './helpers/scratch-config';

let server: FakeOpenAIServer;
let dir: string;

function writeConfig(name: string, extra: Record<string, unknown> = {}): string {
  return writeScratchConfig(path.join(dir, name), dir, {
    sample: { drawsPerSetting: 20, settings: { movielens: { none: [], age: ['age'], gender: ['gender'] } } },
    curves: { bins: 40, window: 5, bootstrap: 20 },
    query: {
      models: [
        {
          id: 'local-llm',
          provider: 'openai-compatible',
          model: 'fake-llama',
          baseURL: server.url,
          apiKeyEnv: 'UBP_TEST_KEY',
          concurrency: 4,
          inputPricePerMTok: 1,
          outputPricePerMTok: 2,
        },
      ],
    },
    ...extra,
  });
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-cli-'));
  generateSynthetic(path.join(dir, 'datasets'), {
    domain: 'movielens',
    users: 400,
    items: 300,
    interactions: 24000,
    seed: 11,
  });
  server = await FakeOpenAIServer.start({ latencyMs: 2 });
});

after(async () => {
  await server.close();
});

test('npm start runs every stage, writes the report, and a second run recomputes nothing and sends nothing', async () => {
  const config = writeConfig('run.json');
  const first = await runCli(['--config', config, '--domains', 'movielens', '--models', 'random,oracle,local-llm'], {
    UBP_TEST_KEY: 'sk-test-SECRET-123',
  });
  assert.equal(first.code, 0, first.out);
  for (const stage of ['preprocess', 'sample', 'score', 'plot'])
    assert.match(first.out, new RegExp(`\\[${stage}\\] movielens: done in`), `${stage} ran`);
  assert.match(first.out, /\[query\] movielens local-llm: done in/);
  assert.match(
    first.out,
    /Query movielens local-llm: \d+ answers \(\d+ sent, 0 from the store; finish: stop \d+\)/,
    'the final lines count answers by finish reason',
  );
  const samples = fs
    .readFileSync(path.join(dir, 'samples', 'movielens', 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n').length;
  assert.ok(samples > 20, `${samples} prompts`);
  const sent = server.chatRequests;
  assert.ok(sent > 0 && sent <= samples, `one request per distinct prompt (${sent} for ${samples} prompts)`);
  for (const m of ['random', 'oracle', 'local-llm']) {
    const lines = fs
      .readFileSync(path.join(dir, 'responses', m, 'movielens.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(lines.length, samples, `${m} answered every prompt`);
    assert.ok(fs.existsSync(path.join(dir, 'scores', m, 'movielens.jsonl')));
  }
  const report = fs.readFileSync(path.join(dir, 'figures', 'report.html'), 'utf8');
  assert.match(report, /Table 1/);
  assert.match(report, /local-llm/);
  assert.ok(!/<script[^>]+src=["']https?:/.test(report), 'the report loads nothing from the network');
  assert.ok(fs.existsSync(path.join(dir, 'figures', 'movielens', 'entropy-trend.html')));
  assert.ok(fs.existsSync(path.join(dir, 'figures', 'movielens', 'figure-data.json')));
  assert.ok(!first.out.includes('SECRET'), 'the API key is never printed');

  const figureData = fs.readFileSync(path.join(dir, 'figures', 'movielens', 'figure-data.json'));
  const second = await runCli(['--config', config, '--domains', 'movielens', '--models', 'random,oracle,local-llm'], {
    UBP_TEST_KEY: 'sk-test-SECRET-123',
  });
  assert.equal(second.code, 0, second.out);
  assert.equal(server.chatRequests, sent, 'the second run sends no request');
  assert.doesNotMatch(second.out, /\] movielens[^\n]*: done in/, 'no stage recomputed');
  assert.equal(
    (second.out.match(/up to date, skipped/g) ?? []).length,
    2 + 3 + 2,
    'preprocess, sample, 3 queries, score, plot',
  );

  const forced = await runCli(
    [
      '--config',
      config,
      '--domains',
      'movielens',
      '--models',
      'random,oracle,local-llm',
      '--force',
      'sample,score,plot',
      '--no-report',
    ],
    { UBP_TEST_KEY: 'sk-test-SECRET-123' },
  );
  assert.equal(forced.code, 0, forced.out);
  assert.match(forced.out, /\[sample\] movielens: done in/);
  assert.equal(
    server.chatRequests,
    sent,
    'recomputing the samples with the same seed asks nothing new: answers come from the store',
  );
  assert.deepEqual(
    fs.readFileSync(path.join(dir, 'figures', 'movielens', 'figure-data.json')),
    figureData,
    'same config and seed ⇒ byte-identical figure data',
  );
});

test('a model whose server is down is listed as skipped with the reason', async () => {
  const config = writeConfig('down.json', {
    query: {
      models: [
        {
          id: 'down-llm',
          provider: 'openai-compatible',
          model: 'x',
          baseURL: 'http://127.0.0.1:9/v1',
          apiKeyEnv: null,
          concurrency: 1,
          inputPricePerMTok: 0,
          outputPricePerMTok: 0,
        },
      ],
    },
  });
  const run = await runCli(
    ['--config', config, '--domains', 'movielens', '--stages', 'preprocess,sample,query', '--no-report'],
    { OPENAI_API_KEY: '' },
  );
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /Model skipped: down-llm: .*127\.0\.0\.1:9/);
  assert.match(run.out, /Model skipped: gpt-4o: environment variable OPENAI_API_KEY is empty/);
  assert.match(run.out, /\[models\] using random, popularity, group-popularity, item-cf, oracle/);
});

test('a domain without data is reported with the fix while the other domain runs; exit status 1', async () => {
  const config = writeConfig('both.json');
  const run = await runCli(['--config', config, '--stages', 'preprocess,sample', '--no-report']);
  assert.equal(run.code, 1, run.out);
  assert.match(run.out, /\[sample\] movielens: (done in|up to date)/);
  assert.match(run.out, /Domain lastfm failed: /);
  assert.match(run.out, /Fix: /);
});

test('bad command lines and configurations exit 2 with a precise message', async () => {
  const unknownFlag = await runCli(['--colour']);
  assert.equal(unknownFlag.code, 2);
  assert.match(unknownFlag.out, /unknown option "--colour"/);
  const badStage = await runCli(['--stages', 'preprocess,train']);
  assert.equal(badStage.code, 2);
  assert.match(badStage.out, /unknown stage "train"/);
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ sample: { K: 'fifty' } }));
  const badConfig = await runCli(['--config', bad]);
  assert.equal(badConfig.code, 2);
  assert.match(badConfig.out, /bad\.json: "sample\.K" must be a number, got string "fifty"/);
  const typo = path.join(dir, 'typo.json');
  fs.writeFileSync(typo, JSON.stringify({ sampel: {} }));
  const typoRun = await runCli(['--config', typo]);
  assert.equal(typoRun.code, 2);
  assert.match(typoRun.out, /unknown key "sampel"/);
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /--dry-run/);
});

test('--dry-run prices the prompts and sends nothing', async () => {
  const config = writeConfig('dry.json', { seed: 4242 });
  const before = server.chatRequests;
  const run = await runCli(
    [
      '--config',
      config,
      '--domains',
      'movielens',
      '--stages',
      'preprocess,sample,query',
      '--models',
      'local-llm',
      '--dry-run',
    ],
    { UBP_TEST_KEY: 'k' },
  );
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /\[dry run\] local-llm movielens: [\d,]+ prompts to send/);
  assert.match(run.out, /estimated USD [\d.]+ \(Batch API USD [\d.]+\)/);
  assert.equal(server.chatRequests, before);
});

test('--limit N runs a pilot of N prompts per (setting, history length); a dry run afterwards estimates from it; a catalogue id needs no config', async () => {
  const badLimit = await runCli(['--limit', '0']);
  assert.equal(badLimit.code, 2);
  assert.match(badLimit.out, /--limit needs a whole number >= 1/);
  const config = writeConfig('pilot.json', { seed: 5151 });
  const before = server.chatRequests;
  const pilot = await runCli(
    [
      '--config',
      config,
      '--domains',
      'movielens',
      '--stages',
      'preprocess,sample,query',
      '--models',
      'local-llm',
      '--limit',
      '1',
    ],
    { UBP_TEST_KEY: 'k' },
  );
  assert.equal(pilot.code, 0, pilot.out);
  const m = /pilot of 1 prompts per \(setting, history length\): (\d+) of ([\d,]+) prompts in (\d+) cells/.exec(
    pilot.out,
  );
  assert.ok(m, pilot.out);
  // 3 settings × 6 history lengths.
  assert.equal(Number(m[3]), 18);
  assert.equal(Number(m[1]), 18);
  assert.equal(server.chatRequests - before, 18);
  const dry = await runCli(
    ['--config', config, '--domains', 'movielens', '--stages', 'query', '--models', 'local-llm', '--dry-run'],
    { UBP_TEST_KEY: 'k' },
  );
  assert.equal(dry.code, 0, dry.out);
  assert.match(dry.out, /estimated from the pilot's 18 measured answers in 18 cells/);
  // No interval from one answer per cell: the line says so rather than inventing one.
  assert.match(dry.out, /no interval: measure at least 2 answers in some cell/);
  const catalogueDry = await runCli([
    '--config',
    config,
    '--domains',
    'movielens',
    '--stages',
    'query',
    '--models',
    'o4-mini',
    '--dry-run',
  ]);
  assert.equal(catalogueDry.code, 0, catalogueDry.out);
  assert.match(
    catalogueDry.out,
    /\[dry run\] o4-mini movielens: [\d,]+ prompts to send .*o200k_base\).*an assumption of 250\/answer/,
  );
  const claudeDry = await runCli([
    '--config',
    config,
    '--domains',
    'movielens',
    '--stages',
    'query',
    '--models',
    'claude-haiku-4.5',
    '--dry-run',
  ]);
  assert.equal(claudeDry.code, 0, claudeDry.out);
  assert.match(
    claudeDry.out,
    /\[dry run\] claude-haiku-4\.5 movielens: .*input [\d,]+ tokens \(o200k_base, approximate: the model’s own tokenizer is unknown\)/,
  );
  assert.equal(server.chatRequests - before, 18);
});
