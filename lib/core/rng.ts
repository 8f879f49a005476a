import seedrandom from 'seedrandom';
import { createHash } from 'node:crypto';

/** A seeded generator of floats in [0, 1). All randomness in the project goes through one of these. */
export type Rng = () => number;

export function makeRng(seed: number | string): Rng {
  const prng = seedrandom(String(seed));
  return () => prng.quick();
}

/** A seed derived from a base seed and labels, so independent streams (per setting, per model) do not interfere. */
export function deriveSeed(base: number | string, ...labels: (string | number)[]): string {
  return createHash('sha256').update([base, ...labels].join('\u0000')).digest('hex').slice(0, 16);
}

export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Fisher–Yates, in place. */
export function shuffleInPlace<T>(rng: Rng, arr: T[]): T[] {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = arr[i];
    arr[i] = arr[j];
    arr[j] = t;
  }
  return arr;
}

/** k distinct elements drawn uniformly without replacement (partial Fisher–Yates on a copy). */
export function sampleWithoutReplacement<T>(rng: Rng, items: readonly T[], k: number): T[] {
  if (k > items.length) throw new RangeError(`cannot draw ${k} distinct items from ${items.length}`);
  const a = items.slice();
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(rng, a.length - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a.slice(0, k);
}
