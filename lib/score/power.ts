/**
 * Power of the paired departure comparison at the sample sizes of a run: the smallest difference in `departAt`
 * between two simulated models (baseline "departure") that the comparison detects, i.e. whose paired interval of
 * departure(a) − departure(b) lies entirely below 0.
 *
 * A simulated model answers every prompt exactly as `oracle` (target entropy ≥ departAt) or as `random` (below), so its
 * scores are those of the oracle and random baselines spliced at departAt; no query stage is needed per departAt.
 */
import { compareAligned, type CompareOptions, type ModelScores } from './compare';

export interface PowerCheck {
  delta: number;
  /** Paired departure difference sim(base) − sim(base + delta) and its interval; null when either never departs. */
  estimate: number | null;
  low: number | null;
  high: number | null;
  detected: boolean;
}

export interface PowerRow {
  /** departAt of the lower model; the other departs at base + delta. */
  base: number;
  prompts: number;
  /** Smallest tested delta whose interval excludes 0 (null: none of them). */
  smallestDetected: number | null;
  checks: PowerCheck[];
}

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

export const POWER_BASES = [3.9, 4.1, 4.3];
export const POWER_DELTAS = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2];

/** For each base departAt, the paired comparison of sim(base) against sim(base + delta) for every delta. */
export function powerTable(
  oracle: ModelScores,
  random: ModelScores,
  opts: CompareOptions,
  bases = POWER_BASES,
  deltas = POWER_DELTAS,
): PowerRow[] {
  return bases.map((base) => {
    const models = [
      simulatedDeparture(oracle, random, base),
      ...deltas.map((d) => simulatedDeparture(oracle, random, base + d)),
    ];
    models.forEach((m, k) => (m.modelId = `m${k}`));
    // compareAligned returns the pairs (0,1), (0,2), … first: the base model against each shifted one.
    const pairs = compareAligned(models, opts).slice(0, deltas.length);
    const checks: PowerCheck[] = pairs.map((c, k) => {
      const d = c.departureDiff;
      return d
        ? { delta: deltas[k], estimate: d.estimate, low: d.low, high: d.high, detected: d.high < 0 }
        : { delta: deltas[k], estimate: null, low: null, high: null, detected: false };
    });
    const first = checks.find((c) => c.detected);
    return { base, prompts: oracle.promptIds.length, smallestDetected: first ? first.delta : null, checks };
  });
}
