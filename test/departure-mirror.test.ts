// Known answers on the real MovieLens-1M mirror, default samples: simulated models that answer like the oracle at and
// above a target entropy departAt and like random below it must have their departure-region edge recovered (within
// 0.1 bits in setups A and B, inside its interval), ordered, 3.9 and 4.3 separated, with a paired mean-gap difference
// that excludes 0; the oracle's gap is 0 everywhere with no region; popularity and item-cf, whose gap grows with target
// entropy, are reported with a positive slope and a high-end region.
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
  'MovieLens mirror: simulated departures are recovered by the gap statistics; oracle 0 everywhere; real baselines by slope',
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
        curves: { bootstrap: 200, calibration: 50 },
        paths: pathsUnder(dir),
        query: { models: sims },
      },
    });
    const quiet = { log: () => {} };
    await runPreprocess(config, 'movielens', quiet);
    runSample(config, 'movielens', quiet);
    const models = ['oracle', 'random', 'popularity', 'item-cf', ...sims.map((s) => s.id)];
    await runQuery(config, 'movielens', models, quiet);
    runScore(config, ['movielens'], models, quiet);
    const summary = loadScoreSummary(config).models;
    const setup = (id: string, s: 'A' | 'B' | 'C') => summary[id].movielens!.setups[s]!;

    const lines: string[] = [];
    for (const s of ['A', 'B', 'C'] as const) {
      const o = setup('oracle', s).gap;
      assert.equal(o.meanGap.estimate, 0, `oracle's gap is 0 in ${s}`);
      assert.ok(
        o.profile.every((b) => b.gap === 0),
        `oracle's profile is 0 everywhere in ${s}`,
      );
      assert.equal(o.region.direction, 'none', `oracle has no departure region in ${s}`);
      assert.notEqual(setup('random', s).gap.region.direction, 'none', `random departs in ${s}`);
    }
    // Real baselines: a gap that grows with target entropy is reported as such, never as "never departs".
    for (const id of ['popularity', 'item-cf']) {
      const g = setup(id, 'A').gap;
      assert.ok(g.gapSlope.low! > 0, `${id}, A: the slope's interval excludes 0: ${JSON.stringify(g.gapSlope)}`);
      assert.ok(['high end', 'throughout'].includes(g.region.direction), `${id}, A: region ${g.region.direction}`);
      lines.push(
        `A ${id}: mean gap ${g.meanGap.estimate.toFixed(3)} [${g.meanGap.low!.toFixed(3)}, ${g.meanGap.high!.toFixed(3)}], slope ${g.gapSlope.estimate.toFixed(3)} [${g.gapSlope.low!.toFixed(3)}, ${g.gapSlope.high!.toFixed(3)}], region ${g.region.direction} ${JSON.stringify(g.region.ranges.map((r) => r.map((v) => +v.toFixed(2))))}, share ${g.region.share}`,
      );
    }
    for (const s of ['A', 'B'] as const) {
      const edges = DEPART.map((d) => {
        const g = setup(`sim-${d}`, s).gap;
        assert.equal(g.region.direction, 'low end', `sim-${d} in ${s}: a low-end region`);
        const e = g.region.edge!;
        assert.ok(Math.abs(e.estimate - d) <= 0.1, `sim-${d} in ${s}: edge ${e.estimate}`);
        assert.ok(e.low! <= d && d <= e.high!, `sim-${d} in ${s}: the edge interval holds ${d}: ${JSON.stringify(e)}`);
        const tp = setup(`sim-${d}`, s).turningPoint;
        lines.push(
          `${s} sim-${d}: region edge ${e.estimate.toFixed(3)} [${e.low!.toFixed(3)}, ${e.high!.toFixed(3)}], share ${g.region.share}, turning point (paper method) ${tp ? `${tp.estimate.toFixed(3)} (bias ${(tp.estimate - d).toFixed(3)})` : 'none'}`,
        );
        return e;
      });
      assert.ok(edges[0].estimate < edges[1].estimate && edges[1].estimate < edges[2].estimate, `ordered in ${s}`);
      assert.ok(edges[0].high! < edges[2].low!, `sim-3.9 and sim-4.3 separated in ${s}`);
      const c = loadComparisons(config).comparisons.find(
        (x) => x.setup === s && x.a === 'sim-3.9' && x.b === 'sim-4.3',
      )!;
      assert.ok(
        c.meanGapDiff!.high! < 0 && c.meanGapDiff!.pHolm! < 0.05,
        `sim-3.9 − sim-4.3 in ${s}: ${JSON.stringify(c.meanGapDiff)}`,
      );
      const power = loadPower(config).power.filter((p) => p.domain === 'movielens' && p.setup === s);
      assert.equal(power.length, 1);
      lines.push(
        `${s} power: mean gap ${power[0].meanGap.smallestDetected} (false positives ${power[0].meanGap.falsePositive}), slope ${power[0].slope.smallestDetected} (false positives ${power[0].slope.falsePositive})`,
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
