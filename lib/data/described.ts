/**
 * The generic preprocess path: a dataset read and filtered as its description file says (lib/core/description.ts).
 * Users come from the users file with their proxies (labels, numeric groups, continent derived from country);
 * interactions are (user, item) rows, repeated pairs counted once (their counts summed); the filters run in the
 * description's order and each one is reported with the users and interactions it removed.
 */
import * as fs from 'node:fs';
import type { DatasetDescription, ProxySpec } from '../core/description';
import { DescriptionError } from '../core/description';
import { FORMAT_VERSION, type DropReason, type ItemRecord, type UserRecord } from '../core/types';
import { DataFormatError } from './datasets';
import { FNV_OFFSET, FNV_PRIME, TrackTable, fmix } from './lastfm/hash-table';
import { regionOfCountry } from './regions';
import { readTable, rowTemplate, templateColumns, type RowView } from './table-reader';

export interface DescribedData {
  users: UserRecord[];
  items: ItemRecord[];
  /** Items of the catalogue with an interaction of a kept user. */
  interactedItems: number;
  userItems: Int32Array[];
  /** Aligned with userItems when the description names a count column, else undefined. */
  userCounts?: Int32Array[];
  steps: { step: string; users: number }[];
  dropped: DropReason[];
  parsed: { users: number; rows: number; items: number };
}

interface RawUsers {
  ids: string[];
  /** Per proxy, per user: display value or null. */
  values: Record<string, (string | null)[]>;
}

function readUsers(desc: DatasetDescription, descFile: string, file: string): RawUsers {
  const table = desc.files[desc.users.file];
  const idCol = table.columns.indexOf(desc.users.id);
  const proxies = Object.entries(desc.users.proxies);
  const direct = proxies.filter(([, s]) => s.column !== undefined) as [string, ProxySpec & { column: string }][];
  const cols = direct.map(([, s]) => table.columns.indexOf(s.column));
  const ids: string[] = [];
  const raw: string[][] = direct.map(() => []);
  const seen = new Map<string, number>();
  const where = `${descFile} "files.${desc.users.file}"`;
  readTable(file, table, [idCol, ...cols], (row) => {
    const id = row.buf.toString(table.encoding, row.start[idCol], row.end[idCol]);
    if (id === '') throw new DataFormatError(file, row.line, desc.users.id, 'expected a user id, got an empty field');
    const before = seen.get(id);
    if (before !== undefined) throw new DataFormatError(file, row.line, desc.users.id, `user ${JSON.stringify(id)} appears twice (first on line ${before})`);
    seen.set(id, row.line);
    ids.push(id);
    for (let k = 0; k < cols.length; k++) raw[k].push(row.buf.toString(table.encoding, row.start[cols[k]], row.end[cols[k]]).trim());
  }, where);
  const values: Record<string, (string | null)[]> = {};
  direct.forEach(([name, spec], k) => {
    values[name] = resolveProxy(name, spec, raw[k], descFile, file, seen);
  });
  for (const [name, spec] of proxies) {
    if (!spec.derive) continue;
    const from = values[spec.derive.from];
    const memo = new Map<string, string | null>();
    values[name] = from.map((v) => {
      if (v === null) return null;
      let r = memo.get(v);
      if (r === undefined) memo.set(v, (r = regionOfCountry(v)));
      return r;
    });
  }
  return { ids, values: Object.fromEntries(proxies.map(([n]) => [n, values[n]])) };
}

function resolveProxy(name: string, spec: ProxySpec, raw: string[], descFile: string, file: string, lineOf: Map<string, number>): (string | null)[] {
  const missing = new Set(spec.missing ?? ['']);
  const key = `users.proxies.${name}`;
  if (spec.labels) {
    const labels = spec.labels;
    const used = new Set<string>();
    const out = raw.map((v, u) => {
      if (missing.has(v)) return null;
      // A value such as "constructor" must not find Object's own members.
      const label = Object.hasOwn(labels, v) ? labels[v] : undefined;
      if (label === undefined) {
        const id = [...lineOf.keys()][u];
        throw new DataFormatError(file, lineOf.get(id) ?? null, spec.column ?? name, `value ${JSON.stringify(v)} has no label in ${descFile} "${key}.labels" (labelled: ${Object.keys(labels).map((l) => JSON.stringify(l)).join(', ')}; unknown: ${[...missing].map((m) => JSON.stringify(m)).join(', ')})`);
      }
      used.add(v);
      return label;
    });
    for (const k of Object.keys(labels)) {
      if (!used.has(k)) throw new DescriptionError(descFile, `${key}.labels.${k}`, `labels a value that does not occur in column "${spec.column}" of ${file}`);
    }
    return out;
  }
  if (spec.groups) {
    const groups = spec.groups;
    return raw.map((v) => {
      if (missing.has(v)) return null;
      const x = Number(v);
      if (v === '' || !Number.isFinite(x)) return null;
      for (const g of groups) if (x >= g.min && x < g.max) return g.label;
      return null;
    });
  }
  return raw.map((v) => (missing.has(v) || v === '' ? null : v));
}

