// Every output knows its inputs (issue 13, and the reliability issue's stamp items), through the real command line:
// stale inputs are refused with the file, what it no longer matches and the refresh command; an upgrade of a stage's
// code recomputes it; a copied data folder is checked against its own files; a failed stage invalidates its output;
// named runs keep variants apart. One full run is made once and copied for each test (stamps are relative).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../lib/core/config';
import { fileDigest } from '../lib/core/hash';
import { generateSynthetic } from '../lib/data/synthetic';
import { notebookConfig } from '../lib/notebook';
import { runCli } from './helpers/cli-child';
import { writeScratchConfig } from './helpers/scratch-config';

let base: string;
const MODELS = ['--domains', 'movielens', '--models', 'random,oracle'];

function writeConfig(dir: string, extra: Record<string, unknown> = {}): string {
  return writeScratchConfig(path.join(dir, `config-${Object.keys(extra).join('-') || 'base'}.json`), dir, {
    sample: { drawsPerSetting: 15, settings: { movielens: { none: [], age: ['age'], gender: ['gender'] } } },
    curves: { bins: 30, window: 5, bootstrap: 10 },
    ...extra,
  });
}

/** A copy of the base run (timestamps kept, so the raw data's fingerprints match). */
function copyOfBase(name: string): string {
  const dir = path.join(path.dirname(base), name);
  fs.cpSync(base, dir, { recursive: true, preserveTimestamps: true });
  return dir;
}

function digests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) out[name] = fileDigest(p);
  }
  return out;
}

before(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-lineage-'));
  base = path.join(root, 'base');
  generateSynthetic(path.join(base, 'datasets'), {
    domain: 'movielens',
    users: 300,
    items: 250,
    interactions: 18000,
    seed: 5,
  });
  const run = await runCli(['--config', writeConfig(base), ...MODELS]);
  assert.equal(run.code, 0, run.out);
});

