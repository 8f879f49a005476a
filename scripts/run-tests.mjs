// Runs every compiled test file with node's own test runner (its summary lines are what CI reads).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const testDir = join(root, 'build', 'test');
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(testDir);
const only = process.argv.slice(2);
// Suites that start a Jupyter server and a browser run only when named (`npm test -- notebook-browser`; CI does).
const ON_REQUEST = ['notebook-browser'];
const selected = only.length
  ? files.filter((f) => only.some((o) => relative(root, f).includes(o)))
  : files.filter((f) => !ON_REQUEST.some((o) => relative(root, f).includes(o)));
if (selected.length === 0) {
  console.error(`no test files found under ${testDir}${only.length ? ` matching ${only.join(' ')}` : ''}`);
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...selected], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
