/**
 * The score stage, declared once: samples + the answers of a list of models → per-prompt scores, and the summary,
 * comparisons and power files, which hold every domain: only this domain's part of them belongs to its stamp.
 */
import * as path from 'node:path';
import { domainDir } from '../core/config';
import type { StageDefinition } from '../core/stage';
import type { OutputFile } from '../core/stamps';
import type { DomainName } from '../core/config';
import type { Comparisons } from './compare';
import { type PowerFile, scoreComparisonsFile, scorePowerFile, scoresFile, scoreSummaryFile } from './files';
import { type ScoreOptions, runScore } from './score';
import type { ScoreSummary } from './summary';
import { withMethodEntries } from './method-entries';

function summaryPart(domain: DomainName, models: string[]): OutputFile['part'] {
  return {
    name: domain,
    select: (json) => {
      const s = json as ScoreSummary;
      return {
        // The models' method entries ("<model>@<method>") are theirs: computed from their answers in the same run.
        models: Object.fromEntries(
          withMethodEntries(s, domain, models).map((id) => [id, s.models?.[id]?.[domain] ?? null]),
        ),
        parameters: s.parameters?.[domain] ?? null,
      };
    },
  };
}

const rowsOf = (domain: DomainName, rows: { domain: DomainName }[] | undefined) =>
  (rows ?? []).filter((r) => r.domain === domain);

export const scoreStage: StageDefinition<ScoreOptions, ScoreSummary> = {
  name: 'score',
  notebook: 'notebooks/04-score.ipynb',
  code: ['core', 'data', 'sample', 'query', 'score'],
  stampFile: (config, { domain }) => path.join(domainDir(config, 'scores'), `.stamp-score-${domain}.json`),
  upstream: ({ domain, models }) => [
    { stage: 'sample', domain },
    ...(models ?? []).map((model) => ({ stage: 'query', domain, model })),
  ],
  params: (config, ref) => ({ config: { score: config.score, curves: config.curves }, models: ref.models ?? [] }),
  outputs: (config, { domain, models = [] }) => [
    ...models.map((m) => ({ file: scoresFile(config, m, domain) })),
    { file: scoreSummaryFile(config), part: summaryPart(domain, models) },
    {
      file: scoreComparisonsFile(config),
      part: { name: domain, select: (json) => rowsOf(domain, (json as Comparisons).comparisons) },
    },
    {
      file: scorePowerFile(config),
      part: { name: domain, select: (json) => rowsOf(domain, (json as PowerFile).power) },
    },
  ],
  async run({ config, ref, opts }) {
    const models = ref.models ?? [];
    const summary = runScore(config, [ref.domain], models, opts);
    const entries = withMethodEntries(summary, ref.domain, models).filter((id) => !models.includes(id));
    return {
      status: 'done',
      result: summary,
      detail: `${models.length} models scored${entries.length ? ` (and ${entries.length} method entries)` : ''}`,
      files: entries.map((id) => scoresFile(config, id, ref.domain)),
    };
  },
};
