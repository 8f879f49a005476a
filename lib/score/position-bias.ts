/**
 * Position bias: where in the listed candidates a model's valid picks sit. Candidates are listed in a seeded random
 * order, so a model blind to the order picks every position equally often: with bins of 10 positions each bin gets
 * its size / K of the picks (20 % for K = 50). A chi-square goodness-of-fit test against those shares says whether a
 * model departs from that. The picks of one answer are distinct positions (drawn without replacement), which makes
 * the counts of an order-blind model less variable than the multinomial the test assumes: the test is conservative
 * for it (p-values too large rather than too small), and the offline baselines serve as the order-blind reference.
 */
import type { ResponseRecord, SampleRecord } from '../core/types';
import { chiSquareSurvival } from './chi-square';

export const POSITION_BIN_SIZE = 10;

export interface PositionBin {
  /** Positions from..to (1-based, inclusive) in the listed candidates. */
  from: number;
  to: number;
  picks: number;
  share: number;
  /** The share an order-blind model gives: the bin's size / K. */
  expectedShare: number;
}

export interface PositionBias {
  /** Answers counted (answers with at least one valid pick) and their valid picks. */
  answers: number;
  picks: number;
  /** Candidates per prompt. */
  K: number;
  bins: PositionBin[];
  chiSquare: number;
  degreesOfFreedom: number;
  /** P(χ² >= chiSquare) under an order-blind model. */
  pValue: number;
}

/** Position-bias statistics of counts per bin against expected shares (summing to 1). */
export function chiSquareAgainstShares(
  counts: number[],
  expectedShares: number[],
): { chiSquare: number; degreesOfFreedom: number; pValue: number } {
  if (counts.length !== expectedShares.length || counts.length < 2) {
    throw new RangeError(
      `chiSquareAgainstShares: need at least two bins with one expected share each (got ${counts.length} counts, ${expectedShares.length} shares)`,
    );
  }
  const total = counts.reduce((a, b) => a + b, 0);
  let chiSquare = 0;
  counts.forEach((o, i) => {
    const e = total * expectedShares[i];
    chiSquare += ((o - e) * (o - e)) / e;
  });
  const degreesOfFreedom = counts.length - 1;
  return { chiSquare, degreesOfFreedom, pValue: chiSquareSurvival(chiSquare, degreesOfFreedom) };
}

/**
 * Position bias of a model's answers to a domain's prompts; null when no answer has a valid pick or the prompts do
 * not all list the same number of candidates. Answers for prompts not in `samples` are ignored.
 */
export function positionBias(samples: SampleRecord[], responses: ResponseRecord[]): PositionBias | null {
  const byId = new Map(samples.map((s) => [s.id, s]));
  const Ks = new Set(samples.map((s) => s.candidates.length));
  if (Ks.size !== 1) return null;
  const K = [...Ks][0];
  const nBins = Math.ceil(K / POSITION_BIN_SIZE);
  if (nBins < 2) return null;
  const counts = new Array<number>(nBins).fill(0);
  let answers = 0;
  for (const r of responses) {
    const sample = byId.get(r.promptId);
    if (!sample || r.ranked.length === 0) continue;
    answers++;
    const position = new Map(sample.candidates.map((id, i) => [id, i]));
    for (const id of r.ranked) {
      const p = position.get(id);
      if (p === undefined)
        throw new Error(`position bias: pick "${id}" of prompt ${r.promptId} is not among its candidates`);
      counts[Math.floor(p / POSITION_BIN_SIZE)]++;
    }
  }
  const picks = counts.reduce((a, b) => a + b, 0);
  if (picks === 0) return null;
  const bins: PositionBin[] = counts.map((c, b) => {
    const from = b * POSITION_BIN_SIZE + 1;
    const to = Math.min(K, (b + 1) * POSITION_BIN_SIZE);
    return { from, to, picks: c, share: c / picks, expectedShare: (to - from + 1) / K };
  });
  return {
    answers,
    picks,
    K,
    bins,
    ...chiSquareAgainstShares(
      counts,
      bins.map((b) => b.expectedShare),
    ),
  };
}
