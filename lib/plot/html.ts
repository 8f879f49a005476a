/** Small HTML builders shared by the run report and the notebooks' tables. */

export function escapeHtml(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function htmlTable(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${tr}\n</tbody></table>`;
}

/** What a Danfo DataFrame offers for display (structural, so lib does not load Danfo). */
export interface TableLike {
  columns: string[];
  values: unknown[];
  shape: number[];
}

/** A DataFrame as an HTML table with a title and row count; Danfo's own print() truncates wide tables. */
export function dataFrameHtml(df: TableLike, opts: { title?: string; maxRows?: number } = {}): string {
  const max = opts.maxRows ?? 60;
  const rows = df.shape[0] === 0 ? [] : (df.values as unknown[]).map((r) => (Array.isArray(r) ? r : [r]));
  const title = opts.title !== undefined ? `<h4>${escapeHtml(opts.title)} (${rows.length} rows)</h4>` : '';
  const more = rows.length > max ? `<p>… ${rows.length - max} more rows</p>` : '';
  return `${title}${htmlTable(df.columns, rows.slice(0, max))}${more}`;
}
