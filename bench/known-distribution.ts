// Known-answer recovery of the measured methods on a run's samples (issue 22): a simulated model with a known q* per
// prompt answers as `stated`, `logprobs` and `samples` would, and each method's mean H(p, q) is compared with the mean
// H(p, q*), per setup. Not a timing benchmark; run it on the samples of a real run:
//   node build/bench/known-distribution.js data/samples/movielens/samples.jsonl [--alpha 0.1,1] [--tau 1] [--noise 0.5]
import { readJsonl } from '../lib/core/io';
import { deriveSeed, makeRng } from '../lib/core/rng';
import type { SampleRecord } from '../lib/core/types';
import { crossEntropy } from '../lib/score/distribution';
import { logprobsDistribution, samplesDistribution, scoreMeasured, statedDistribution } from '../lib/score/measured';
import {
  firstTokenLogprobs,
  KNOWN_DISTRIBUTION_DEFAULTS,
  knownDistributionOf,
  samplePlackettLuce,
  statedProbabilities,
} from '../lib/query/known-distribution';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

function main(): void {
  const file = process.argv[2];
  if (!file || file.startsWith('--')) {
    console.error('usage: node build/bench/known-distribution.js SAMPLES.jsonl [--alpha 0.1] [--tau 1] [--noise 0.5]');
    process.exit(2);
  }
  const alphas = option('alpha', '0.1').split(',').map(Number);
  const ns = option('n', '5,20,50').split(',').map(Number);
  const known = {
    ...KNOWN_DISTRIBUTION_DEFAULTS,
    tau: Number(option('tau', String(KNOWN_DISTRIBUTION_DEFAULTS.tau))),
    noise: Number(option('noise', String(KNOWN_DISTRIBUTION_DEFAULTS.noise))),
  };
  const topK = Number(option('topk', '20'));
  const seed = option('seed', '20250707');
  const samples = readJsonl<SampleRecord>(file).records.filter((s) => s.order === undefined);
  const opts = { smoothing: 0.001, logBase: 2 };
  // setup → column → sum of (measured − true) and of |measured − true|, and the count.
  const acc = new Map<string, Map<string, { d: number; abs: number; n: number }>>();
  const add = (setup: string, col: string, d: number) => {
    const bySetup = acc.get(setup) ?? acc.set(setup, new Map()).get(setup)!;
    const a = bySetup.get(col) ?? bySetup.set(col, { d: 0, abs: 0, n: 0 }).get(col)!;
    a.d += d;
    a.abs += Math.abs(d);
    a.n++;
  };
  let notConverged = 0;
  let maxIterations = 0;
  const t0 = Date.now();
  for (const s of samples) {
    const qStar = knownDistributionOf(s, known, seed);
    const truth = crossEntropy(s.target, qStar, 2);
    add(s.setup, 'H(p,q*)', truth);
    const stated = statedProbabilities(qStar, 3);
    const st = statedDistribution(
      s.candidates,
      s.candidates.map((id, i) => [id, stated[i]] as const),
    );
    add(s.setup, 'stated', scoreMeasured(s.target, st.q!, opts).crossEntropy - truth);
    const lp = logprobsDistribution(s.candidates.length, firstTokenLogprobs(qStar, topK));
    add(s.setup, `logprobs@${topK}`, scoreMeasured(s.target, lp.q!, opts).crossEntropy - truth);
    for (const n of ns) {
      const rankings = samplePlackettLuce(qStar, n, 10, makeRng(deriveSeed(seed, 'known-samples', s.id, n)));
      for (const alpha of alphas) {
        const m = samplesDistribution(s.candidates.length, rankings, { alpha });
        if (!m.fit!.converged) notConverged++;
        maxIterations = Math.max(maxIterations, m.fit!.iterations);
        add(s.setup, `n=${n} α=${alpha}`, scoreMeasured(s.target, m.q!, opts).crossEntropy - truth);
      }
    }
  }
  console.log(
    `${samples.length} prompts, q* = softmax(log(target + ${known.eps}) / ${known.tau} + ${known.noise}·z), seed ${seed}; ` +
      `mean (measured − true) H in bits [mean |difference|]; ${notConverged} fits not converged (at most ${maxIterations} iterations); ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  const cols = [...acc.values().next().value!.keys()];
  console.log(['setup', 'prompts', ...cols].join('\t'));
  for (const [setup, bySetup] of [...acc].sort()) {
    const cells = cols.map((c) => {
      const a = bySetup.get(c)!;
      return c === 'H(p,q*)' ? (a.d / a.n).toFixed(3) : `${(a.d / a.n).toFixed(4)} [${(a.abs / a.n).toFixed(4)}]`;
    });
    console.log([setup, bySetup.get('H(p,q*)')!.n, ...cells].join('\t'));
  }
}

main();
