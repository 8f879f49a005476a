/**
 * How much the paper's optimistic approximation flatters each model (issue 22): per model and measured method, the
 * paired mean of (measured − optimistic) cross-entropy with its clustered interval, one marker per setup, against 0.
 * Above 0 the optimistic q (the target's values imposed on the ranking) made the model look closer to the group than
 * its own distribution is. The numbers are the score summary's (`setups[s].measured[method].flatters`).
 */
import type { DomainName } from '../core/config';
import type { Setup } from '../core/types';
import { MEASURED_METHODS, type MeasuredMethod } from '../score/measured';
import type { ScoreSummary } from '../score/summary';
import { domainTitle, type BuiltFigure } from './figure-common';
import type { FigureLook } from './figure-look';
import { gridLayout } from './figure-grid';

const SETUP_COLORS: Record<Setup, string> = { A: '#0072B2', B: '#D55E00', C: '#009E73' };
const SETUP_SYMBOLS: Record<Setup, string> = { A: 'circle', B: 'square', C: 'diamond' };

export interface FlatteryRow {
  model: string;
  method: MeasuredMethod;
  setup: Setup;
  prompts: number;
  flatters: number;
  low: number | null;
  high: number | null;
}

/** The rows of the figure, in model, method and setup order; a setup without the method's measurement is left out. */
export function flatteryRows(summary: ScoreSummary | null, domain: DomainName, models: string[]): FlatteryRow[] {
  const rows: FlatteryRow[] = [];
  for (const model of models) {
    const entry = summary?.models?.[model]?.[domain];
    if (!entry) continue;
    for (const method of MEASURED_METHODS)
      for (const setup of ['A', 'B', 'C'] as Setup[]) {
        const m = entry.setups[setup]?.measured?.[method];
        if (!m) continue;
        const f = m.flatters;
        rows.push({ model, method, setup, prompts: m.prompts, flatters: f.estimate, low: f.low, high: f.high });
      }
  }
  return rows;
}

/** The figure, or null when no model's distribution was measured. */
export function flatteryFigure(
  domain: DomainName,
  rows: FlatteryRow[],
  look: FigureLook,
  unit: string,
): BuiltFigure | null {
  if (!rows.length) return null;
  const labelOf = (r: FlatteryRow) => `${r.model}<br><span style="font-size:85%">${r.method}</span>`;
  const labels = [...new Set(rows.map(labelOf))];
  const setups = (['A', 'B', 'C'] as Setup[]).filter((s) => rows.some((r) => r.setup === s));
  const title = `${domainTitle(domain)}: how much the optimistic approximation flatters each model`;
  const grid = gridLayout(look, {
    cols: 1,
    panels: 1,
    panelTitles: [['above 0: the optimistic q looks closer to the group', 'above 0: flattered']],
    xTitle: '',
    yTitle: `measured − optimistic H(p, q) (${unit})`,
    legendItems: setups.map((s) => `setup ${s}`),
    title,
    xTickChars: Math.max(...rows.map((r) => Math.max(r.model.length, r.method.length))),
    xCategories: labels.length,
    xTickLines: 2,
    yTickChars: 5,
    aspect: 0.55,
    sharedY: true,
  });
  const data: Record<string, unknown>[] = setups.map((setup) => {
    const inSetup = rows.filter((r) => r.setup === setup);
    const known = (v: number | null, d: number) => (v === null ? 0 : Math.abs(v - d));
    return {
      type: 'scatter',
      mode: 'markers',
      name: `setup ${setup}`,
      x: inSetup.map(labelOf),
      y: inSetup.map((r) => r.flatters),
      error_y: {
        type: 'data',
        symmetric: false,
        array: inSetup.map((r) => known(r.high, r.flatters)),
        arrayminus: inSetup.map((r) => known(r.low, r.flatters)),
        thickness: 1.5 * look.lineScale,
        width: 4,
        color: SETUP_COLORS[setup],
      },
      marker: { color: SETUP_COLORS[setup], symbol: SETUP_SYMBOLS[setup], size: 8 },
      hovertemplate: `%{x}<br>setup ${setup}: %{y:.3f} ${unit}<extra></extra>`,
    };
  });
  // The intervals set the range (the ticks alone would follow the markers and cut the whiskers).
  const ends = rows.flatMap((r) => [r.flatters, r.low ?? r.flatters, r.high ?? r.flatters, 0]);
  const [lo, hi] = [Math.min(...ends), Math.max(...ends)];
  const pad = Math.max(0.08 * (hi - lo), 0.005);
  const layout: Record<string, unknown> = {
    ...grid.layout,
    scattermode: 'group',
    xaxis: { ...grid.xAxis(0), categoryorder: 'array', categoryarray: labels },
    yaxis: { ...grid.yAxis(0), zeroline: false, range: [lo - pad, hi + pad] },
    shapes: [
      {
        type: 'line',
        xref: 'x domain',
        yref: 'y',
        x0: 0,
        x1: 1,
        y0: 0,
        y1: 0,
        line: { color: '#555555', dash: 'dash', width: 1.2 * look.lineScale },
      },
    ],
    annotations: grid.annotations,
  };
  const legend = grid.finish(layout, data);
  return {
    name: 'flattery',
    title: `${domainTitle(domain)}: the optimistic approximation against the measured distributions`,
    figure: { data, layout },
    look,
    data: { unit, rows },
    legend,
  };
}
