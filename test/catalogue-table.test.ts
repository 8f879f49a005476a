import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { catalogue, repoRoot } from '../lib/core/config';

test("docs/models.md's model table is the catalogue's (scripts/catalogue-table.mjs --check)", () => {
  const root = repoRoot();
  const check = spawnSync(process.execPath, [path.join(root, 'scripts', 'catalogue-table.mjs'), '--check'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(check.status, 0, check.stderr);
  // Read independently of the script: one row per entry, in catalogue order, with its model, prices and date.
  const page = fs.readFileSync(path.join(root, 'docs', 'models.md'), 'utf8');
  const block = page.slice(page.indexOf('<!-- catalogue-table:begin'), page.indexOf('<!-- catalogue-table:end -->'));
  const rows = block.split('\n').filter((l) => l.startsWith('| `'));
  const entries = catalogue();
  assert.equal(rows.length, entries.length);
  entries.forEach((m, i) => {
    const cells = rows[i].split(' | ');
    assert.equal(cells[0], `| \`${m.id}\``);
    assert.equal(cells[2], `\`${m.model}\``);
    assert.ok(
      cells[5].startsWith(`${m.inputPricePerMTok} · ${m.outputPricePerMTok} ([${m.pricesAsOf}](${m.priceSource}))`),
      cells[5],
    );
  });
});
