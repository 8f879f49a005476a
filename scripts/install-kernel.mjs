// Registers the tslab TypeScript kernel inside the repository (.jupyter/), never in the user's global Jupyter folders.
// Runs `npm run setup` first, so it works on a fresh clone (tslab is an npm package; the notebooks import build/).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.UBP_PYTHON || '/usr/bin/python3';
execFileSync(process.execPath, [join(root, 'scripts', 'setup.mjs')], { stdio: 'inherit' });
const tslab = join(root, 'node_modules', '.bin', 'tslab');
const prefix = join(root, '.jupyter');
execFileSync(tslab, ['install', `--python=${python}`, `--binary=${tslab}`, `--prefix=${prefix}`], { stdio: 'inherit' });
console.error(
  `[kernel] tslab kernels registered under ${join(prefix, 'share', 'jupyter')} (use JUPYTER_PATH=${join(prefix, 'share', 'jupyter')})`,
);
