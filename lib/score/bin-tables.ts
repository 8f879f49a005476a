/**
 * Draws of the position bins of order-blind picks, for the position test's calibration
 * (position-bias-calibration.ts): the multivariate hypergeometric distribution of where d distinct picks fall among
 * bins of given sizes, the distribution of two listings' sums by convolution, and Walker's alias tables that turn one
 * uniform into one draw. The uniforms are what a calibration spends its time on, so one per two listings halves it.
 */

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** A distribution over bin-count vectors (B counts each, flat), e.g. of d positions drawn without replacement. */
interface VectorDistribution {
  vectors: Int32Array;
  probs: Float64Array;
  B: number;
  /** Picks per vector. */
  picks: number;
}

/** Walker's alias table over a VectorDistribution: one uniform draw gives one vector. */
export interface AliasTable {
  vectors: Int32Array;
  prob: Float64Array;
  alias: Int32Array;
  n: number;
}

/**
 * Largest table drawn from with one uniform of 32 bits: at 50,000 entries the fraction left for the alias coin still
 * resolves 2^-16, so the draws are off the exact distribution by well under 1e-4 in total variation.
 */
const MAX_ALIAS_VECTORS = 50_000;
/** Largest dense index (radix^(B − 1) cells) a convolution may use. */
const MAX_DENSE_INDEX = 4_000_000;

function countCompositions(d: number, sizes: number[]): number {
  // ways[t] = vectors over the bins so far with total t
  let ways = new Array<number>(d + 1).fill(0);
  ways[0] = 1;
  for (const size of sizes) {
    const next = new Array<number>(d + 1).fill(0);
    for (let t = 0; t <= d; t++) if (ways[t]) for (let c = 0; c <= size && t + c <= d; c++) next[t + c] += ways[t];
    ways = next;
  }
  return ways[d];
}

/** The multivariate hypergeometric distribution of d positions' bins; null when it has too many vectors. */
function hypergeometric(d: number, sizes: number[]): VectorDistribution | null {
  if (countCompositions(d, sizes) > MAX_ALIAS_VECTORS) return null;
  const K = sizes.reduce((a, b) => a + b, 0);
  const B = sizes.length;
  const vectors: number[] = [];
  const probs: number[] = [];
  const total = binomial(K, d);
  const c = new Array<number>(B).fill(0);
  const walk = (b: number, left: number, ways: number) => {
    if (b === B - 1) {
      if (left > sizes[b]) return;
      c[b] = left;
      vectors.push(...c);
      probs.push((ways * binomial(sizes[b], left)) / total);
      return;
    }
    for (let k = 0; k <= Math.min(left, sizes[b]); k++) {
      c[b] = k;
      walk(b + 1, left - k, ways * binomial(sizes[b], k));
    }
  };
  walk(0, d, 1);
  return { vectors: Int32Array.from(vectors), probs: Float64Array.from(probs), B, picks: d };
}

/** The distribution of the sum of one draw from each; null when it would exceed the table limits. */
function convolve(x: VectorDistribution, y: VectorDistribution): VectorDistribution | null {
  const B = x.B;
  const picks = x.picks + y.picks;
  const radix = picks + 1;
  if (radix ** (B - 1) > MAX_DENSE_INDEX) return null;
  // The last count is implied by the others (they sum to `picks`), so B − 1 digits index a vector.
  const index = new Int32Array(radix ** (B - 1)).fill(-1);
  const vectors: number[] = [];
  const probs: number[] = [];
  const nx = x.probs.length;
  const ny = y.probs.length;
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < ny; j++) {
      let code = 0;
      for (let b = B - 2; b >= 0; b--) code = code * radix + x.vectors[i * B + b] + y.vectors[j * B + b];
      let k = index[code];
      if (k < 0) {
        k = index[code] = probs.length;
        if (k >= MAX_ALIAS_VECTORS) return null;
        probs.push(0);
        for (let b = 0; b < B; b++) vectors.push(x.vectors[i * B + b] + y.vectors[j * B + b]);
      }
      probs[k] += x.probs[i] * y.probs[j];
    }
  }
  return { vectors: Int32Array.from(vectors), probs: Float64Array.from(probs), B, picks };
}

function aliasOf(dist: VectorDistribution): AliasTable {
  const n = dist.probs.length;
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  const scaled = Array.from(dist.probs, (p) => p * n);
  const small: number[] = [];
  const large: number[] = [];
  scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
  while (small.length && large.length) {
    const s = small.pop()!;
    const l = large.pop()!;
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    (scaled[l] < 1 ? small : large).push(l);
  }
  for (const i of large) prob[i] = 1;
  for (const i of small) prob[i] = 1;
  return { vectors: dist.vectors, prob, alias, n };
}

/**
 * Alias tables for the bins of one listing of d distinct picks and of two (tables[t − 1] for t listings), when the
 * limits allow: the uniform draws are what the simulation spends its time on, and one draw for two listings halves
 * them (three would save little more and take longer to build). Memoised: they depend only on d and the bins.
 */
const tableCache = new Map<string, AliasTable[] | null>();

export function listingTables(d: number, sizes: number[]): AliasTable[] | null {
  const key = `${d}|${sizes.join(',')}`;
  if (tableCache.has(key)) return tableCache.get(key)!;
  const one = hypergeometric(d, sizes);
  let tables: AliasTable[] | null = null;
  if (one) {
    tables = [aliasOf(one)];
    const two = convolve(one, one);
    if (two) tables.push(aliasOf(two));
  }
  if (tableCache.size >= 64) tableCache.delete(tableCache.keys().next().value as string);
  tableCache.set(key, tables);
  return tables;
}
