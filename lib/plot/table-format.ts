/**
 * The table model shared by the run report and the paper files: rows of typed cells (text, a number at fixed digits,
 * an estimate with its interval, a p-value, missing with a reason), rendered to the report's HTML, to CSV and to LaTeX
 * by the functions below, so the three show the same text.
 * - CSV (RFC 4180): CRLF line ends, fields with a quote, comma or line break quoted; numbers and intervals carry the
 *   report's digits, exactly as the report shows them; a missing value is an empty field.
 * - LaTeX: a `table` float with booktabs rules, `\caption` and `\label{tab:<domain>-<name>}`; numeric columns
 *   right-aligned; intervals written "x [a, b]"; special characters escaped; a missing value is "--" and the reasons are
 *   listed under the table. Needs only `\usepackage{booktabs}`.
 */
import { formatPValue } from '../score/compare';
import { escapeHtml } from './html';

// ---------------------------------------------------------------- the model

/** One table cell: text, a number at fixed digits, an estimate with its interval, a p-value, or missing with why. */
export type Cell =
  | { kind: 'text'; text: string }
  | { kind: 'number'; value: number; digits: number }
  | { kind: 'interval'; estimate: number; low: number; high: number; digits: number; note?: string }
  /** A p-value: fixed to 3 decimals, or in exponent form below 0.001. */
  | { kind: 'p'; value: number }
  /** `spelled`: the report shows the reason itself in the cell (a short one a reader must not miss), not "–". */
  | { kind: 'missing'; reason: string; spelled?: boolean };

export interface Column {
  header: string;
  /** Long free text: a paragraph column in LaTeX. */
  wrap?: boolean;
}

/** A table as the report shows it: columns, typed rows, a caption (LaTeX) and why it may have no rows. */
export interface Table {
  /** File name and label: one of TABLE_NAMES. */
  name: TableName;
  caption: string;
  columns: Column[];
  rows: Cell[][];
  /** Why there are no rows (written in place of them). */
  empty: string;
}

