/**
 * Offline baselines that answer prompts without an API: the paper's random baseline, reference rankers, and a
 * simulated models with a known answer — `departure` (the oracle at and above a target entropy `departAt`, random
 * below it), which checks that the score stage recovers a departure point known in advance, and `known-distribution`
 * (rankings drawn from a known q*), which checks that a measured distribution recovers H(p, q*).
 * Each renders its picks as a Python list of item names, so its answers go through the same parser as an LLM's.
 */
import { performance } from 'node:perf_hooks';
import type { Config, ModelConfig } from '../core/config';
import type { ModelAnswer, PromptJob, Responder } from './models';
import type { ProcessedDomain } from '../data/processed';
import { pythonList } from './prompt';
import { deriveSeed, makeRng, sampleWithoutReplacement } from '../core/rng';
import type { SampleRecord } from '../core/types';
import { entropy } from '../core/entropy';
import { baseSampleId } from '../sample/orders';
import {
  KNOWN_DISTRIBUTION_DEFAULTS,
  firstTokenLogprobs,
  knownDistributionForSample,
  samplePlackettLuce,
  statedProbabilities,
} from './known-distribution';
import { elicitationRefusal, topLogprobsFor } from './elicit';

export const BASELINE_KINDS = [
  'random',
  'popularity',
  'group-popularity',
  'item-cf',
  'oracle',
  'departure',
  'known-distribution',
] as const;
export type BaselineKind = (typeof BASELINE_KINDS)[number];

export function isBaselineKind(kind: string): kind is BaselineKind {
  return (BASELINE_KINDS as readonly string[]).includes(kind);
}

/** Ranks candidate item indices; returns at most topN of them. */
type Ranker = (sample: SampleRecord, candidates: Int32Array, topN: number, repeat?: number) => number[];

/**
 * The topN candidates by score (higher first), then by a second score, then by item index, so ties are deterministic.
 * Scores are indexed by the candidate's position in `candidates`.
 */
function topByScore(
  candidates: Int32Array,
  score: ArrayLike<number>,
  topN: number,
  tieScore?: ArrayLike<number>,
): number[] {
  const order = Array.from(candidates.keys());
  order.sort(
    (a, b) => score[b] - score[a] || (tieScore ? tieScore[b] - tieScore[a] : 0) || candidates[a] - candidates[b],
  );
  return order.slice(0, topN).map((pos) => candidates[pos]);
}

function gather(values: ArrayLike<number>, candidates: Int32Array): Float64Array {
  return Float64Array.from(candidates, (i) => values[i]);
}

/** Users matching every proxy value of the demography, as a membership mask. */
function groupMask(data: ProcessedDomain, demography: Record<string, string>): { mask: Uint8Array; size: number } {
  const entries = Object.entries(demography);
  const mask = new Uint8Array(data.users.length);
  let size = 0;
  data.users.forEach((u, i) => {
    if (entries.every(([k, v]) => u.proxies[k] === v)) {
      mask[i] = 1;
      size++;
    }
  });
  return { mask, size };
}

