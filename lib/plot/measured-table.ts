/**
 * The model's own distribution beside the paper's optimistic one (issue 22): per model and setup that was asked
 * several times (query.samples ≥ 2), the mean gap of the distribution measured from its rankings, the optimistic mean
 * gap on the same prompts, and how much the optimistic approximation flatters the model (their paired difference).
 */
import type { DomainName } from '../core/config';
import type { ScoreSummary, SetupSummary } from '../score/summary';
import { domainTitle } from './figure-common';
import { NO_SUMMARY, entriesOf } from './summary-entries';
import { type Cell, type Table, estimateCell, num, text } from './table-format';

export function measuredTable(
  summary: ScoreSummary | null,
  domain: DomainName,
  unit: string,
  models?: string[],
): Table {
  const rows: Cell[][] = [];
  for (const [model, entry] of entriesOf(summary, domain, models)) {
    for (const [setup, s] of Object.entries(entry.setups ?? {}) as [string, SetupSummary][]) {
      const m = s.measured?.samples;
      if (!m) continue;
      rows.push([
        text(model),
        text(setup),
        num(m.prompts, 0),
        num(m.rankingsMean, 1),
        estimateCell(m.meanGap, 3, 'not computed'),
        estimateCell(m.optimisticMeanGap, 3, 'not computed'),
        estimateCell(m.flatters, 3, 'not computed'),
        estimateCell(m.jensenShannon, 3, 'not computed'),
        estimateCell(m.totalVariation, 3, 'not computed'),
        num(m.notConverged, 0),
      ]);
    }
  }
  return {
    name: 'measured',
    caption:
      `${domainTitle(domain)}: the model's own distribution, measured from its repeated answers (Plackett–Luce fit), ` +
      `beside the paper's optimistic one on the same prompts; flatters = measured − optimistic mean cross-entropy ` +
      `(above 0: the optimistic estimate makes the model look closer to the group). 95 % intervals over clusters.`,
    columns: [
      { header: 'model' },
      { header: 'setup' },
      { header: 'prompts' },
      { header: 'answers per prompt' },
      { header: `measured mean gap (${unit}) [95% CI]` },
      { header: `optimistic mean gap (${unit}) [95% CI]` },
      { header: `flatters (${unit}) [95% CI]` },
      { header: 'Jensen–Shannon [95% CI]' },
      { header: 'total variation [95% CI]' },
      { header: 'fits not converged' },
    ],
    rows,
    empty: summary
      ? 'no model was asked more than once per prompt (query.samples = 1): its own distribution was not measured'
      : NO_SUMMARY,
  };
}
