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
  writeJsonLines(
    file,
    (function* () {
      for (const r of records) yield JSON.stringify(r);
    })(),
  );
}

/**
 * JSON Lines from lines already stringified, written atomically and streamed: a file larger than V8's longest
 * string (about 512 MB; 5,504 prompts × 50 samples with their messages reach 900 MB) is never one string.
 */
export function writeJsonLines(file: string, lines: Iterable<string>): void {
  const out = new AtomicLineWriter(file);
  try {
    for (const line of lines) out.line(line);
    out.commit();
  } catch (e) {
    // A failed write, fsync or rename (a full disk) leaves the old file and no temporary file of up to a gigabyte.
    out.abort();
    throw e;
  }
}

const READ_CHUNK_BYTES = 1 << 22;

/**
 * Calls `visit` with every line of a file (1-based number; `unterminated` for a last line without its newline), read
 * in chunks so that no file is ever one string. A "\r" before the newline stays on the line, as with split('\n').
 */
export function forEachLine(
  file: string,
  visit: (line: string, lineNumber: number, unterminated: boolean) => void,
  chunkBytes = READ_CHUNK_BYTES,
): void {
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.alloc(chunkBytes);
    let partial: Buffer[] = [];
    let lineNumber = 0;
    for (;;) {
      const got = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      const read = chunk.subarray(0, got);
      let start = 0;
      for (let nl = read.indexOf(0x0a); nl !== -1; nl = read.indexOf(0x0a, start)) {
        const piece = read.subarray(start, nl);
        const bytes = partial.length ? Buffer.concat([...partial, piece]) : piece;
        partial = [];
        visit(bytes.toString('utf8'), ++lineNumber, false);
        start = nl + 1;
      }
      // Copied: the chunk buffer is overwritten by the next read.
      if (start < got) partial.push(Buffer.from(read.subarray(start)));
    }
    if (partial.length) visit(Buffer.concat(partial).toString('utf8'), ++lineNumber, true);
  } finally {
    fs.closeSync(fd);
  }
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
  const records: T[] = [];
  let tornLastLine = false;
  forEachLine(file, (line, lineNumber, unterminated) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      if (unterminated) {
        tornLastLine = true;
        return;
      }
      throw new Error(`${file}:${lineNumber}: not valid JSON (${(e as Error).message})`);
    }
    records.push(validate ? validate(parsed, `${file}:${lineNumber}`) : (parsed as T));
  });
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
