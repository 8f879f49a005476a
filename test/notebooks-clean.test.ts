import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';

const dir = path.join(repoRoot(), 'notebooks');
const notebooks = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((n) => n.endsWith('.ipynb'))
      .sort()
  : [];

test('the five stage notebooks are present', () => {
  for (const prefix of ['01-preprocess', '02-sample', '03-query', '04-score', '05-plot']) {
    assert.ok(notebooks.includes(`${prefix}.ipynb`), `notebooks/${prefix}.ipynb is missing`);
  }
});

for (const name of notebooks) {
  test(`${name} is committed clean, runs on tslab and imports the compiled lib`, () => {
    const nb = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8'));
    assert.equal(nb.metadata?.kernelspec?.name, 'tslab', 'kernel must be tslab');
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
    for (const [i, cell] of code.entries()) {
      assert.deepEqual(cell.outputs, [], `code cell ${i} carries outputs: run npm run clear-notebooks`);
      assert.equal(cell.execution_count, null, `code cell ${i} has an execution count`);
    }
    const src = code
      .map((c: { source: string[] | string }) => (Array.isArray(c.source) ? c.source.join('') : c.source))
      .join('\n');
    assert.match(src, /from '\.\.\/build\/lib\/index'/, 'notebooks call lib instead of re-implementing it');
    assert.ok(!/Math\.random/.test(src), 'no unseeded randomness in notebooks');
  });
}
