// Independent checks of sample records against plain user → item sets (never through lib/sample/sample.ts or the inverted index).
import * as assert from 'node:assert/strict';
import type { SampleRecord } from '../../lib/core/types';

export interface PlainUser {
  proxies: Record<string, string | null>;
  items: Set<string>;
}

/** Users matching the record's demography (all of them for no proxy), and for h > 0 holding ≥ ceil(threshold·h) of the history. */
export function bruteForceMatching(users: PlainUser[], rec: SampleRecord, threshold: number): PlainUser[] {
  const demo = Object.entries(rec.demography);
  const inGroup = users.filter((u) => demo.every(([k, v]) => u.proxies[k] === v));
  const h = rec.history.length;
  if (h === 0) return inGroup;
  // Hand rule: "at least 60 % of h items", i.e. the smallest whole number m with m / h >= threshold.
  let need = 0;
  while (need / h < threshold - 1e-12) need++;
  return inGroup.filter((u) => rec.history.filter((id) => u.items.has(id)).length >= need);
}

export interface CheckOptions {
  K: number;
  threshold: number;
  minMatching: number;
  logBase: number;
  /** Proxy names per setting, to check the demography's keys. */
  settings: Record<string, string[]>;
  /** Every item id of the catalogue. */
  allItems: string[];
}

/** Asserts every property of issue 3 on one record. */
export function checkRecord(users: PlainUser[], rec: SampleRecord, o: CheckOptions): void {
  const where = rec.id;
  assert.equal(rec.candidates.length, o.K, `${where}: K candidates`);
  assert.equal(new Set(rec.candidates).size, o.K, `${where}: candidates distinct`);
  for (const c of rec.candidates) assert.ok(!rec.history.includes(c), `${where}: candidate ${c} is in the history`);
  assert.equal(new Set(rec.history).size, rec.history.length, `${where}: history distinct`);
  assert.deepEqual(Object.keys(rec.demography).sort(), [...o.settings[rec.proxy]].sort(), `${where}: demography keys`);
  const h = rec.history.length;
  assert.equal(rec.setup, h === 0 ? 'C' : o.settings[rec.proxy].length ? 'A' : 'B', `${where}: setup`);
  const matching = bruteForceMatching(users, rec, o.threshold);
  assert.equal(rec.groupSize, matching.length, `${where}: groupSize = |u_h| recomputed by brute force`);
  if (h > 0)
    assert.ok(matching.length >= o.minMatching, `${where}: ${matching.length} matching users < ${o.minMatching}`);
  const freq = rec.candidates.map((c) => matching.filter((u) => u.items.has(c)).length);
  const c1 = freq.filter((f) => f === 0).length;
  // C1 = K/2 items nobody in u_h interacted with, or all such items when fewer exist (C2 then takes the rest).
  const union = new Set<string>();
  for (const u of matching) for (const id of u.items) union.add(id);
  const neverInteracted = o.allItems.filter((id) => !union.has(id) && !rec.history.includes(id)).length;
  assert.equal(
    c1,
    Math.min(Math.floor(o.K / 2), neverInteracted),
    `${where}: |C1| = min(K/2, ${neverInteracted} never-interacted items)`,
  );
  const total = freq.reduce((a, b) => a + b, 0);
  let sum = 0;
  let entropy = 0;
  rec.candidates.forEach((c, k) => {
    const p = freq[k] / total;
    assert.ok(Math.abs(rec.target[k] - p) < 1e-12, `${where}: target of ${c} is ${rec.target[k]}, recomputed ${p}`);
    assert.equal(rec.target[k] > 0, freq[k] > 0, `${where}: C1 gets 0, C2 gets mass`);
    sum += rec.target[k];
    if (p > 0) entropy -= p * (Math.log(p) / Math.log(o.logBase));
  });
  assert.ok(Math.abs(sum - 1) < 1e-9, `${where}: target sums to ${sum}`);
  assert.ok(
    Math.abs(rec.targetEntropy - entropy) < 1e-9,
    `${where}: entropy ${rec.targetEntropy} vs recomputed ${entropy}`,
  );
}
