/**
 * The Plackett–Luce model fitted to sampled rankings: a model's n top-k answers to one prompt become a distribution q
 * over its candidates (issue 22, `samples`). Minorization–maximization (Hunter 2004), written after choix's `_mm` with
 * `mm_top1` / `mm_rankings` (lucasmaystre/choix, choix/mm.py, MIT), so that its reference cases and its `alpha`
 * convention carry over unchanged:
 * - the strengths w are kept at mean 1 (choix's `exp_transform`), and one step is w_i ← (W_i + α) / (D_i + α), W_i the
 *   number of choices item i won and D_i = Σ over the choices whose set holds i of 1 / (Σ of the set's strengths);
 * - α > 0 is choix's MAP estimate (a Gamma(1 + α, α) prior on each strength at that scale): an item that never wins
 *   keeps a positive strength. α = 0 is maximum likelihood;
 * - convergence: the L1 norm of the change of the centred log-strengths between two successive steps is at most
 *   tol · (number of items) (choix's `NormOfDifferenceTest(order=1)`, which first compares the second step with the
 *   first). choix raises when `maxIter` steps do not reach it; here the fit is returned with `converged: false` and
 *   the last change, so a caller scoring thousands of prompts can list the prompt instead of stopping the run.
 */

/**
 * One observed sequence of top-1 choices: `picks[0]` was chosen from `pool`, `picks[1]` from `pool` without
 * `picks[0]`, and so on. `pool` absent means every item (a model's top-k of all K candidates, where the never-picked
 * candidates lose every choice). A choix top-1 datum `[w, losers]` is `{ picks: [w], pool: [w, ...losers] }`; a choix
 * ranking `r` is `{ picks: r, pool: r }`. A choice from a set of one item carries no information and is skipped.
 */
export interface PickSequence {
  picks: readonly number[];
  pool?: readonly number[];
}

export interface PlackettLuceOptions {
  /** Prior strength (choix's `alpha`); 0 = maximum likelihood. Default 0. */
  alpha?: number;
  /** Default 10,000 (choix's). */
  maxIter?: number;
  /** Default 1e-8 (choix's). */
  tol?: number;
  /** Starting log-strengths (any offset); default all 0. */
  initial?: readonly number[];
}

export interface PlackettLuceFit {
  /** The fitted choice probabilities from the full set: strengths / Σ strengths. */
  q: number[];
  /** Log-strengths centred to mean 0: choix's parameters, comparable with its `ml_est`. */
  logStrengths: number[];
  iterations: number;
  converged: boolean;
  /** L1 norm of the last change of the centred log-strengths, divided by the number of items (compare with tol). */
  lastChange: number;
}

function checkItem(i: number, nItems: number, where: string): void {
  if (!(Number.isInteger(i) && i >= 0 && i < nItems))
    throw new RangeError(`${where}: item ${i} is not an item index (a whole number in 0..${nItems - 1})`);
}

/** Validates the data once; returns, per sequence, its pool as an index list (null = every item). */
function checkData(nItems: number, data: readonly PickSequence[]): (number[] | null)[] {
  return data.map((seq, s) => {
    const where = `Plackett–Luce data, sequence ${s}`;
    if (!seq || !Array.isArray(seq.picks))
      throw new TypeError(`${where}: expected { picks: number[], pool?: number[] }`);
    let pool: number[] | null = null;
    if (seq.pool !== undefined) {
      if (!Array.isArray(seq.pool)) throw new TypeError(`${where}: "pool" must be an array of item indices`);
      const inPool = new Set<number>();
      for (const i of seq.pool) {
        checkItem(i, nItems, `${where}, pool`);
        if (inPool.has(i)) throw new RangeError(`${where}: item ${i} appears twice in "pool"`);
        inPool.add(i);
      }
      pool = seq.pool.slice();
      for (const i of seq.picks)
        if (!inPool.has(i)) throw new RangeError(`${where}: pick ${i} is not in its "pool" [${pool.join(', ')}]`);
    }
    const picked = new Set<number>();
    for (const i of seq.picks) {
      checkItem(i, nItems, `${where}, picks`);
      if (picked.has(i)) throw new RangeError(`${where}: item ${i} is picked twice`);
      picked.add(i);
    }
    return pool;
  });
}