export function createBaseline(model: ModelConfig, data: ProcessedDomain, config: Config): Responder {
  const kind = model.model;
  if (!isBaselineKind(kind)) {
    throw new Error(`model "${model.id}": unknown baseline kind "${kind}" (known kinds: ${BASELINE_KINDS.join(', ')})`);
  }
  const nItems = data.items.length;
  const popularity = new Int32Array(nItems);
  for (let i = 0; i < nItems; i++) popularity[i] = data.itemUsers[i].length;
  const globalRank: Ranker = (_s, cands, topN) => topByScore(cands, gather(popularity, cands), topN);

  // Seeded by the prompt alone, so `departure` answers exactly as `random` does below its departAt. Later asks of a
  // repeated prompt (query.samples > 1) draw afresh; the first ask is the single ask's draw.
  const randomRank: Ranker = (sample, cands, topN, repeat) => {
    const rng = makeRng(
      repeat ? deriveSeed(config.seed, 'random', sample.id, repeat) : deriveSeed(config.seed, 'random', sample.id),
    );
    return sampleWithoutReplacement(rng, Array.from(cands), Math.min(topN, cands.length));
  };
  const oracleRank: Ranker = (sample, cands, topN) => {
    if (sample.target.length !== cands.length) {
      throw new Error(
        `sample ${sample.id}: ${sample.target.length} target probabilities for ${cands.length} candidates`,
      );
    }
    return topByScore(cands, sample.target, topN);
  };

  let rank: Ranker;
  // The distribution over a sample's candidates, for the baselines that have one (lib/query/elicit.ts).
  let distributionOf: ((sample: SampleRecord) => number[]) | null = null;
  switch (kind) {
    case 'random':
      rank = randomRank;
      break;
    case 'popularity':
      rank = globalRank;
      break;
    case 'group-popularity': {
      // Counts per demographic group, computed once per distinct group.
      const groupCounts = new Map<string, Int32Array>();
      rank = (sample, cands, topN) => {
        const demography = sample.demography ?? {};
        if (Object.keys(demography).length === 0) return globalRank(sample, cands, topN);
        const key = JSON.stringify(Object.entries(demography).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
        let counts = groupCounts.get(key);
        if (!counts) {
          const { mask, size } = groupMask(data, demography);
          if (size === 0) {
            throw new Error(
              `sample ${sample.id}: no user in the processed ${data.domain} data matches the demography ${JSON.stringify(demography)}`,
            );
          }
          counts = new Int32Array(nItems);
          for (let u = 0; u < mask.length; u++) {
            if (!mask[u]) continue;
            const items = data.userItems[u];
            for (let k = 0; k < items.length; k++) counts[items[k]]++;
          }
          groupCounts.set(key, counts);
        }
        return topByScore(cands, gather(counts, cands), topN);
      };
      break;
    }
    case 'item-cf': {
      // Cosine item–item similarity summed over the history:
      //   score(c) = Σ_h |U_c ∩ U_h| / sqrt(|U_c| |U_h|) = (1 / sqrt|U_c|) Σ_{u ∈ U_c} w[u],  w[u] = Σ_{h ∋ u} 1 / sqrt|U_h|,
      // so one pass over the history's users and one over the candidates' users, with no pairwise intersections.
      const userWeight = new Float64Array(data.users.length);
      rank = (sample, cands, topN) => {
        const history = sample.history.map((id) => itemIndexOf(data, id, sample));
        if (history.length === 0) return globalRank(sample, cands, topN);
        for (const h of history) {
          const users = data.itemUsers[h];
          if (users.length === 0) continue;
          const w = 1 / Math.sqrt(users.length);
          for (let k = 0; k < users.length; k++) userWeight[users[k]] += w;
        }
        const scores = new Float64Array(cands.length);
        for (let p = 0; p < cands.length; p++) {
          const users = data.itemUsers[cands[p]];
          if (users.length === 0) continue;
          let sum = 0;
          for (let k = 0; k < users.length; k++) sum += userWeight[users[k]];
          scores[p] = sum / Math.sqrt(users.length);
        }
        for (const h of history) {
          const users = data.itemUsers[h];
          for (let k = 0; k < users.length; k++) userWeight[users[k]] = 0;
        }
        // Candidates that no history item co-occurs with are ordered by popularity.
        return topByScore(cands, scores, topN, gather(popularity, cands));
      };
      break;
    }
    case 'oracle':
      rank = oracleRank;
      break;
    case 'departure': {
      const departAt = model.departAt;
      if (typeof departAt !== 'number')
        throw new Error(`model "${model.id}": baseline "departure" needs "departAt" (a target entropy)`);
      const logBase = config.score.logBase;
      rank = (sample, cands, topN, repeat) =>
        (entropy(sample.target, logBase) >= departAt ? oracleRank : randomRank)(sample, cands, topN, repeat);
      break;
    }
    case 'known-distribution': {
      // A model whose own distribution q* is known: each ask is a ranking drawn from the Plackett–Luce model with
      // choice probabilities q* (asks of one sample, in any candidate order, share q*), so a score of its measured
      // distribution can be checked against H(p, q*).
      const options = { ...KNOWN_DISTRIBUTION_DEFAULTS, ...model.known };
      // Asked for its distribution (stated, logprobs) it gives q* as a model would: rounded, or the top-k labels.
      distributionOf = (sample) => knownDistributionForSample(sample, baseSampleId(sample), options, config.seed);
      rank = (sample, cands, topN, repeat) => {
        const base = baseSampleId(sample);
        const q = knownDistributionForSample(sample, base, options, config.seed);
        const rng = makeRng(deriveSeed(config.seed, 'known-distribution-ask', sample.id, repeat ?? 0));
        const [positions] = samplePlackettLuce(q, 1, Math.min(topN, cands.length), rng);
        return positions.map((p) => cands[p]);
      };
      break;
    }
  }

  const topN = config.query.topN;
  return {
    config: model,
    async answer(job: PromptJob): Promise<ModelAnswer> {
      const start = performance.now();
      const sample = job.sample;
      if (sample.domain !== data.domain) {
        throw new Error(
          `baseline "${model.id}": sample ${sample.id} is from domain "${sample.domain}" but the baseline was built on "${data.domain}"`,
        );
      }
      if (job.elicit) {
        if (!distributionOf) throw new Error(`baseline "${model.id}": ${elicitationRefusal(model, job.elicit)}`);
        return {
          ...distributionAnswer(job.elicit, sample, distributionOf(sample), topLogprobsFor(config, model)),
          model: model.id,
        };
      }
      const cands = Int32Array.from(sample.candidates, (id) => itemIndexOf(data, id, sample));
      const picks = rank(sample, cands, topN, job.repeat ?? 0);
      const text = pythonList(picks.map((i) => data.items[i].name));
      return {
        text,
        usage: { inputTokens: 0, outputTokens: 0 },
        model: model.id,
        fingerprint: null,
        latencyMs: performance.now() - start,
      };
    },
  };
}

/** A simulated model's answer to a `stated` or `logprobs` prompt when its distribution over the candidates is q. */
function distributionAnswer(
  method: 'stated' | 'logprobs',
  sample: SampleRecord,
  q: readonly number[],
  topK: number,
): Omit<ModelAnswer, 'model'> {
  const free = { usage: { inputTokens: 0, outputTokens: 0 }, fingerprint: null, latencyMs: 0 };
  if (method === 'stated') {
    // Written out in candidate order (an object would put integer-like ids first, sorted).
    const stated = statedProbabilities(q);
    const text = `{${sample.candidates.map((id, i) => `${JSON.stringify(id)}: ${stated[i]}`).join(', ')}}`;
    return { ...free, text };
  }
  const topLogprobs = firstTokenLogprobs(q, topK);
  return { ...free, text: topLogprobs[0].token, topLogprobs };
}

function itemIndexOf(data: ProcessedDomain, id: string, sample: SampleRecord): number {
  const i = data.itemIndex.get(id);
  if (i === undefined)
    throw new Error(`sample ${sample.id}: item id ${JSON.stringify(id)} is not in the processed ${data.domain} data`);
  return i;
}