test('a copied data folder is up to date against its own files; a truncated samples.jsonl in the copy is refused, then recomputed', async () => {
  const dir = copyOfBase('copy');
  const config = writeConfig(dir);
  const again = await runCli(['--config', config, ...MODELS, '--no-report']);
  assert.equal(again.code, 0, again.out);
  assert.equal((again.out.match(/up to date, skipped/g) ?? []).length, 6, again.out);

  const samples = path.join(dir, 'samples', 'movielens', 'samples.jsonl');
  const lines = fs.readFileSync(samples, 'utf8').trim().split('\n');
  fs.writeFileSync(samples, `${lines.slice(0, Math.floor(lines.length / 3)).join('\n')}\n`);
  const scoresBefore = digests(path.join(dir, 'scores'));
  const refused = await runCli(['--config', config, ...MODELS, '--stages', 'query,score']);
  assert.equal(refused.code, 1, refused.out);
  assert.ok(refused.out.includes(`${samples} was changed after sample movielens wrote it`), refused.out);
  assert.match(refused.out, /refresh it with: npm start -- --stages sample --domains movielens/);
  assert.deepEqual(digests(path.join(dir, 'scores')), scoresBefore, 'nothing was scored from the truncated samples');
  const baseSamples = fs
    .readFileSync(path.join(base, 'samples', 'movielens', 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n').length;
  assert.equal(baseSamples, lines.length, 'the original folder is untouched');

  const refreshed = await runCli(['--config', config, ...MODELS, '--no-report']);
  assert.equal(refreshed.code, 0, refreshed.out);
  assert.match(refreshed.out, /\[sample\] movielens: done in/);
  assert.equal(
    fs.readFileSync(samples, 'utf8').trim().split('\n').length,
    lines.length,
    'same seed, same samples again',
  );
});

test('changing the seed and re-running sample only: the plot stage refuses, names the stale file, and leaves the figures untouched', async () => {
  const dir = copyOfBase('seed');
  const config = writeConfig(dir, { seed: 99 });
  const figures = digests(path.join(dir, 'figures'));
  const sampled = await runCli(['--config', config, ...MODELS, '--stages', 'sample']);
  assert.equal(sampled.code, 0, sampled.out);
  const plot = await runCli(['--config', config, ...MODELS, '--stages', 'plot']);
  assert.notEqual(plot.code, 0, plot.out);
  const scores = path.join(dir, 'scores', 'random', 'movielens.jsonl');
  assert.ok(plot.out.includes(`stale file: ${scores}`), plot.out);
  assert.ok(
    plot.out.includes(`no longer matches: ${path.join(dir, 'samples', 'movielens', 'samples.jsonl')}`),
    plot.out,
  );
  assert.match(plot.out, /refresh it with: npm start -- --stages score --domains movielens --models random,oracle/);
  assert.deepEqual(digests(path.join(dir, 'figures')), figures, 'figures and report untouched');

  const all = await runCli(['--config', config, ...MODELS, '--no-report']);
  assert.equal(all.code, 0, all.out);
  for (const stage of ['query', 'score', 'plot'])
    assert.match(all.out, new RegExp(`\\[${stage}\\] movielens[^\\n]*: done in`), `${stage} recomputed`);
});

test('an upgraded stage code version recomputes that stage; plot alone refuses scores made by other code', async () => {
  const dir = copyOfBase('code');
  const config = writeConfig(dir);
  const upgraded = await runCli(['--config', config, ...MODELS, '--no-report'], { UBP_CODE_SALT: 'score=2' });
  assert.equal(upgraded.code, 0, upgraded.out);
  assert.match(upgraded.out, /\[score\] movielens: done in/);
  assert.match(upgraded.out, /\[sample\] movielens: up to date, skipped/);
  assert.match(upgraded.out, /\[query\] movielens random: up to date, skipped/);
  // Same scoring code in substance: the score files are the same bytes, so the figures need not be redrawn.
  assert.match(upgraded.out, /\[plot\] movielens: up to date, skipped/);

  const downgraded = await runCli(['--config', config, ...MODELS, '--stages', 'plot']);
  assert.equal(downgraded.code, 1, downgraded.out);
  assert.match(downgraded.out, /was computed by another version of the code of the score stage/);
});

test('a failed preprocess invalidates its stamp: sample and query refuse the old processed files and say why', async () => {
  const dir = copyOfBase('corrupt');
  const config = writeConfig(dir);
  fs.writeFileSync(path.join(dir, 'datasets', 'ml-1m', 'ratings.dat'), 'this is not a ratings file\n');
  const failed = await runCli(['--config', config, ...MODELS, '--stages', 'preprocess']);
  assert.equal(failed.code, 1, failed.out);
  assert.ok(
    fs.existsSync(path.join(dir, 'processed', 'movielens', 'users.jsonl')),
    'the old processed files are still there',
  );
  const refused = await runCli(['--config', config, ...MODELS, '--stages', 'sample,query']);
  assert.equal(refused.code, 1, refused.out);
  assert.match(
    refused.out,
    /preprocess movielens failed \(.+\); its old outputs in .+processed\/movielens are not used/,
  );
  assert.match(refused.out, /refresh it with: npm start -- --stages preprocess --domains movielens/);
  assert.doesNotMatch(refused.out, /\[sample\] movielens: done in/);
});

test('a named run keeps its results apart, shares processed data, saves its configuration and records every parameter', async () => {
  const dir = copyOfBase('named');
  const baseline = digests(path.join(dir, 'figures'));
  const config = writeConfig(dir, { score: { smoothing: 0.01 } });
  const run = await runCli(['--config', config, ...MODELS, '--run', 'lambda-0.01']);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /\[preprocess\] movielens: up to date, skipped/);
  const runDir = path.join(dir, 'runs', 'lambda-0.01');
  for (const sub of [
    'samples/movielens/samples.jsonl',
    'responses/random/movielens.jsonl',
    'scores/summary.json',
    'figures/movielens/figure-data.json',
    'figures/report.html',
  ]) {
    assert.ok(fs.existsSync(path.join(runDir, sub)), `${sub} in the run folder`);
  }
  assert.deepEqual(digests(path.join(dir, 'figures')), baseline, 'the baseline figures are untouched');
  const saved = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));
  assert.equal(saved.run, 'lambda-0.01');
  assert.equal(saved.score.smoothing, 0.01);
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'scores', 'summary.json'), 'utf8'));
  const figureData = JSON.parse(fs.readFileSync(path.join(runDir, 'figures', 'movielens', 'figure-data.json'), 'utf8'));
  for (const params of [summary.parameters.movielens, figureData.parameters]) {
    assert.equal(params.score.smoothing, 0.01);
    assert.equal(params.curves.bins, 30);
    assert.equal(params.seed, 20250707);
    assert.deepEqual(params.sample.historyLengths, [0, 1, 3, 5, 10, 20]);
    assert.deepEqual(params.models, ['random', 'oracle']);
  }
  const report = fs.readFileSync(path.join(runDir, 'figures', 'report.html'), 'utf8');
  assert.match(report, /Run: <b>lambda-0\.01<\/b>/);
  assert.match(report, /<td>score\.smoothing<\/td><td>0\.001<\/td><td>0\.01<\/td>/);

  // A notebook of the plot stage in this run takes λ and the curves from the score stage's stamp, not from the defaults.
  const saved_env = process.env.UBP_CONFIG;
  process.env.UBP_CONFIG = writeConfig(dir);
  try {
    const setup = notebookConfig({ stage: 'plot', domain: 'movielens', run: 'lambda-0.01' });
    assert.equal(setup.config.score.smoothing, 0.01);
    assert.deepEqual(setup.models, ['random', 'oracle']);
    assert.ok(setup.changes.some((c) => c.key === 'score.smoothing' && c.to === 0.01));
    assert.throws(
      () =>
        notebookConfig({ stage: 'plot', domain: 'movielens', run: 'lambda-0.01', changes: { curves: { bins: 50 } } }),
      /"curves\.bins" is a parameter of the score stage \(notebooks\/04-score\.ipynb\)/,
    );
    assert.equal(loadConfig().score.smoothing, 0.001, 'the configuration itself is unchanged');
  } finally {
    if (saved_env === undefined) delete process.env.UBP_CONFIG;
    else process.env.UBP_CONFIG = saved_env;
  }
});

