// One formatter for the TypeScript and scripts (prettier, line width 120, .prettierrc.json): `npm run format` applies
// it, this test keeps it applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../lib/core/config';

test('every source file is formatted (npm run format)', () => {
  const root = repoRoot();
  const prettier = path.join(root, 'node_modules', 'prettier', 'bin', 'prettier.cjs');
  const run = spawnSync(process.execPath, [prettier, '--check', 'lib', 'cli', 'bench', 'test', 'scripts'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}\nrun \`npm run format\` to fix`);
});
