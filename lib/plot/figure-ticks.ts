/** Axes from the data drawn: each numeric axis's range and round ticks with at least three labels. */

/** A tick label's characters are mostly digits: 0.636 em each in DejaVu Sans, a little more for a '%' or '-'. */
export const DIGIT_EM = 0.66;

export function axisName(kind: 'x' | 'y', i: number): string {
  return i === 0 ? kind : `${kind}${i + 1}`;
}
export function layoutAxisKey(kind: 'x' | 'y', i: number): string {
  return i === 0 ? `${kind}axis` : `${kind}axis${i + 1}`;
}

export interface Ticks {
  tick0: number;
  dtick: number;
  values: number[];
  labels: string[];
  /** d3 format of the labels, for Plotly's `tickformat`. */
  format: string;
  /** The range, widened to the next tick when that gives a third label. */
  range: [number, number];
}

function tickLabel(v: number, decimals: number, percent: boolean): string {
  return percent ? `${(v * 100).toFixed(Math.max(0, decimals - 2))}%` : v.toFixed(decimals);
}

/**
 * Round ticks over [lo, hi] drawn along `lengthPx`: steps of 1, 2, 2.5 or 5 × 10^k, the most (up to 8) whose labels
 * are at most `maxChars` long and stand at least `spacingPx(chars)` apart, and at least three labels (the range may
 * widen to the next tick for the third, by `widen` of its span). When no step satisfies all that, the range may widen
 * by 40 %; failing that, the fewest labels (three or more), then the shortest.
 */
export function niceTicks(
  lo: number,
  hi: number,
  lengthPx: number,
  spacingPx: (chars: number) => number,
  maxChars: number,
  percent = false,
  widen = 0.15,
): Ticks {
  if (!(hi > lo)) throw new Error(`niceTicks: empty range [${lo}, ${hi}]`);
  const candidates: (Ticks & { chars: number; apart: number })[] = [];
  const span = hi - lo;
  const e = Math.floor(Math.log10(span));
  for (let k = e - 3; k <= e + 1; k++) {
    for (const m of [1, 2, 2.5, 5]) {
      const step = m * 10 ** k;
      let first = Math.ceil(lo / step - 1e-9);
      let last = Math.floor(hi / step + 1e-9);
      let range: [number, number] = [lo, hi];
      if (last - first + 1 === 2) {
        if (lo - (first - 1) * step <= widen * span) range = [--first * step, hi];
        else if ((last + 1) * step - hi <= widen * span) range = [lo, ++last * step];
      }
      const count = last - first + 1;
      if (count < 3 || count > 12) continue;
      const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (m === 2.5 ? 1 : 0));
      const values = Array.from({ length: count }, (_, j) => Number(((first + j) * step).toFixed(decimals + 2)));
      const labels = values.map((v) => tickLabel(v, decimals, percent));
      const format = percent ? `.${Math.max(0, decimals - 2)}%` : `.${decimals}f`;
      const chars = Math.max(...labels.map((l) => l.length));
      const apart = (step / (range[1] - range[0])) * lengthPx;
      candidates.push({ tick0: values[0], dtick: step, values, labels, format, range, chars, apart });
    }
  }
  if (candidates.length === 0) throw new Error(`niceTicks: no ticks for [${lo}, ${hi}]`);
  const ok = (c: { values: number[]; chars: number; apart: number }) =>
    c.values.length <= 8 && c.chars <= maxChars && c.apart >= spacingPx(c.chars);
  // A short panel may need a wider range for three well-spaced labels.
  if (!candidates.some(ok) && widen < 0.4) return niceTicks(lo, hi, lengthPx, spacingPx, maxChars, percent, 0.4);
  const pool = candidates.some(ok) ? candidates.filter(ok) : candidates;
  // Most ticks within the limits; beyond them, the fewest and shortest.
  if (pool === candidates) pool.sort((a, b) => a.values.length - b.values.length || a.chars - b.chars);
  else pool.sort((a, b) => b.values.length - a.values.length || a.chars - b.chars);
  const { chars: _chars, apart: _apart, ...best } = pool[0];
  return best;
}

