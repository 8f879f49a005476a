// Issue 24, "honest displays after any tweak": on the MovieLens mirror with the age proxy alone and history lengths
// [0, 2, 4], everything shown — Table 1 (figure data and report), summary.json, figure-data.json, the figures, the
// report and the text of notebooks 04 and 05 — lists only those settings, leaves setup B (no prompt: no setting
// without proxy) out, flags setup C (one prompt per age group, 7) as too few prompts for a curve, and never says
// "0.0000 bits" of an empty setup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, pathsUnder, repoRoot } from '../lib/core/config';
import { runPipeline } from '../lib/pipeline';

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const hasMirror = fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'));
const python = process.env.UBP_PYTHON || '/usr/bin/python3';
const jupyter = spawnSync(python, ['-c', 'import nbformat, nbclient, ipykernel'], { encoding: 'utf8' }).status === 0;
const BASELINES = ['random', 'popularity', 'group-popularity', 'item-cf', 'oracle'];

interface Trace {
  meta?: { role?: string; setup?: string };
}

/** Every text and data output of an executed notebook, cell by cell (with the cell's source, to find it by content). */
function outputsOf(file: string): { source: string; text: string }[] {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    cells: {
      source: string | string[];
      outputs?: { text?: string | string[]; data?: Record<string, string | string[]> }[];
    }[];
  };
  const join = (v: unknown) => (Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : JSON.stringify(v ?? ''));
  return nb.cells.map((c) => ({
    source: join(c.source),
    text: (c.outputs ?? [])
      .map(
        (o) =>
          join(o.text) +
          Object.values(o.data ?? {})
            .map(join)
            .join(''),
      )
      .join('\n'),
  }));
}

