// Known answers on the real MovieLens-1M mirror, default samples: simulated models that answer like the oracle at and
// above a target entropy departAt and like random below it must have their departure point recovered (within 0.1
// bits in setups A and B), correctly ordered with a paired interval that excludes 0; the oracle never departs, random
// departs at the top of the range, and the fits cover the whole data range.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig, pathsUnder, repoRoot } from '../lib/core/config';
import { runPreprocess } from '../lib/data/preprocess';
import { runSample } from '../lib/sample/sample';
import { runQuery } from '../lib/query/runner';
import { loadComparisons, loadPower, loadScores, loadScoreSummary, runScore } from '../lib/score/score';
import { simulatedDeparture } from '../lib/score/power';

const mirror = process.env.UBP_DATA_DIR ?? path.resolve(repoRoot(), '..', 'shared', 'datasets');
const hasMirror = fs.existsSync(path.join(mirror, 'ml-1m', 'users.dat'));
const DEPART = [3.9, 4.1, 4.3];

test(
  'MovieLens mirror: departure points of simulated models are recovered; oracle never departs, random at the top',
  { skip: hasMirror ? false : `no dataset mirror at ${mirror}` },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-departure-'));
    const sims = DEPART.map((d) => ({
      id: `sim-${d}`,
      provider: 'baseline',
      model: 'departure',
      departAt: d,
      concurrency: 64,
      inputPricePerMTok: 0,
      outputPricePerMTok: 0,
    }));
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: mirror,
        download: false,
        curves: { bootstrap: 200 },
        paths: pathsUnder(dir),
        query: { models: sims },
      },
    });
    const quiet = { log: () => {} };
    await runPreprocess(config, 'movielens', quiet);
    runSample(config, 'movielens', quiet);
    const models = ['oracle', 'random', ...sims.map((s) => s.id)];
    await runQuery(config, 'movielens', models, quiet);
    runScore(config, ['movielens'], models, quiet);
    const summary = loadScoreSummary(config).models;
    const setup = (id: string, s: 'A' | 'B' | 'C') => summary[id].movielens!.setups[s];

    for (const s of ['A', 'B', 'C'] as const) {
      assert.equal(setup('oracle', s).departurePoint, null, `oracle never departs in ${s}`);
      const r = setup('random', s);
      assert.equal(r.departurePoint?.estimate, r.curve.range[1], `random departs at the top of its range in ${s}`);
    }
    const lines: string[] = [];
    for (const s of ['A', 'B'] as const) {
      const points = DEPART.map((d) => setup(`sim-${d}`, s).departurePoint!);
      DEPART.forEach((d, k) => {
        const p = points[k];
        assert.ok(Math.abs(p.estimate - d) <= 0.1, `sim-${d} in ${s}: departure ${p.estimate}`);
        assert.ok(p.low <= p.estimate && p.estimate <= p.high && !p.unstable, `sim-${d} in ${s}: ${JSON.stringify(p)}`);
        const tp = setup(`sim-${d}`, s).turningPoint;
        lines.push(
          `${s} sim-${d}: departure ${p.estimate.toFixed(3)} [${p.low.toFixed(3)}, ${p.high.toFixed(3)}], turning point ${tp ? `${tp.estimate.toFixed(3)} (bias ${(tp.estimate - d).toFixed(3)})` : 'none'}`,
        );
      });
      assert.ok(points[0].estimate < points[1].estimate && points[1].estimate < points[2].estimate, `ordered in ${s}`);
      for (const id of models) assert.ok(setup(id, s).curve.fitCoverage! >= 0.95, `${id} fit covers the data in ${s}`);
      const c = loadComparisons(config).comparisons.find(
        (x) => x.setup === s && x.a === 'sim-3.9' && x.b === 'sim-4.3',
      )!;
      assert.ok(
        c.departureDiff && c.departureDiff.high < 0,
        `sim-3.9 − sim-4.3 in ${s}: ${JSON.stringify(c.departureDiff)}`,
      );
      close(c.departureDiff!.estimate, points[0].estimate - points[2].estimate, 1e-12);
      const power = loadPower(config).power.filter((p) => p.domain === 'movielens' && p.setup === s);
      assert.deepEqual(
        power.map((p) => p.base),
        [3.9, 4.1, 4.3],
      );
      assert.ok(
        power.every((p) => p.smallestDetected !== null && p.smallestDetected <= 0.2),
        `power in ${s}: ${JSON.stringify(power.map((p) => p.smallestDetected))}`,
      );
    }
    // The power table's spliced scores are exactly what the simulated baseline answered.
    const rows = (id: string) => loadScores(config, id, 'movielens');
    const asScores = (id: string) => {
      const r = rows(id);
      return {
        modelId: id,
        promptIds: r.map((x) => x.promptId),
        targetEntropy: r.map((x) => x.targetEntropy),
        crossEntropy: r.map((x) => x.crossEntropy),
      };
    };
    assert.deepEqual(
      simulatedDeparture(asScores('oracle'), asScores('random'), 4.1).crossEntropy,
      asScores('sim-4.1').crossEntropy,
    );
    console.log(lines.join('\n'));
    fs.rmSync(dir, { recursive: true, force: true });
  },
);

function close(a: number, b: number, tol: number): void {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}
