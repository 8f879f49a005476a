/** Table 1 (prompts per setting and history length) as a figure: ours, and the paper's beside it. */
import {
  NO_PAPER_COUNTERPART,
  PAPER_SAMPLE_COUNTS,
  type SampleCountRow,
  sampleCountRows,
  sampleCountTotals,
} from '../sample/table1';
import type { DomainName } from '../core/config';
import type { SampleCounts } from '../core/types';
import { settingLabel, domainTitle, baseLayout, type BuiltFigure } from './figure-common';
import { type FigureLook, figureLook } from './figure-look';
import { defaultConfig } from '../core/config';

/** The paper's Table 1 (appendix A.2) under our setting names; the movie "All" row has no h = 20 entry. */
export const PAPER_TABLE1: Record<DomainName, SampleCounts> = PAPER_SAMPLE_COUNTS;

export interface Table1Row extends SampleCountRow {
  label: string;
}

/** Our Table 1 rows (lib/sample/table1.ts) with the paper's setting names. */
export function table1Rows(
  counts: SampleCounts,
  paper: SampleCounts | null,
  settingsOrder: string[] = [],
): Table1Row[] {
  return sampleCountRows(counts, paper ?? {}, settingsOrder).map((r) => ({
    ...r,
    label: r.historyLength === 0 ? `${settingLabel(r.setting)} (Def)` : settingLabel(r.setting),
  }));
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
  const totals = sampleCountTotals(rows);
  // With rows the paper lacks, its total is set against ours over the same rows only, and our full total stands apart.
  const split = paper !== null && totals.unmatchedRows > 0;
  // Short labels (a cell wraps, and the row heights are computed for one line); the note under the table spells them out.
  const totalRows: [string, number, string][] = split
    ? [
        ['Total (matched)', totals.matched.ours, totals.matched.rows ? String(totals.matched.paper) : '–'],
        ['Total (all ours)', totals.ours, '–'],
      ]
    : [['Total', totals.ours, String(totals.matched.paper)]];
  const cell = (v: number | null) => (v === null ? '–' : String(v));
  const columns: string[][] = [
    [...rows.map((r) => r.label), ...totalRows.map((t) => `<b>${t[0]}</b>`)],
    [...rows.map((r) => String(r.historyLength)), ...totalRows.map(() => '')],
    [...rows.map((r) => r.setup), ...totalRows.map(() => '')],
    [...rows.map((r) => cell(r.ours)), ...totalRows.map((t) => `<b>${t[1]}</b>`)],
  ];
  // Paper style: short headers, the caption says what the columns are.
  const header = short
    ? ['<b>Setting</b>', '<b>h</b>', '<b>Setup</b>', '<b>Ours</b>']
    : ['<b>Setting</b>', '<b># History</b>', '<b>Setup</b>', '<b>Prompts (ours)</b>'];
  if (paper) {
    columns.push([...rows.map((r) => cell(r.paper)), ...totalRows.map((t) => `<b>${t[2]}</b>`)]);
    header.push(short ? '<b>Paper</b>' : '<b>Prompts (paper)</b>');
  }
  const f = look.fontPx;
  // Plotly lays out a cell holding markup ("&", "<b>") at its text height plus 8 px above and below, whatever height is
  // asked for; asking that for every row keeps the rows even (and the figure's height right).
  const rowH = Math.ceil(f * 1.3 + 16);
  const fill = [...rows.map((r) => (r.historyLength === 0 ? '#F2F2F2' : '#FFFFFF')), ...totalRows.map(() => '#E8E8E8')];
  // The paper's "–" is explained once under the table (a cell is too narrow for the words at column width).
  const noteH = split ? 2 * rowH : 0;
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
        height: (short ? 8 : 60 + 2 * f) + (rows.length + totalRows.length + 2) * rowH + 8 + noteH,
        margin: { l: 4, r: 4, t: short ? 4 : 60 + 2 * f - 20, b: 4 + noteH },
        ...(split
          ? {
              annotations: [
                {
                  text: `– ${NO_PAPER_COUNTERPART}<br>matched: the rows the paper has`,
                  xref: 'paper',
                  yref: 'paper',
                  x: 0,
                  y: 0,
                  xanchor: 'left',
                  yanchor: 'top',
                  align: 'left',
                  yshift: -2,
                  showarrow: false,
                  font: { size: f, color: '#555555' },
                },
              ],
            }
          : {}),
      },
    },
    look,
    data: { rows, total: paper ? totals : { ours: totals.ours } },
  };
}
