/** Small HTML builders shared by the run report and the notebooks' tables. */

export function escapeHtml(s: unknown): string {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

// A cell holding a long run without spaces (a JSON value, a path) may break anywhere, so the table fits its page;
// other cells break only between words, so numbers and intervals are never split.
const LONG_RUN = /\S{32}/;

export function htmlTable(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const td = (c: unknown) =>
    LONG_RUN.test(String(c))
      ? `<td style="overflow-wrap:anywhere;min-width:12em">${escapeHtml(c)}</td>`
      : `<td>${escapeHtml(c)}</td>`;
  const tr = rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('\n');
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

/**
 * Gives every `<h2>` and `<h3>` of a page body an id and puts a nested list of links to them before the first one.
 * Ids come from the heading text (an `<h3>` is prefixed by its `<h2>`, so "Dataset" under each domain differs) and
 * are made unique with a number; headings that already carry attributes are left alone.
 */
export function withTableOfContents(body: string, title = 'Contents'): string {
  const used = new Set<string>();
  const slug = (html: string) =>
    html
      .replace(/<[^>]*>/g, '')
      .replace(/&[a-z]+;|&#\d+;/gi, ' ')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'section';
  const entries: { level: 2 | 3; id: string; html: string }[] = [];
  let parent = '';
  const withIds = body.replace(/<h([23])>([\s\S]*?)<\/h\1>/g, (_, lvl: string, inner: string) => {
    const level = lvl === '2' ? 2 : 3;
    const base = level === 2 ? slug(inner) : `${parent ? `${parent}-` : ''}${slug(inner)}`;
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    if (level === 2) parent = id;
    entries.push({ level, id, html: inner.replace(/<a\b[^>]*>|<\/a>/g, '') });
    return `<h${lvl} id="${id}">${inner}</h${lvl}>`;
  });
  if (!entries.length) return body;
  const items: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const link = `<a href="#${e.id}">${e.html}</a>`;
    if (e.level === 2) {
      const subs: string[] = [];
      while (entries[i + 1]?.level === 3) subs.push(`<li><a href="#${entries[++i].id}">${entries[i].html}</a></li>`);
      items.push(`<li>${link}${subs.length ? `<ul>${subs.join('')}</ul>` : ''}</li>`);
    } else items.push(`<li>${link}</li>`);
  }
  const nav = `<nav class="toc" aria-label="${escapeHtml(title)}"><h2 class="toc-title">${escapeHtml(title)}</h2><ul>${items.join('')}</ul></nav>`;
  const first = withIds.search(/<h[23] id=/);
  return `${withIds.slice(0, first)}${nav}\n${withIds.slice(first)}`;
}
