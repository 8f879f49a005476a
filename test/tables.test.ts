// The report's tables as CSV and LaTeX (issue 24, "Tables for papers"): escaping, interval and missing-value text, RFC
// 4180 quoting, column counts, and on a real run of the MovieLens mirror with the offline baselines: every table
// written by the plot stage, its numbers those of the report and of the score files, and the LaTeX compiled by pdflatex.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultConfig, pathsUnder, repoRoot } from '../lib/core/config';
import {
  type Cell,
  type Table,
  TABLE_NAMES,
  cellText,
  estimateCell,
  latexEscape,
  missing,
  num,
  parseCsv,
  tableCsv,
  tableHtml,
  tableLatex,
  text,
} from '../lib/plot/table-format';
import { runCli } from './helpers/cli-child';

const NASTY = 'gpt_4o&co%#1';

function table(rows: Cell[][], headers = rows[0]?.map((_, j) => `c${j}`) ?? ['c0']): Table {
  return {
    name: 'gap',
    caption: 'A caption with 95 % and λ',
    columns: headers.map((header) => ({ header })),
    rows,
    empty: 'none',
  };
}

/** The rows of the tabular: one entry per line between \midrule and \bottomrule. */
function tabularRows(tex: string): { spec: string; header: string; rows: string[] } {
  const spec = /\\begin\{tabular\}\{((?:[^{}]|\{[^}]*\})*)\}/.exec(tex)?.[1];
  assert.ok(spec, `no tabular in:\n${tex}`);
  const lines = tex.split('\n');
  const top = lines.indexOf('\\toprule');
  const mid = lines.indexOf('\\midrule');
  const bottom = lines.indexOf('\\bottomrule');
  assert.ok(top >= 0 && mid === top + 2 && bottom > mid, `booktabs rules in order:\n${tex}`);
  return { spec, header: lines[top + 1], rows: lines.slice(mid + 1, bottom) };
}

/** Columns of a tabular spec such as "llrp{4.5cm}". */
function specColumns(spec: string): number {
  return spec.replace(/\{[^}]*\}/g, '').length;
}

/** Cells of one tabular row: unescaped & separators + 1, \multicolumn{n} counting n. */
function rowColumns(row: string): number {
  assert.ok(row.endsWith(' \\\\'), `row ends with \\\\: ${row}`);
  const body = row.slice(0, -3);
  const multi = /^\\multicolumn\{(\d+)\}/.exec(body);
  if (multi) return Number(multi[1]);
  return body.split(/(?<!\\)&/).length;
}

/** Braces balanced outside escapes, math closed, and no special character left bare in a row's text. */
function assertCleanLatex(line: string): void {
  let depth = 0;
  let math = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\\') {
      i++;
      continue;
    }
    if (line[i] === '$') math = !math;
    if (line[i] === '{') depth++;
    if (line[i] === '}') depth--;
    assert.ok(depth >= 0, `a closing brace without its opening one: ${line}`);
    assert.ok(math || !'#%_~^'.includes(line[i]), `bare "${line[i]}" in: ${line}`);
  }
  assert.equal(depth, 0, `unbalanced braces: ${line}`);
  assert.ok(!math, `unclosed math: ${line}`);
}

test('LaTeX escaping: a nasty model id and every special character', () => {
  assert.equal(latexEscape(NASTY), 'gpt\\_4o\\&co\\%\\#1');
  assert.equal(
    latexEscape('a_b % c & d # e $ f { g } h ~ i ^ j \\ k'),
    'a\\_b \\% c \\& d \\# e \\$ f \\{ g \\} h \\textasciitilde{} i \\textasciicircum{} j \\textbackslash{} k',
  );
  assert.equal(
    latexEscape('a − b, λ = 1e-3, Jensen–Shannon, χ²'),
    'a $-$ b, $\\lambda$ = 1e-3, Jensen--Shannon, $\\chi$$^2$',
  );
  assert.equal(latexEscape('say "hi" now'), "say ``hi'' now");
  assert.equal(latexEscape('two\nlines'), 'two lines');
  assert.equal(latexEscape('Café 模型'), 'Café ??', 'Latin-1 letters kept, characters pdflatex cannot set replaced');
});

