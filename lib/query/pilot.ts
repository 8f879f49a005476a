/**
 * The pilot: ask only the first N prompts of every (setting, history length) cell — the prompts the full run asks
 * first, so their answers are stored and never paid again — and estimate the full run's cost from what they measured.
 *
 * The estimate is stratified by cell, since input length grows with the history and output can differ by setting:
 * total = Σ_c M_c · mean_c, with M_c the prompts still to send in cell c and mean_c the measured mean cost per answer
 * there. Its 95 % interval uses the within-cell variance pooled over cells, s², so
 * Var(total) = s² · Σ_c M_c² / n_c, and Student's t with Σ_c (n_c − 1) degrees of freedom. A cell nobody measured
 * takes the mean of all measured answers (and its share of the variance with n = all measured answers).
 */
import type { ModelConfig } from '../core/config';
import type { SampleRecord, Usage } from '../core/types';
import { costUsd } from './llm';
import type { PromptJob } from './models';

/** What a pilot run asked (in the run summary when `limit` was given). */
export interface PilotSummary {
  limit: number;
  /** (setting, history length) cells, and the prompts of the pilot among all the domain's prompts. */
  cells: number;
  prompts: number;
  ofPrompts: number;
}

/** The pilot's stratum of a prompt: its setting (proxy) and history length. */
export function cellOf(sample: Pick<SampleRecord, 'proxy' | 'history'>): string {
  return `${sample.proxy} × h=${sample.history.length}`;
}

/** The first `limit` items of each cell, in their original (sample) order. */
export function pilotSelection<T>(
  items: readonly T[],
  sampleOf: (item: T) => Pick<SampleRecord, 'proxy' | 'history'>,
  limit: number,
): T[] {
  if (!(Number.isInteger(limit) && limit >= 1))
    throw new Error(`the pilot's limit must be a whole number >= 1, got ${limit}`);
  const taken = new Map<string, number>();
  return items.filter((item) => {
    const cell = cellOf(sampleOf(item));
    const n = taken.get(cell) ?? 0;
    if (n >= limit) return false;
    taken.set(cell, n + 1);
    return true;
  });
}

// ---------- Student's t quantile (for the interval) ----------

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the regularized incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

function regularizedBeta(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2)
    ? (front * betaContinuedFraction(a, b, x)) / a
    : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * regularizedBeta(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom (bisection on the CDF; p in (0.5, 1)). */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0.5 && p < 1) || !(df > 0))
    throw new RangeError(`studentTQuantile needs 0.5 < p < 1 and df > 0, got p=${p}, df=${df}`);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ---------- the estimate ----------

export interface MeasuredAnswer {
  cell: string;
  usage: Usage;
}

/** The measured usage of every request that has a stored answer, with its cell. */
export function measuredAnswers(
  requests: Iterable<[string, { job: PromptJob }]>,
  usageOf: (key: string) => Usage | undefined,
): MeasuredAnswer[] {
  const out: MeasuredAnswer[] = [];
  for (const [key, { job }] of requests) {
    const usage = usageOf(key);
    if (usage) out.push({ cell: cellOf(job.sample), usage });
  }
  return out;
}

export interface PilotEstimate {
  /** Answers measured (stored answers to this domain's prompts), and the cells they cover. */
  answers: number;
  cells: number;
  /** Cells with prompts to send but no measured answer (priced at the overall mean). */
  unmeasuredCells: number;
  meanInputTokens: number;
  meanOutputTokens: number;
  meanReasoningTokens: number;
  /** Prompts still to send. */
  prompts: number;
  costUsd: number;
  /** 95 % interval of costUsd; null when the measured answers give no variance (fewer answers than cells + 1). */
  lowUsd: number | null;
  highUsd: number | null;
  degreesOfFreedom: number;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Estimates what sending the `toSend` cells' prompts costs at `model`'s prices from `measured` answers (at least one). */
export function estimateFromPilot(
  model: Pick<ModelConfig, 'inputPricePerMTok' | 'outputPricePerMTok'>,
  measured: MeasuredAnswer[],
  toSend: string[],
  confidence = 0.95,
): PilotEstimate {
  if (!measured.length) throw new Error('estimateFromPilot needs at least one measured answer');
  const byCell = new Map<string, number[]>();
  for (const m of measured) {
    const costs = byCell.get(m.cell) ?? [];
    costs.push(costUsd(model, m.usage));
    byCell.set(m.cell, costs);
  }
  const allCosts = measured.map((m) => costUsd(model, m.usage));
  const overall = mean(allCosts);
  const remaining = new Map<string, number>();
  for (const c of toSend) remaining.set(c, (remaining.get(c) ?? 0) + 1);

  let total = 0;
  let varianceFactor = 0;
  let unmeasuredCells = 0;
  for (const [cell, M] of remaining) {
    const costs = byCell.get(cell);
    if (costs) {
      total += M * mean(costs);
      varianceFactor += (M * M) / costs.length;
    } else {
      unmeasuredCells++;
      total += M * overall;
      varianceFactor += (M * M) / allCosts.length;
    }
  }
  let ss = 0;
  let df = 0;
  for (const costs of byCell.values()) {
    const m = mean(costs);
    ss += costs.reduce((s, x) => s + (x - m) ** 2, 0);
    df += costs.length - 1;
  }
  let lowUsd: number | null = null;
  let highUsd: number | null = null;
  if (df > 0) {
    const half = studentTQuantile(0.5 + confidence / 2, df) * Math.sqrt((ss / df) * varianceFactor);
    lowUsd = Math.max(0, total - half);
    highUsd = total + half;
  }
  return {
    answers: measured.length,
    cells: byCell.size,
    unmeasuredCells,
    meanInputTokens: mean(measured.map((m) => m.usage.inputTokens)),
    meanOutputTokens: mean(measured.map((m) => m.usage.outputTokens)),
    meanReasoningTokens: mean(measured.map((m) => m.usage.reasoningTokens ?? 0)),
    prompts: toSend.length,
    costUsd: total,
    lowUsd,
    highUsd,
    degreesOfFreedom: df,
  };
}
