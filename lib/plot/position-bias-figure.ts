/**
 * Position bias: the share of each model's valid picks by position in the listed candidates (bins of 10), one bar
 * group per model, against the share an order-blind model gives (lib/score/position-bias.ts); the chi-square p-value
 * is written under each group. The numbers come from data/scores/summary.json (`positionBias`).
 */
import type { DomainName } from '../core/config';
import type { PositionBias } from '../score/position-bias';
import { BASE_LAYOUT, domainTitle, type BuiltFigure } from './figure-common';

const BIN_COLORS = ['#08306B', '#2171B5', '#6BAED6', '#C6DBEF', '#E6EEF6'];

function formatP(p: number): string {
  return p < 0.001 ? `p = ${p.toExponential(1)}` : `p = ${p.toFixed(3)}`;
}

/** The figure, or null when no model has picks to count. `byModel` in display order; null entries are left out. */
export function positionBiasFigure(domain: DomainName, byModel: Record<string, PositionBias | null | undefined>, opts: { width?: number; height?: number } = {}): BuiltFigure | null {
  const models = Object.entries(byModel).filter((e): e is [string, PositionBias] => !!e[1]);
  if (models.length === 0) return null;
  const nBins = Math.max(...models.map(([, b]) => b.bins.length));
  const labels = models.map(([id, b]) => `${id}<br><sub>${formatP(b.pValue)}</sub>`);
  const data: Record<string, unknown>[] = [];
  for (let k = 0; k < nBins; k++) {
    const first = models.find(([, b]) => b.bins[k])![1].bins[k];
    data.push({
      type: 'bar',
      name: `positions ${first.from}–${first.to}`,
      x: labels,
      y: models.map(([, b]) => b.bins[k]?.share ?? null),
      marker: { color: BIN_COLORS[k % BIN_COLORS.length], line: { color: '#555555', width: 0.5 } },
      hovertemplate: `%{x}<br>positions ${first.from}–${first.to}: %{y:.1%} of valid picks<extra></extra>`,
    });
  }
  const expected = models[0][1].bins.map((b) => b.expectedShare);
  const uniform = expected.every((e) => Math.abs(e - expected[0]) < 1e-12);
  const shapes = uniform
    ? [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: expected[0], y1: expected[0], line: { color: '#C00000', dash: 'dash', width: 1.5 } }]
    : [];
  return {
    name: 'position-bias',
    title: `${domainTitle(domain)}: position bias of the picks`,
    figure: {
      data,
      layout: {
        ...BASE_LAYOUT,
        title: { text: `${domainTitle(domain)}: share of valid picks by position in the listed candidates`, x: 0.5, xanchor: 'center', font: { size: 15 } },
        barmode: 'group',
        width: opts.width ?? Math.max(640, 140 * models.length + 200),
        height: opts.height ?? 420,
        yaxis: { title: { text: 'share of valid picks' }, tickformat: '.0%', rangemode: 'tozero' },
        shapes,
        annotations: uniform
          ? [{ xref: 'paper', x: 1, xanchor: 'right', y: expected[0], yanchor: 'bottom', text: `order-blind: ${(expected[0] * 100).toFixed(0)} % each (χ² test, p under each model)`, showarrow: false, font: { size: 11, color: '#C00000' } }]
          : [],
        legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.25 },
        margin: { l: 70, r: 20, t: 60, b: 110 },
      },
    },
    data: { models: models.map(([id, b]) => ({ id, ...b })) },
  };
}