test('intervals are written "x [a, b]" at their digits, with a LaTeX minus; an estimate without interval stays a number', () => {
  const iv = estimateCell({ estimate: 0.19642, low: 0.18888, high: 0.2041 }, 3, 'why');
  assert.equal(cellText(iv), '0.196 [0.189, 0.204]');
  const neg = estimateCell({ estimate: -0.0524, low: -0.0712, high: -0.0331 }, 3, 'why');
  assert.equal(cellText(neg), '-0.052 [-0.071, -0.033]');
  const tex = tableLatex(table([[text('x-y'), neg]]), 'movielens');
  assert.ok(tex.includes('x-y & $-$0.052 [$-$0.071, $-$0.033] \\\\'), tex);
  assert.equal(cellText(estimateCell({ estimate: 4.1, low: null, high: null }, 2, 'why')), '4.10');
  assert.equal(
    cellText(estimateCell({ estimate: 4.1, low: 3, high: 4.28 }, 2, 'why', 'unstable')),
    '4.10 [3.00, 4.28] unstable',
  );
  assert.deepEqual(estimateCell(null, 2, 'no departure region'), missing('no departure region'));
  assert.deepEqual(estimateCell({ estimate: NaN, low: 1, high: 2 }, 2, 'no prompts'), missing('no prompts'));
});

test('a missing value: "–" with its reason in HTML, an empty CSV field, "--" in LaTeX with the reasons under the table', () => {
  const t = table([
    [text('a'), num(1.5, 2), missing('no turning point inside the fit range')],
    [text('b'), num(null, 2, 'no answers'), num(2, 0)],
  ]);
  const html = tableHtml(t);
  assert.ok(html.includes('<td style="text-align:right" title="no turning point inside the fit range">–</td>'), html);
  assert.ok(html.includes('<td style="text-align:right" title="no answers">–</td>'), html);
  assert.deepEqual(parseCsv(tableCsv(t)), [
    ['c0', 'c1', 'c2'],
    ['a', '1.50', ''],
    ['b', '', '2'],
  ]);
  const tex = tableLatex(t, 'movielens');
  assert.ok(tex.includes('a & 1.50 & -- \\\\'), tex);
  assert.ok(tex.includes('\\footnotesize --: no turning point inside the fit range; no answers.'), tex);
  // Numeric columns (numbers, even with missing cells) are right-aligned, text left.
  assert.equal(tabularRows(tex).spec, 'lrr');
});

test('CSV: RFC 4180 quoting survives a quote, a comma and a line break in a cell', () => {
  const nasty = 'say "hi", then\nleave';
  const t = table([[text(nasty), text(NASTY), num(-0.5, 1)]], ['note, with comma', 'model', 'x']);
  const csv = tableCsv(t);
  assert.ok(csv.startsWith('"note, with comma",model,x\r\n'), csv);
  assert.ok(csv.includes('"say ""hi"", then\nleave"'), csv);
  assert.ok(csv.endsWith('\r\n'));
  assert.deepEqual(parseCsv(csv), [
    ['note, with comma', 'model', 'x'],
    [nasty, NASTY, '-0.5'],
  ]);
});

test('LaTeX: booktabs, caption, label, and every row with as many cells as the column spec', () => {
  const t = table([
    [text(NASTY), estimateCell({ estimate: 1, low: 0.5, high: 2 }, 2, 'why'), { kind: 'p', value: 4.2e-5 }],
    [text('b'), missing('x'), { kind: 'p', value: 0.0123 }],
  ]);
  const tex = tableLatex(t, 'lastfm-360k');
  assert.ok(tex.includes('\\caption{A caption with 95 \\% and $\\lambda$}'), tex);
  assert.ok(tex.includes('\\label{tab:lastfm-360k-gap}'), tex);
  const { spec, header, rows } = tabularRows(tex);
  assert.equal(spec, 'lrr');
  for (const r of [header, ...rows]) {
    assert.equal(rowColumns(r), 3, r);
    assertCleanLatex(r);
  }
  assert.ok(rows[0].startsWith('gpt\\_4o\\&co\\%\\#1 & 1.00 [0.50, 2.00] & $4.2\\times 10^{-5}$'), rows[0]);
  assert.ok(rows[1].endsWith('& 0.012 \\\\'), rows[1]);
  // A table without rows says why, across every column.
  const empty = tableLatex({ ...t, rows: [], empty: 'no comparisons named (config "comparisons")' }, 'movielens');
  assert.deepEqual(tabularRows(empty).rows, [
    "\\multicolumn{3}{l}{no comparisons named (config ``comparisons'')} \\\\",
  ]);
});

