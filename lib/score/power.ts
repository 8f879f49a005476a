/**
 * Power as a probability: how large a difference between two models the paired comparison detects with 80 %
 * probability, at the run's own prompt counts and with realistic noise (powerTable). Also the simulated "departure"
 * models: a model that answers every prompt exactly as `oracle` (target entropy ≥ departAt) or as `random` (below), so
 * its scores are those of the oracle and random baselines spliced at departAt.
 */
import { makeFastRng } from '../core/rng';
import type { ModelScores } from './compare';
import { clusterIndex, clusteredMean, clusteredSlope } from './gap';

/** The scores of the simulated model departing at `departAt`, from oracle and random scored on the same prompts. */
export function simulatedDeparture(oracle: ModelScores, random: ModelScores, departAt: number): ModelScores {
  if (
    oracle.promptIds.length !== random.promptIds.length ||
    oracle.promptIds.some((id, i) => id !== random.promptIds[i])
  ) {
    throw new Error('simulatedDeparture: oracle and random must be scored on the same prompts in the same order');
  }
  return {
    modelId: `sim-${departAt}`,
    promptIds: oracle.promptIds,
    targetEntropy: oracle.targetEntropy,
    crossEntropy: oracle.targetEntropy.map((h, i) => (h >= departAt ? oracle.crossEntropy[i] : random.crossEntropy[i])),
  };
}

/** Differences in mean gap (entropy units) and in gap slope (units per unit) whose detection probability is measured. */
export const POWER_DELTAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2];
export const SLOPE_DELTAS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5];
/** Detection probability a difference must reach to count as detectable. */
export const POWER_TARGET = 0.8;

export interface PowerCurve {
  /** delta → probability that the paired comparison's interval excludes 0. */
  power: { delta: number; power: number }[];
  /** Smallest tested delta detected with probability >= POWER_TARGET (null: none of them). */
  smallestDetected: number | null;
  /** Rejection rate with no true difference (the test's measured false-positive rate; nominal 1 − confidence). */
  falsePositive: number;
}

export interface PowerRow {
  prompts: number;
  clusters: number;
  replicates: number;
  /** What the table assumes: whose paired differences are the noise, and how a replicate is drawn. */
  assumes: string;
  meanGap: PowerCurve;
  slope: PowerCurve;
}

/**
 * How large a difference in mean gap, and in gap slope, a paired comparison detects with 80 % probability at this
 * run's prompt counts. A replicate draws the run's clusters with replacement and gives each drawn cluster's residual
 * paired difference (`noise`: two real models' per-prompt gap difference, around its own mean and slope) a random sign,
 * then adds the effect: δ to every prompt (mean gap) or δ·(H − mean H) (slope). The comparison is the one the score
 * stage runs (cluster-robust interval at `confidence`, one test, no multiplicity adjustment).
 */
export function powerTable(
  design: { x: number[]; cluster: string[]; noise: number[]; noiseLabel: string },
  opts: { confidence: number; replicates: number; seed: string },
  deltas = POWER_DELTAS,
  slopeDeltas = SLOPE_DELTAS,
): PowerRow {
  const base = clusterIndex(design.cluster);
  const n = design.x.length;
  // Residuals of the noise around its own OLS line: what a difference looks like with no effect.
  const mx = design.x.reduce((a, b) => a + b, 0) / n;
  const my = design.noise.reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (design.x[i] - mx) ** 2;
    sxy += (design.x[i] - mx) * (design.noise[i] - my);
  }
  const b1 = sxx > 0 ? sxy / sxx : 0;
  const resid = design.noise.map((v, i) => v - my - b1 * (design.x[i] - mx));
  const rng = makeFastRng(opts.seed);
  const curve = (
    list: number[],
    effect: (x: number, xbar: number, delta: number) => number,
    stat: 'mean' | 'slope',
  ) => {
    const hits = new Array<number>(list.length + 1).fill(0);
    const all = [0, ...list];
    for (let r = 0; r < opts.replicates; r++) {
      const x: number[] = [];
      const e: number[] = [];
      const cluster: number[] = [];
      for (let k = 0; k < base.G; k++) {
        const c = Math.floor(rng() * base.G);
        const sign = rng() < 0.5 ? -1 : 1;
        for (let j = base.start[c]; j < base.start[c + 1]; j++) {
          const i = base.members[j];
          x.push(design.x[i]);
          e.push(sign * resid[i]);
          cluster.push(k);
        }
      }
      const cl = clusterIndex(cluster);
      const xbar = x.reduce((a, b) => a + b, 0) / x.length;
      all.forEach((delta, k) => {
        const d = e.map((v, i) => v + effect(x[i], xbar, delta));
        const est = stat === 'mean' ? clusteredMean(d, cl, opts.confidence) : clusteredSlope(x, d, cl, opts.confidence);
        if (est.low !== null && est.high !== null && (est.low > 0 || est.high < 0)) hits[k]++;
      });
    }
    const power = list.map((delta, k) => ({ delta, power: hits[k + 1] / opts.replicates }));
    return {
      power,
      smallestDetected: power.find((p) => p.power >= POWER_TARGET)?.delta ?? null,
      falsePositive: hits[0] / opts.replicates,
    };
  };
  return {
    prompts: n,
    clusters: base.G,
    replicates: opts.replicates,
    assumes:
      `noise: the per-prompt gap difference ${design.noiseLabel} around its own line, signs flipped per cluster; ` +
      'clusters drawn with replacement; one comparison at the configured confidence, no multiplicity adjustment',
    meanGap: curve(deltas, (_x, _xbar, delta) => delta, 'mean'),
    slope: curve(slopeDeltas, (x, xbar, delta) => delta * (x - xbar), 'slope'),
  };
}
