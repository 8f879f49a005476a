/**
 * Repeated samples (`query.samples` = n): each prompt is asked n times, ask r with seed query.seed + r at the model's
 * configured temperature, so scoring can measure the spread of a model's answers. Ask 0 is the single ask of n = 1
 * (same request, same store key: answers already paid stay valid); asks 1..n−1 carry their index in the store key.
 * With the `samples` method and a server that takes `n` (`capabilities.n`), the n asks of a prompt are one request with
 * `n` choices instead: one store key, one payment for the prompt's input, choice r read as ask r.
 */
import type { Config, ModelConfig } from '../core/config';
import type { PromptJob } from './models';

/** The configured number of asks per prompt, checked: a whole number >= 1. */
export function querySamplesOf(config: Config): number {
  const n = config.query.samples;
  if (!(Number.isInteger(n) && n >= 1))
    throw new Error(`query: "query.samples" must be a whole number >= 1, got ${JSON.stringify(n)}`);
  return n;
}

/** Every job asked n times (ask index in `repeat`), in prompt order; n = 1 returns the jobs as they are. */
export function repeatedJobs(jobs: PromptJob[], config: Config): PromptJob[] {
  const n = querySamplesOf(config);
  if (n === 1) return jobs;
  return jobs.flatMap((job) => Array.from({ length: n }, (_, repeat) => ({ ...job, repeat })));
}

/** Whether a model's n asks of a prompt are one request with `n` choices (the `samples` method, `capabilities.n`). */
export function asksInOneRequest(config: Config, model: Pick<ModelConfig, 'provider' | 'capabilities'>): boolean {
  return (
    querySamplesOf(config) >= 2 &&
    (config.query.elicitation ?? []).includes('samples') &&
    model.provider !== 'baseline' &&
    model.capabilities?.n === true
  );
}

/** The ask index a job's request carries: every ask of a one-request model is the same request (index 0). */
export function requestRepeat(config: Config, model: ModelConfig, job: PromptJob): number | undefined {
  return !job.elicit && asksInOneRequest(config, model) ? 0 : job.repeat;
}
