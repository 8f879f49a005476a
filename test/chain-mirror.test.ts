// The whole scoring chain on the real MovieLens-1M mirror, through the same stage functions npm start calls:
// the oracle baseline must land exactly on X = Y on every prompt (a built-in check of sampling, prompting,
// parsing and scoring together), group-popularity must do so in setup C (where the target *is* the group's
// popularity), and the random baseline must lie above X = Y on average.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, pathsUnder, repoRoot } from '../lib/core/config';
import { runPreprocess } from '../lib/data/preprocess';
import { runSample } from '../lib/sample/sample';
import { runQuery } from '../lib/query/runner';
import { loadScores, runScore } from '../lib/score/score';

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const hasMirror = fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'));

test(
  'MovieLens mirror: oracle on X=Y everywhere, group-popularity on X=Y in setup C, random above',
  { skip: hasMirror ? false : `no dataset mirror at ${mirror}` },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-chain-'));
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: mirror,
        download: false,
        sample: { drawsPerSetting: 40 },
        curves: { bootstrap: 10 },
        paths: pathsUnder(dir),
      },
    });
    const quiet = { log: () => {} };
    await runPreprocess(config, 'movielens', quiet);
    const { samples } = runSample(config, 'movielens', quiet);
    const models = ['oracle', 'random', 'group-popularity'];
    const summaries = await runQuery(config, 'movielens', models, quiet);
    for (const s of summaries) assert.equal(s.answered, samples.length, `${s.modelId} answered every prompt`);
    runScore(config, ['movielens'], models, quiet);

    const oracle = loadScores(config, 'oracle', 'movielens');
    assert.equal(oracle.length, samples.length);
    for (const r of oracle) {
      assert.ok(
        Math.abs(r.crossEntropy - r.targetEntropy) < 1e-9,
        `oracle on ${r.promptId}: ${r.crossEntropy} vs ${r.targetEntropy}`,
      );
      assert.equal(r.smoothed, false);
      assert.equal(r.validPicks, config.query.topN);
    }

    const groupC = loadScores(config, 'group-popularity', 'movielens').filter((r) => r.setup === 'C');
    assert.ok(groupC.length >= 1 + 7 + 2 + 17 + 51, `${groupC.length} setup-C prompts`);
    for (const r of groupC)
      assert.ok(Math.abs(r.crossEntropy - r.targetEntropy) < 1e-9, `group-popularity on ${r.promptId}`);

    const random = loadScores(config, 'random', 'movielens');
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const gap = mean(random.map((r) => r.crossEntropy - r.targetEntropy));
    assert.ok(gap > 0.5, `random lies above X=Y on average (mean gap ${gap.toFixed(3)} bits)`);
    assert.ok(
      random.filter((r) => r.crossEntropy > r.targetEntropy).length > 0.95 * random.length,
      'random is above X=Y on almost every prompt',
    );
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
