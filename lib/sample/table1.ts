/** The paper's Table 1 (prompts per setting and history length) and ours beside it. */
import type { DomainName } from '../core/config';
import type { SampleCounts, Setup } from '../core/types';

/**
 * The paper's Table 1 (number of prompts per setting and history length), under our setting names. Published numbers,
 * kept only to compare with ours. The movie "All" row lists no h = 20 entry, so it is absent here.
 */
export const PAPER_SAMPLE_COUNTS: Record<DomainName, SampleCounts> = {
  movielens: {
    none: { '0': 1, '1': 300, '3': 300, '5': 300, '10': 89, '20': 5 },
    age: { '0': 7, '1': 300, '3': 300, '5': 300, '10': 147, '20': 5 },
    gender: { '0': 2, '1': 300, '3': 300, '5': 300, '10': 110, '20': 5 },
    occupation: { '0': 17, '1': 300, '3': 300, '5': 300, '10': 112, '20': 2 },
    all: { '0': 51, '1': 300, '3': 300, '5': 300, '10': 43 },
  },
  lastfm: {
    none: { '0': 1, '1': 246, '3': 249, '5': 246, '10': 240, '20': 11 },
    country: { '0': 17, '1': 250, '3': 249, '5': 248, '10': 208, '20': 9 },
    continent: { '0': 4, '1': 250, '3': 249, '5': 249, '10': 249, '20': 11 },
    gender: { '0': 2, '1': 249, '3': 247, '5': 249, '10': 250, '20': 13 },
    'gender+continent': { '0': 8, '1': 246, '3': 248, '5': 249, '10': 171, '20': 6 },
  },
};
export interface SampleCountRow {
  setting: string;
  historyLength: number;
  /** "(Def)" rows are setup C (h = 0). */
  setup: Setup;
  ours: number | null;
  paper: number | null;
}

/** Our Table 1 beside the paper's, one row per (setting, history length) present in either. */
export function sampleCountRows(ours: SampleCounts, paper: SampleCounts = {}): SampleCountRow[] {
  const settings = [...Object.keys(ours), ...Object.keys(paper).filter((s) => !(s in ours))];
  const rows: SampleCountRow[] = [];
  for (const setting of settings) {
    const hs = new Set([...Object.keys(ours[setting] ?? {}), ...Object.keys(paper[setting] ?? {})]);
    for (const h of [...hs].map(Number).sort((a, b) => a - b)) {
      rows.push({
        setting,
        historyLength: h,
        setup: h === 0 ? 'C' : setting === 'none' ? 'B' : 'A',
        ours: ours[setting]?.[String(h)] ?? null,
        paper: paper[setting]?.[String(h)] ?? null,
      });
    }
  }
  return rows;
}

/** Fixed-width text of sampleCountRows, for logs and tests. */
export function formatSampleCounts(rows: SampleCountRow[]): string {
  const head = ['setting', 'h', 'setup', 'ours', 'paper'];
  const cells = rows.map((r) => [
    r.setting + (r.historyLength === 0 ? ' (Def)' : ''),
    String(r.historyLength),
    r.setup,
    r.ours === null ? '–' : String(r.ours),
    r.paper === null ? '–' : String(r.paper),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, ...cells]
    .map((c) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  '))
    .join('\n');
}
