/**
 * Figures 8–15: per model and proxy setting, the binned means, the rolling mean, the fit, X=Y, the departure point with
 * its interval, and the turning point where one exists.
 */
import type { DomainName } from '../core/config';
import { type CurveOptions } from '../score/curves';
import { entropyUnit } from '../score/score';
import type { ScoreRecord } from '../core/types';
import { deriveSeed } from '../core/rng';
import { tooFewPromptsNote } from '../score/summary';
import {
  settingLabel,
  domainTitle,
  IDENTITY_LINE,
  type FigureOptions,
  styleOf,
  orderedSettings,
  type CurveData,
  curveOf,
  departureTrace,
  paddedRange,
  emptyNote,
  panelNote,
  type BuiltFigure,
  fileSafe,
} from './figure-common';
import { PX_PER_IN } from './figure-look';
import { axisName, gridLayout, layoutAxisKey } from './figure-grid';

const ROLLING_COLOR = '#333333';

export interface DetailFigureData {
  model: string;
  unit: string;
  curveOptions: CurveOptions;
  /** setting → curve over all its prompts (every history length, the selected setups). */
  curves: Record<string, CurveData>;
}

/** Figures 8–15 for one model: per proxy setting, the binned means, the rolling mean, the fit, X=Y and the turning point. */
export function detailFigure(
  domain: DomainName,
  modelId: string,
  scores: ScoreRecord[],
  opts: FigureOptions,
): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const kept = scores.filter((s) => opts.setups.includes(s.setup));
  // Settings without prompts are left out (their panel would be empty).
  const settings = orderedSettings(
    opts,
    kept.map((s) => s.proxy),
  );
  const st = styleOf(opts, modelId);
  // As many columns as keep a panel at least 1.35 in wide (at most 3), so a column-wide figure gets two.
  const cols = Math.min(
    3,
    Math.max(1, settings.length),
    Math.max(1, Math.floor(opts.look.widthPx / (1.35 * PX_PER_IN))),
  );
  const curves = settings.map((setting) =>
    curveOf(
      kept.filter((s) => s.proxy === setting),
      opts.curve,
      {
        resamples: opts.bootstrap.resamples,
        confidence: opts.bootstrap.confidence,
        seed: deriveSeed(opts.bootstrap.seed, 'bootstrap', modelId, domain, 'setting', setting),
      },
      opts.minCurvePrompts,
    ),
  );
  // In the order the traces are added: Plotly fills the legend rows in that order, and the rows reserved must match.
  const legendNames = [
    IDENTITY_LINE.name,
    `binned mean (${opts.curve.bins} bins)`,
    `rolling mean (window ${opts.curve.window})`,
    `order-${opts.curve.order} fit`,
    'departure point [95% CI]',
    'turning point',
  ];
  // Entries only for marks some panel draws.
  const drawnKinds = [
    curves.length > 0,
    curves.some((c) => c.points.length > 0),
    curves.some((c) => c.rolling.length > 0),
    curves.some((c) => c.fitted.length > 0),
    curves.some((c) => c.departurePoint !== null),
    curves.some((c) => c.turningPoint !== null && c.turningPointY !== null),
  ];
  const grid = gridLayout(opts.look, {
    cols,
    panels: Math.max(1, settings.length),
    panelTitles: settings.map((s) => [
      `${settingLabel(s)} (n = ${kept.filter((r) => r.proxy === s).length})`,
      settingLabel(s),
    ]),
    xTitle: `Target entropy (${unit})`,
    yTitle: `Cross-entropy (${unit})`,
    legendItems: legendNames.filter((_, k) => drawnKinds[k]),
    title: `${modelId}: detailed entropy curves per proxy setting — ${domainTitle(domain)}`,
    xTickChars: 4,
    xCategories: null,
    yTickChars: 3,
    aspect: 0.85,
    sharedY: true,
  });
  const traces: Record<string, unknown>[] = [];
  const annotations = [...grid.annotations];
  const layout: Record<string, unknown> = { ...grid.layout };
  const lw = opts.look.lineScale;
  const markerPx = Math.max(3, grid.fontPx * 0.4);
  const data: DetailFigureData = { model: modelId, unit, curveOptions: { ...opts.curve }, curves: {} };
  const legendShown = new Set<string>();
  const legend = (key: string): boolean => {
    if (legendShown.has(key)) return false;
    legendShown.add(key);
    return true;
  };
  settings.forEach((setting, i) => {
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    const subset = kept.filter((s) => s.proxy === setting);
    const c = curves[i];
    data.curves[setting] = c;
    const xRange = opts.curve.range
      ? paddedRange(opts.curve.range, 0.02)
      : paddedRange(subset.map((s) => s.targetEntropy));
    if (xRange) {
      traces.push({
        type: 'scatter',
        mode: 'lines',
        x: xRange,
        y: xRange,
        xaxis: xa,
        yaxis: ya,
        name: IDENTITY_LINE.name,
        legendgroup: 'identity',
        showlegend: legend('identity'),
        line: { color: IDENTITY_LINE.color, width: IDENTITY_LINE.width * lw },
        hoverinfo: 'skip',
        meta: { role: 'identity', setting },
      });
    }
    traces.push({
      type: 'scatter',
      mode: 'markers',
      x: c.points.map((p) => p.x),
      y: c.points.map((p) => p.y),
      text: c.points.map((p) => `n = ${p.n}`),
      xaxis: xa,
      yaxis: ya,
      // Too few prompts: the prompts themselves, opaque (no curve is drawn over them), outside the binned means' entry.
      ...(c.tooFewPrompts
        ? {
            name: `${settingLabel(setting)} (prompts)`,
            showlegend: false,
            marker: { color: st.color, size: markerPx * 1.5, opacity: 0.9 },
            hovertemplate: `one prompt: target %{x:.3f} ${unit}<br>cross-entropy %{y:.3f}<extra></extra>`,
            meta: { role: 'prompt-points', setting },
          }
        : {
            name: legendNames[1],
            legendgroup: 'points',
            showlegend: legend('points'),
            marker: { color: st.color, size: markerPx, opacity: 0.35 },
            hovertemplate: `bin %{x:.3f} ${unit}<br>mean cross-entropy %{y:.3f}<br>%{text}<extra></extra>`,
            meta: { role: 'points', setting },
          }),
    });
    if (c.tooFewPrompts) annotations.push(panelNote(i, tooFewPromptsNote(c.n)));
    // The rolling mean is drawn dark and solid over the pale binned means and under the coloured fit, so all three read apart.
    if (c.rolling.length) {
      traces.push({
        type: 'scatter',
        mode: 'lines',
        x: c.rolling.map((p) => p.x),
        y: c.rolling.map((p) => p.y),
        xaxis: xa,
        yaxis: ya,
        name: legendNames[2],
        legendgroup: 'rolling',
        showlegend: legend('rolling'),
        line: { color: ROLLING_COLOR, width: 1.5 * Math.max(lw, 0.8) },
        hovertemplate: `rolling mean %{y:.3f} at %{x:.3f} ${unit}<extra></extra>`,
        meta: { role: 'rolling', setting },
      });
    }
    if (c.fitted.length) {
      traces.push({
        type: 'scatter',
        mode: 'lines',
        x: c.fitted.map((p) => p.x),
        y: c.fitted.map((p) => p.y),
        xaxis: xa,
        yaxis: ya,
        name: legendNames[3],
        legendgroup: 'fit',
        showlegend: legend('fit'),
        line: { color: st.color, width: 2.5 * lw, dash: 'dash' },
        hovertemplate: `fit %{y:.3f} at %{x:.3f} ${unit}<extra></extra>`,
        meta: { role: 'fit', setting },
      });
    }
    const dep = departureTrace(
      c,
      { xaxis: xa, yaxis: ya },
      settingLabel(setting),
      st.color,
      unit,
      { setting },
      { name: legendNames[4], legendgroup: 'departure', showlegend: false },
    );
    if (dep) traces.push({ ...dep, showlegend: legend('departure') });
    if (c.turningPoint !== null && c.turningPointY !== null) {
      traces.push({
        type: 'scatter',
        mode: 'markers',
        x: [c.turningPoint],
        y: [c.turningPointY],
        xaxis: xa,
        yaxis: ya,
        name: legendNames[5],
        legendgroup: 'turning',
        showlegend: legend('turning'),
        marker: { symbol: 'diamond', size: markerPx * 2.4, color: st.color, line: { color: '#ffffff', width: 1 } },
        hovertemplate: `turning point %{x:.3f} ${unit}<extra></extra>`,
        meta: { role: 'turning-point', setting },
      });
    }
    layout[layoutAxisKey('x', i)] = { ...grid.xAxis(i), ...(xRange ? { range: xRange } : {}) };
    layout[layoutAxisKey('y', i)] = grid.yAxis(i);
  });
  if (settings.length === 0) {
    layout.xaxis = grid.xAxis(0);
    layout.yaxis = grid.yAxis(0);
    annotations.push(emptyNote(0, 'no prompts'));
  }
  layout.annotations = annotations;
  const legendFigure = grid.finish(layout, traces);
  return {
    legend: legendFigure,
    name: `detail-${fileSafe(modelId)}`,
    title: `${domainTitle(domain)}: ${modelId}, detailed curves per proxy setting`,
    figure: { data: traces, layout },
    look: opts.look,
    data,
  };
}
