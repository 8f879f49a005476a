// Clears outputs and execution counts of notebooks so they are committed clean. `--check` only reports.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
const dir = join(root, 'notebooks');
let dirty = 0;
for (const name of readdirSync(dir)
  .filter((n) => n.endsWith('.ipynb'))
  .sort()) {
  const file = join(dir, name);
  const nb = JSON.parse(readFileSync(file, 'utf8'));
  let changed = false;
  for (const cell of nb.cells) {
    if (cell.cell_type !== 'code') continue;
    if ((cell.outputs && cell.outputs.length) || cell.execution_count !== null) changed = true;
    cell.outputs = [];
    cell.execution_count = null;
  }
  if (changed) {
    dirty++;
    if (check) console.error(`${name} carries outputs`);
    else writeFileSync(file, `${JSON.stringify(nb, null, 1)}\n`);
  }
}
if (check && dirty) process.exit(1);
console.error(check ? 'notebooks are clean' : `cleared ${dirty} notebook(s)`);
