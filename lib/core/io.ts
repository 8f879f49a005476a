import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes a file so that readers see either the old content or the new, never a half-written file. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

/**
 * Writes a large file line by line through a buffer into a temporary file, renamed into place on `commit()`:
 * atomic like writeFileAtomic, without holding the whole content in one string.
 */
export class AtomicLineWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private chunks: string[] = [];
  private pending = 0;

  constructor(
    private readonly file: string,
    private readonly flushChars = 1 << 20,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    this.fd = fs.openSync(this.tmp, 'w');
  }

  line(text: string): void {
    this.chunks.push(text, '\n');
    this.pending += text.length + 1;
    if (this.pending >= this.flushChars) this.flush();
  }

  private flush(): void {
    if (this.chunks.length) fs.writeSync(this.fd, this.chunks.join(''));
    this.chunks = [];
    this.pending = 0;
  }

  commit(): void {
    try {
      this.flush();
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
    }
    fs.renameSync(this.tmp, this.file);
  }

  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** JSON with keys in insertion order and no whitespace variation, so equal data gives equal bytes. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function writeJsonl(file: string, records: Iterable<unknown>): void {
  const parts: string[] = [];
  for (const r of records) parts.push(JSON.stringify(r));
  writeJsonLines(file, parts);
}

/** JSON Lines from lines already stringified, written atomically. */
export function writeJsonLines(file: string, lines: string[]): void {
  writeFileAtomic(file, lines.length ? `${lines.join('\n')}\n` : '');
}

export interface JsonlReadResult<T> {
  records: T[];
  /** A last line without its newline that does not parse: left by a crash mid-append. */
  tornLastLine: boolean;
}

/**
 * Reads JSON Lines. A malformed line in the middle is an error naming file and line;
 * a malformed *last* line without a trailing newline is a torn append and is reported, not fatal.
 */
export function readJsonl<T = unknown>(file: string, validate?: (r: unknown, where: string) => T): JsonlReadResult<T> {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  const records: T[] = [];
  let tornLastLine = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const isLast = i === lines.length - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      if (isLast && !endsWithNewline) {
        tornLastLine = true;
        break;
      }
      throw new Error(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    records.push(validate ? validate(parsed, `${file}:${i + 1}`) : (parsed as T));
  }
  return { records, tornLastLine };
}

export function readJson<T = unknown>(file: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Writes every byte: a write to a nearly full disk may take part of the buffer and return its count instead of
 * failing, and the next call then fails with ENOSPC (a line silently cut short would otherwise count as written).
 */
function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += fs.writeSync(fd, buf, off, buf.length - off);
}

/**
 * Appends one line. A file whose last byte is not a newline ends in a fragment torn by a crash mid-append:
 * the new line starts on a line of its own instead of being glued onto it (readers skip the fragment).
 */
export function appendLine(file: string, line: string, opts: { fsync: boolean }): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a+');
  try {
    const size = fs.fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    writeAll(fd, Buffer.from(`${prefix}${line.endsWith('\n') ? line : `${line}\n`}`, 'utf8'));
    if (opts.fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Appends one line and flushes it to disk before returning: used for answers that were paid for. */
export function appendLineDurable(file: string, line: string): void {
  appendLine(file, line, { fsync: true });
}

/**
 * 3 when `bytes` start with a UTF-8 byte-order mark (EF BB BF), else 0. Editors on Windows add one when a raw file is
 * re-saved; it is skipped, not read as part of the first field (where it would turn "1" into an unknown id).
 */
export function utf8BomLength(bytes: Uint8Array): number {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

/** utf8BomLength of a file's first bytes, without reading the rest of it. */
export function fileBomLength(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(3);
    return utf8BomLength(head.subarray(0, fs.readSync(fd, head, 0, 3, 0)));
  } finally {
    fs.closeSync(fd);
  }
}
