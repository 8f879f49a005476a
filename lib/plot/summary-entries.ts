/** The score summary's entries of one domain, as the report's tables read them. */
import type { DomainName } from '../core/config';
import type { ScoreSummary } from '../score/summary';

type ModelEntries<T> = [string, T][];

/** (model, this domain's entry) of the summary, restricted to `models` when given, in the summary's order. */
export function entriesOf(summary: ScoreSummary | null, domain: DomainName, models?: string[]) {
  const out: ModelEntries<NonNullable<ScoreSummary['models'][string][DomainName]>> = [];
  for (const [model, byDomain] of Object.entries(summary?.models ?? {})) {
    const e = byDomain[domain];
    if (e && (!models || models.includes(model))) out.push([model, e]);
  }
  return out;
}

export const NO_SUMMARY = 'no score summary: run the score stage';
