/** Sample records made readable: item names instead of ids, candidates labelled C1/C2. */
import type { ProcessedDomain } from '../data/processed';
import type { SampleRecord, Setup } from '../core/types';

export interface ReadableCandidate {
  rank: number;
  id: string;
  name: string;
  /** C1: no matching user interacted with it (target 0); C2: some did. */
  kind: 'C1' | 'C2';
  target: number;
}

export interface ReadableSample {
  id: string;
  setup: Setup;
  setting: string;
  demography: Record<string, string>;
  history: { id: string; name: string }[];
  candidates: ReadableCandidate[];
  targetEntropy: number;
  groupSize: number;
}

/** A sample record with item names instead of ids (for notebooks and reports). */
export function readableSample(
  sample: SampleRecord,
  data: Pick<ProcessedDomain, 'items' | 'itemIndex'>,
): ReadableSample {
  const nameOf = (id: string): string => {
    const i = data.itemIndex.get(id);
    if (i === undefined)
      throw new Error(`sample ${sample.id}: item ${id} is not in the processed ${sample.domain} items`);
    return data.items[i].name;
  };
  return {
    id: sample.id,
    setup: sample.setup,
    setting: sample.proxy,
    demography: sample.demography,
    history: sample.history.map((id) => ({ id, name: nameOf(id) })),
    candidates: sample.candidates.map((id, k) => ({
      rank: k + 1,
      id,
      name: nameOf(id),
      kind: sample.target[k] > 0 ? 'C2' : 'C1',
      target: sample.target[k],
    })),
    targetEntropy: sample.targetEntropy,
    groupSize: sample.groupSize,
  };
}
