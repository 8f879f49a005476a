/**
 * Position bias: the share of each model's valid picks by position in the listed candidates (bins of 10), one bar
 * group per model, against the share an order-blind model gives (lib/score/position-bias.ts); the chi-square p-value
 * is written under each group. The numbers come from data/scores/summary.json (`positionBias`).
 */
import type { DomainName } from '../core/config';
import type { PositionBias } from '../score/position-bias';
import { baseLayout, domainTitle, type BuiltFigure } from './figure-common';
import type { FigureLook } from './figure-look';

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
  const paper = look.style === 'paper';
  const f = look.fontPx;
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
    ? [
        {
          type: 'line',
          xref: 'paper',
          x0: 0,
          x1: 1,
          y0: expected[0],
          y1: expected[0],
          line: { color: '#C00000', dash: 'dash', width: 1.5 },
        },
      ]
    : [];
  return {
    name: 'position-bias',
    title: `${domainTitle(domain)}: position bias of the picks`,
    figure: {
      data,
      layout: {
        ...baseLayout(look),
        // Paper style: the caption belongs to the paper, so no title inside the figure.
        ...(paper
          ? {}
          : {
              title: {
                text: `${domainTitle(domain)}: share of valid picks by position in the listed candidates`,
                x: 0.5,
                xanchor: 'center',
                font: { size: Math.round(f * 1.25) },
              },
            }),
        barmode: 'group',
        width: look.widthPx,
        height: look.heightPx ?? Math.round(look.widthPx * (paper ? 0.62 : 0.35)),
        xaxis: { tickfont: { size: f }, automargin: true },
        yaxis: {
          title: { text: 'share of valid picks', font: { size: f } },
          tickformat: '.0%',
          rangemode: 'tozero',
          tickfont: { size: f },
          automargin: true,
        },
        shapes,
        annotations: uniform
          ? [
              {
                xref: 'paper',
                x: 1,
                xanchor: 'right',
                y: expected[0],
                yanchor: 'bottom',
                text: `order-blind: ${(expected[0] * 100).toFixed(0)} % each`,
                showarrow: false,
                font: { size: Math.max(6, f - 1), color: '#C00000' },
              },
            ]
          : [],
        legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.22, yanchor: 'top', font: { size: f } },
        margin: {
          l: Math.round(f * 5),
          r: Math.round(f),
          t: paper ? Math.round(f * 1.5) : Math.round(f * 4.5),
          b: Math.round(f * 8),
        },
      },
    },
    data: { models: models.map(([id, b]) => ({ id, ...b })) },
  };
}