interface Rows {
  user: Int32Array;
  item: Int32Array;
  count: Int32Array | null;
  n: number;
  itemIds: string[];
  itemNames: string[];
  skipped: { emptyItem: number; belowMinCount: number };
}

function grow(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(Math.max(16, Math.ceil(n * 1.5)));
  b.set(a);
  return b;
}

function readInteractions(desc: DatasetDescription, descFile: string, files: Record<string, string>, users: RawUsers): Rows {
  const interKey = desc.interactions.file;
  const table = desc.files[interKey];
  const file = files[interKey];
  const userCol = table.columns.indexOf(desc.interactions.user);
  const itemKeyOf = rowTemplate(table, desc.interactions.item);
  const countCol = desc.interactions.count !== undefined ? table.columns.indexOf(desc.interactions.count) : -1;
  const minCount = desc.interactions.minCount ?? -Infinity;
  const userIndex = new Map(users.ids.map((id, i) => [id, i]));
  const itemIndex = new Map<string, number>();
  const itemIds: string[] = [];
  const itemNames: string[] = [];
  const ownItems = desc.items.file === interKey;
  const nameOf = rowTemplate(table, desc.items.name);
  if (!ownItems) {
    // Items from their own file, in its order.
    const it = desc.files[desc.items.file];
    const itFile = files[desc.items.file];
    const idOf = rowTemplate(it, desc.items.id);
    const itemNameOf = rowTemplate(it, desc.items.name);
    readTable(itFile, it, [...templateColumns(it, desc.items.id), ...templateColumns(it, desc.items.name)], (row) => {
      const id = idOf(row);
      if (itemIndex.has(id)) throw new DataFormatError(itFile, row.line, desc.items.id, `item ${JSON.stringify(id)} appears twice`);
      itemIndex.set(id, itemIds.length);
      itemIds.push(id);
      itemNames.push(itemNameOf(row));
    }, `${descFile} "files.${desc.items.file}"`);
  }
  // A first guess of the row count from the file size (64 bytes a row), grown by half when exceeded.
  let cap = Math.max(1024, Math.ceil(fs.statSync(file).size / 64));
  let userArr = new Int32Array(cap);
  let itemArr = new Int32Array(cap);
  let countArr = countCol >= 0 ? new Int32Array(cap) : null;
  let n = 0;
  const skipped = { emptyItem: 0, belowMinCount: 0 };
  // Rows of one user usually come together: the previous row's user bytes are compared before any decoding.
  let prevStart = -1;
  let prevEnd = -1;
  let prevBuf: Buffer | null = null;
  let prevUser = -1;
  const itemCol = table.columns.indexOf(desc.interactions.item);
  const byteKeys = ownItems && itemCol >= 0 ? new TrackTable(16) : null;
  const needed = [userCol, ...templateColumns(table, desc.interactions.item), ...(ownItems ? templateColumns(table, desc.items.name) : []), ...(countCol >= 0 ? [countCol] : [])];
  readTable(file, table, needed, (row: RowView) => {
    const b = row.buf;
    const us = row.start[userCol];
    const ue = row.end[userCol];
    let u = -1;
    if (prevBuf === b && prevEnd - prevStart === ue - us && prevUser >= 0 && b.compare(b, prevStart, prevEnd, us, ue) === 0) u = prevUser;
    else {
      const id = b.toString(table.encoding, us, ue);
      const found = userIndex.get(id);
      if (found === undefined) throw new DataFormatError(file, row.line, desc.interactions.user, `unknown user ${JSON.stringify(id)}: not in ${files[desc.users.file]}`);
      u = found;
    }
    prevBuf = b;
    prevStart = us;
    prevEnd = ue;
    prevUser = u;
    let count = 1;
    if (countCol >= 0) {
      let x = 0;
      let p = row.start[countCol];
      const e = row.end[countCol];
      if (p === e) throw new DataFormatError(file, row.line, desc.interactions.count ?? null, 'expected a whole number, got an empty field');
      for (; p < e; p++) {
        const c = b[p];
        if (c < 48 || c > 57) {
          const text = b.toString(table.encoding, row.start[countCol], e);
          const v = Number(text);
          if (!Number.isInteger(v) || v < 0) throw new DataFormatError(file, row.line, desc.interactions.count ?? null, `expected a whole number, got ${JSON.stringify(text)}`);
          x = v;
          break;
        }
        x = x * 10 + c - 48;
      }
      count = x;
      if (count < minCount) {
        skipped.belowMinCount++;
        return;
      }
    }
    let i: number;
    if (byteKeys) {
      // One column is the item id: intern its bytes without decoding them (a string only for a new item).
      const s = row.start[itemCol];
      const e = row.end[itemCol];
      if (s === e) {
        skipped.emptyItem++;
        return;
      }
      let h = FNV_OFFSET;
      for (let p = s; p < e; p++) h = Math.imul(h ^ b[p], FNV_PRIME);
      i = byteKeys.lookupContiguous(fmix(h), b, s, e);
      if (i === itemIds.length) {
        itemIds.push(b.toString(table.encoding, s, e));
        itemNames.push(nameOf(row));
      }
    } else {
      const key = itemKeyOf(row);
      if (key === '') {
        skipped.emptyItem++;
        return;
      }
      let found = itemIndex.get(key);
      if (found === undefined) {
        if (!ownItems) throw new DataFormatError(file, row.line, desc.interactions.item, `unknown item ${JSON.stringify(key)}: not in ${files[desc.items.file]}`);
        found = itemIds.length;
        itemIndex.set(key, found);
        itemIds.push(key);
        itemNames.push(nameOf(row));
      }
      i = found;
    }
    if (n === cap) {
      userArr = grow(userArr, cap);
      itemArr = grow(itemArr, cap);
      if (countArr) countArr = grow(countArr, cap);
      cap = userArr.length;
    }
    userArr[n] = u;
    itemArr[n] = i;
    if (countArr) countArr[n] = count;
    n++;
  }, `${descFile} "files.${interKey}"`);
  return { user: userArr, item: itemArr, count: countArr, n, itemIds, itemNames, skipped };
}

