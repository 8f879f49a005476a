/**
 * Figures 8–15: per model and proxy setting, the binned means, the rolling mean, the fit, X=Y, the departure point with
 * its interval, and the turning point where one exists.
 */
import type { DomainName } from '../core/config';
import { type CurveOptions } from '../score/curves';
import { entropyUnit } from '../score/score';
import type { ScoreRecord } from '../core/types';
import { deriveSeed } from '../core/rng';
import { settingLabel, domainTitle, IDENTITY_LINE, type FigureOptions, styleOf, orderedSettings, type CurveData, curveOf, departureTrace, paddedRange, columnDomains, axisName, layoutAxisKey, subplotTitle, emptyNote, BASE_LAYOUT, axisStyle, type BuiltFigure, fileSafe } from './figure-common';

export interface DetailFigureData {
  model: string;
  unit: string;
  curveOptions: CurveOptions;
  /** setting → curve over all its prompts (every history length, the selected setups). */
  curves: Record<string, CurveData>;
}

/** Figures 8–15 for one model: per proxy setting, the binned means, the rolling mean, the fit, X=Y and the turning point. */
export function detailFigure(domain: DomainName, modelId: string, scores: ScoreRecord[], opts: FigureOptions): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const kept = scores.filter((s) => opts.setups.includes(s.setup));
  const settings = orderedSettings(opts, kept.map((s) => s.proxy));
  const cols = Math.min(3, Math.max(1, settings.length));
  const rows = Math.max(1, Math.ceil(settings.length / cols));
  const st = styleOf(opts, modelId);
  const xDomains = columnDomains(cols, 0.07);
  const rowGap = rows > 1 ? 0.14 / (rows - 1) : 0;
  const rowHeight = (1 - rowGap * (rows - 1)) / rows;
  const traces: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  const rowPx = Math.round(opts.height * 1.1);
  const layout: Record<string, unknown> = {
    ...BASE_LAYOUT,
    title: { text: `${modelId}: detailed entropy curves per proxy setting — ${domainTitle(domain)}`, x: 0.5, xanchor: 'center', font: { size: 15 } },
    width: opts.width,
    height: rows * rowPx + 60,
    margin: { l: 60, r: 20, t: 80, b: 100 },
    legend: { orientation: 'h', x: 0.5, xanchor: 'center', y: -60 / (rows * rowPx), yanchor: 'top' },
  };
  const data: DetailFigureData = { model: modelId, unit, curveOptions: { ...opts.curve }, curves: {} };
  const legendShown = new Set<string>();
  const legend = (key: string): boolean => {
    if (legendShown.has(key)) return false;
    legendShown.add(key);
    return true;
  };
  settings.forEach((setting, i) => {
    const r = Math.floor(i / cols);
    const col = i % cols;
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    const yTop = 1 - r * (rowHeight + rowGap);
    const yDomain: [number, number] = [Math.max(0, yTop - rowHeight), yTop];
    const subset = kept.filter((s) => s.proxy === setting);
    const c = curveOf(subset, opts.curve, { resamples: opts.bootstrap.resamples, confidence: opts.bootstrap.confidence, seed: deriveSeed(opts.bootstrap.seed, 'bootstrap', modelId, domain, 'setting', setting) });
    data.curves[setting] = c;
    const xRange = opts.curve.range ? paddedRange(opts.curve.range, 0.02) : paddedRange(subset.map((s) => s.targetEntropy));
    if (xRange) {
      traces.push({ type: 'scatter', mode: 'lines', x: xRange, y: xRange, xaxis: xa, yaxis: ya, name: IDENTITY_LINE.name, legendgroup: 'identity', showlegend: legend('identity'), line: { color: IDENTITY_LINE.color, width: IDENTITY_LINE.width }, hoverinfo: 'skip', meta: { role: 'identity', setting } });
    }
    traces.push({
      type: 'scatter', mode: 'markers', x: c.points.map((p) => p.x), y: c.points.map((p) => p.y), text: c.points.map((p) => `n = ${p.n}`), xaxis: xa, yaxis: ya,
      name: `binned mean (${opts.curve.bins} bins)`, legendgroup: 'points', showlegend: legend('points'), marker: { color: st.color, size: 5, opacity: 0.45 },
      hovertemplate: `bin %{x:.3f} ${unit}<br>mean cross-entropy %{y:.3f}<br>%{text}<extra></extra>`, meta: { role: 'points', setting },
    });
    if (c.rolling.length) {
      traces.push({
        type: 'scatter', mode: 'lines', x: c.rolling.map((p) => p.x), y: c.rolling.map((p) => p.y), xaxis: xa, yaxis: ya,
        name: `rolling mean (window ${c.window})`, legendgroup: 'rolling', showlegend: legend('rolling'), line: { color: st.color, width: 1.2, dash: 'dot' },
        hovertemplate: `rolling mean %{y:.3f} at %{x:.3f} ${unit}<extra></extra>`, meta: { role: 'rolling', setting },
      });
    }
    if (c.fitted.length) {
      traces.push({
        type: 'scatter', mode: 'lines', x: c.fitted.map((p) => p.x), y: c.fitted.map((p) => p.y), xaxis: xa, yaxis: ya,
        name: `order-${opts.curve.order} fit`, legendgroup: 'fit', showlegend: legend('fit'), line: { color: st.color, width: 3 },
        hovertemplate: `fit %{y:.3f} at %{x:.3f} ${unit}<extra></extra>`, meta: { role: 'fit', setting },
      });
    }
    const dep = departureTrace(c, { xaxis: xa, yaxis: ya }, settingLabel(setting), st.color, unit, { setting }, { name: 'departure point [95% CI]', legendgroup: 'departure', showlegend: false });
    if (dep) traces.push({ ...dep, showlegend: legend('departure') });
    if (c.turningPoint !== null && c.turningPointY !== null) {
      traces.push({
        type: 'scatter', mode: 'markers', x: [c.turningPoint], y: [c.turningPointY], xaxis: xa, yaxis: ya,
        name: 'turning point', legendgroup: 'turning', showlegend: legend('turning'), marker: { symbol: 'diamond', size: 11, color: st.color, line: { color: '#ffffff', width: 1.5 } },
        hovertemplate: `turning point %{x:.3f} ${unit}<extra></extra>`, meta: { role: 'turning-point', setting },
      });
    }
    const label = `${settingLabel(setting)} (n = ${c.n})`;
    annotations.push(subplotTitle(label, xDomains[col], yDomain[1]));
    if (c.n === 0) annotations.push(emptyNote(i, 'no prompts'));
    layout[layoutAxisKey('x', i)] = { ...axisStyle(r === rows - 1 || i + cols >= settings.length ? `Target entropy (${unit})` : ''), domain: xDomains[col], anchor: ya, ...(xRange ? { range: xRange } : {}) };
    layout[layoutAxisKey('y', i)] = { ...axisStyle(col === 0 ? `Cross-entropy (${unit})` : ''), domain: yDomain, anchor: xa };
  });
  if (settings.length === 0) {
    layout.xaxis = axisStyle(`Target entropy (${unit})`);
    layout.yaxis = axisStyle(`Cross-entropy (${unit})`);
    annotations.push({ text: 'no prompts', xref: 'paper', yref: 'paper', x: 0.5, y: 0.5, showarrow: false });
  }
  layout.annotations = annotations;
  return {
    name: `detail-${fileSafe(modelId)}`,
    title: `${domainTitle(domain)}: ${modelId}, detailed curves per proxy setting`,
    figure: { data: traces, layout },
    data,
  };
}
