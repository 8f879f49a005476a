import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DomainName } from '../core/config';
import { AtomicLineWriter, readJson, readJsonl, writeJsonAtomic } from '../core/io';
import { FORMAT_VERSION, type InteractionRecord, type ItemRecord, type ProcessedSummary, type UserRecord } from '../core/types';

/** A processed domain in memory: users and items as records, interactions as typed arrays both ways. */
export interface ProcessedDomain {
  domain: DomainName;
  users: UserRecord[];
  items: ItemRecord[];
  /** userItems[u] = ascending item indices the user interacted with. */
  userItems: Int32Array[];
  /** Listening counts aligned with userItems (Last.fm), or null. */
  userCounts: (Int32Array | null)[];
  /** itemUsers[i] = ascending user indices that interacted with item i (the inverted index). */
  itemUsers: Int32Array[];
  itemIndex: Map<string, number>;
  userIndex: Map<string, number>;
  summary: ProcessedSummary;
}

export const PROCESSED_SUMMARY_FILE = 'summary.json';
export const PROCESSED_FILES = ['users.jsonl', 'items.jsonl', 'interactions.jsonl', PROCESSED_SUMMARY_FILE] as const;

export interface ProcessedInput {
  domain: DomainName;
  users: UserRecord[];
  items: ItemRecord[];
  userItems: ArrayLike<number>[];
  userCounts?: (ArrayLike<number> | null)[];
  summary: ProcessedSummary;
}