/** Reads and filters a described dataset in memory; `files` maps the description's file keys to paths. */
export function processDescribed(desc: DatasetDescription, descFile: string, files: Record<string, string>): DescribedData {
  const users = readUsers(desc, descFile, files[desc.users.file]);
  const rows = readInteractions(desc, descFile, files, users);
  const nUsers = users.ids.length;
  // Rows per user in CSR form (a counting sort by user keeps each user's rows in file order).
  const start = new Int32Array(nUsers + 1);
  for (let r = 0; r < rows.n; r++) start[rows.user[r] + 1]++;
  const rowsPerUser = new Int32Array(nUsers);
  for (let u = 0; u < nUsers; u++) {
    rowsPerUser[u] = start[u + 1];
    start[u + 1] += start[u];
  }
  const flatItem = new Int32Array(rows.n);
  const flatCount = rows.count ? new Int32Array(rows.n) : null;
  const fill = start.slice(0, nUsers);
  for (let r = 0; r < rows.n; r++) {
    const k = fill[rows.user[r]]++;
    flatItem[k] = rows.item[r];
    if (flatCount) flatCount[k] = rows.count![r];
  }
  // Per user: distinct items ascending, counts of repeated pairs summed, in place in the flat arrays.
  const userItems: Int32Array[] = new Array(nUsers);
  const userCounts: Int32Array[] | undefined = flatCount ? new Array(nUsers) : undefined;
  const countSum = new Float64Array(nUsers);
  let duplicates = 0;
  let longest = 0;
  for (let u = 0; u < nUsers; u++) longest = Math.max(longest, start[u + 1] - start[u]);
  // Sort keys item * 2^21 + row (exact in a double while items < 2^31 and a user has < 2^21 rows), sorted natively.
  const keys = flatCount ? new Float64Array(longest) : null;
  const countScratch = flatCount ? new Int32Array(longest) : null;
  for (let u = 0; u < nUsers; u++) {
    const a = start[u];
    const b = start[u + 1];
    const items = flatItem.subarray(a, b);
    if (!flatCount) {
      items.sort();
      let w = 0;
      for (let j = 0; j < items.length; j++) if (j === 0 || items[j] !== items[j - 1]) items[w++] = items[j];
      duplicates += items.length - w;
      userItems[u] = items.subarray(0, w);
      continue;
    }
    const counts = flatCount.subarray(a, b);
    const n = b - a;
    if (n >= 1 << 21) throw new Error(`user ${JSON.stringify(users.ids[u])} has ${n} rows: more than this reader sorts per user (2,097,151)`);
    const k = keys!.subarray(0, n);
    for (let j = 0; j < n; j++) k[j] = items[j] * 2097152 + j;
    k.sort();
    const c = countScratch!;
    for (let j = 0; j < n; j++) c[j] = counts[j];
    let w = -1;
    for (let j = 0; j < n; j++) {
      const item = Math.floor(k[j] / 2097152);
      const cj = c[k[j] - item * 2097152];
      countSum[u] += cj;
      if (w >= 0 && items[w] === item) {
        counts[w] += cj;
        duplicates++;
      } else {
        w++;
        items[w] = item;
        counts[w] = cj;
      }
    }
    userItems[u] = items.subarray(0, w + 1);
    userCounts![u] = counts.subarray(0, w + 1);
  }

  // Filters, in order, over the users still kept.
  const kept = new Uint8Array(nUsers).fill(1);
  let left = nUsers;
  const steps: DescribedData['steps'] = [{ step: 'all users', users: nUsers }];
  const dropped: DropReason[] = [];
  const dropWhere = (reason: string, step: string, drop: (u: number) => boolean) => {
    let du = 0;
    let di = 0;
    for (let u = 0; u < nUsers; u++) {
      if (!kept[u] || !drop(u)) continue;
      kept[u] = 0;
      du++;
      di += userItems[u].length;
    }
    left -= du;
    steps.push({ step, users: left });
    dropped.push({ reason, users: du, interactions: di });
  };
  for (const f of desc.filters) {
    if (f.kind === 'dropValues' || f.kind === 'keepValues') {
      const values = users.values[f.proxy];
      const set = new Set(f.values);
      if (f.kind === 'dropValues') dropWhere(`${f.proxy} is ${f.values.join(', ')}`, `${f.proxy} not ${f.values.join(', ')}`, (u) => values[u] !== null && set.has(values[u]!));
      else dropWhere(`${f.proxy} unknown or not among ${f.values.join(', ')}`, `${f.proxy} in ${f.values.join(', ')}`, (u) => values[u] === null || !set.has(values[u]!));
    } else if (f.kind === 'minGroupSize') {
      const keyOf = (u: number) => f.proxies.map((p) => users.values[p][u] ?? '\u0000unknown').join('\t');
      const sizes = new Map<string, number>();
      for (let u = 0; u < nUsers; u++) if (kept[u]) sizes.set(keyOf(u), (sizes.get(keyOf(u)) ?? 0) + 1);
      const small = [...sizes.values()].filter((s) => s < f.users).length;
      dropWhere(`(${f.proxies.join(', ')}) group with fewer than ${f.users} users (${small} group${small === 1 ? '' : 's'}; unknown values form groups of their own)`, `(${f.proxies.join(', ')}) group with >= ${f.users} users`, (u) => sizes.get(keyOf(u))! < f.users);
    } else {
      const measure = f.of === 'items' ? (u: number) => userItems[u].length : f.of === 'rows' ? (u: number) => rowsPerUser[u] : (u: number) => countSum[u];
      const what = f.of === 'items' ? 'distinct items' : f.of === 'rows' ? 'rows' : `total ${desc.interactions.count}`;
      dropWhere(`fewer than ${f.min} ${what}`, `>= ${f.min} ${what}`, (u) => measure(u) < f.min);
    }
  }
  let noInteractions = 0;
  for (let u = 0; u < nUsers; u++) if (kept[u] && userItems[u].length === 0) noInteractions++;
  if (noInteractions) dropWhere('no interactions', 'with at least one interaction', (u) => userItems[u].length === 0);

  // Items: the whole catalogue (items file order, else first appearance), the pool C1's never-interacted items are
  // drawn from, as for the built-in domains; `interactedItems` counts those with a kept user's interaction.
  const nAll = rows.itemIds.length;
  const used = new Uint8Array(nAll);
  for (let u = 0; u < nUsers; u++) if (kept[u]) for (const i of userItems[u]) used[i] = 1;
  let interactedItems = 0;
  for (let i = 0; i < nAll; i++) interactedItems += used[i];
  const items: ItemRecord[] = rows.itemIds.map((id, i) => ({ v: FORMAT_VERSION, id, name: rows.itemNames[i] }));
  const outUsers: UserRecord[] = [];
  const outItems: Int32Array[] = [];
  const outCounts: Int32Array[] | undefined = userCounts ? [] : undefined;
  const proxyNames = Object.keys(desc.users.proxies);
  for (let u = 0; u < nUsers; u++) {
    if (!kept[u]) continue;
    const proxies: Record<string, string | null> = {};
    for (const p of proxyNames) proxies[p] = users.values[p][u];
    outUsers.push({ v: FORMAT_VERSION, id: users.ids[u], proxies });
    outItems.push(userItems[u]);
    if (outCounts) outCounts.push(userCounts![u]);
  }
  if (duplicates) dropped.push({ reason: `repeated (user, item) rows counted once${rows.count ? ' (counts summed)' : ''}`, interactions: duplicates });
  if (rows.skipped.belowMinCount) dropped.push({ reason: `rows with ${desc.interactions.count} below ${desc.interactions.minCount}`, interactions: rows.skipped.belowMinCount });
  if (rows.skipped.emptyItem) dropped.push({ reason: 'rows without an item id', interactions: rows.skipped.emptyItem });
  return { users: outUsers, items, interactedItems, userItems: outItems, userCounts: outCounts, steps, dropped, parsed: { users: nUsers, rows: rows.n, items: nAll } };
}
