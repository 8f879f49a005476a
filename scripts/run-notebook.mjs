// Executes notebooks headlessly with the repository's tslab kernel; exits non-zero when any cell fails.
// Usage: node scripts/run-notebook.mjs [--out DIR] [--timeout SECONDS] notebooks/01-preprocess.ipynb ...
// The committed notebooks stay clean: executed copies go to data/runs/notebooks/ (or --out).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.UBP_PYTHON || '/usr/bin/python3';
const args = process.argv.slice(2);
let outDir = join(root, 'data', 'runs', 'notebooks');
let timeout = 1800;
const notebooks = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--out') outDir = resolve(args[++i]);
  else if (args[i] === '--timeout') timeout = Number(args[++i]);
  else notebooks.push(resolve(args[i]));
}
if (notebooks.length === 0) {
  console.error('usage: npm run notebook -- [--out DIR] [--timeout SECONDS] notebooks/NAME.ipynb ...');
  process.exit(2);
}
const probe = spawnSync(python, ['-c', 'import nbconvert, nbclient, ipykernel'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(`Jupyter is not available to ${python} (nbconvert, nbclient, ipykernel).\n` +
    'Install it with: sudo apt-get install -y jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client\n' +
    '(or set UBP_PYTHON to a Python that has them). See environment.md.');
  process.exit(3);
}
const jupyterPath = join(root, '.jupyter', 'share', 'jupyter');
if (!existsSync(join(jupyterPath, 'kernels', 'tslab'))) {
  execFileSync(process.execPath, [join(root, 'scripts', 'install-kernel.mjs')], { stdio: 'inherit' });
}
mkdirSync(outDir, { recursive: true });
let failed = 0;
for (const nb of notebooks) {
  const started = Date.now();
  console.error(`[notebook] executing ${basename(nb)} ...`);
  const res = spawnSync(python, ['-m', 'nbconvert', '--to', 'notebook', '--execute', `--ExecutePreprocessor.timeout=${timeout}`,
    '--ExecutePreprocessor.kernel_name=tslab', '--output-dir', outDir, nb], {
    cwd: dirname(nb),
    stdio: 'inherit',
    env: { ...process.env, JUPYTER_PATH: jupyterPath },
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (res.status !== 0) {
    failed++;
    console.error(`[notebook] FAILED ${basename(nb)} after ${secs}s (exit ${res.status})`);
  } else console.error(`[notebook] ok ${basename(nb)} in ${secs}s -> ${join(outDir, basename(nb))}`);
}
process.exit(failed ? 1 : 0);