/** The rows of the first HTML table after a heading (the heading element, not its entry in the contents), as cell texts. */
function tableAfter(html: string, heading: string): string[][] {
  const at = html.search(new RegExp(`<h[23][^>]*>${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.ok(at >= 0, `the report has "${heading}"`);
  const table = html.slice(at, html.indexOf('</table>', at));
  return [...table.matchAll(/<tr>(.*?)<\/tr>/gs)].map((m) =>
    [...m[1].matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/gs)].map((c) => c[1]),
  );
}

test(
  'after a tweak (age only, history [0, 2, 4]): only those settings, setup B absent, setup C flagged, no "0.0000 bits"',
  { skip: hasMirror ? false : `no dataset mirror at ${mirror}` },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-tweak-'));
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        download: false,
        domains: ['movielens'],
        paths: pathsUnder(dir),
        sample: { historyLengths: [0, 2, 4], settings: { movielens: { age: ['age'] } } },
        figures: { formats: ['html'] },
      }),
    );
    const config = loadConfig({ env: { UBP_CONFIG: configFile, UBP_DATA_DIR: mirror } });
    const result = await runPipeline(config, { models: BASELINES, log: () => {} });
    assert.ok(result.ok, JSON.stringify(result.steps.filter((s) => s.status !== 'ran' && s.status !== 'skipped')));
    const threshold = config.curves.minCurvePrompts;
    assert.equal(threshold, 30, 'the documented default');

    // Our counts: the configured setting and lengths only. Setup C has one prompt per age group: MovieLens-1M has 7 age
    // codes and every one keeps users after the paper's filters (its Table 1 says 7 too), fewer than the threshold.
    const counts = JSON.parse(fs.readFileSync(path.join(dir, 'samples', 'movielens', 'counts.json'), 'utf8'));
    assert.deepEqual(Object.keys(counts), ['age']);
    assert.deepEqual(Object.keys(counts.age), ['0', '2', '4']);
    assert.equal(counts.age['0'], 7);
    const total = counts.age['0'] + counts.age['2'] + counts.age['4'];

    // summary.json: setups A and C only, C flagged with its prompt count.
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'scores', 'summary.json'), 'utf8'));
    for (const id of BASELINES) {
      const setups = summary.models[id].movielens.setups;
      assert.deepEqual(Object.keys(setups), ['A', 'C'], `${id}: no setup B`);
      assert.equal(setups.C.prompts, 7);
      assert.equal(setups.C.tooFewPrompts, true, `${id}: setup C flagged`);
      assert.equal(setups.A.tooFewPrompts, false);
      assert.equal(setups.A.prompts + setups.C.prompts, total);
    }

    // figure-data.json: no setup B anywhere; setup C as points (its 7 prompts), no fit, band or departure.
    const figureData = JSON.parse(
      fs.readFileSync(path.join(dir, 'figures', 'movielens', 'figure-data.json'), 'utf8'),
    ) as { setups: string[]; figures: { name: string; data: unknown }[] };
    assert.deepEqual(figureData.setups, ['A', 'C']);
    assert.doesNotMatch(JSON.stringify(figureData), /"B":/);
    const trend = figureData.figures.find((f) => f.name === 'entropy-trend')!.data as {
      drawnSetups: string[];
      curves: Record<
        string,
        Record<
          string,
          { tooFewPrompts: boolean; points: unknown[]; fitted: unknown[]; band: unknown; departure: unknown }
        >
      >;
    };
    assert.deepEqual(trend.drawnSetups, ['A', 'C']);
    assert.deepEqual(Object.keys(trend.curves), ['A', 'C']);
    for (const id of BASELINES) {
      const c = trend.curves.C[id];
      assert.deepEqual(
        [c.tooFewPrompts, c.points.length, c.fitted.length, c.band, c.departure],
        [true, 7, 0, null, null],
      );
      assert.equal(trend.curves.A[id].tooFewPrompts, false);
      assert.ok(trend.curves.A[id].fitted.length > 0, `${id}: setup A has its curve`);
    }
    // Table 1: exactly age × {0, 2, 4}; the paper has age at h = 0 (7) but no h = 2 or 4; totals over the same rows.
    const table1 = figureData.figures.find((f) => f.name === 'table1')!.data as {
      rows: { setting: string; historyLength: number; ours: number; paper: number | null }[];
      total: { ours: number; matched: { ours: number; paper: number; rows: number }; unmatchedRows: number };
    };
    assert.deepEqual(
      table1.rows.map((r) => [r.setting, r.historyLength, r.paper]),
      [
        ['age', 0, 7],
        ['age', 2, null],
        ['age', 4, null],
      ],
    );
    assert.deepEqual(table1.total, { ours: total, matched: { ours: 7, paper: 7, rows: 1 }, unmatchedRows: 2 });

    // The specs drawn: setup C as prompt points with the note, without fit, band or departure marker.
    const specs = JSON.parse(fs.readFileSync(path.join(dir, 'figures', 'movielens', 'figures.json'), 'utf8'));
    const trendSpec = specs.figures['entropy-trend'] as { data: Trace[]; layout: { annotations: { text: string }[] } };
    const roles = (setup: string) =>
      new Set(trendSpec.data.filter((t) => t.meta?.setup === setup).map((t) => t.meta?.role));
    assert.deepEqual([...roles('C')].sort(), ['identity', 'prompt-points']);
    assert.ok(roles('A').has('fit') && roles('A').has('band'));
    assert.equal(roles('B').size, 0);
    const notes = trendSpec.layout.annotations.map((a) => a.text);
    assert.ok(notes.includes('too few prompts (n = 7)'), notes.join(' | '));
    assert.ok(!notes.some((n) => /Setup B/.test(n)));
    assert.doesNotMatch(JSON.stringify(specs), /Setup B|No Proxy|Gender|Occupation/);

    // The report: the same Table 1, no setup B, setup C flagged, no "0.0000 bits".
    const report = fs.readFileSync(result.reportFile!, 'utf8');
    const t1 = tableAfter(report, 'Table 1: prompts per setting');
    assert.deepEqual(t1, [
      ['setting', '# history', 'setup', 'prompts (ours)', 'prompts (paper)'],
      ['age', '0', 'C', '7', '7'],
      ['age', '2', 'A', String(counts.age['2']), 'no counterpart in the paper'],
      ['age', '4', 'A', String(counts.age['4']), 'no counterpart in the paper'],
      ['total over the rows the paper has', '', '', '7', '7'],
      ['total, all our rows', '', '', String(total), 'no counterpart in the paper'],
    ]);
    assert.doesNotMatch(report, /<td>B<\/td>|Setup B/);
    const scoreRows = tableAfter(report, "Scores (the paper's view)").slice(1);
    assert.deepEqual(
      scoreRows.map((r) => r[1]),
      BASELINES.slice()
        .sort()
        .flatMap(() => ['A', 'C: too few prompts (n = 7)']),
    );
    // Curve-derived cells of the flagged setup are empty, not numbers read off a curve of 7 prompts.
    for (const r of scoreRows.filter((x) => x[1].startsWith('C'))) assert.deepEqual(r.slice(8, 11), ['–', '–', '–']);
    assert.doesNotMatch(report, /0\.0000 bits/);

    // Notebooks 04 and 05 on the same configuration (once: the machine is small).
    if (!jupyter) return;
    const out = path.join(dir, 'executed');
    for (const notebook of ['04-score.ipynb', '05-plot.ipynb']) {
      const res = spawnSync(
        process.execPath,
        [
          path.join(repoRoot(), 'scripts', 'run-notebook.mjs'),
          '--out',
          out,
          path.join(repoRoot(), 'notebooks', notebook),
        ],
        {
          encoding: 'utf8',
          env: { ...process.env, UBP_CONFIG: configFile, UBP_DATA_DIR: mirror, UBP_DOMAIN: 'movielens' },
        },
      );
      assert.equal(res.status, 0, `${notebook}: ${res.stdout}${res.stderr}`);
    }
    const nb04 = outputsOf(path.join(out, '04-score.ipynb'));
    const all04 = nb04.map((c) => c.text).join('\n');
    assert.doesNotMatch(all04, /0\.0000 bits|setup B/);
    // No row of setup B in any table with a setup column (the hand-worked example's item "B" is another table).
    for (const key of ['summaryRows.push', 'sensRows.push', 'spreadRows.push', 'calRows.push', 'noteRows.push']) {
      const cell = nb04.find((c) => c.source.includes(key));
      assert.ok(cell, `notebook 04 has the cell of ${key}`);
      assert.doesNotMatch(cell.text, /<td>B(:[^<]*)?<\/td>/, key);
    }
    const summary04 = nb04.find((c) => c.source.includes('summaryRows.push'))!.text;
    assert.match(summary04, /C: too few prompts \(n = 7\)/);
    const oracle04 = nb04.find((c) => c.source.includes('fitted curve within'))!.text;
    assert.match(oracle04, /oracle, setup A: fitted curve within/);
    assert.match(oracle04, /oracle, setup C: too few prompts \(n = 7\), no fitted curve/);

    const nb05 = outputsOf(path.join(out, '05-plot.ipynb'));
    const all05 = nb05.map((c) => c.text).join('\n');
    assert.doesNotMatch(all05, /0\.0000 bits|Setup B|setup B/);
    const table05 = nb05.find((c) => c.source.includes('table1Figure'))!.text;
    assert.match(table05, /Age \(Def\)/);
    assert.match(table05, /no counterpart in the paper/);
    assert.doesNotMatch(table05, /No Proxy|Gender|Occupation|5096/);
    const trend05 = nb05.find((c) => c.source.includes("f.name === 'entropy-trend'"))!.text;
    assert.match(trend05, /too few prompts \(n = 7\)/);
    // The curve-parameter table is either a table with at least one turning point or one sentence, never all dashes.
    const probe05 = nb05.find((c) => c.source.includes('probeModel'))!.text;
    if (!/Nothing to show/.test(probe05)) assert.match(probe05, /<td>\d+\.\d{3}<\/td>/);
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
