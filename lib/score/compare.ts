/**
 * Paired comparisons between models scored on the same prompts: the difference (a − b) in mean gap and in departure
 * point, with PAIRED bootstrap intervals — every resample draws the same prompts for both models, so what the two
 * models share (which prompts are hard) cancels out of the difference instead of widening its interval.
 * Written by the score stage to data/scores/comparisons.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson } from '../core/io';
import { type BootstrapOptions, departurePoint, forEachResample, gather, percentileInterval } from './curves';
import type { DomainName } from '../core/config';
import type { Setup } from '../core/types';

export const COMPARISONS_VERSION = 1;

export interface Difference {
  estimate: number;
  low: number;
  high: number;
}

export interface Comparison {
  domain: DomainName;
  setup: Setup;
  a: string;
  b: string;
  /** Prompts scored by both models (the pairs compared). */
  prompts: number;
  meanGapDiff: Difference | null;
  /** null when either model has no departure point on these prompts; `defined`: share of resamples where both had one. */
  departureDiff: (Difference & { defined: number }) | null;
}

export interface Comparisons {
  v: number;
  comparisons: Comparison[];
}

/** One model's scores of one setup, as parallel arrays keyed by prompt id. */
export interface ModelScores {
  modelId: string;
  promptIds: string[];
  targetEntropy: number[];
  crossEntropy: number[];
}

export interface CompareOptions extends BootstrapOptions {
  bins: number;
  /** The binning range shared by the models (the departure point depends on it). */
  range: [number, number];
  departureGap: number;
}

function meanGap(x: number[], y: number[], idx: Int32Array | null): number {
  let s = 0;
  const n = idx ? idx.length : x.length;
  for (let i = 0; i < n; i++) {
    const j = idx ? idx[i] : i;
    s += y[j] - x[j];
  }
  return s / n;
}

/**
 * Paired comparisons of every pair (models[i], models[j]), i < j, of models scored on exactly the same prompts in the
 * same order (`models[k].targetEntropy` equal for all k). One resample stream serves every pair, so each model's
 * statistic is computed once per resample.
 */
export function compareAligned(models: ModelScores[], opts: CompareOptions): Omit<Comparison, 'domain' | 'setup'>[] {
  const n = models.length ? models[0].promptIds.length : 0;
  for (const m of models) {
    if (m.promptIds.length !== n || m.promptIds.some((id, i) => id !== models[0].promptIds[i])) {
      throw new Error(
        `compareAligned: model "${m.modelId}" is not scored on the same prompts as "${models[0].modelId}"`,
      );
    }
  }
  const departureOf = (x: number[], y: number[]) =>
    departurePoint(x, y, { bins: opts.bins, range: opts.range, departureGap: opts.departureGap });
  const fullGap = models.map((m) => meanGap(m.targetEntropy, m.crossEntropy, null));
  const fullDeparture = models.map((m) => departureOf(m.targetEntropy, m.crossEntropy));
  const pairs: [number, number][] = [];
  for (let i = 0; i < models.length; i++) for (let j = i + 1; j < models.length; j++) pairs.push([i, j]);
  const gapDiffs: number[][] = pairs.map(() => []);
  const departureDiffs: number[][] = pairs.map(() => []);
  if (n > 0 && pairs.length && opts.resamples > 0) {
    const xs = new Array<number>(n);
    const ys = new Array<number>(n);
    const needDeparture = models.map((_, k) =>
      pairs.some(([i, j]) => (i === k || j === k) && fullDeparture[i] !== null && fullDeparture[j] !== null),
    );
    forEachResample(n, opts, (idx) => {
      const gaps = models.map((m) => meanGap(m.targetEntropy, m.crossEntropy, idx));
      const departures = models.map((m, k) =>
        needDeparture[k] ? departureOf(gather(m.targetEntropy, idx, xs), gather(m.crossEntropy, idx, ys)) : null,
      );
      pairs.forEach(([i, j], p) => {
        gapDiffs[p].push(gaps[i] - gaps[j]);
        const di = departures[i];
        const dj = departures[j];
        if (di !== null && dj !== null) departureDiffs[p].push(di - dj);
      });
    });
  }
  return pairs.map(([i, j], p) => {
    const gapInterval = n
      ? percentileInterval(fullGap[i] - fullGap[j], gapDiffs[p], opts.resamples, opts.confidence)
      : null;
    const di = fullDeparture[i];
    const dj = fullDeparture[j];
    const depInterval =
      di !== null && dj !== null
        ? percentileInterval(di - dj, departureDiffs[p], opts.resamples, opts.confidence)
        : null;
    return {
      a: models[i].modelId,
      b: models[j].modelId,
      prompts: n,
      meanGapDiff: gapInterval && { estimate: gapInterval.estimate, low: gapInterval.low, high: gapInterval.high },
      departureDiff: depInterval && {
        estimate: depInterval.estimate,
        low: depInterval.low,
        high: depInterval.high,
        defined: depInterval.defined,
      },
    };
  });
}