// ---------------------------------------------------------------- a real run

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const hasMirror = fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'));
const MODELS = ['random', 'oracle', 'popularity', 'item-cf', NASTY];
const pdflatex = spawnSync('pdflatex', ['--version']).status === 0;
let dir = '';
let tablesDir = '';

before(async () => {
  if (!hasMirror) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-tables-'));
  const baselines = defaultConfig().query.models.filter((m) => m.provider === 'baseline');
  const config = path.join(dir, 'config.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      download: false,
      dataDir: mirror,
      paths: pathsUnder(dir),
      sample: { drawsPerSetting: 60 },
      curves: { bootstrap: 40, calibration: 20 },
      figures: { formats: ['html'] },
      comparisons: [['popularity', 'item-cf']],
      query: { models: [...baselines, { ...baselines.find((m) => m.id === 'popularity')!, id: NASTY }] },
    }),
  );
  const run = await runCli(['--config', config, '--domains', 'movielens', '--models', MODELS.join(',')]);
  assert.equal(run.code, 0, run.out);
  tablesDir = path.join(dir, 'figures', 'movielens', 'tables');
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const onRun = { skip: hasMirror ? false : `no dataset mirror at ${mirror}` };

test('the plot stage writes every report table as CSV and LaTeX, recorded in its stamp', onRun, () => {
  const stamp = JSON.parse(fs.readFileSync(path.join(dir, 'figures', 'movielens', '.stamp-plot.json'), 'utf8'));
  for (const name of TABLE_NAMES)
    for (const ext of ['csv', 'tex']) {
      const f = path.join(tablesDir, `${name}.${ext}`);
      assert.ok(fs.statSync(f).size > 0, f);
      assert.ok(stamp.outputs[`tables/${name}.${ext}`], `the stamp covers tables/${name}.${ext}`);
    }
  const gap = fs.readFileSync(path.join(tablesDir, 'gap.tex'), 'utf8');
  assert.ok(gap.includes('gpt\\_4o\\&co\\%\\#1 & A & '), 'the nasty id is escaped in the LaTeX');
  for (const name of TABLE_NAMES) {
    const { spec, header, rows } = tabularRows(fs.readFileSync(path.join(tablesDir, `${name}.tex`), 'utf8'));
    for (const r of [header, ...rows]) {
      assert.equal(rowColumns(r), specColumns(spec), `${name}: ${r}`);
      assertCleanLatex(r);
    }
  }
});

/** The report's tables by name: header and cell texts, HTML entities decoded. */
function reportTables(html: string): Record<string, string[][]> {
  const decode = (s: string) =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');
  const out: Record<string, string[][]> = {};
  for (const m of html.matchAll(/<table data-table="([^"]+)">([\s\S]*?)<\/table>/g)) {
    out[m[1]] = [...m[2].matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) =>
      [...r[1].matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => decode(c[1])),
    );
  }
  return out;
}