/** Writes the four processed files; each atomically, summary last so its presence marks a complete output. */
export function writeProcessed(dir: string, data: ProcessedInput): void {
  fs.mkdirSync(dir, { recursive: true });
  const summaryFile = path.join(dir, PROCESSED_SUMMARY_FILE);
  if (fs.existsSync(summaryFile)) fs.rmSync(summaryFile);
  writeLines(path.join(dir, 'users.jsonl'), data.users.length, (i) => JSON.stringify({ v: FORMAT_VERSION, id: data.users[i].id, proxies: data.users[i].proxies }));
  // Items and interactions (a million lines, tens of millions of numbers for Last.fm) are formatted straight into
  // bytes; every line is byte-identical to JSON.stringify of the record, which remains the path for unusual values.
  writeBytes(path.join(dir, 'items.jsonl'), (out) => {
    for (let i = 0; i < data.items.length; i++) {
      const { id, name } = data.items[i];
      if (typeof id !== 'string' || typeof name !== 'string') {
        out.text(JSON.stringify({ v: FORMAT_VERSION, id, name }));
        out.byte(10);
        continue;
      }
      out.bytes(ITEM_HEAD);
      out.jsonString(id);
      out.bytes(NAME_KEY);
      out.jsonString(name);
      out.bytes(LINE_END);
    }
  });
  writeBytes(path.join(dir, 'interactions.jsonl'), (out) => {
    for (let i = 0; i < data.users.length; i++) {
      const user = data.users[i].id;
      const items = data.userItems[i];
      const counts = data.userCounts?.[i];
      if (typeof user !== 'string' || !allInt32(items) || (counts && !allInt32(counts))) {
        const rec: InteractionRecord = { v: FORMAT_VERSION, user, items: Array.from(items) };
        if (counts) rec.counts = Array.from(counts);
        out.text(JSON.stringify(rec));
        out.byte(10);
        continue;
      }
      out.bytes(INTERACTION_HEAD);
      out.jsonString(user);
      out.bytes(ITEMS_KEY);
      out.intArray(items);
      if (counts) {
        out.bytes(COUNTS_KEY);
        out.intArray(counts);
      }
      out.bytes(LINE_END);
    }
  });
  writeJsonAtomic(summaryFile, data.summary);
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const ITEM_HEAD = ascii(`{"v":${JSON.stringify(FORMAT_VERSION)},"id":`);
const NAME_KEY = ascii(',"name":');
const INTERACTION_HEAD = ascii(`{"v":${JSON.stringify(FORMAT_VERSION)},"user":`);
const ITEMS_KEY = ascii(',"items":');
const COUNTS_KEY = ascii(',"counts":');
const LINE_END = ascii('}\n');

/** Whole numbers in int32 range, which the byte formatter prints exactly as JSON.stringify does. */
function allInt32(a: ArrayLike<number>): boolean {
  if (a instanceof Int32Array) return true;
  for (let k = 0; k < a.length; k++) if ((a[k] | 0) !== a[k]) return false;
  return true;
}

/** Characters JSON.stringify escapes (quote, backslash, control characters) and UTF-16 surrogates (lone ones are escaped). */
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A byte buffer flushed to a file descriptor when full. */
class ByteOut {
  buf = Buffer.allocUnsafe(1 << 22);
  pos = 0;
  constructor(private readonly fd: number) {}

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  flush(): void {
    let off = 0;
    while (off < this.pos) off += fs.writeSync(this.fd, this.buf, off, this.pos - off);
    this.pos = 0;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    const buf = this.buf;
    let p = this.pos;
    for (let k = 0; k < b.length; k++) buf[p++] = b[k];
    this.pos = p;
  }

  text(s: string): void {
    this.room(3 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** The bytes of JSON.stringify(s). */
  jsonString(s: string): void {
    if (NEEDS_JSON_ESCAPE.test(s)) {
      this.text(JSON.stringify(s));
      return;
    }
    this.room(3 * s.length + 2);
    const buf = this.buf;
    buf[this.pos++] = 34;
    this.pos += buf.write(s, this.pos, 'utf8');
    buf[this.pos++] = 34;
  }

  /** `[a,b,c]` for int32 values. */
  intArray(a: ArrayLike<number>): void {
    const n = a.length;
    this.room(2);
    this.buf[this.pos++] = 91;
    let buf = this.buf;
    let p = this.pos;
    for (let k = 0; k < n; k++) {
      if (p + 12 > buf.length) {
        this.pos = p;
        this.room(12);
        buf = this.buf;
        p = this.pos;
      }
      if (k > 0) buf[p++] = 44;
      let v = a[k];
      if (v < 0) {
        buf[p++] = 45;
        if (v === -2147483648) {
          for (let d = 0; d < 10; d++) buf[p++] = '2147483648'.charCodeAt(d);
          continue;
        }
        v = -v;
      }
      if (v < 10) buf[p++] = 48 + v;
      else {
        let digits = 1;
        for (let x = v; x >= 10; x = (x / 10) | 0) digits++;
        p += digits;
        for (let q = p - 1; v >= 10; q--) {
          const next = (v / 10) | 0;
          buf[q] = 48 + v - next * 10;
          v = next;
        }
        buf[p - digits] = 48 + v;
      }
    }
    this.pos = p;
    this.room(1);
    this.buf[this.pos++] = 93;
  }
}

/** Writes a file atomically (temporary file, fsync, rename) through a ByteOut. */
function writeBytes(file: string, fill: (out: ByteOut) => void): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  let ok = false;
  try {
    const out = new ByteOut(fd);
    fill(out);
    out.flush();
    fs.fsyncSync(fd);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (!ok) fs.rmSync(tmp, { force: true });
  }
  fs.renameSync(tmp, file);
}

/** Streams n lines to a file atomically: the Last.fm interactions are hundreds of MB and must not become one string. */
function writeLines(file: string, n: number, lineAt: (i: number) => string): void {
  const out = new AtomicLineWriter(file);
  try {
    for (let i = 0; i < n; i++) out.line(lineAt(i));
  } catch (e) {
    out.abort();
    throw e;
  }
  out.commit();
}

function fail(where: string, msg: string): never {
  throw new Error(`${where}: ${msg}`);
}

export function loadProcessed(dir: string): ProcessedDomain {
  const summaryFile = path.join(dir, PROCESSED_SUMMARY_FILE);
  if (!fs.existsSync(summaryFile)) {
    throw new Error(`no processed data in ${dir} (summary.json missing): run the preprocess stage first (npm start -- --stages preprocess)`);
  }
  const summary = readJson<ProcessedSummary>(summaryFile);
  const users = readJsonl<UserRecord>(path.join(dir, 'users.jsonl'), (r, where) => {
    const u = r as UserRecord;
    if (typeof u?.id !== 'string' || typeof u.proxies !== 'object' || u.proxies === null) fail(where, 'expected {"id": string, "proxies": object}');
    return u;
  }).records;
  const items = readJsonl<ItemRecord>(path.join(dir, 'items.jsonl'), (r, where) => {
    const it = r as ItemRecord;
    if (typeof it?.id !== 'string' || typeof it.name !== 'string') fail(where, 'expected {"id": string, "name": string}');
    return it;
  }).records;
  const userIndex = new Map(users.map((u, i) => [u.id, i]));
  const itemIndex = new Map(items.map((it, i) => [it.id, i]));
  const userItems: Int32Array[] = new Array(users.length);
  const userCounts: (Int32Array | null)[] = new Array(users.length).fill(null);
  const interFile = path.join(dir, 'interactions.jsonl');
  readJsonl<InteractionRecord>(interFile, (r, where) => {
    const rec = r as InteractionRecord;
    const u = userIndex.get(rec?.user);
    if (u === undefined) fail(where, `unknown user ${JSON.stringify(rec?.user)} (not in users.jsonl)`);
    if (!Array.isArray(rec.items)) fail(where, 'expected "items": array of item indices');
    const arr = Int32Array.from(rec.items);
    for (let k = 0; k < arr.length; k++) {
      if (!(arr[k] >= 0 && arr[k] < items.length)) fail(where, `item index ${arr[k]} out of range 0..${items.length - 1}`);
      if (k > 0 && arr[k] <= arr[k - 1]) fail(where, 'item indices must be ascending and distinct');
    }
    userItems[u] = arr;
    if (rec.counts) userCounts[u] = Int32Array.from(rec.counts);
    return rec;
  });
  for (let u = 0; u < users.length; u++) if (!userItems[u]) userItems[u] = new Int32Array(0);
  const itemUsers = invertIndex(userItems, items.length);
  return { domain: summary.domain, users, items, userItems, userCounts, itemUsers, itemIndex, userIndex, summary };
}

/** Builds item → users from user → items in two passes over flat arrays (no per-item growth). */
export function invertIndex(userItems: ArrayLike<number>[], nItems: number): Int32Array[] {
  const degree = new Int32Array(nItems);
  for (const list of userItems) for (let k = 0; k < list.length; k++) degree[list[k]]++;
  const out: Int32Array[] = new Array(nItems);
  for (let i = 0; i < nItems; i++) out[i] = new Int32Array(degree[i]);
  const fill = new Int32Array(nItems);
  for (let u = 0; u < userItems.length; u++) {
    const list = userItems[u];
    for (let k = 0; k < list.length; k++) {
      const i = list[k];
      out[i][fill[i]++] = u;
    }
  }
  return out;
}
