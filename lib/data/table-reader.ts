/**
 * Reads a delimited text file as a description's TableFile says (separator, encoding, header, columns), line by
 * line over bytes in fixed-size chunks, so a file of several GB never becomes one string. The row callback gets
 * byte ranges of the fields and decodes only what it needs.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import type { TableFile } from '../core/description';
import { DataFormatError } from './datasets';

/** One line's fields as byte ranges of `buf`: column c is buf[start[c] .. end[c]). */
export interface RowView {
  buf: Buffer;
  start: Int32Array;
  end: Int32Array;
  /** 1-based line number in the file. */
  line: number;
}

const CHUNK = 1 << 24;

function separatorName(line: string): string | null {
  if (line.includes('\t')) return 'tab';
  if (line.includes('::')) return '"::"';
  if (line.includes(',')) return 'comma';
  if (line.includes(';')) return 'semicolon';
  if (line.includes('|')) return '"|"';
  return null;
}

/**
 * Calls `onRow` for every data line. `needed` lists the column indices that must be present: a row may lack
 * trailing columns nothing uses (MovieLens ratings without a timestamp), never a needed one.
 */
export function readTable(file: string, table: TableFile, needed: number[], onRow: (row: RowView) => void): { lines: number } {
  const sep = Buffer.from(table.separator, table.encoding);
  const nCols = table.columns.length;
  const lastNeeded = needed.reduce((m, c) => Math.max(m, c), -1);
  const join = table.joinExtra !== undefined ? table.columns.indexOf(table.joinExtra) : -1;
  const start = new Int32Array(nCols);
  const end = new Int32Array(nCols);
  const sepStarts = new Int32Array(nCols + 1);
  const row: RowView = { buf: Buffer.alloc(0), start, end, line: 0 };
  const gz = file.endsWith('.gz');
  let whole: Buffer | null = null;
  if (gz) {
    try {
      whole = zlib.gunzipSync(fs.readFileSync(file));
    } catch (e) {
      throw new DataFormatError(file, null, null, `not a complete gzip file (${(e as Error).message}); it may be truncated: download or copy it again`);
    }
  }
  const fd = gz ? -1 : fs.openSync(file, 'r');
  const format = table.columns.join(JSON.stringify(table.separator).slice(1, -1));
  let buf = whole ?? Buffer.allocUnsafe(CHUNK);
  let have = whole ? whole.length : 0;
  let eof = !!whole;
  let lineNo = 0;
  let sawData = false;
  const s0 = sep[0];
  const sepLen = sep.length;
  const processLine = (ls: number, le: number, last: boolean) => {
    lineNo++;
    if (le > ls && buf[le - 1] === 13) le--;
    if (lineNo === 1 && le - ls >= 3 && buf[ls] === 0xef && buf[ls + 1] === 0xbb && buf[ls + 2] === 0xbf) ls += 3;
    if (lineNo === 1 && table.header) return;
    if (le === ls) {
      if (last) return;
      throw new DataFormatError(file, lineNo, null, `empty line (expected ${format})`);
    }
    sawData = true;
    // Field boundaries: every separator position (up to one past the columns, to notice extra fields).
    let nSep = 0;
    let extra = 0;
    for (let p = ls; p < le; p++) {
      if (buf[p] !== s0) continue;
      if (sepLen > 1) {
        let k = 1;
        while (k < sepLen && p + k < le && buf[p + k] === sep[k]) k++;
        if (k < sepLen) continue;
      }
      if (nSep < nCols) sepStarts[nSep++] = p;
      else extra++;
      p += sepLen - 1;
    }
    const nFields = nSep + 1 + extra;
    const hint = last ? ' (the last line has no line end: the file may be truncated)' : '';
    if (nFields < nCols && nFields <= lastNeeded) {
      const text = buf.toString(table.encoding, ls, Math.min(le, ls + 80));
      const found = nFields === 1 ? separatorName(text) : null;
      throw new DataFormatError(
        file,
        lineNo,
        table.columns[nFields],
        `missing: expected ${nCols} fields separated by ${JSON.stringify(table.separator)} (${format}), found ${nFields}${found ? `; the line looks ${found}-separated: check "separator" in the description` : ''}${hint}`,
      );
    }
    if (nFields > nCols && join < 0) {
      throw new DataFormatError(file, lineNo, null, `expected ${nCols} fields separated by ${JSON.stringify(table.separator)} (${format}), found ${nFields}; if a column may contain the separator, name it in "joinExtra"${hint}`);
    }
    if (nFields > nCols) {
      // Columns before the joined one end at the first separators, columns after it start after the last ones.
      const all: number[] = [];
      for (let p = ls; p < le; p++) {
        if (buf[p] !== s0) continue;
        let k = 1;
        while (k < sepLen && p + k < le && buf[p + k] === sep[k]) k++;
        if (k < sepLen) continue;
        all.push(p);
        p += sepLen - 1;
      }
      for (let c = 0; c < nCols; c++) {
        const sBefore = c === 0 ? -1 : c <= join ? all[c - 1] : all[all.length - (nCols - c)];
        start[c] = c === 0 ? ls : sBefore + sepLen;
        end[c] = c === nCols - 1 ? le : c < join ? all[c] : all[all.length - (nCols - c - 1)];
      }
    } else {
      for (let c = 0; c < nCols; c++) {
        if (c >= nFields) {
          start[c] = le;
          end[c] = le;
          continue;
        }
        start[c] = c === 0 ? ls : sepStarts[c - 1] + sepLen;
        end[c] = c === nFields - 1 ? le : sepStarts[c];
      }
    }
    row.buf = buf;
    row.line = lineNo;
    onRow(row);
  };
  try {
    let pos = 0;
    for (;;) {
      if (!eof) {
        if (pos > 0) {
          buf.copy(buf, 0, pos, have);
          have -= pos;
          pos = 0;
        }
        if (have === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
        const n = fs.readSync(fd, buf, have, buf.length - have, null);
        if (n === 0) eof = true;
        have += n;
      }
      let nl = buf.indexOf(10, pos);
      while (nl >= 0 && nl < have) {
        processLine(pos, nl, false);
        pos = nl + 1;
        nl = buf.indexOf(10, pos);
      }
      if (eof) {
        if (pos < have) processLine(pos, have, true);
        break;
      }
    }
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
  if (!sawData) throw new DataFormatError(file, null, null, `the file holds no data lines (expected lines of ${format})`);
  return { lines: lineNo };
}

/** A compiled "{a} - {b}" template over a row's columns (a bare column name is the column itself). */
export function rowTemplate(table: TableFile, template: string): (row: RowView) => string {
  const refs = [...template.matchAll(/\{([^{}]+)\}/g)];
  const enc = table.encoding;
  if (refs.length === 0) {
    const c = table.columns.indexOf(template);
    return (row) => row.buf.toString(enc, row.start[c], row.end[c]);
  }
  const literals: string[] = [];
  const cols: number[] = [];
  let last = 0;
  for (const m of refs) {
    literals.push(template.slice(last, m.index));
    cols.push(table.columns.indexOf(m[1]));
    last = (m.index ?? 0) + m[0].length;
  }
  const tail = template.slice(last);
  return (row) => {
    let s = '';
    for (let k = 0; k < cols.length; k++) s += literals[k] + row.buf.toString(enc, row.start[cols[k]], row.end[cols[k]]);
    return s + tail;
  };
}

/** The columns a template reads, as indices. */
export function templateColumns(table: TableFile, template: string): number[] {
  const refs = [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]);
  return (refs.length ? refs : [template]).map((c) => table.columns.indexOf(c));
}
