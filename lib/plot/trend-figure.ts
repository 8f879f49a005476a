/**
 * Figures 2 and 3: the entropy trend, setups A, B, C side by side, one fitted curve per model over the whole data
 * range (one binning range per setup, shared by the models), X=Y, each model's departure point with its interval and
 * its turning point where one exists.
 */
import type { DomainName } from '../core/config';
import { type CurveOptions } from '../score/curves';
import { entropyUnit } from '../score/score';
import type { ScoreRecord, Setup } from '../core/types';
import { deriveSeed } from '../core/rng';
import { SETUP_TITLES, domainTitle, IDENTITY_LINE, type FigureOptions, styleOf, type CurveData, curveOf, departureTrace, pooledRange, trendXRange, columnDomains, axisName, layoutAxisKey, subplotTitle, emptyNote, BASE_LAYOUT, axisStyle, type BuiltFigure } from './figure-common';

export interface TrendFigureData {
  setups: Setup[];
  unit: string;
  curveOptions: CurveOptions;
  /** setup → model → curve */
  curves: Record<string, Record<string, CurveData>>;
  xRange: Record<string, [number, number] | null>;
}

/**
 * Figures 2/3: one subplot per setup, one fitted curve per model, the X=Y line, and each model's turning point
 * (a diamond on its curve). Legend entries are grouped by model, so clicking one hides it in every subplot.
 */
export function entropyTrendFigure(domain: DomainName, scoresByModel: Record<string, ScoreRecord[]>, opts: FigureOptions): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const models = Object.keys(scoresByModel);
  const setups = opts.setups;
  const domains = columnDomains(setups.length, 0.06);
  const traces: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = {
    ...BASE_LAYOUT,
    title: { text: `${domainTitle(domain)}: entropy trend (order-${opts.curve.order} fit to the rolling mean of ${opts.curve.bins} bins, window ${opts.curve.window})`, x: 0.5, xanchor: 'center', font: { size: 15 } },
    width: opts.width,
    height: opts.height,
    margin: { l: 60, r: 20, t: 80, b: 110 },
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -0.22, yanchor: 'top' },
    showlegend: true,
  };
  const data: TrendFigureData = { setups: [...setups], unit, curveOptions: { ...opts.curve }, curves: {}, xRange: {} };
  const shownInLegend = new Set<string>();
  setups.forEach((setup, i) => {
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    data.curves[setup] = {};
    const bySetup = models.map((m) => scoresByModel[m].filter((s) => s.setup === setup));
    const range = opts.curve.range ?? pooledRange(bySetup);
    models.forEach((model, k) => {
      const boot = { resamples: opts.bootstrap.resamples, confidence: opts.bootstrap.confidence, seed: deriveSeed(opts.bootstrap.seed, 'bootstrap', model, domain, setup) };
      if (bySetup[k].length) data.curves[setup][model] = curveOf(bySetup[k], { ...opts.curve, range }, boot);
    });
    const xRange = trendXRange(Object.values(data.curves[setup]), opts);
    data.xRange[setup] = xRange;
    if (xRange) {
      traces.push({
        type: 'scatter', mode: 'lines', x: [xRange[0], xRange[1]], y: [xRange[0], xRange[1]], xaxis: xa, yaxis: ya,
        name: IDENTITY_LINE.name, legendgroup: 'identity', showlegend: !shownInLegend.has('identity'),
        line: { color: IDENTITY_LINE.color, width: IDENTITY_LINE.width }, hoverinfo: 'skip', meta: { role: 'identity', setup },
      });
      shownInLegend.add('identity');
    }
    for (const model of models) {
      const c = data.curves[setup][model];
      if (!c) continue;
      const st = styleOf(opts, model);
      if (opts.showPoints) {
        traces.push({
          type: 'scatter', mode: 'markers', x: c.points.map((p) => p.x), y: c.points.map((p) => p.y), xaxis: xa, yaxis: ya,
          name: `${model} (binned means)`, legendgroup: model, showlegend: false, marker: { color: st.color, size: 4, opacity: 0.35 },
          hovertemplate: `${model}<br>bin %{x:.3f} ${unit}<br>mean cross-entropy %{y:.3f}<extra></extra>`, meta: { role: 'points', model, setup },
        });
      }
      if (c.fitted.length === 0) continue;
      traces.push({
        type: 'scatter', mode: 'lines', x: c.fitted.map((p) => p.x), y: c.fitted.map((p) => p.y), xaxis: xa, yaxis: ya,
        name: model, legendgroup: model, showlegend: !shownInLegend.has(model),
        line: { color: st.color, dash: st.dash, width: st.width },
        hovertemplate: `${model} (${setup})<br>target %{x:.3f} ${unit}<br>fit %{y:.3f} ${unit}<extra></extra>`,
        meta: { role: 'fit', model, setup },
      });
      shownInLegend.add(model);
      const dep = departureTrace(c, { xaxis: xa, yaxis: ya }, `${model} (${setup})`, st.color, unit, { model, setup }, { name: `${model} departure point`, legendgroup: model, showlegend: false });
      if (dep) traces.push(dep);
      if (c.turningPoint !== null && c.turningPointY !== null) {
        traces.push({
          type: 'scatter', mode: 'markers', x: [c.turningPoint], y: [c.turningPointY], xaxis: xa, yaxis: ya,
          name: `${model} turning point`, legendgroup: model, showlegend: false,
          marker: { symbol: 'diamond', size: 11, color: st.color, line: { color: '#ffffff', width: 1.5 } },
          hovertemplate: `${model} (${setup}) turning point<br>%{x:.3f} ${unit}<extra></extra>`,
          meta: { role: 'turning-point', model, setup },
        });
      }
    }
    if (!xRange || Object.keys(data.curves[setup]).length === 0) annotations.push(emptyNote(i, `no prompts in setup ${setup}`));
    layout[layoutAxisKey('x', i)] = { ...axisStyle(`Target entropy (${unit})`), domain: domains[i], anchor: ya, ...(xRange ? { range: xRange } : {}) };
    layout[layoutAxisKey('y', i)] = { ...axisStyle(i === 0 ? `Cross-entropy (${unit})` : ''), anchor: xa };
    annotations.push(subplotTitle(SETUP_TITLES[setup], domains[i], 1.0));
  });
  // Legend keys for the markers; their data are empty so nothing is drawn.
  if (traces.some((t) => (t.meta as { role?: string }).role === 'departure-point')) {
    traces.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name: 'departure point [95% CI]', marker: { symbol: 'triangle-up', size: 11, color: '#555555' }, hoverinfo: 'skip', meta: { role: 'legend-key' } });
  }
  if (traces.some((t) => (t.meta as { role?: string }).role === 'turning-point')) {
    traces.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name: 'turning point', marker: { symbol: 'diamond', size: 11, color: '#555555' }, hoverinfo: 'skip', meta: { role: 'legend-key' } });
  }
  layout.annotations = annotations;
  return {
    name: 'entropy-trend',
    title: `${domainTitle(domain)}: entropy trend by setup`,
    figure: { data: traces, layout },
    data,
  };
}
