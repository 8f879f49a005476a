/** Table 1 (prompts per setting and history length) as a figure: ours, and the paper's beside it. */
import { PAPER_SAMPLE_COUNTS } from '../sample/table1';
import type { DomainName } from '../core/config';
import type { SampleCounts, Setup } from '../core/types';
import { settingLabel, domainTitle, BASE_LAYOUT, type BuiltFigure } from './figure-common';

/** The paper's Table 1 (appendix A.2) under our setting names; the movie "All" row has no h = 20 entry. */
export const PAPER_TABLE1: Record<DomainName, SampleCounts> = PAPER_SAMPLE_COUNTS;

export interface Table1Row {
  setting: string;
  label: string;
  historyLength: number;
  setup: Setup;
  ours: number | null;
  paper: number | null;
}

export function table1Rows(counts: SampleCounts, paper: SampleCounts | null, settingsOrder: string[] = []): Table1Row[] {
  const present = [...Object.keys(counts), ...Object.keys(paper ?? {})];
  const known = settingsOrder.filter((s) => present.includes(s));
  const settings = [...known, ...[...new Set(present)].filter((s) => !known.includes(s))];
  const rows: Table1Row[] = [];
  for (const setting of settings) {
    const hs = new Set([...Object.keys(counts[setting] ?? {}), ...Object.keys(paper?.[setting] ?? {})]);
    for (const h of [...hs].map(Number).sort((a, b) => a - b)) {
      rows.push({
        setting,
        label: h === 0 ? `${settingLabel(setting)} (Def)` : settingLabel(setting),
        historyLength: h,
        setup: h === 0 ? 'C' : setting === 'none' ? 'B' : 'A',
        ours: counts[setting]?.[String(h)] ?? null,
        paper: paper ? (paper[setting]?.[String(h)] ?? null) : null,
      });
    }
  }
  return rows;
}

/** Table 1 as a Plotly table: ours, and the paper's beside it when given. */
export function table1Figure(domain: DomainName, counts: SampleCounts, paperCounts?: SampleCounts | null, opts: { settingsOrder?: string[]; width?: number } = {}): BuiltFigure {
  const paper = paperCounts ?? null;
  const rows = table1Rows(counts, paper, opts.settingsOrder);
  const total = (k: 'ours' | 'paper') => rows.reduce((s, r) => s + (r[k] ?? 0), 0);
  const cell = (v: number | null) => (v === null ? '–' : String(v));
  const columns: string[][] = [
    [...rows.map((r) => r.label), '<b>Total</b>'],
    [...rows.map((r) => String(r.historyLength)), ''],
    [...rows.map((r) => r.setup), ''],
    [...rows.map((r) => cell(r.ours)), `<b>${total('ours')}</b>`],
  ];
  const header = ['<b>Setting</b>', '<b># History</b>', '<b>Setup</b>', '<b>Prompts (ours)</b>'];
  if (paper) {
    columns.push([...rows.map((r) => cell(r.paper)), `<b>${total('paper')}</b>`]);
    header.push('<b>Prompts (paper)</b>');
  }
  const rowH = 22;
  const fill = [...rows.map((r) => (r.historyLength === 0 ? '#F2F2F2' : '#FFFFFF')), '#E8E8E8'];
  return {
    name: 'table1',
    title: `${domainTitle(domain)}: Table 1, prompts per setting`,
    figure: {
      data: [{
        type: 'table',
        columnwidth: paper ? [2.2, 1, 0.8, 1.3, 1.3] : [2.2, 1, 0.8, 1.3],
        header: { values: header, align: ['left', 'right', 'center', 'right', 'right'], fill: { color: '#DDDDDD' }, line: { color: '#999999' }, height: rowH + 4 },
        cells: { values: columns, align: ['left', 'right', 'center', 'right', 'right'], fill: { color: [fill] }, line: { color: '#CCCCCC' }, height: rowH },
      }],
      layout: {
        ...BASE_LAYOUT,
        title: { text: `${domainTitle(domain)}: number of prompts per setting (Table 1)`, x: 0.5, xanchor: 'center', font: { size: 15 } },
        width: opts.width ?? 640,
        height: 90 + (rows.length + 2) * rowH + 20,
        margin: { l: 20, r: 20, t: 60, b: 20 },
      },
    },
    data: { rows, total: { ours: total('ours'), paper: paper ? total('paper') : null } },
  };
}