test(
  'the CSV files hold exactly the numbers of the report (a missing value: "–" or its reason there, empty here)',
  onRun,
  () => {
    const shown = reportTables(fs.readFileSync(path.join(dir, 'figures', 'report.html'), 'utf8'));
    for (const name of [
      'table1',
      'gap',
      'calibration',
      'scores',
      'comparisons-named',
      'comparisons-exploratory',
      'power',
      'position-bias',
    ]) {
      assert.ok(shown[name], `the report shows ${name}`);
      const csv = parseCsv(fs.readFileSync(path.join(tablesDir, `${name}.csv`), 'utf8'));
      assert.ok(csv.length > 1, `${name}.csv has rows`);
      assert.deepEqual(
        csv,
        // Table 1 spells out where the paper has no row; the CSV leaves the field empty like every missing value.
        shown[name].map((r) => r.map((c) => (c === '–' || c === 'no counterpart in the paper' ? '' : c))),
        name,
      );
    }
  },
);

test('the CSV numbers are those of the run files, read independently', onRun, () => {
  const rows = (name: string) => parseCsv(fs.readFileSync(path.join(tablesDir, `${name}.csv`), 'utf8'));
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'scores', 'summary.json'), 'utf8'));
  const counts = JSON.parse(fs.readFileSync(path.join(dir, 'samples', 'movielens', 'counts.json'), 'utf8'));
  // Table 1: our counts, and the paper's from its appendix A.2 (age, h = 10: 147 prompts; "all" has no h = 20).
  const t1 = rows('table1');
  assert.deepEqual(
    t1.find((r) => r[0] === 'age' && r[1] === '10'),
    ['age', '10', 'A', String(counts.age['10']), '147'],
  );
  const all20 = t1.find((r) => r[0] === 'all' && r[1] === '20');
  if (all20) assert.equal(all20[4], '', 'no paper counterpart: an empty field');
  // Gap: the nasty model's mean gap and interval in setup A, at 3 decimals.
  const g = summary.models[NASTY].movielens.setups.A.gap.meanGap;
  const gap = rows('gap');
  const header = gap[0];
  const row = gap.find((r) => r[0] === NASTY && r[1] === 'A')!;
  assert.equal(
    row[header.indexOf('mean gap (bits) [95% CI]')],
    `${g.estimate.toFixed(3)} [${g.low.toFixed(3)}, ${g.high.toFixed(3)}]`,
  );
  // The oracle lies on X = Y: its mean gap is 0 in every setup.
  for (const r of gap.filter((r) => r[0] === 'oracle')) assert.ok(r[4].startsWith('0.000'), r.join(','));
  // Comparisons: the named pair is popularity vs item-cf.
  const named = rows('comparisons-named');
  assert.ok(named.length > 1 && named.slice(1).every((r) => [r[1], r[2]].sort().join() === 'item-cf,popularity'));
  // Position bias: the shares of each model sum to 1 (five bins of ten positions).
  const pb = rows('position-bias');
  for (const r of pb.slice(1)) {
    const shares = r.slice(3, 8).map(Number);
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 1) < 0.003, r.join(','));
  }
});

test(
  'the LaTeX compiles: pdflatex -halt-on-error on a document that inputs every table',
  {
    skip: !hasMirror
      ? `no dataset mirror at ${mirror}`
      : !pdflatex
        ? 'pdflatex is not installed here (CI installs texlive-latex-recommended)'
        : false,
  },
  () => {
    const doc = path.join(dir, 'tables-doc');
    fs.mkdirSync(doc, { recursive: true });
    const inputs = TABLE_NAMES.map((n) => `\\input{${path.join(tablesDir, `${n}.tex`)}}\n\\clearpage`);
    fs.writeFileSync(
      path.join(doc, 'doc.tex'),
      [
        '\\documentclass{article}',
        '\\usepackage{booktabs}',
        '\\begin{document}',
        ...inputs,
        '\\end{document}',
        '',
      ].join('\n'),
    );
    const r = spawnSync('pdflatex', ['-halt-on-error', '-interaction=nonstopmode', 'doc.tex'], {
      cwd: doc,
      encoding: 'utf8',
    });
    assert.equal(
      r.status,
      0,
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('!'))
        .join('\n') || r.stdout.slice(-3000),
    );
    assert.ok(fs.statSync(path.join(doc, 'doc.pdf')).size > 1000);
    const log = fs.readFileSync(path.join(doc, 'doc.log'), 'utf8');
    assert.doesNotMatch(log, /Missing character|undefined/i);
  },
);