/**
 * Every pair of the given models (ids ascending: a < b) on the prompts both scored, in the order of the first model.
 * Pairs that share the same common prompts are bootstrapped together (see compareAligned).
 */
export function comparePairs(models: ModelScores[], opts: CompareOptions): Omit<Comparison, 'domain' | 'setup'>[] {
  const sorted = models.slice().sort((p, q) => (p.modelId < q.modelId ? -1 : p.modelId > q.modelId ? 1 : 0));
  const groups = new Map<string, { promptIds: string[]; members: Set<number>; pairs: [number, number][] }>();
  const sets = sorted.map((m) => new Set(m.promptIds));
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const common = sorted[i].promptIds.filter((id) => sets[j].has(id));
      if (!common.length) continue;
      const key = common.join('\n');
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { promptIds: common, members: new Set(), pairs: [] }));
      g.members.add(i).add(j);
      g.pairs.push([i, j]);
    }
  }
  const results = new Map<string, Omit<Comparison, 'domain' | 'setup'>>();
  for (const g of groups.values()) {
    const members = [...g.members].sort((p, q) => p - q);
    const aligned = members.map((k) => alignScores(sorted[k], g.promptIds));
    const wanted = new Set(g.pairs.map(([i, j]) => `${sorted[i].modelId}\n${sorted[j].modelId}`));
    for (const c of compareAligned(aligned, opts)) if (wanted.has(`${c.a}\n${c.b}`)) results.set(`${c.a}\n${c.b}`, c);
  }
  return [...results.keys()].sort().map((k) => results.get(k)!);
}

/** `m` restricted to `promptIds` (each of which it scored), in that order. */
export function alignScores(m: ModelScores, promptIds: string[]): ModelScores {
  const at = new Map<string, number>();
  m.promptIds.forEach((id, i) => at.set(id, i));
  const rows = promptIds.map((id) => at.get(id)!);
  return {
    modelId: m.modelId,
    promptIds,
    targetEntropy: rows.map((r) => m.targetEntropy[r]),
    crossEntropy: rows.map((r) => m.crossEntropy[r]),
  };
}

export function comparisonsFile(scoresDir: string): string {
  return path.join(scoresDir, 'comparisons.json');
}

/** Reads comparisons.json; null when absent. Throws naming the file when it is not a comparisons file of this version. */
export function readComparisons(file: string): Comparisons | null {
  if (!fs.existsSync(file)) return null;
  const c = readJson<Comparisons>(file);
  if (c?.v !== COMPARISONS_VERSION || !Array.isArray(c.comparisons))
    throw new Error(`${file}: not a comparisons file of version ${COMPARISONS_VERSION}; run the score stage again`);
  return c;
}

/** "a departs 0.31 bits lower than b [0.22, 0.40]" (or higher), for tables. */
export function describeDeparture(c: Pick<Comparison, 'a' | 'b' | 'departureDiff'>, unit: string, digits = 2): string {
  const d = c.departureDiff;
  if (!d) return `no departure difference (${c.a} or ${c.b} never departs from X = Y)`;
  const f = (v: number) => Math.abs(v).toFixed(digits);
  const ci = `[${d.low.toFixed(digits)}, ${d.high.toFixed(digits)}]`;
  if (d.estimate === 0) return `${c.a} and ${c.b} depart at the same point ${ci}`;
  return `${c.a} departs ${f(d.estimate)} ${unit} ${d.estimate < 0 ? 'lower' : 'higher'} than ${c.b} ${ci}`;
}
