/**
 * The known-answer check of the `samples` measurement on a run's own prompts (notebook 04): the simulated baseline
 * `known-distribution`, whose own distribution q* is known, is asked n times per prompt for each n, offline, in a
 * scratch folder (the run's files are not touched), and scored; the measured H(p, q) is set against H(p, q*).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config, DomainName } from '../core/config';
import { writeJsonl } from '../core/io';
import type { SampleRecord, Setup } from '../core/types';
import type { ElicitMethod } from '../query/elicit';
import type { MeasuredMethod } from './measured';
import {
  KNOWN_DISTRIBUTION_DEFAULTS,
  knownDistributionForSample,
  knownDistributionModel,
} from '../query/known-distribution';
import { runQuery } from '../query/runner';
import { loadSamples } from '../sample/sample';
import { baseSampleId } from '../sample/orders';
import { crossEntropy } from './distribution';
import { loadScores } from './files';
import { runScore } from './score';
import type { SampleScoreRecord } from './spread';
import { loadScoreSummary } from './summary';

export interface KnownAnswerRow {
  /** How the distribution was measured: the Plackett–Luce fit of `asks` sampled rankings, or one stated / logprobs answer. */
  method: MeasuredMethod;
  asks: number;
  prompts: number;
  /** Mean over prompts of H(p, q measured) − H(p, q*), and of its absolute value. */
  meanError: number;
  meanAbsError: number;
  /** Mean H(p, q*): the truth the errors are relative to. */
  meanTruth: number;
  /** The summary's flatters estimate per setup (measured − optimistic mean cross-entropy). */
  flatters: Partial<Record<Setup, number>>;
}

/**
 * For each number of asks: `prompts` of the domain's samples (spread evenly over the file, so every setup is in), asked
 * that many times by a `known-distribution` model with the given q* options, scored, and compared with H(p, q*); then,
 * for each of `methods`, the same prompts asked once in that method. Runs in a scratch folder: the run's files are
 * left as they are.
 */
export async function knownAnswerSamples(
  config: Config,
  domain: DomainName,
  opts: {
    prompts: number;
    asks: number[];
    known?: Partial<typeof KNOWN_DISTRIBUTION_DEFAULTS>;
    methods?: ElicitMethod[];
  },
): Promise<KnownAnswerRow[]> {
  const all = loadSamples(config, domain);
  const stride = Math.max(1, Math.floor(all.length / opts.prompts));
  const samples = all.filter((_, i) => i % stride === 0).slice(0, opts.prompts);
  const known = { ...KNOWN_DISTRIBUTION_DEFAULTS, ...opts.known };
  const model = knownDistributionModel(known);
  const truthOf = (s: SampleRecord) =>
    crossEntropy(s.target, knownDistributionForSample(s, baseSampleId(s), known, config.seed), config.score.logBase);
  const passes: { asks: number; methods: MeasuredMethod[] }[] = [
    ...opts.asks.map((asks) => ({ asks, methods: ['samples'] as MeasuredMethod[] })),
    ...(opts.methods?.length ? [{ asks: 1, methods: opts.methods }] : []),
  ];
  const rows: KnownAnswerRow[] = [];
  for (const { asks, methods } of passes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ubp-known-answer-'));
    try {
      const scratch: Config = {
        ...config,
        run: null,
        paths: {
          ...config.paths,
          samples: path.join(dir, 'samples'),
          responses: path.join(dir, 'responses'),
          store: path.join(dir, 'store'),
          scores: path.join(dir, 'scores'),
          runs: path.join(dir, 'runs'),
          figures: path.join(dir, 'figures'),
        },
        query: {
          ...config.query,
          models: [model],
          samples: asks,
          elicitation: ['ranking', ...methods.filter((m) => m !== 'samples')],
        },
        curves: { ...config.curves, calibration: 0 },
      };
      writeJsonl(path.join(dir, 'samples', domain, 'samples.jsonl'), samples);
      await runQuery(scratch, domain, [model.id], { log: () => {} });
      runScore(scratch, [domain], [model.id], { log: () => {} });
      const scored = new Map(
        (loadScores(scratch, model.id, domain) as SampleScoreRecord[]).map((r) => [r.promptId, r]),
      );
      const setups = loadScoreSummary(scratch).models[model.id]?.[domain]?.setups ?? {};
      for (const method of methods) {
        const errors: number[] = [];
        const truths: number[] = [];
        for (const s of samples) {
          const measured = scored.get(baseSampleId(s))?.measured?.[method];
          if (!measured) continue;
          const truth = truthOf(s);
          truths.push(truth);
          errors.push(measured.crossEntropy - truth);
        }
        const flatters: Partial<Record<Setup, number>> = {};
        for (const [setup, entry] of Object.entries(setups))
          if (entry?.measured?.[method]) flatters[setup as Setup] = entry.measured[method]!.flatters.estimate;
        const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
        rows.push({
          method,
          asks,
          prompts: errors.length,
          meanError: mean(errors),
          meanAbsError: mean(errors.map(Math.abs)),
          meanTruth: mean(truths),
          flatters,
        });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}
