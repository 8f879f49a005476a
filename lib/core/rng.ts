import seedrandom from 'seedrandom';
import { sha256Hex } from './hash';

/** A seeded generator of floats in [0, 1). All randomness in the project goes through one of these. */
export type Rng = () => number;

export function makeRng(seed: number | string): Rng {
  const prng = seedrandom(String(seed));
  return () => prng.quick();
}

/** A seed derived from a base seed and labels, so independent streams (per setting, per model) do not interfere. */
export function deriveSeed(base: number | string, ...labels: (string | number)[]): string {
  return sha256Hex([base, ...labels].join('\u0000')).slice(0, 16);
}

export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/**
 * A fast seeded generator (sfc32, seeded from the sha256 of the seed) for the bootstrap's millions of draws, where
 * seedrandom's ARC4 costs most of the time. Same seed, same sequence; not for anything stored draws depend on.
 */
export function makeFastRng(seed: number | string): Rng {
  const h = sha256Hex(String(seed));
  let a = parseInt(h.slice(0, 8), 16) | 0;
  let b = parseInt(h.slice(8, 16), 16) | 0;
  let c = parseInt(h.slice(16, 24), 16) | 0;
  let d = parseInt(h.slice(24, 32), 16) | 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
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

/**
 * k distinct elements drawn uniformly without replacement (partial Fisher–Yates on a copy), in draw order.
 * Baseline answers and tests depend on this exact draw sequence.
 */
export function sampleWithoutReplacement<T>(rng: Rng, items: ArrayLike<T>, k: number): T[] {
  const n = items.length;
  if (k > n) throw new RangeError(`cannot draw ${k} distinct items from ${n}`);
  const a = Array.isArray(items) ? (items as readonly T[]).slice() : Array.from(items);
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(rng, n - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a.slice(0, k);
}

/**
 * Like sampleWithoutReplacement (uniform, distinct, in draw order), but for k <= n/2 it rejects repeated positions
 * instead of copying the pool: the sampler draws a few items from group and catalogue pools of thousands, many
 * times. The two consume the generator differently when k <= n/2, so stored samples pin this one.
 */
export function sampleDistinct<T>(rng: Rng, pool: ArrayLike<T>, k: number): T[] {
  const n = pool.length;
  if (k > n) throw new RangeError(`cannot draw ${k} distinct items from ${n}`);
  if (2 * k > n) return sampleWithoutReplacement(rng, pool, k);
  const out: T[] = [];
  const taken = new Set<number>();
  while (out.length < k) {
    const j = randomInt(rng, n);
    if (taken.has(j)) continue;
    taken.add(j);
    out.push(pool[j]);
  }
  return out;
}
