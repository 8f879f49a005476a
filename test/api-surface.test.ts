// The notebooks' public surface (lib/index.ts) is documented in docs/api.md by scripts/api-doc.mjs and kept small:
// the document must be current, and the surface must stay within MAX_PUBLIC_NAMES names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';

/** Names index.ts may export (values and types, every leaf of every namespace): what notebooks use, with room. */
const MAX_PUBLIC_NAMES = 150;

const root = repoRoot();
const script = path.join(root, 'scripts', 'api-doc.mjs');
const apiDoc = (args: string[]) => spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8' });

/** docs/api.md read without the script: section title (`ubp.core`) → the names listed in it. */
function documented(text: string): Map<string, Set<string>> {
  const sections = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of text.split('\n')) {
    const heading = /^## (ubp(?:\.\w+)*)$/.exec(line);
    if (heading) sections.set(heading[1], (current = new Set()));
    const entry = /^- `([^`]+)`/.exec(line);
    if (entry && current) current.add(entry[1]);
  }
  return sections;
}

/**
 * The compiled index's runtime values: section title → names. A namespace is a module object (it has __esModule) or,
 * at the top level, the plain object a TypeScript `namespace` compiles to.
 */
function runtimeNames(value: Record<string, unknown>, title = 'ubp', out = new Map<string, string[]>()) {
  out.set(title, []);
  for (const [name, v] of Object.entries(value)) {
    const moduleObject = v && typeof v === 'object' && Object.prototype.hasOwnProperty.call(v, '__esModule');
    const tsNamespace = title === 'ubp' && v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
    if (moduleObject || tsNamespace) {
      runtimeNames(v as Record<string, unknown>, `${title}.${name}`, out);
    } else out.get(title)!.push(name);
  }
  return out;
}

test('docs/api.md is up to date with lib/index.ts (scripts/api-doc.mjs --check)', () => {
  const check = apiDoc(['--check']);
  assert.equal(check.status, 0, check.stderr);
});

test(`lib/index.ts exports at most ${MAX_PUBLIC_NAMES} names (scripts/api-doc.mjs --count)`, () => {
  const count = apiDoc(['--count']);
  assert.equal(count.status, 0, count.stderr);
  const n = Number(count.stdout.trim());
  assert.ok(n <= MAX_PUBLIC_NAMES, `lib/index.ts exports ${n} names; at most ${MAX_PUBLIC_NAMES} (see docs/api.md)`);
});

test('every runtime value of build/lib/index.js is documented in its section of docs/api.md', () => {
  const docs = documented(fs.readFileSync(path.join(root, 'docs', 'api.md'), 'utf8'));
  const runtime = runtimeNames(require(path.join(root, 'build', 'lib', 'index.js')));
  for (const [title, names] of runtime) {
    const missing = names.filter((n) => !docs.get(title)?.has(n));
    assert.deepEqual(missing, [], `${title}: runtime exports missing from docs/api.md`);
  }
});

// Runtime values are a lower bound of the names (types leave no trace), counted without the script.
test(`build/lib/index.js has at most ${MAX_PUBLIC_NAMES} runtime values`, () => {
  const runtime = runtimeNames(require(path.join(root, 'build', 'lib', 'index.js')));
  const n = [...runtime.values()].reduce((sum, names) => sum + names.length, 0);
  assert.ok(n <= MAX_PUBLIC_NAMES, `build/lib/index.js exports ${n} values; at most ${MAX_PUBLIC_NAMES} names in all`);
});

test('scripts/api-doc.mjs follows folders, export *, renamed and type-only exports, nested namespaces', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-doc-'));
  try {
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true, target: 'ES2022' } }),
      'lib/index.ts': "export * as ns from './folder';\nexport * as other from './other';\nexport const top = 1;\n",
      'lib/folder/index.ts': [
        "export * from './x';",
        "export { a as b } from './y';",
        "export type { Shape, Size } from './y';",
      ].join('\n'),
      'lib/folder/x.ts': [
        '/** Adds one. Never fails. */',
        'export function inc(n: number): number { return n + 1; }',
        'export class K {}',
        'export interface I { i: number }',
        'export const C = 1;',
      ].join('\n'),
      'lib/folder/y.ts': [
        '/** The a function, e.g. for tests. Second sentence. */',
        'export function a(s: string, n?: number): string { return s; }',
        "export type Shape = 'round' | 'square';",
        'export interface Size { w: number }',
        'export function hidden(): void {}',
      ].join('\n'),
      'lib/other.ts': "export { inc } from './folder/x';\nexport * as inner from './folder/x';\n",
    };
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    fs.mkdirSync(path.join(dir, 'docs'));
    assert.equal(apiDoc(['--root', dir, '--check']).status, 1, 'a missing docs/api.md is out of date');
    assert.equal(apiDoc(['--root', dir]).status, 0);
    const text = fs.readFileSync(path.join(dir, 'docs', 'api.md'), 'utf8');
    assert.equal(apiDoc(['--root', dir, '--check']).status, 0, 'a second run writes the same bytes');
    assert.equal(apiDoc(['--root', dir, '--count']).stdout.trim(), '13');
    assert.ok(!text.includes(dir), 'no absolute paths');
    const docs = documented(text);
    assert.deepEqual([...docs.keys()], ['ubp', 'ubp.ns', 'ubp.other', 'ubp.other.inner']);
    assert.deepEqual([...docs.get('ubp')!], ['top']);
    assert.deepEqual([...docs.get('ubp.ns')!], ['b', 'C', 'I', 'inc', 'K', 'Shape', 'Size']);
    assert.deepEqual([...docs.get('ubp.other')!], ['inc']);
    assert.deepEqual([...docs.get('ubp.other.inner')!], ['C', 'I', 'inc', 'K']);
    const lines = text.split('\n');
    assert.ok(lines.includes('- `b` (function) `(s: string, n?: number): string` — The a function, e.g. for tests.'));
    assert.ok(lines.includes('- `Shape` (type)'));
    assert.ok(lines.includes('- `Size` (interface)'));
    assert.ok(lines.includes('- `K` (class)'));
    assert.ok(lines.includes('- `C` (const)'));
    assert.ok(lines.includes('- `inc` (function) `(n: number): number` — Adds one. Also at `ubp.ns.inc`.'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
