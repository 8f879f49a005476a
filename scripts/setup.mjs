// Makes a fresh clone runnable: installs npm packages when they are missing or stale, then compiles lib/ with tsc
// when a source is newer than the last build, and builds the figures' Plotly bundle when it is missing. Uses only Node
// built-ins so it runs before anything is installed.
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : 0);

const installed = join(root, 'node_modules', '.package-lock.json');
const lock = join(root, 'package-lock.json');
const nodeModules = join(root, 'node_modules');
const linked = existsSync(nodeModules) && lstatSync(nodeModules).isSymbolicLink();
if (linked) {
  // A git worktree sharing another checkout's packages: `npm ci` would empty the shared folder under every other user.
  console.error('[setup] node_modules is a symbolic link (shared with another checkout): not reinstalling');
} else if (
  !existsSync(installed) ||
  mtime(lock) > mtime(installed) ||
  mtime(join(root, 'package.json')) > mtime(installed)
) {
  console.error('[setup] installing npm packages ...');
  run(npm, existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

function newest(dir) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(p) : mtime(p));
  }
  return latest;
}

const builtMarker = join(root, 'build', '.built');
const sourcesChanged = Math.max(
  ...['lib', 'cli', 'bench', 'test'].map((d) => newest(join(root, d))),
  mtime(join(root, 'tsconfig.json')),
  mtime(installed),
);
if (mtime(builtMarker) > sourcesChanged) {
  console.error('[setup] build/ is up to date');
} else {
  console.error('[setup] compiling TypeScript (lib, cli, bench, tests) ...');
  // tsc never deletes: a compiled file whose source was moved (lib/query/batch.ts → batch/) would shadow the new one.
  rmSync(join(root, 'build'), { recursive: true, force: true });
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')]);
  writeFileSync(builtMarker, `${new Date().toISOString()}\n`);
}

// The figures' Plotly build (git-ignored, ~30 s once): only when missing or of another release than the installed one.
run(process.execPath, [join(root, 'scripts', 'build-plotly-bundle.mjs'), '--if-needed', '--best-effort']);