/** [min, max] of the numbers a trace draws on one axis (box fences, bar bases and error bars included). */
function traceExtent(t: Record<string, unknown>, kind: 'x' | 'y'): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  const take = (v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  };
  const list = (v: unknown) => (Array.isArray(v) ? v : []);
  if (t.type === 'box' && kind === 'y') {
    for (const k of ['lowerfence', 'upperfence', 'q1', 'q3', 'median', 'mean']) list(t[k]).forEach(take);
  } else if (t.type === 'bar' && kind === 'y') {
    list(t.y).forEach(take);
    take(0);
  } else if (t.type === 'scatter') {
    const vals = list(t[kind]);
    const err = t[`error_${kind}`] as { array?: unknown; arrayminus?: unknown } | undefined;
    vals.forEach((v, i) => {
      take(v);
      if (err && typeof v === 'number') {
        take(v + Number(list(err.array)[i] ?? 0));
        take(v - Number(list(err.arrayminus ?? err.array)[i] ?? 0));
      }
    });
  }
  return hi >= lo ? [lo, hi] : null;
}

function padRange(r: [number, number], fraction: number, floorAtZero: boolean): [number, number] {
  const span = r[1] - r[0];
  const pad = span > 0 ? span * fraction : Math.max(0.05, Math.abs(r[0]) * 0.05);
  return [floorAtZero && r[0] >= 0 ? Math.max(0, r[0] - pad) : r[0] - pad, r[1] + pad];
}

export interface TickRoom {
  /** Panels drawn (at least one axis pair is set). */
  panels: number;
  sharedY: boolean;
  panelW: number;
  panelH: number;
  fontPx: number;
  yTickChars: number;
  yPercent: boolean;
}

/**
 * Sets every numeric axis's range (kept when the layout already has one) and ticks from what the traces draw; shared
 * y-axes get one range and one set of ticks. Category axes are left alone.
 */
export function applyTicks(lay: Record<string, unknown>, traces: Record<string, unknown>[], room: TickRoom): void {
  const { panelW, panelH, fontPx: f } = room;
  const onAxis = (kind: 'x' | 'y', i: number) =>
    traces.filter((tr) => (tr[`${kind}axis`] ?? kind) === axisName(kind, i) && tr.visible !== false);
  const extentOf = (list: Record<string, unknown>[], kind: 'x' | 'y'): [number, number] | null => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const tr of list) {
      const e = traceExtent(tr, kind);
      if (e) [lo, hi] = [Math.min(lo, e[0]), Math.max(hi, e[1])];
    }
    return hi >= lo ? [lo, hi] : null;
  };
  const panelsDrawn = Math.max(1, room.panels);
  for (let i = 0; i < panelsDrawn; i++) {
    const key = layoutAxisKey('x', i);
    const ax = (lay[key] ??= {}) as Record<string, unknown>;
    if (ax.type === 'category') continue;
    const given = Array.isArray(ax.range) ? (ax.range as [number, number]) : null;
    const extent = given ?? extentOf(onAxis('x', i), 'x');
    if (!extent) continue;
    const range = given ?? padRange(extent, 0.04, false);
    const xt = niceTicks(range[0], range[1], panelW, (c) => (c * DIGIT_EM + 0.9) * f, 4);
    Object.assign(ax, {
      range: xt.range,
      tickmode: 'linear',
      tick0: xt.tick0,
      dtick: xt.dtick,
      tickformat: xt.format,
    });
  }
  const yKeys = Array.from({ length: panelsDrawn }, (_, i) => i);
  const groups = room.sharedY ? [yKeys] : yKeys.map((i) => [i]);
  for (const group of groups) {
    const first = (lay[layoutAxisKey('y', group[0])] ??= {}) as Record<string, unknown>;
    const given = Array.isArray(first.range) ? (first.range as [number, number]) : null;
    const extent =
      given ??
      extentOf(
        group.flatMap((i) => onAxis('y', i)),
        'y',
      );
    if (!extent) continue;
    const range = given ?? padRange(extent, 0.05, true);
    const yt = niceTicks(range[0], range[1], panelH, () => 1.9 * f, room.yTickChars, room.yPercent);
    for (const i of group) {
      const ax = (lay[layoutAxisKey('y', i)] ??= {}) as Record<string, unknown>;
      Object.assign(ax, { tickmode: 'linear', tick0: yt.tick0, dtick: yt.dtick, tickformat: yt.format });
      if (i === group[0] || !room.sharedY) ax.range = yt.range;
    }
  }
}
