/** Table 1 (prompts per setting and history length) as a figure: ours, and the paper's beside it. */
import { PAPER_SAMPLE_COUNTS } from '../sample/table1';
import type { DomainName } from '../core/config';
import type { SampleCounts, Setup } from '../core/types';
import { settingLabel, domainTitle, baseLayout, type BuiltFigure } from './figure-common';
import { type FigureLook, figureLook } from './figure-look';
import { defaultConfig } from '../core/config';

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

export function table1Rows(
  counts: SampleCounts,
  paper: SampleCounts | null,
  settingsOrder: string[] = [],
): Table1Row[] {
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
export function table1Figure(
  domain: DomainName,
  counts: SampleCounts,
  paperCounts?: SampleCounts | null,
  opts: { settingsOrder?: string[]; look?: FigureLook } = {},
): BuiltFigure {
  const paper = paperCounts ?? null;
  const look = opts.look ?? figureLook(defaultConfig().figures);
  const short = look.style === 'paper';
  const rows = table1Rows(counts, paper, opts.settingsOrder);
  const total = (k: 'ours' | 'paper') => rows.reduce((s, r) => s + (r[k] ?? 0), 0);
  const cell = (v: number | null) => (v === null ? '–' : String(v));
  const columns: string[][] = [
    [...rows.map((r) => r.label), '<b>Total</b>'],
    [...rows.map((r) => String(r.historyLength)), ''],
    [...rows.map((r) => r.setup), ''],
    [...rows.map((r) => cell(r.ours)), `<b>${total('ours')}</b>`],
  ];
  // Paper style: short headers, the caption says what the columns are.
  const header = short
    ? ['<b>Setting</b>', '<b>h</b>', '<b>Setup</b>', '<b>Ours</b>']
    : ['<b>Setting</b>', '<b># History</b>', '<b>Setup</b>', '<b>Prompts (ours)</b>'];
  if (paper) {
    columns.push([...rows.map((r) => cell(r.paper)), `<b>${total('paper')}</b>`]);
    header.push(short ? '<b>Paper</b>' : '<b>Prompts (paper)</b>');
  }
  const f = look.fontPx;
  // Plotly lays out a cell holding markup ("&", "<b>") at its text height plus 8 px above and below, whatever height is
  // asked for; asking that for every row keeps the rows even (and the figure's height right).
  const rowH = Math.ceil(f * 1.3 + 16);
  const fill = [...rows.map((r) => (r.historyLength === 0 ? '#F2F2F2' : '#FFFFFF')), '#E8E8E8'];
  return {
    name: 'table1',
    title: `${domainTitle(domain)}: Table 1, prompts per setting`,
    figure: {
      data: [
        {
          type: 'table',
          columnwidth: short
            ? paper
              ? [2.6, 0.6, 0.9, 1, 1]
              : [2.6, 0.6, 0.9, 1]
            : paper
              ? [2.2, 1, 0.8, 1.3, 1.3]
              : [2.2, 1, 0.8, 1.3],
          header: {
            values: header,
            align: ['left', 'right', 'center', 'right', 'right'],
            fill: { color: '#DDDDDD' },
            line: { color: '#999999' },
            height: rowH + 4,
            font: { size: f },
          },
          cells: {
            values: columns,
            align: ['left', 'right', 'center', 'right', 'right'],
            fill: { color: [fill] },
            line: { color: '#CCCCCC' },
            height: rowH,
            font: { size: f },
          },
        },
      ],
      layout: {
        ...baseLayout(look),
        ...(short
          ? {}
          : {
              title: {
                text: `${domainTitle(domain)}: number of prompts per setting (Table 1)`,
                x: 0.5,
                xanchor: 'center',
                font: { size: f * 1.25 },
              },
            }),
        width: look.style === 'paper' || look.request.size !== null ? look.widthPx : Math.min(640, look.widthPx),
        // The rows set the height: an explicit size's height would cut the table or leave it floating.
        height: (short ? 8 : 60 + 2 * f) + (rows.length + 3) * rowH + 8,
        margin: { l: 4, r: 4, t: short ? 4 : 60 + 2 * f - 20, b: 4 },
      },
    },
    look,
    data: { rows, total: { ours: total('ours'), paper: paper ? total('paper') : null } },
  };
}
