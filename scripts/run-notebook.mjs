// Executes notebooks headlessly with the repository's tslab kernel; exits non-zero when any cell fails.
// Usage: node scripts/run-notebook.mjs [--out DIR] [--timeout SECONDS] notebooks/01-preprocess.ipynb ...
// The committed notebooks stay clean: executed copies go to data/runs/notebooks/ (or --out). On a failure the runner
// prints the failing cell's number, its first lines and the error text, and keeps the partially executed copy.
// Executed copies are signed (trusted), so their interactive figures display when opened in Jupyter.
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
const probe = spawnSync(python, ['-c', 'import nbformat, nbclient, ipykernel'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error(
    `Jupyter is not available to ${python} (nbformat, nbclient, ipykernel).\n` +
      'Install it with: sudo apt-get install -y jupyter-nbconvert python3-nbclient python3-ipykernel jupyter-client\n' +
      '(or set UBP_PYTHON to a Python that has them). See environment.md.',
  );
  process.exit(3);
}
const jupyterPath = join(root, '.jupyter', 'share', 'jupyter');
if (!existsSync(join(jupyterPath, 'kernels', 'tslab'))) {
  execFileSync(process.execPath, [join(root, 'scripts', 'install-kernel.mjs')], { stdio: 'inherit' });
}

// nbclient directly rather than `nbconvert --execute`: nbconvert writes nothing when a cell fails and reports tslab's
// errors as "<Error>: " (their text is in the traceback and the cell's stderr, not in ename/evalue).
const DRIVER = String.raw`
import sys, nbformat
from nbclient import NotebookClient
from nbformat.sign import NotebookNotary
src, out, timeout, cwd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, timeout=timeout, kernel_name='tslab', resources={'metadata': {'path': cwd}})
failed = None
try:
    client.execute()
except Exception as e:
    failed = e
nbformat.write(nb, out)
if failed is None:
    NotebookNotary().sign(nb)
    sys.exit(0)
code_cells = [c for c in nb.cells if c.cell_type == 'code']
# The failing cell is the last one that was executed (tslab's compile errors leave no "error" output, only stderr).
ran = [i for i, c in enumerate(nb.cells) if c.cell_type == 'code' and c.get('execution_count') is not None]
if not ran:
    print('[notebook] execution stopped before the first cell: %s' % failed, file=sys.stderr)
    sys.exit(1)
index = ran[-1]
cell = nb.cells[index]
lines = cell.source.splitlines()
print('[notebook] cell %d (code cell %d of %d) failed:' % (index + 1, code_cells.index(cell) + 1, len(code_cells)), file=sys.stderr)
for line in lines[:6]:
    print('    | ' + line, file=sys.stderr)
if len(lines) > 6:
    print('    | ...', file=sys.stderr)
stderr = ''.join(o.get('text', '') for o in cell.outputs if o.get('output_type') == 'stream' and o.get('name') == 'stderr').strip()
if stderr:
    print('  stderr: ' + stderr[-2000:], file=sys.stderr)
errors = [o for o in cell.get('outputs', []) if o.get('output_type') == 'error']
for e in errors:
    text = '\n'.join(e.get('traceback') or []) or ('%s: %s' % (e.get('ename'), e.get('evalue')))
    print('  error: ' + text[-4000:], file=sys.stderr)
if not errors and not stderr:
    print('  error: %s' % failed, file=sys.stderr)
sys.exit(1)
`;

mkdirSync(outDir, { recursive: true });
let failed = 0;
for (const nb of notebooks) {
  const started = Date.now();
  const out = join(outDir, basename(nb));
  console.error(`[notebook] executing ${basename(nb)} ...`);
  const res = spawnSync(python, ['-c', DRIVER, nb, out, String(timeout), dirname(nb)], {
    cwd: dirname(nb),
    stdio: 'inherit',
    env: { ...process.env, JUPYTER_PATH: jupyterPath },
  });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (res.status !== 0) {
    failed++;
    console.error(
      `[notebook] FAILED ${basename(nb)} after ${secs}s (exit ${res.status}); the partially executed copy is ${out}`,
    );
  } else console.error(`[notebook] ok ${basename(nb)} in ${secs}s -> ${out}`);
}
process.exit(failed ? 1 : 0);
