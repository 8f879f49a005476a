/**
 * The per-prompt mathematics of scoring (paper section 4.2, equations 1 and 2): the optimistic model distribution, its
 * smoothing, and the cross-entropy and bounded divergences between the target p and the model's q.
 */
import type { MissingPicksRule } from '../core/config-types';
import type { ResponseRecord, SampleRecord } from '../core/types';

export type { MissingPicksRule } from '../core/config-types';

function checkBase(logBase: number): number {
  if (!(logBase > 1)) throw new RangeError(`log base must be > 1, got ${logBase}`);
  return Math.log(logBase);
}

/** Name of the entropy unit for a log base: bits (2), nats (e), hartleys (10), else "log<base> units". */
export function entropyUnit(logBase: number): string {
  if (logBase === 2) return 'bits';
  if (Math.abs(logBase - Math.E) < 1e-12) return 'nats';
  if (logBase === 10) return 'hartleys';
  return `log${logBase} units`;
}

/** H(p, q) = −Σ p log q over items with p > 0; Infinity when some item with p > 0 has q = 0. */
export function crossEntropy(p: readonly number[], q: readonly number[], logBase: number): number {
  if (p.length !== q.length) throw new RangeError(`crossEntropy: p has ${p.length} entries but q has ${q.length}`);
  const lnBase = checkBase(logBase);
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) {
      if (!(q[i] > 0)) return Infinity;
      h -= p[i] * Math.log(q[i]);
    }
  }
  return h / lnBase;
}

/**
 * The optimistic model distribution over the candidates. `rankedIdx` are the model's valid picks as candidate
 * positions, best first (distinct, in range). Returns q aligned with the candidates.
 *
 * `worst`: the answer has `topN` slots, filled by the picks in rank order (at most topN), then by the unpicked
 * candidates of lowest target probability (lowest first, ties by candidate position). The slots take the topN largest
 * target values in slot order; every other candidate takes the remaining values in descending order of its own target
 * probability (ties by candidate position). `best`: every pick is a slot, nothing is filled, the rest as above.
 */
export function optimisticDistribution(
  target: number[],
  rankedIdx: number[],
  rule: { missingPicks: MissingPicksRule; topN: number },
): number[] {
  const K = target.length;
  const seen = new Set<number>();
  for (const i of rankedIdx) {
    if (!(Number.isInteger(i) && i >= 0 && i < K))
      throw new RangeError(`optimisticDistribution: pick ${i} is not a candidate position (0..${K - 1})`);
    if (seen.has(i)) throw new RangeError(`optimisticDistribution: candidate ${i} is picked twice`);
    seen.add(i);
  }
  if (!(Number.isInteger(rule.topN) && rule.topN >= 1))
    throw new RangeError(`optimisticDistribution: topN must be a whole number >= 1, got ${rule.topN}`);
  const values = target.slice().sort((a, b) => b - a);
  const slots = rule.missingPicks === 'worst' ? rankedIdx.slice(0, rule.topN) : rankedIdx.slice();
  if (rule.missingPicks === 'worst' && slots.length < rule.topN) {
    const inSlot = new Set(slots);
    const worstFirst: number[] = [];
    for (let i = 0; i < K; i++) if (!inSlot.has(i)) worstFirst.push(i);
    worstFirst.sort((a, b) => target[a] - target[b] || a - b);
    slots.push(...worstFirst.slice(0, Math.min(rule.topN, K) - slots.length));
  }
  const inSlot = new Set(slots);
  const rest: number[] = [];
  for (let i = 0; i < K; i++) if (!inSlot.has(i)) rest.push(i);
  rest.sort((a, b) => target[b] - target[a] || a - b);
  const q = new Array<number>(K);
  slots.forEach((idx, r) => (q[idx] = values[r]));
  rest.forEach((idx, r) => (q[idx] = values[slots.length + r]));
  return q;
}

/** The terms −p_i·log q_i of H(p, q), one per item (0 where p_i = 0; Infinity where p_i > 0 and q_i = 0). */
export function crossEntropyTerms(p: number[], q: number[], logBase: number): number[] {
  if (p.length !== q.length) throw new RangeError(`crossEntropyTerms: p has ${p.length} entries but q has ${q.length}`);
  const lnBase = checkBase(logBase);
  // 0 − x rather than −x: a term with q = 1 is 0, not −0.
  return p.map((pi, i) => (pi > 0 ? (q[i] > 0 ? 0 - (pi * Math.log(q[i])) / lnBase : Infinity) : 0));
}

/** Jensen–Shannon divergence: ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2; at most 1 bit. */
export function jensenShannon(p: readonly number[], q: readonly number[], logBase: number): number {
  const lnBase = checkBase(logBase);
  let d = 0;
  for (let i = 0; i < p.length; i++) {
    const m = (p[i] + q[i]) / 2;
    if (p[i] > 0) d += 0.5 * p[i] * Math.log(p[i] / m);
    if (q[i] > 0) d += 0.5 * q[i] * Math.log(q[i] / m);
  }
  const out = d / lnBase;
  return out <= 0 ? 0 : out;
}

/** Total variation distance: ½ Σ |p − q|, in [0, 1]. */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  let d = 0;
  for (let i = 0; i < p.length; i++) d += Math.abs(p[i] - q[i]);
  return d / 2;
}

/** q' = (1 − λ)·q + λ/K. */
export function smoothDistribution(q: readonly number[], lambda: number): number[] {
  const K = q.length;
  return q.map((v) => (1 - lambda) * v + lambda / K);
}

/** Number of items with positive target probability that get zero model mass. */
export function zeroMassPositive(p: readonly number[], q: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0 && !(q[i] > 0)) n++;
  return n;
}

/** The model distribution a response implies, before and after smoothing, with the picks as candidate positions. */
export function modelDistribution(
  sample: SampleRecord,
  response: ResponseRecord | null,
  score: { smoothing: number; missingPicks: MissingPicksRule; topN: number },
): { ranked: number[]; q: number[]; zeroMass: number; smoothed: boolean } {
  const position = new Map<string, number>();
  sample.candidates.forEach((id, i) => position.set(id, i));
  const ranked: number[] = [];
  for (const id of response?.ranked ?? []) {
    const i = position.get(id);
    if (i === undefined) {
      throw new Error(
        `prompt ${sample.id}: pick "${id}" is not among the sample's candidates — the answers do not belong to these samples (re-run the query stage)`,
      );
    }
    if (ranked.includes(i))
      throw new Error(
        `prompt ${sample.id}: pick "${id}" appears twice in "ranked" (the parse stage keeps each candidate once)`,
      );
    ranked.push(i);
  }
  const raw = optimisticDistribution(sample.target, ranked, score);
  const zeroMass = zeroMassPositive(sample.target, raw);
  const smoothed = zeroMass > 0;
  return { ranked, q: smoothed ? smoothDistribution(raw, score.smoothing) : raw, zeroMass, smoothed };
}
