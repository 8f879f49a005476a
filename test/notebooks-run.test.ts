// Notebooks executed headlessly through the runner (`npm run notebook`) on generated MovieLens-format data: the
// parameters come from the effective configuration (UBP_CONFIG), and a notebook refuses to draw from stale inputs,
// with the runner naming the failing cell and keeping the partially executed copy.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';
import { generateSynthetic } from '../lib/data/synthetic';
import { writeScratchConfig } from './helpers/scratch-config';

const python = process.env.UBP_PYTHON || '/usr/bin/python3';
const jupyter = spawnSync(python, ['-c', 'import nbformat, nbclient, ipykernel'], { encoding: 'utf8' }).status === 0;
let dir: string;

function writeConfig(name: string, extra: Record<string, unknown> = {}): string {
  return writeScratchConfig(path.join(dir, name), dir, {
    domains: ['movielens'],
    sample: { drawsPerSetting: 15, historyLengths: [0, 2, 4], settings: { movielens: { age: ['age'] } } },
    curves: { bins: 30, window: 5, bootstrap: 10 },
    ...extra,
  });
}

function runNotebook(notebook: string, config: string): { code: number; out: string; copy: string } {
  return runNotebookFile(path.join(repoRoot(), 'notebooks', notebook), config);
}

function runNotebookFile(file: string, config: string): { code: number; out: string; copy: string } {
  const notebook = path.basename(file);
  const out = path.join(dir, 'executed');
  const res = spawnSync(process.execPath, [path.join(repoRoot(), 'scripts', 'run-notebook.mjs'), '--out', out, file], {
    encoding: 'utf8',
    env: { ...process.env, UBP_CONFIG: config, UBP_DATA_DIR: '', UBP_DOMAIN: 'movielens' },
  });
  return { code: res.status ?? -1, out: `${res.stdout}${res.stderr}`, copy: path.join(out, notebook) };
}

function cellText(copy: string, index: number): string {
  const nb = JSON.parse(fs.readFileSync(copy, 'utf8')) as {
    cells: { outputs?: { text?: string | string[]; data?: Record<string, string | string[]> }[] }[];
  };
  const join = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join('') : (v ?? ''));
  return (nb.cells[index].outputs ?? [])
    .map(
      (o) =>
        join(o.text) +
        Object.values(o.data ?? {})
          .map(join)
          .join(''),
    )
    .join('\n');
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-notebooks-'));
  generateSynthetic(path.join(dir, 'datasets'), {
    domain: 'movielens',
    users: 300,
    items: 250,
    interactions: 18000,
    seed: 5,
  });
});

test(
  'notebook 02 with UBP_CONFIG naming only age and history lengths [0, 2, 4] counts exactly those; 05 brings stale baselines up to date and refuses a clashing change with one clean message',
  { skip: !jupyter && 'Jupyter (nbformat, nbclient, ipykernel) is not installed' },
  () => {
    const config = writeConfig('age.json');
    const sampled = runNotebook('02-sample.ipynb', config);
    assert.equal(sampled.code, 0, sampled.out);
    const counts = JSON.parse(fs.readFileSync(path.join(dir, 'samples', 'movielens', 'counts.json'), 'utf8'));
    assert.deepEqual(Object.keys(counts), ['age']);
    assert.deepEqual(Object.keys(counts.age).sort(), ['0', '2', '4']);
    const setupText = cellText(sampled.copy, 3);
    assert.match(setupText, /sample\.historyLengths: \[0,1,3,5,10,20\] → \[0,2,4\]/);
    const table1 = cellText(sampled.copy, 9);
    assert.match(table1, /age \(Def\)/);
    assert.doesNotMatch(table1, /gender|occupation|none/, 'Table 1 lists only the configured settings');

    const plotted = runNotebook('05-plot.ipynb', config);
    assert.equal(plotted.code, 0, plotted.out);
    const figureData = path.join(dir, 'figures', 'movielens', 'figure-data.json');
    const before = fs.readFileSync(figureData);

    // New samples (another seed): 05 answers the offline baselines again and re-scores before it draws, as npm start
    // would, instead of drawing from scores of the old samples.
    const reseeded = writeConfig('seed.json', { seed: 7 });
    const resampled = runNotebook('02-sample.ipynb', reseeded);
    assert.equal(resampled.code, 0, resampled.out);
    const redrawn = runNotebook('05-plot.ipynb', reseeded);
    assert.equal(redrawn.code, 0, redrawn.out);
    const setupCell = cellText(redrawn.copy, 3);
    assert.match(setupCell, /\[query\] movielens random: \d+ answers/);
    assert.match(setupCell, /\[score\] movielens: \d+ models scored/);
    const after = JSON.parse(fs.readFileSync(figureData, 'utf8'));
    assert.notDeepEqual(fs.readFileSync(figureData), before, 'the figures were drawn again');
    assert.equal(after.parameters.seed, 7);

    // A change of a score-stage parameter in 05's parameter cell is refused: one message with the fix, no stack trace.
    // Beside the real notebooks, so that its import of '../build/lib/index' resolves; removed at the end.
    const clashing = path.join(repoRoot(), 'notebooks', `05-clash-${process.pid}.ipynb`);
    const nb = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'notebooks', '05-plot.ipynb'), 'utf8'));
    const params = nb.cells.find((c: { source: string[] }) => c.source.join('').includes('const changes = {};'));
    params.source = params.source.map((l: string) =>
      l.replace('const changes = {};', 'const changes = { curves: { bins: 50 } };'),
    );
    fs.writeFileSync(clashing, JSON.stringify(nb));
    let refused: { code: number; out: string };
    try {
      refused = runNotebookFile(clashing, reseeded);
    } finally {
      fs.rmSync(clashing, { force: true });
    }
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /"curves\.bins" is a parameter of the score stage \(notebooks\/04-score\.ipynb\)/);
    assert.doesNotMatch(refused.out, /^\s+at /m, 'no stack trace');
    assert.doesNotMatch(refused.out, /\{\s*\n\s*\w+: /, 'no dump of the error object');
    assert.equal(JSON.parse(fs.readFileSync(figureData, 'utf8')).parameters.seed, 7, 'the figures are untouched');
  },
);
