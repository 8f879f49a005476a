/**
 * A simulated model whose own distribution over a prompt's candidates is known (issue 22): q* is built from the
 * target, then the model answers as each elicitation method asks — sampled rankings, stated probabilities, or
 * first-token logprobs over the candidates' labels — so that the score stage's measured q can be checked against q*.
 * Beside the offline baselines because it answers prompts like them and the test servers will serve it; it must not
 * import the score stage that checks it (imports run downwards).
 */
import { normal } from '../data/synthetic-parts';
import { deriveSeed, makeRng, type Rng } from '../core/rng';
import type { ModelConfig } from '../core/config';

export interface KnownDistributionOptions {
  /** Temperature on the log-target: above 1 flattens q* towards uniform, below 1 sharpens it. */
  tau: number;
  /** Standard deviation of the Gaussian noise added to each candidate's logit. */
  noise: number;
  /** Added to the target before the log, so the group's never-interacted candidates keep some mass. */
  eps: number;
}

/** The simulated model as an entry of its own, answered offline (notebooks' known-answer checks and examples). */
export function knownDistributionModel(known?: Partial<KnownDistributionOptions>): ModelConfig {
  return {
    id: 'known-distribution',
    provider: 'baseline',
    model: 'known-distribution',
    baseURL: null,
    apiKeyEnv: null,
    concurrency: 64,
    inputPricePerMTok: 0,
    outputPricePerMTok: 0,
    ...(known ? { known } : {}),
  };
}

export const KNOWN_DISTRIBUTION_DEFAULTS: KnownDistributionOptions = { tau: 1, noise: 0.5, eps: 1e-3 };

/** q*_i ∝ exp(log(target_i + eps) / tau + noise · z_i), z_i standard normal from `rng`, one draw per candidate in order. */
export function knownDistribution(target: readonly number[], options: KnownDistributionOptions, rng: Rng): number[] {
  const { tau, noise, eps } = options;
  if (!(tau > 0)) throw new RangeError(`knownDistribution: tau must be > 0, got ${tau}`);
  if (!(noise >= 0)) throw new RangeError(`knownDistribution: noise must be >= 0, got ${noise}`);
  if (!(eps > 0)) throw new RangeError(`knownDistribution: eps must be > 0 (log 0 is not a logit), got ${eps}`);
  if (target.length === 0) throw new RangeError('knownDistribution: no candidates');
  target.forEach((t, i) => {
    if (!(t >= 0)) throw new RangeError(`knownDistribution: target[${i}] must be a probability >= 0, got ${t}`);
  });
  const logits = target.map((t) => Math.log(t + eps) / tau + (noise > 0 ? noise * normal(rng) : 0));
  const max = Math.max(...logits);
  const w = logits.map((x) => Math.exp(x - max));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/** q* of one prompt, seeded from the run's seed and the prompt id, so a prompt gets the same q* in every method. */
export function knownDistributionOf(
  sample: { id: string; target: readonly number[] },
  options: KnownDistributionOptions,
  seed: number | string,
): number[] {
  return knownDistribution(sample.target, options, makeRng(deriveSeed(seed, 'known-distribution', sample.id)));
}

/**
 * q* of a sample whatever order its candidates are listed in: drawn over the candidates sorted by id, from the base
 * sample's seed, and put back in the sample's order, so every candidate order of one sample has the same q* per
 * candidate (a model's own distribution does not depend on the listing).
 */
export function knownDistributionForSample(
  sample: { candidates: readonly string[]; target: readonly number[] },
  baseId: string,
  options: KnownDistributionOptions,
  seed: number | string,
): number[] {
  const byId = sample.candidates.map((id, i) => ({ id, i })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const q = knownDistribution(
    byId.map((c) => sample.target[c.i]),
    options,
    makeRng(deriveSeed(seed, 'known-distribution', baseId)),
  );
  const out = new Array<number>(sample.candidates.length);
  byId.forEach((c, k) => (out[c.i] = q[k]));
  return out;
}

/**
 * n rankings of the top k candidates (positions), each drawn from the Plackett–Luce model with choice probabilities
 * q: the first pick with probability q_i, each next one from the candidates left, in proportion to their q.
 */
export function samplePlackettLuce(q: readonly number[], n: number, k: number, rng: Rng): number[][] {
  if (!(Number.isInteger(n) && n >= 0))
    throw new RangeError(`samplePlackettLuce: n must be a whole number >= 0, got ${n}`);
  if (!(Number.isInteger(k) && k >= 1 && k <= q.length))
    throw new RangeError(`samplePlackettLuce: k must be a whole number in 1..${q.length}, got ${k}`);
  if (!q.every((x) => x > 0))
    throw new RangeError('samplePlackettLuce: every probability must be > 0 (a draw without replacement needs it)');
  const out: number[][] = [];
  const left = new Float64Array(q.length);
  for (let s = 0; s < n; s++) {
    left.set(q);
    let total = left.reduce((a, b) => a + b, 0);
    const ranking: number[] = [];
    for (let j = 0; j < k; j++) {
      let u = rng() * total;
      let pick = -1;
      for (let i = 0; i < left.length; i++) {
        if (left[i] === 0) continue;
        pick = i; // the last one still in the set, should rounding leave u past every item
        u -= left[i];
        if (u < 0) break;
      }
      ranking.push(pick);
      total -= left[pick];
      left[pick] = 0;
    }
    out.push(ranking);
  }
  return out;
}

/** Stated probabilities as a model would write them: each q_i rounded to `decimals` places (so they need not sum to 1). */
export function statedProbabilities(q: readonly number[], decimals = 3): number[] {
  if (!(Number.isInteger(decimals) && decimals >= 0 && decimals <= 15))
    throw new RangeError(`statedProbabilities: decimals must be a whole number in 0..15, got ${decimals}`);
  return q.map((x) => Number(x.toFixed(decimals)));
}

/** One entry of a first token's `top_logprobs`, as the chat completions API returns it. */
export interface TokenLogprob {
  token: string;
  logprob: number;
}

/** Label of candidate position i in the logprobs prompt: its 1-based number. */
export function candidateLabel(i: number): string {
  return String(i + 1);
}

/**
 * The first token's top-k logprobs when the model's next-token mass is q over the labels "1".."K": the k labels of
 * largest q (ties by position), most likely first.
 */
export function firstTokenLogprobs(q: readonly number[], topK = 20): TokenLogprob[] {
  if (!(Number.isInteger(topK) && topK >= 1))
    throw new RangeError(`firstTokenLogprobs: topK must be a whole number >= 1, got ${topK}`);
  const order = Array.from(q.keys()).sort((a, b) => q[b] - q[a] || a - b);
  return order.slice(0, topK).map((i) => ({ token: candidateLabel(i), logprob: Math.log(q[i]) }));
}