/** The tables of a domain, in report order; each is written as `<name>.csv` and `<name>.tex`. */
export const TABLE_NAMES = [
  'table1',
  'gap',
  'calibration',
  'scores',
  'measured',
  'comparisons-named',
  'comparisons-exploratory',
  'power',
  'position-bias',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

export const text = (s: unknown): Cell => ({ kind: 'text', text: String(s) });
export const missing = (reason: string): Cell => ({ kind: 'missing', reason });
/** Missing, with the reason written in the report's cell (CSV: an empty field; LaTeX: "--" and the reason below). */
export const missingSpelled = (reason: string): Cell => ({ kind: 'missing', reason, spelled: true });
export const num = (value: number | null | undefined, digits: number, why = 'not computed'): Cell =>
  typeof value !== 'number'
    ? missing(why)
    : Number.isFinite(value)
      ? { kind: 'number', value, digits }
      : text(String(value));
export const pCell = (value: number | null | undefined, why: string): Cell =>
  typeof value === 'number' && Number.isFinite(value) ? { kind: 'p', value } : missing(why);

/** An estimate with its interval; the estimate alone when it has none; missing when there is no finite estimate. */
export function estimateCell(
  e: { estimate: number; low: number | null; high: number | null } | null | undefined,
  digits: number,
  why: string,
  note?: string,
): Cell {
  if (!e || !Number.isFinite(e.estimate)) return missing(why);
  if (e.low === null || e.high === null || !Number.isFinite(e.low) || !Number.isFinite(e.high))
    return { kind: 'number', value: e.estimate, digits };
  return { kind: 'interval', estimate: e.estimate, low: e.low, high: e.high, digits, ...(note ? { note } : {}) };
}

// ---------------------------------------------------------------- rendering

const MISSING = '–';

export function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/** A cell as the report and the notebooks show it ("–" for a missing value, unless its reason is spelled out). */
export function cellText(c: Cell): string {
  switch (c.kind) {
    case 'text':
      return c.text;
    case 'number':
      return fixed(c.value, c.digits);
    case 'interval':
      return `${fixed(c.estimate, c.digits)} [${fixed(c.low, c.digits)}, ${fixed(c.high, c.digits)}]${c.note ? ` ${c.note}` : ''}`;
    case 'p':
      return formatPValue(c.value);
    case 'missing':
      return c.spelled ? c.reason : MISSING;
  }
}

/** Numeric columns (every present cell a number, interval or p-value) are right-aligned. */
export function numericColumns(t: Table): boolean[] {
  return t.columns.map((_, j) => {
    const present = t.rows
      .map((r) => r[j])
      .filter((c) => c && c.kind !== 'missing' && !(c.kind === 'text' && c.text === ''));
    return present.length > 0 && present.every((c) => c.kind !== 'text');
  });
}

/** The distinct reasons of the table's missing cells, in order of first appearance. */
export function missingReasons(t: Table): string[] {
  const out: string[] = [];
  for (const r of t.rows) for (const c of r) if (c.kind === 'missing' && !out.includes(c.reason)) out.push(c.reason);
  return out;
}

/** The table as the report's HTML (numeric columns right-aligned, a missing value's reason as its tooltip). */
export function tableHtml(t: Table): string {
  const num = numericColumns(t);
  const th = t.columns.map((c) => `<th>${escapeHtml(c.header)}</th>`).join('');
  const td = (c: Cell, j: number) => {
    const attrs = [
      ...(num[j] ? ['style="text-align:right"'] : []),
      ...(c.kind === 'missing' ? [`title="${escapeHtml(c.reason)}"`] : []),
    ];
    return `<td${attrs.length ? ` ${attrs.join(' ')}` : ''}>${escapeHtml(cellText(c))}</td>`;
  };
  const body = t.rows.length
    ? t.rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('\n')
    : `<tr><td colspan="${t.columns.length}">${escapeHtml(t.empty)}</td></tr>`;
  return `<table data-table="${escapeHtml(t.name)}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** One CSV field (RFC 4180): quoted when it holds a quote, comma or line break, quotes doubled. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as RFC 4180 CSV: CRLF line ends, the report's digits, a missing value as an empty field. */
export function tableCsv(t: Table): string {
  const lines = [t.columns.map((c) => csvField(c.header))];
  for (const r of t.rows) lines.push(r.map((c) => csvField(c.kind === 'missing' ? '' : cellText(c))));
  return lines.map((l) => `${l.join(',')}\r\n`).join('');
}

/** Parses RFC 4180 text into rows of fields (the inverse of tableCsv, for tests and readers of the files). */
export function parseCsv(s: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < s.length) {
    const ch = s[i];
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\r' || ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += ch === '\r' && s[i + 1] === '\n' ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) throw new Error('parseCsv: a quoted field is not closed');
  if (field !== '' || row.length) rows.push([...row, field]);
  return rows;
}

// Characters pdflatex's default set-up (OT1, UTF-8 input) cannot typeset as they are.
const LATEX_CHARS: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '{': '\\{',
  '}': '\\}',
  $: '\\$',
  '&': '\\&',
  '#': '\\#',
  '%': '\\%',
  _: '\\_',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
  '<': '\\textless{}',
  '>': '\\textgreater{}',
  '|': '\\textbar{}',
  '–': '--',
  '—': '---',
  '−': '$-$',
  '×': '$\\times$',
  '·': '$\\cdot$',
  '≈': '$\\approx$',
  '≥': '$\\geq$',
  '≤': '$\\leq$',
  '²': '$^2$',
  '′': "'",
  '‘': '`',
  '’': "'",
  '“': '``',
  '”': "''",
  '…': '\\ldots{}',
  λ: '$\\lambda$',
  δ: '$\\delta$',
  χ: '$\\chi$',
  α: '$\\alpha$',
  '\u00a0': '~',
};

/**
 * Text as LaTeX source: the specials escaped, a few symbols as math, Latin-1 letters kept (UTF-8 input knows them),
 * any other non-ASCII character replaced by "?" (pdflatex would stop on it), line breaks as spaces.
 */
export function latexEscape(s: string): string {
  let out = '';
  let prev = ' ';
  for (const ch of s.replace(/\r\n|\r|\n/g, ' ')) {
    const mapped = LATEX_CHARS[ch];
    // A straight double quote opens after a space or bracket and closes elsewhere.
    if (ch === '"') out += /[\s([{]/.test(prev) ? '``' : "''";
    else if (mapped !== undefined) out += mapped;
    else if (ch >= ' ' && ch <= '~') out += ch;
    else if (/[À-ÖØ-öø-ÿ]/.test(ch)) out += ch;
    else out += '?';
    prev = ch;
  }
  return out;
}

function latexCell(c: Cell): string {
  if (c.kind === 'missing') return '--';
  if (c.kind === 'p' && c.value < 0.001 && c.value > 0) {
    const [m, e] = c.value.toExponential(1).split('e');
    return `$${m}\\times 10^{${Number(e)}}$`;
  }
  const s = latexEscape(cellText(c));
  // The minus sign of a number, not a hyphen.
  return c.kind === 'text' ? s : s.replace(/(^|[\s[(])-(?=\d)/g, '$1$$-$$');
}

/** The table as a LaTeX `table` float (booktabs, caption, `\label{tab:<domain>-<name>}`); needs only booktabs. */
export function tableLatex(t: Table, domain: string): string {
  const num = numericColumns(t);
  const spec = t.columns.map((c, j) => (num[j] ? 'r' : c.wrap ? 'p{4.5cm}' : 'l')).join('');
  const row = (cells: string[]) => `${cells.join(' & ')} \\\\`;
  const body = t.rows.length
    ? t.rows.map((r) => row(r.map(latexCell)))
    : [`\\multicolumn{${t.columns.length}}{l}{${latexEscape(t.empty)}} \\\\`];
  const reasons = missingReasons(t);
  return [
    `% ${t.name}: generated by the plot stage (lib/plot/tables.ts); needs \\usepackage{booktabs}.`,
    '\\begin{table}[htbp]',
    '\\centering',
    `\\caption{${latexEscape(t.caption)}}`,
    `\\label{${tableLabel(domain, t.name)}}`,
    `\\begin{tabular}{${spec}}`,
    '\\toprule',
    row(t.columns.map((c) => latexEscape(c.header))),
    '\\midrule',
    ...body,
    '\\bottomrule',
    '\\end{tabular}',
    ...(reasons.length ? [`\\par\\smallskip{\\footnotesize --: ${reasons.map(latexEscape).join('; ')}.}`] : []),
    '\\end{table}',
    '',
  ].join('\n');
}

/** `tab:<domain>-<name>`, with anything but letters, digits and - replaced. */
export function tableLabel(domain: string, name: string): string {
  return `tab:${`${domain}-${name}`.replace(/[^A-Za-z0-9-]/g, '-')}`;
}
