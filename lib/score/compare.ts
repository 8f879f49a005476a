/**
 * Paired comparisons between models scored on the same prompts: the difference (a − b) in mean gap and in gap slope,
 * per prompt (d_i = gap_a,i − gap_b,i), with cluster-robust intervals and p-values (lib/score/gap.ts: the draw is the
 * unit), so what the two models share (which prompts are hard) cancels out of the difference. p-values are Holm-adjusted
 * within a family: the comparisons the user named (config `comparisons`) are one family, all other pairs another.
 * Written by the score stage to data/scores/comparisons.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJson } from '../core/io';
import type { DomainName } from '../core/config';
import type { Setup } from '../core/types';
import { clusterIndex, clusteredMean, clusteredSlope, type Estimate } from './gap';

export const COMPARISONS_VERSION = 2;

export interface Difference extends Estimate {
  /** The p-value after Holm's adjustment over the comparisons of its family (domain, named or exploratory). */
  pHolm: number | null;
}

export interface Comparison {
  domain: DomainName;
  setup: Setup;
  a: string;
  b: string;
  /** `named`: listed in config `comparisons`; `exploratory`: every other pair. */
  family: 'named' | 'exploratory';
  /** Prompts scored by both models (the pairs compared), and the clusters they come from. */
  prompts: number;
  clusters: number;
  meanGapDiff: Difference | null;
  slopeDiff: Difference | null;
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

export interface CompareOptions {
  confidence: number;
  /** The resampling unit of a prompt (default: the prompt itself). */
  clusterOf?: (promptId: string) => string;
  /** Pairs the user named ([a, b] in either order). */
  named?: [string, string][];
}

const withHolm = (e: Estimate): Difference => ({ ...e, pHolm: null });

/**
 * Paired comparisons of every pair (models[i], models[j]), i < j, of models scored on exactly the same prompts in the
 * same order (`models[k].targetEntropy` equal for all k).
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
  const clusterOf = opts.clusterOf ?? ((id: string) => id);
  const cl = clusterIndex(models[0]?.promptIds.map(clusterOf) ?? []);
  const x = models[0]?.targetEntropy ?? [];
  const named = (a: string, b: string) =>
    (opts.named ?? []).some(([p, q]) => (p === a && q === b) || (p === b && q === a));
  const out: Omit<Comparison, 'domain' | 'setup'>[] = [];
  for (let i = 0; i < models.length; i++) {
    for (let j = i + 1; j < models.length; j++) {
      const d = x.map((h, k) => models[i].crossEntropy[k] - models[j].crossEntropy[k]);
      out.push({
        a: models[i].modelId,
        b: models[j].modelId,
        family: named(models[i].modelId, models[j].modelId) ? 'named' : 'exploratory',
        prompts: n,
        clusters: cl.G,
        meanGapDiff: n ? withHolm(clusteredMean(d, cl, opts.confidence)) : null,
        slopeDiff: n >= 3 ? withHolm(clusteredSlope(x, d, cl, opts.confidence)) : null,
      });
    }
  }
  return out;
}

/**
 * Every pair of the given models (ids ascending: a < b) on the prompts both scored, in the order of the first model.
 */
export function comparePairs(models: ModelScores[], opts: CompareOptions): Omit<Comparison, 'domain' | 'setup'>[] {
  const sorted = models.slice().sort((p, q) => (p.modelId < q.modelId ? -1 : p.modelId > q.modelId ? 1 : 0));
  const sets = sorted.map((m) => new Set(m.promptIds));
  const out: Omit<Comparison, 'domain' | 'setup'>[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const common = sorted[i].promptIds.filter((id) => sets[j].has(id));
      if (!common.length) continue;
      out.push(...compareAligned([alignScores(sorted[i], common), alignScores(sorted[j], common)], opts));
    }
  }
  return out;
}

/**
 * Holm's step-down adjustment: the k-th smallest of m p-values is multiplied by (m − k + 1), and the adjusted values
 * are made monotone; it controls the family-wise error rate under any dependence between the tests.
 */
export function holm(pValues: (number | null)[]): (number | null)[] {
  const present = pValues.map((p, i) => ({ p, i })).filter((e): e is { p: number; i: number } => e.p !== null);
  present.sort((a, b) => a.p - b.p || a.i - b.i);
  const m = present.length;
  const out: (number | null)[] = pValues.map(() => null);
  let running = 0;
  present.forEach((e, k) => {
    running = Math.max(running, Math.min(1, (m - k) * e.p));
    out[e.i] = running;
  });
  return out;
}

/** Holm-adjusts the comparisons in place, one family per (domain, named or exploratory), over both statistics. */
export function adjustComparisons(comparisons: Comparison[]): void {
  const families = new Map<string, Difference[]>();
  for (const c of comparisons) {
    const key = `${c.domain}\n${c.family}`;
    const list = families.get(key) ?? [];
    for (const d of [c.meanGapDiff, c.slopeDiff]) if (d) list.push(d);
    families.set(key, list);
  }
  for (const list of families.values()) {
    const adjusted = holm(list.map((d) => d.p));
    list.forEach((d, k) => (d.pHolm = adjusted[k]));
  }
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

/** A p-value for tables: 3 decimals, or exponent form below 0.001 ("4.2e-5"). */
export function formatPValue(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

/** "a − b: −0.052 [−0.071, −0.033], Holm p 0.001" for tables ("–" without an interval). */
export function describeDifference(d: Difference | null, digits = 3): string {
  if (!d) return '–';
  const f = (v: number) => v.toFixed(digits);
  if (d.low === null || d.high === null) return f(d.estimate);
  const p = d.pHolm ?? d.p;
  const pText = p === null ? '' : `, ${d.pHolm !== null ? 'Holm ' : ''}p ${formatPValue(p)}`;
  return `${f(d.estimate)} [${f(d.low)}, ${f(d.high)}]${pText}`;
}
