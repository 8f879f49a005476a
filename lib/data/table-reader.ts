/**
 * Reads a delimited text file as a description's TableFile says (separator, encoding, header, columns), line by
 * line over bytes in fixed-size chunks, so a file of several GB never becomes one string. The row callback gets
 * byte ranges of the fields and decodes only what it needs. What the description cannot promise is checked: the
 * header names the columns in the described order, the text is valid in the declared encoding (no replacement
 * characters reach a prompt), and a UTF-16 file or a byte-order mark is named as such.
 */
import { isUtf8 } from 'node:buffer';
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

const hex = (buf: Buffer, s: number, e: number) => [...buf.subarray(s, e)].map((b) => b.toString(16).padStart(2, '0')).join(' ');

/** What the first bytes say the file is when that is not text in `encoding` (a byte-order mark, UTF-16), or null. */
function foreignEncoding(head: Buffer, encoding: TableFile['encoding']): string | null {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0xff, 0xfe, 0, 0)) return 'UTF-32 (little-endian: it starts with the byte-order mark ff fe 00 00)';
  if (starts(0, 0, 0xfe, 0xff)) return 'UTF-32 (big-endian: it starts with the byte-order mark 00 00 fe ff)';
  if (starts(0xff, 0xfe)) return 'UTF-16 (little-endian: it starts with the byte-order mark ff fe)';
  if (starts(0xfe, 0xff)) return 'UTF-16 (big-endian: it starts with the byte-order mark fe ff)';
  if (encoding !== 'utf8' && starts(0xef, 0xbb, 0xbf)) return 'UTF-8 (it starts with the UTF-8 byte-order mark ef bb bf)';
  // Without a mark, UTF-16 text of ASCII characters has a zero in every other byte.
  const n = Math.min(head.length, 4096) & ~1;
  let even = 0;
  let odd = 0;
  for (let i = 0; i < n; i += 2) {
    if (head[i] === 0) even++;
    if (head[i + 1] === 0) odd++;
  }
  if (n >= 4 && odd >= n / 4 && even === 0) return 'UTF-16 (little-endian, without a byte-order mark: every other byte is 00)';
  if (n >= 4 && even >= n / 4 && odd === 0) return 'UTF-16 (big-endian, without a byte-order mark: every other byte is 00)';
  return null;
}

/** The first byte sequence in buf[s, e) that is not valid UTF-8 (RFC 3629: no overlongs, no surrogates), or null. */
function invalidUtf8(buf: Buffer, s: number, e: number): { at: number; end: number } | null {
  for (let p = s; p < e; ) {
    const c = buf[p];
    if (c < 0x80) {
      p++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return { at: p, end: p + 1 };
    // The second byte's range is narrower after e0, ed, f0 and f4.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= n; k++) {
      const b = p + k < e ? buf[p + k] : -1;
      if (k === 1 ? b < lo || b > hi : b < 0x80 || b > 0xbf) return { at: p, end: p + k };
    }
    p += n + 1;
  }
  return null;
}

/**
 * Calls `onRow` for every data line. `needed` lists the column indices that must be present: a row may lack
 * trailing columns nothing uses (MovieLens ratings without a timestamp), never a needed one. `where` names the
 * table in the description for errors (`books.json "files.readers"`).
 */
export function readTable(
  file: string,
  table: TableFile,
  needed: number[],
  onRow: (row: RowView) => void,
  where = 'the description',
): { lines: number } {
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
  const columnAt = (ls: number, at: number): string | null => {
    let c = 0;
    for (let p = buf.indexOf(sep, ls); p >= 0 && p < at; p = buf.indexOf(sep, p + sepLen)) c++;
    return c < nCols ? table.columns[c] : null;
  };
  // Lines buf[from, to) about to be read hold a NUL byte or, for utf8, bytes that are not UTF-8: the first such line.
  const badText = (from: number, to: number) => {
    let line = lineNo;
    for (let ls = from; ls < to; ) {
      const nl = buf.indexOf(10, ls);
      const le = nl < 0 || nl >= to ? to : nl;
      line++;
      const nul = buf.indexOf(0, ls);
      const bad = nul >= 0 && nul < le ? { at: nul, end: nul + 1 } : table.encoding === 'utf8' ? invalidUtf8(buf, ls, le) : null;
      if (bad) {
        const what =
          buf[bad.at] === 0
            ? `a NUL byte (00) at byte ${bad.at - ls + 1} of the line: this is not ${table.encoding} text (UTF-16 or a binary file?)`
            : `the bytes ${hex(buf, bad.at, bad.end)} at byte ${bad.at - ls + 1} of the line are not valid UTF-8, which ${where} declares ("encoding": "utf8"); if the file is Latin-1 (ISO-8859-1), set "encoding": "latin1"`;
        throw new DataFormatError(file, line, columnAt(ls, bad.at), what);
      }
      ls = le + 1;
    }
  };
  const checkHeader = (ls: number, le: number) => {
    const text = buf.toString(table.encoding, ls, le);
    const names = text
      .split(table.separator)
      .map((n) => n.trim().replace(/^"(.*)"$/, '$1'));
    // A header commented out with "#" (Last.fm's "#id") names the same columns.
    names[0] = names[0].replace(/^#\s*/, '');
    const cols = table.columns;
    const list = (a: readonly string[]) => a.map((n) => JSON.stringify(n)).join(', ');
    if (names.length !== cols.length) {
      const found = names.length === 1 ? separatorName(text) : null;
      throw new DataFormatError(
        file,
        1,
        null,
        `the header line names ${names.length} column${names.length === 1 ? '' : 's'} (${list(names)}), but ${where} lists ${cols.length} in "columns" (${list(cols)}); with "header": true the header must name the columns in file order${found ? `; the line looks ${found}-separated: check "separator" in the description` : ''}`,
      );
    }
    const differ = cols.flatMap((c, i) => (names[i] === c ? [] : [`column ${i + 1} is ${JSON.stringify(names[i])} in the file but ${JSON.stringify(c)} in "columns"`]));
    if (differ.length)
      throw new DataFormatError(
        file,
        1,
        null,
        `the header line does not match "columns" of ${where}: ${differ.join('; ')}${[...names].sort().join('\n') === [...cols].sort().join('\n') ? ' (the same names in another order: the fields would be read swapped)' : ''}; list the columns in the file's order`,
      );
  };
  const processLine = (ls: number, le: number, last: boolean) => {
    lineNo++;
    if (le > ls && buf[le - 1] === 13) le--;
    if (lineNo === 1 && le - ls >= 3 && buf[ls] === 0xef && buf[ls + 1] === 0xbb && buf[ls + 2] === 0xbf) ls += 3;
    if (lineNo === 1 && table.header) {
      checkHeader(ls, le);
      return;
    }
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
    let first = true;
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
      if (first) {
        first = false;
        const foreign = foreignEncoding(buf.subarray(0, have), table.encoding);
        if (foreign)
          throw new DataFormatError(
            file,
            null,
            null,
            `the file is ${foreign}, but ${where} declares "encoding": "${table.encoding}"; ${foreign.startsWith('UTF-8') ? 'set "encoding": "utf8"' : 'convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8) and keep "encoding": "utf8"'}`,
          );
      }
      // The complete lines read so far (the rest too at the end of the file) are checked in one call before any is read.
      const upTo = eof ? have : buf.lastIndexOf(10, have - 1) + 1;
      if (upTo > pos) {
        const nul = buf.indexOf(0, pos);
        if ((nul >= 0 && nul < upTo) || (table.encoding === 'utf8' && !isUtf8(buf.subarray(pos, upTo)))) badText(pos, upTo);
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
