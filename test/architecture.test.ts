// The layout of lib/ is part of its contract: stages sit in their own folders, imports run only downwards
// (core → data → sample → query → score → plot → pipeline → index), and no file imports itself through a cycle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';

const LAYERS = ['core', 'data', 'sample', 'query', 'score', 'plot', 'stages', 'notebook', 'pipeline', 'index'] as const;
const lib = path.join(repoRoot(), 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): number {
  const top = path.relative(lib, file).split(path.sep)[0].replace(/\.ts$/, '');
  const i = (LAYERS as readonly string[]).indexOf(top);
  if (i < 0)
    throw new Error(`${path.relative(repoRoot(), file)} is not in a known folder of lib/ (${LAYERS.join(', ')})`);
  return i;
}

/** Relative imports of a file that survive compilation (type-only imports are checked too: they show design). */
function importsOf(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:from\s+|import\(\s*|require\(\s*)'(\.{1,2}\/[^']+)'/g)) {
    let target = path.resolve(path.dirname(file), m[1]);
    if (fs.existsSync(`${target}.ts`)) target = `${target}.ts`;
    else if (fs.existsSync(path.join(target, 'index.ts'))) target = path.join(target, 'index.ts');
    else continue;
    out.push(target);
  }
  return out;
}

test('every file of lib/ lives in a stage folder and imports only from its own layer or below', () => {
  const upward: string[] = [];
  for (const file of sources(lib)) {
    for (const target of importsOf(file)) {
      if (layerOf(target) > layerOf(file))
        upward.push(`${path.relative(lib, file)} imports ${path.relative(lib, target)}`);
    }
  }
  assert.deepEqual(upward, [], 'imports must run downwards only');
});

test('lib/ has no import cycle', () => {
  const graph = new Map(sources(lib).map((f) => [f, importsOf(f)]));
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (f: string, trail: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'open') {
      cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(lib, x)).join(' → '));
      return;
    }
    state.set(f, 'open');
    for (const t of graph.get(f) ?? []) visit(t, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of graph.keys()) visit(f, []);
  assert.deepEqual(cycles, []);
});

test('each stage folder opens with a README that says what it reads, writes and must never do', () => {
  for (const dir of LAYERS.slice(0, 6)) {
    const readme = path.join(lib, dir, 'README.md');
    assert.ok(fs.existsSync(readme), `lib/${dir}/README.md is missing`);
    const text = fs.readFileSync(readme, 'utf8');
    for (const heading of ['Reads', 'Writes', 'Never'])
      assert.match(text, new RegExp(`^## ${heading}`, 'm'), `lib/${dir}/README.md needs a "## ${heading}" section`);
  }
});

test('no file in lib/ is over 500 lines unless it says why at its top', () => {
  const long = sources(lib)
    .map((f) => ({
      f,
      lines: fs.readFileSync(f, 'utf8').split('\n').length,
      text: fs.readFileSync(f, 'utf8').slice(0, 3000),
    }))
    .filter((x) => x.lines > 500 && !/one cohesive algorithm/i.test(x.text))
    .map((x) => `${path.relative(lib, x.f)} (${x.lines} lines)`);
  assert.deepEqual(long, []);
});

test("each stage's declared code folders are exactly the lib folders its definition imports (transitively)", async () => {
  const { STAGE_DEFINITIONS } = await import('../lib/stages');
  const folderOf = (file: string) => path.relative(lib, file).split(path.sep)[0];
  for (const def of Object.values(STAGE_DEFINITIONS)) {
    const start = sources(lib)
      .filter((f) => path.relative(lib, f).endsWith(`${path.sep}stage.ts`))
      .find((f) => fs.readFileSync(f, 'utf8').includes(`name: '${def.name}'`));
    assert.ok(start, `no lib/*/stage.ts declares the ${def.name} stage`);
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const t of importsOf(f)) visit(t);
    };
    visit(start);
    const folders = [...new Set([...seen].map(folderOf))].sort();
    assert.deepEqual(
      [...def.code].sort(),
      folders,
      `${def.name}: declared code folders vs. the folders its code imports`,
    );
  }
});

test('node:crypto is imported only by lib/core/hash.ts (one hashing mechanism)', () => {
  const offenders = sources(lib)
    .filter((f) => path.relative(lib, f) !== path.join('core', 'hash.ts'))
    .filter((f) => /from\s+'(node:)?crypto'|require\(\s*'(node:)?crypto'\s*\)/.test(fs.readFileSync(f, 'utf8')))
    .map((f) => path.relative(lib, f));
  assert.deepEqual(offenders, []);
});

test('core names no stage: its stage mechanism takes every stage from the definitions', () => {
  const stageNames = ['preprocess', 'sample', 'query', 'score', 'plot'];
  const core = sources(path.join(lib, 'core')).filter((f) => /stamps\.ts$|stage\.ts$/.test(f));
  for (const f of core) {
    const code = fs.readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    for (const name of stageNames)
      assert.ok(!code.includes(`'${name}'`), `${path.relative(lib, f)} names the ${name} stage`);
  }
});
