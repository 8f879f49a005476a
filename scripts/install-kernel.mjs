// Registers the tslab TypeScript kernel inside the repository (.jupyter/), never in the user's global Jupyter folders.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.UBP_PYTHON || '/usr/bin/python3';
const tslab = join(root, 'node_modules', '.bin', 'tslab');
const prefix = join(root, '.jupyter');
if (!existsSync(tslab)) {
  console.error('tslab is not installed: run `npm run setup` first');
  process.exit(1);
}
execFileSync(tslab, ['install', `--python=${python}`, `--binary=${tslab}`, `--prefix=${prefix}`], { stdio: 'inherit' });
console.error(`[kernel] tslab kernels registered under ${join(prefix, 'share', 'jupyter')} (use JUPYTER_PATH=${join(prefix, 'share', 'jupyter')})`);