test('changing only curves.bins and curves.departureGap recomputes score and plot, and figure-data.json carries the new values', async () => {
  const dir = copyOfBase('tweak');
  const figureData = path.join(dir, 'figures', 'movielens', 'figure-data.json');
  const before = JSON.parse(fs.readFileSync(figureData, 'utf8'));
  assert.equal(before.parameters.curves.bins, 30);
  const config = writeConfig(dir, { curves: { bins: 40, window: 5, bootstrap: 10, departureGap: 0.6 } });
  const run = await runCli(['--config', config, ...MODELS]);
  assert.equal(run.code, 0, run.out);
  for (const stage of ['preprocess', 'sample'])
    assert.match(run.out, new RegExp(`\\[${stage}\\] movielens: up to date, skipped`));
  assert.match(run.out, /\[query\] movielens random: up to date, skipped/);
  assert.match(run.out, /\[score\] movielens: done in/);
  assert.match(
    run.out,
    /\[plot\] movielens: done in/,
    'the plot stage must not serve figures drawn with the old curve parameters',
  );
  const after = JSON.parse(fs.readFileSync(figureData, 'utf8'));
  assert.equal(after.parameters.curves.bins, 40);
  assert.equal(after.parameters.curves.departureGap, 0.6);
  assert.deepEqual([after.curveOptions.bins, after.curveOptions.departureGap], [40, 0.6]);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'scores', 'summary.json'), 'utf8'));
  assert.equal(summary.parameters.movielens.curves.bins, 40);
  assert.equal(summary.models.random.movielens.curves.departureGap, 0.6);
  // And once more: everything is up to date.
  const again = await runCli(['--config', config, ...MODELS]);
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /: done in/);
});

test('changing only a plot setting (style, size, formats) re-plots without re-scoring: the scores stay byte-identical', async () => {
  const dir = copyOfBase('replot');
  const scoresBefore = digests(path.join(dir, 'scores'));
  const config = writeConfig(dir, {
    figures: { style: 'paper', size: 'single-column', formats: ['html', 'svg'] },
  });
  const run = await runCli(['--config', config, ...MODELS]);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /\[score\] movielens: up to date, skipped/);
  assert.match(run.out, /\[plot\] movielens: done in/);
  assert.deepEqual(digests(path.join(dir, 'scores')), scoresBefore);
  const figureData = JSON.parse(fs.readFileSync(path.join(dir, 'figures', 'movielens', 'figure-data.json'), 'utf8'));
  assert.equal(figureData.figureParameters.look.style, 'paper');
  assert.ok(
    fs.existsSync(path.join(dir, 'figures', 'movielens', 'entropy-trend.svg')) || !fs.existsSync('/usr/bin/chromium'),
  );
});

test('a model defined once, for the query stage, is scored and plotted by default (CLI and notebooks)', async () => {
  const dir = copyOfBase('defined-once');
  // The model exists only in the configuration of the query run: later stages must take it from the query stamp.
  const extra = {
    id: 'pop-once',
    provider: 'baseline',
    model: 'popularity',
    concurrency: 1,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
  };
  const queryConfig = writeConfig(dir, { query: { models: [extra] } });
  const asked = await runCli([
    '--config',
    queryConfig,
    '--domains',
    'movielens',
    '--models',
    'random,oracle,pop-once',
    '--stages',
    'query',
  ]);
  assert.equal(asked.code, 0, asked.out);
  const plain = writeConfig(dir);
  const scored = await runCli(['--config', plain, '--domains', 'movielens', '--stages', 'score,plot']);
  assert.equal(scored.code, 0, scored.out);
  assert.match(scored.out, /\[models\] movielens: the answered models random, oracle, pop-once/);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'scores', 'summary.json'), 'utf8'));
  assert.ok(summary.models['pop-once']?.movielens, 'pop-once is scored');
  const figureData = JSON.parse(fs.readFileSync(path.join(dir, 'figures', 'movielens', 'figure-data.json'), 'utf8'));
  assert.deepEqual(
    figureData.models.map((m: { id: string }) => m.id),
    ['random', 'oracle', 'pop-once'],
  );

  const savedEnv = process.env.UBP_CONFIG;
  process.env.UBP_CONFIG = plain;
  try {
    for (const stage of ['score', 'plot'] as const) {
      const setup = notebookConfig({ stage, domain: 'movielens' });
      assert.deepEqual(setup.models, ['random', 'oracle', 'pop-once'], `notebook of the ${stage} stage`);
      assert.deepEqual(
        setup.config.query.models.find((m) => m.id === 'pop-once'),
        { ...setup.config.query.models.find((m) => m.id === 'pop-once'), ...extra },
      );
    }
  } finally {
    if (savedEnv === undefined) delete process.env.UBP_CONFIG;
    else process.env.UBP_CONFIG = savedEnv;
  }
});
