/**
 * The model's own distribution beside the paper's optimistic one (issue 22): per model and setup that was asked
 * several times (query.samples ≥ 2), the mean gap of the distribution measured from its rankings, the optimistic mean
 * gap on the same prompts, and how much the optimistic approximation flatters the model (their paired difference).
 */
import type { DomainName } from '../core/config';
import { MEASURED_METHODS } from '../score/measured';
import type { MeasuredSetupSummary, ScoreSummary, SetupSummary } from '../score/summary';
import { domainTitle } from './figure-common';
import { NO_SUMMARY, entriesOf } from './summary-entries';
import { type Cell, type Table, estimateCell, num, text } from './table-format';

/** What the reader needs to weigh a row: fits that did not converge, answers with faults, the mass logprobs covered. */
function notesOf(m: MeasuredSetupSummary): string {
  const notes: string[] = [];
  if (m.notConverged) notes.push(`${m.notConverged} fits not converged`);
  if (m.withDiagnostics) notes.push(`${m.withDiagnostics} prompts with faulty answers`);
  if (m.coveredMean !== undefined) notes.push(`top-k covered ${m.coveredMean.toFixed(3)} of the mass`);
  if (m.smoothed) notes.push(`${m.smoothed} smoothed (q = 0 on a group item)`);
  return notes.join('; ') || '–';
}

export function measuredTable(
  summary: ScoreSummary | null,
  domain: DomainName,
  unit: string,
  models?: string[],
): Table {
  const rows: Cell[][] = [];
  for (const [model, entry] of entriesOf(summary, domain, models)) {
    for (const [setup, s] of Object.entries(entry.setups ?? {}) as [string, SetupSummary][]) {
      for (const method of MEASURED_METHODS) {
        const m = s.measured?.[method];
        if (!m) continue;
        rows.push([
          text(model),
          text(setup),
          text(method),
          num(m.prompts, 0),
          num(m.rankingsMean ?? 1, 1),
          estimateCell(m.meanGap, 3, 'not computed'),
          estimateCell(m.optimisticMeanGap, 3, 'not computed'),
          estimateCell(m.flatters, 3, 'not computed'),
          estimateCell(m.jensenShannon, 3, 'not computed'),
          estimateCell(m.totalVariation, 3, 'not computed'),
          text(notesOf(m)),
        ]);
      }
    }
  }
  return {
    name: 'measured',
    caption:
      `${domainTitle(domain)}: the model's own distribution, measured from its repeated answers (samples: Plackett–Luce fit), ` +
      `the probabilities it stated (stated) or its first token's logprobs over the candidates' numbers (logprobs), ` +
      `beside the paper's optimistic one on the same prompts; flatters = measured − optimistic mean cross-entropy ` +
      `(above 0: the optimistic estimate makes the model look closer to the group). 95 % intervals over clusters.`,
    columns: [
      { header: 'model' },
      { header: 'setup' },
      { header: 'method' },
      { header: 'prompts' },
      { header: 'answers per prompt' },
      { header: `measured mean gap (${unit}) [95% CI]` },
      { header: `optimistic mean gap (${unit}) [95% CI]` },
      { header: `flatters (${unit}) [95% CI]` },
      { header: 'Jensen–Shannon [95% CI]' },
      { header: 'total variation [95% CI]' },
      { header: 'notes' },
    ],
    rows,
    empty: summary
      ? 'no model was asked for its own distribution (query.samples = 1 and query.elicitation ["ranking"]): it was not measured'
      : NO_SUMMARY,
  };
}
