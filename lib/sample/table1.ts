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
  ours: number;
  /** null: the paper has no such setting or history length. */
  paper: number | null;
}

/** What a Table 1 cell says where the paper has no count for that setting and history length. */
export const NO_PAPER_COUNTERPART = 'no counterpart in the paper';

/**
 * Our Table 1 beside the paper's: one row per (setting, history length) we sampled — counts.json holds every configured
 * setting and length, so a tweak shows only its own settings — with the paper's count where it has that setting.
 * Settings follow `settingsOrder` (the configuration's), others after in their order in `ours`.
 */
export function sampleCountRows(
  ours: SampleCounts,
  paper: SampleCounts = {},
  settingsOrder: string[] = [],
): SampleCountRow[] {
  const present = Object.keys(ours);
  const known = settingsOrder.filter((s) => present.includes(s));
  const rows: SampleCountRow[] = [];
  for (const setting of [...known, ...present.filter((s) => !known.includes(s))]) {
    for (const h of Object.keys(ours[setting])
      .map(Number)
      .sort((a, b) => a - b)) {
      const theirs = Object.hasOwn(paper, setting) ? paper[setting][String(h)] : undefined;
      rows.push({
        setting,
        historyLength: h,
        setup: h === 0 ? 'C' : setting === 'none' ? 'B' : 'A',
        ours: ours[setting][String(h)],
        paper: theirs ?? null,
      });
    }
  }
  return rows;
}

export interface SampleCountTotals {
  /** All our prompts. */
  ours: number;
  /** Over the rows the paper also has: our prompts and the paper's, like with like. */
  matched: { ours: number; paper: number; rows: number };
  /** Rows without a counterpart in the paper. */
  unmatchedRows: number;
}

export function sampleCountTotals(rows: SampleCountRow[]): SampleCountTotals {
  const matched = rows.filter((r) => r.paper !== null);
  return {
    ours: rows.reduce((s, r) => s + r.ours, 0),
    matched: {
      ours: matched.reduce((s, r) => s + r.ours, 0),
      paper: matched.reduce((s, r) => s + (r.paper ?? 0), 0),
      rows: matched.length,
    },
    unmatchedRows: rows.length - matched.length,
  };
}

/**
 * The total rows of Table 1 as [label, ours, paper]: one "total" when the paper has every row; otherwise the total
 * over the rows the paper has (ours against the paper's, the same settings and lengths) and our total over all rows.
 */
export function sampleCountTotalRows(rows: SampleCountRow[]): [string, number, number | string][] {
  const t = sampleCountTotals(rows);
  if (!t.unmatchedRows) return [['total', t.ours, t.matched.paper]];
  return [
    ['total over the rows the paper has', t.matched.ours, t.matched.rows ? t.matched.paper : NO_PAPER_COUNTERPART],
    ['total, all our rows', t.ours, NO_PAPER_COUNTERPART],
  ];
}

/** Fixed-width text of sampleCountRows, for logs and tests. */
export function formatSampleCounts(rows: SampleCountRow[]): string {
  const head = ['setting', 'h', 'setup', 'ours', 'paper'];
  const cells = rows.map((r) => [
    r.setting + (r.historyLength === 0 ? ' (Def)' : ''),
    String(r.historyLength),
    r.setup,
    String(r.ours),
    r.paper === null ? NO_PAPER_COUNTERPART : String(r.paper),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [head, ...cells]
    .map((c) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  '))
    .join('\n');
}