function centredLog(w: Float64Array): number[] {
  const logs = Array.from(w, Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  return logs.map((x) => x - mean);
}

/**
 * Fits Plackett–Luce strengths to the sequences by MM. Throws on malformed data, and when α = 0 and some item never
 * wins a choice: its maximum-likelihood strength is 0, so q and the log-strengths do not exist (use α > 0).
 */
export function fitPlackettLuce(
  nItems: number,
  data: readonly PickSequence[],
  options: PlackettLuceOptions = {},
): PlackettLuceFit {
  const { alpha = 0, maxIter = 10000, tol = 1e-8, initial } = options;
  if (!(Number.isInteger(nItems) && nItems >= 1))
    throw new RangeError(`fitPlackettLuce: nItems must be a whole number >= 1, got ${nItems}`);
  if (!(Number.isFinite(alpha) && alpha >= 0))
    throw new RangeError(`fitPlackettLuce: alpha must be >= 0, got ${alpha}`);
  if (!(Number.isInteger(maxIter) && maxIter >= 1))
    throw new RangeError(`fitPlackettLuce: maxIter must be a whole number >= 1, got ${maxIter}`);
  if (!(tol > 0)) throw new RangeError(`fitPlackettLuce: tol must be > 0, got ${tol}`);
  if (initial !== undefined && (initial.length !== nItems || !initial.every(Number.isFinite)))
    throw new RangeError(`fitPlackettLuce: initial must hold ${nItems} finite log-strengths`);
  const pools = checkData(nItems, data);

  // Wins do not depend on the strengths: count them once.
  const wins = new Float64Array(nItems);
  for (let s = 0; s < data.length; s++) {
    let left = pools[s]?.length ?? nItems;
    for (const i of data[s].picks) {
      if (left > 1) wins[i]++;
      left--;
    }
  }
  if (alpha === 0) {
    const never: number[] = [];
    for (let i = 0; i < nItems; i++) if (wins[i] === 0) never.push(i);
    if (never.length > 0)
      throw new RangeError(
        `fitPlackettLuce: with alpha = 0 (maximum likelihood) every item must win a choice; items ${never.join(', ')} never do (their strength would be 0): use alpha > 0`,
      );
  }

  const w = new Float64Array(nItems).fill(1);
  if (initial) {
    const mean = initial.reduce((a, b) => a + b, 0) / nItems;
    let sum = 0;
    for (let i = 0; i < nItems; i++) sum += w[i] = Math.exp(initial[i] - mean);
    for (let i = 0; i < nItems; i++) w[i] *= nItems / sum;
  }
  const denoms = new Float64Array(nItems);
  let prev: number[] | null = null;
  let lastChange = Infinity;
  for (let iter = 1; iter <= maxIter; iter++) {
    denoms.fill(0);
    // Every item of a sequence's pool is in each of its choice sets until it is picked: it collects the running sum
    // of 1/S up to its pick, or all of it if never picked. A pool of every item adds the full sum to everyone once.
    let everyone = 0;
    for (let s = 0; s < data.length; s++) {
      const pool = pools[s];
      let total = 0;
      if (pool) for (const i of pool) total += w[i];
      else for (let i = 0; i < nItems; i++) total += w[i];
      let left = pool?.length ?? nItems;
      let running = 0;
      const upTo: number[] = [];
      for (const i of data[s].picks) {
        if (left > 1) running += 1 / total;
        upTo.push(running);
        total -= w[i];
        left--;
      }
      if (pool) for (const i of pool) denoms[i] += running;
      else everyone += running;
      data[s].picks.forEach((i, j) => (denoms[i] += upTo[j] - running));
    }
    let sum = 0;
    for (let i = 0; i < nItems; i++) sum += w[i] = (wins[i] + alpha) / (denoms[i] + everyone + alpha);
    for (let i = 0; i < nItems; i++) w[i] *= nItems / sum;
    const params = centredLog(w);
    if (prev) {
      let dist = 0;
      for (let i = 0; i < nItems; i++) dist += Math.abs(params[i] - prev[i]);
      lastChange = dist / nItems;
      if (lastChange <= tol) return finish(w, params, iter, true, lastChange);
    }
    prev = params;
  }
  return finish(w, prev ?? centredLog(w), maxIter, false, lastChange);
}

function finish(
  w: Float64Array,
  logStrengths: number[],
  iterations: number,
  converged: boolean,
  lastChange: number,
): PlackettLuceFit {
  let sum = 0;
  for (const x of w) sum += x;
  return { q: Array.from(w, (x) => x / sum), logStrengths, iterations, converged, lastChange };
}

/**
 * The second estimate: how often each item was the first pick, with `pseudoCount` added to every item (Laplace's rule
 * at 1), so q_i = (first picks of i + c) / (n + c · nItems). Sequences with no pick count for nothing.
 */
export function firstPickFrequencies(
  nItems: number,
  rankings: readonly (readonly number[])[],
  pseudoCount = 1,
): number[] {
  if (!(Number.isInteger(nItems) && nItems >= 1))
    throw new RangeError(`firstPickFrequencies: nItems must be a whole number >= 1, got ${nItems}`);
  if (!(Number.isFinite(pseudoCount) && pseudoCount >= 0))
    throw new RangeError(`firstPickFrequencies: pseudoCount must be >= 0, got ${pseudoCount}`);
  const counts = new Array<number>(nItems).fill(pseudoCount);
  let total = pseudoCount * nItems;
  rankings.forEach((r, s) => {
    if (r.length === 0) return;
    checkItem(r[0], nItems, `firstPickFrequencies, ranking ${s}`);
    counts[r[0]]++;
    total++;
  });
  if (total === 0) throw new RangeError('firstPickFrequencies: no ranking has a pick and pseudoCount is 0');
  return counts.map((c) => c / total);
}
