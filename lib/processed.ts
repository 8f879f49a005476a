import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DomainName } from './config';
import { AtomicLineWriter, readJson, readJsonl, writeJsonAtomic } from './io';
import { FORMAT_VERSION, type InteractionRecord, type ItemRecord, type ProcessedSummary, type UserRecord } from './types';

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

export const PROCESSED_FILES = ['users.jsonl', 'items.jsonl', 'interactions.jsonl', 'summary.json'] as const;

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
  const summaryFile = path.join(dir, 'summary.json');
  if (fs.existsSync(summaryFile)) fs.rmSync(summaryFile);
  writeLines(path.join(dir, 'users.jsonl'), data.users.length, (i) => JSON.stringify({ v: FORMAT_VERSION, id: data.users[i].id, proxies: data.users[i].proxies }));
  writeLines(path.join(dir, 'items.jsonl'), data.items.length, (i) => JSON.stringify({ v: FORMAT_VERSION, id: data.items[i].id, name: data.items[i].name }));
  writeLines(path.join(dir, 'interactions.jsonl'), data.users.length, (i) => {
    const rec: InteractionRecord = { v: FORMAT_VERSION, user: data.users[i].id, items: Array.from(data.userItems[i]) };
    const counts = data.userCounts?.[i];
    if (counts) rec.counts = Array.from(counts);
    return JSON.stringify(rec);
  });
  writeJsonAtomic(summaryFile, data.summary);
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
  const summaryFile = path.join(dir, 'summary.json');
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
