/** The query stage for an offline baseline: answered in-process, free and deterministic, never stored. */
import type { Config, DomainName, ModelConfig } from '../core/config';
import { createBaseline } from './baselines';
import { formatCount } from './format';
import type { QueryInputs } from './inputs';
import { type AnswerForRecord, type KeyedJob, writeResponses } from './responses';
import type { QueryRunSummary } from './run-types';
import type { RunControl } from './send';

export async function runBaseline(
  config: Config,
  domain: DomainName,
  model: ModelConfig,
  inputs: QueryInputs,
  keyed: KeyedJob[],
  summary: QueryRunSummary,
  control: RunControl,
  log: (s: string) => void,
): Promise<void> {
  const responder = createBaseline(model, inputs.data, config);
  const answers = new Map<string, AnswerForRecord>();
  for (const { job, key } of keyed) {
    if (control.stop.aborted) {
      summary.interrupted = true;
      break;
    }
    if (answers.has(key)) continue;
    const a = await responder.answer(job, control.hard);
    // Baselines are pure functions of the sample: no timestamp or timing, so reruns write identical bytes.
    answers.set(key, {
      raw: a.text,
      usage: a.usage,
      costUsd: 0,
      model: a.model,
      fingerprint: a.fingerprint,
      latencyMs: 0,
      finishReason: 'stop',
      via: 'baseline',
      answeredAt: '',
      ...(a.topLogprobs ? { topLogprobs: a.topLogprobs } : {}),
    });
  }
  summary.newAnswers = answers.size;
  if (summary.interrupted) {
    // A partial baseline run would replace a complete file with a shorter one; baselines are cheap to rerun instead.
    Object.assign(summary, { newAnswers: 0, missing: summary.prompts });
    log(`${model.id} ${domain}: interrupted; responses file left as it was (rerun to answer all prompts)`);
    return;
  }
  const out = writeResponses(config, domain, model, keyed, inputs.itemName, (k) => answers.get(k));
  Object.assign(summary, {
    written: out.written,
    answered: out.written,
    missing: summary.prompts - out.written,
    outputFile: out.file,
    parse: out.parse,
  });
  log(`${model.id} ${domain}: ${formatCount(out.written)} answers (offline baseline) → ${out.file}`);
}
