/**
 * Candidate orders (`sample.candidateOrders` = m): every sample is also asked with its candidates listed in m − 1 other
 * seeded shuffles, so scoring can tell how much of a model's cross-entropy comes from the order of the list (LLM
 * rankers are known to favour early positions). Order 1 is the sample exactly as Algorithm 1 drew it; orders 2..m are
 * separate records with id `<sample id>/o<k>` and `order: k`, the same candidates and target permuted together.
 * Table 1 (counts.json) counts samples, not orders.
 */
import type { Config } from '../core/config';
import { deriveSeed, makeRng, shuffleInPlace } from '../core/rng';
import type { SampleRecord } from '../core/types';

/** The configured number of orders, checked: a whole number >= 1. */
export function candidateOrdersOf(config: Config): number {
  const m = config.sample.candidateOrders;
  if (!(Number.isInteger(m) && m >= 1))
    throw new Error(`sample: "sample.candidateOrders" must be a whole number >= 1, got ${JSON.stringify(m)}`);
  return m;
}

/** The order (1-based) a sample record lists its candidates in; 1 for the drawn sample. */
export function orderOf(record: Pick<SampleRecord, 'order'>): number {
  return record.order ?? 1;
}

/** The id of the drawn sample a record belongs to: its own id for order 1, without the `/o<k>` suffix otherwise. */
export function baseSampleId(record: Pick<SampleRecord, 'id' | 'order'>): string {
  const order = orderOf(record);
  if (order === 1) return record.id;
  const suffix = `/o${order}`;
  if (!record.id.endsWith(suffix))
    throw new Error(`sample ${record.id}: has order ${order} but its id does not end with "${suffix}"`);
  return record.id.slice(0, -suffix.length);
}

/** The record of order `order` (>= 2) of a drawn sample: same candidates and target, shuffled together. */
export function reorderedSample(sample: SampleRecord, order: number, config: Config): SampleRecord {
  const rng = makeRng(deriveSeed(config.seed, sample.id, 'candidate-order', order));
  const positions = shuffleInPlace(rng, Array.from(sample.candidates.keys()));
  return {
    ...sample,
    id: `${sample.id}/o${order}`,
    order,
    candidates: positions.map((p) => sample.candidates[p]),
    target: positions.map((p) => sample.target[p]),
  };
}

/** Every drawn sample followed by its other orders; the samples themselves unchanged (m = 1 returns them as they are). */
export function withCandidateOrders(samples: SampleRecord[], config: Config): SampleRecord[] {
  const m = candidateOrdersOf(config);
  if (m === 1) return samples;
  const out: SampleRecord[] = [];
  for (const s of samples) {
    out.push(s);
    for (let k = 2; k <= m; k++) out.push(reorderedSample(s, k, config));
  }
  return out;
}
