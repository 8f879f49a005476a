/**
 * Position bias: the share of each model's valid picks by position in the listed candidates (bins of 10), one bar
 * group per model, against the share an order-blind model gives (lib/score/position-bias.ts); the chi-square p-value
 * is written under each group. The numbers come from data/scores/summary.json (`positionBias`).
 */
import type { DomainName } from '../core/config';
import type { PositionBias } from '../score/position-bias';
import { domainTitle, type BuiltFigure } from './figure-common';
import type { FigureLook } from './figure-look';
import { gridLayout } from './figure-grid';

const BIN_COLORS = ['#08306B', '#2171B5', '#6BAED6', '#C6DBEF', '#E6EEF6'];

function formatP(p: number): string {
  return p < 0.001 ? `p = ${p.toExponential(1)}` : `p = ${p.toFixed(3)}`;
}

/** The figure, or null when no model has picks to count. `byModel` in display order; null entries are left out. */
export function positionBiasFigure(
  domain: DomainName,
  byModel: Record<string, PositionBias | null | undefined>,
  look: FigureLook,
): BuiltFigure | null {
  const models = Object.entries(byModel).filter((e): e is [string, PositionBias] => !!e[1]);
  if (models.length === 0) return null;
  const nBins = Math.max(...models.map(([, b]) => b.bins.length));
  // The model on the first line of its label, its p-value on the second (smaller).
  const labels = models.map(([id, b]) => `${id}<br><span style="font-size:85%">${formatP(b.pValue)}</span>`);
  const binNames = Array.from({ length: nBins }, (_, k) => {
    const first = models.find(([, b]) => b.bins[k])![1].bins[k];
    return `positions ${first.from}–${first.to}`;
  });
  const expected = models[0][1].bins.map((b) => b.expectedShare);
  const uniform = expected.every((e) => Math.abs(e - expected[0]) < 1e-12);
  const pct = `${(expected[0] * 100).toFixed(0)} %`;
  const title = `${domainTitle(domain)}: share of valid picks by position in the listed candidates`;
  const grid = gridLayout(look, {
    cols: 1,
    panels: 1,
    // Above the panel, where it never sits on a bar.
    panelTitles: uniform ? [[`dashed line: order-blind, ${pct} each`, `order-blind: ${pct}`]] : null,
    xTitle: '',
    yTitle: 'share of valid picks',
    legendItems: binNames,
    title,
    xTickChars: Math.max(...models.map(([id, b]) => Math.max(id.length, formatP(b.pValue).length))),
    xCategories: models.length,
    xTickLines: 2,
    yTickChars: 3,
    yPercent: true,
    aspect: 0.55,
    sharedY: true,
  });
  const data: Record<string, unknown>[] = binNames.map((name, k) => ({
    type: 'bar',
    name,
    x: labels,
    y: models.map(([, b]) => b.bins[k]?.share ?? null),
    marker: { color: BIN_COLORS[k % BIN_COLORS.length], line: { color: '#555555', width: 0.5 } },
    hovertemplate: `%{x}<br>${name}: %{y:.1%} of valid picks<extra></extra>`,
  }));
  const layout: Record<string, unknown> = {
    ...grid.layout,
    barmode: 'group',
    xaxis: grid.xAxis(0),
    yaxis: grid.yAxis(0),
    // The order-blind share as a dashed line, named in the panel's title.
    shapes: uniform
      ? [
          {
            type: 'line',
            xref: 'x domain',
            yref: 'y',
            x0: 0,
            x1: 1,
            y0: expected[0],
            y1: expected[0],
            line: { color: '#C00000', dash: 'dash', width: 1.5 * look.lineScale },
          },
        ]
      : [],
    annotations: grid.annotations,
  };
  const legend = grid.finish(layout, data);
  return {
    name: 'position-bias',
    title: `${domainTitle(domain)}: position bias of the picks`,
    figure: { data, layout },
    look,
    data: { models: models.map(([id, b]) => ({ id, ...b })) },
    legend,
  };
}
