/**
 * The query stage, declared once: samples + one model → data/responses/<model>/<domain>.jsonl. A stamp per model; its
 * parameters hold the whole model entry, so the score and plot stages (and notebooks 04 and 05) take the models a run
 * answered from here instead of asking the user to define them again.
 */
import * as path from 'node:path';
import { descriptionOf, domainDir } from '../core/config';
import type { StageDefinition } from '../core/stage';
import { resolveModels, responsesFile, storeIdentity } from './inputs';
import { elicitMethodsOf } from './elicit';
import { formatFinishReasons } from './responses';
import { type QueryOptions, type QueryRunSummary, runQuery } from './runner';

export const queryStage: StageDefinition<QueryOptions, QueryRunSummary> = {
  name: 'query',
  notebook: 'notebooks/03-query.ipynb',
  code: ['core', 'data', 'sample', 'query'],
  stampFile: (config, ref) => {
    if (!ref.model) throw new Error('a query stamp belongs to one model');
    return path.join(domainDir(config, 'responses', ref.model), `.stamp-query-${ref.domain}.json`);
  },
  upstream: ({ domain }) => [{ stage: 'sample', domain }],
  params: (config, ref) => {
    const { models: _all, ...query } = config.query;
    // The description's prompt words shape every prompt (the response store answers unchanged prompts for free).
    return {
      config: { seed: config.seed, query },
      model: config.query.models.find((m) => m.id === ref.model) ?? null,
      description: descriptionOf(config, ref.domain)?.prompt ?? null,
    };
  },
  outputs: (config, ref) =>
    [
      undefined,
      ...elicitMethodsOf(
        config,
        config.query.models.find((m) => m.id === ref.model),
      ),
    ].map((method) => ({
      file: responsesFile(config, ref.model ?? '', ref.domain, method),
    })),
  // The store file's identity is an input: a damaged or truncated store is noticed by a normal rerun.
  prepare: async (config, ref, opts) => ({
    external: storeIdentity(config, resolveModels(config, [ref.model ?? ''])[0]),
    opts,
  }),
  // A dry run and a pilot leave the stamp alone: neither makes the stage's output.
  makesOutput: (opts) => !opts.dryRun && opts.limit === undefined,
  async run({ config, ref, opts }) {
    const model = resolveModels(config, [ref.model ?? ''])[0];
    const [summary, ...methods] = await runQuery(config, ref.domain, [model.id], opts);
    if (!summary) return { status: 'failed', result: summary, detail: 'no summary returned' };
    if (methods.length) summary.methods = methods;
    // An elicitation method's requests count like the ranking's: any failed or unanswered fails the stage.
    const methodGaps = methods
      .filter((m) => !opts.dryRun && opts.limit === undefined && (m.failed > 0 || m.missing > 0 || m.storeFailure))
      .map(
        (m) => `${m.method}: ${m.storeFailure ?? `${m.failed} prompts failed and ${m.missing} are still unanswered`}`,
      );
    if (methodGaps.length)
      return {
        status: 'failed',
        result: summary,
        detail: `${methodGaps.join('; ')}; rerun to retry them (stored answers are kept)`,
      };
    const waiting = summary.batch?.pendingPrompts ?? 0;
    if (opts.dryRun) return { status: 'done', result: summary, detail: 'dry run' };
    // Before the pilot's and the pending outcomes: a store that refused a write fails the stage whatever else happened.
    if (summary.storeFailure) return { status: 'failed', result: summary, detail: summary.storeFailure };
    if (opts.limit !== undefined) {
      if (!summary.pilot) return { status: 'done', result: summary, detail: 'pilot: nothing to ask' };
      if (summary.failed)
        return {
          status: 'failed',
          result: summary,
          detail: `pilot: ${summary.failed} prompts failed; rerun to retry them (stored answers are kept)`,
        };
      if (waiting) {
        const again = `run again with --batch --limit ${opts.limit} to collect them`;
        return {
          status: 'pending',
          result: summary,
          detail: `pending: pilot prompts waiting in open Batch API jobs; ${again}`,
        };
      }
      const { limit, cells, ofPrompts } = summary.pilot;
      const detail = `pilot: ${summary.answered} of ${ofPrompts} prompts answered (${limit} per cell, ${cells} cells); run with --dry-run for the estimate`;
      return { status: 'done', result: summary, detail };
    }
    if (summary.failed === 0 && summary.missing > 0 && waiting > 0) {
      const jobs = summary.batch?.openBatches.join(', ');
      const detail = `pending: ${waiting} prompts waiting in open Batch API jobs (${jobs}); run again with --batch to collect them, then the later stages run`;
      return { status: 'pending', result: summary, detail };
    }
    if (summary.failed > 0 || summary.missing > 0) {
      const why = summary.stopped ? `the model was stopped (${summary.stopped}); ` : '';
      const detail = `${why}${summary.failed} prompts failed and ${summary.missing} are still unanswered; rerun to retry them (stored answers are kept)`;
      return { status: 'failed', result: summary, detail };
    }
    const adapted = summary.adaptations.length
      ? `; adapted to the server: ${summary.adaptations.join(', ')} (${summary.rejectedRequests} rejected requests)`
      : '';
    const finish = formatFinishReasons(summary.parse.byFinishReason);
    const detail = `${summary.answered} answers (${summary.sent} sent, ${summary.fromStore} from the store${finish ? `; finish: ${finish}` : ''})${adapted}`;
    // Recorded as it is after the run's own appends, so the next run finds it unchanged.
    return { status: 'done', result: summary, detail, external: storeIdentity(config, model) };
  },
};
