/** Shannon entropy, shared by the sampler (each prompt's target entropy) and the scorer. */

/** H(p) = −Σ p log p in the given log base; items with p = 0 contribute nothing (0·log 0 = 0). */
export function entropy(p: readonly number[], logBase: number): number {
  if (!(logBase > 1)) throw new RangeError(`log base must be > 1, got ${logBase}`);
  let h = 0;
  for (const pi of p) if (pi > 0) h -= pi * Math.log(pi);
  const out = h / Math.log(logBase);
  return out === 0 ? 0 : out; // never −0 in the files
}
