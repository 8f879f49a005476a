/**
 * Figures 2 and 3: the entropy trend, setups A, B, C side by side, one fitted curve per model over the whole data
 * range (one binning range per setup, shared by the models), X=Y, each model's departure point with its interval and
 * its turning point where one exists.
 */
import type { DomainName } from '../core/config';
import { type CurveOptions } from '../score/curves';
import { entropyUnit } from '../score/score';
import type { ScoreRecord, Setup } from '../core/types';
import {
  SETUP_TITLES,
  domainTitle,
  IDENTITY_LINE,
  type FigureOptions,
  styleOf,
  type CurveData,
  curveOf,
  pooledRange,
  trendXRange,
  emptyNote,
  panelNote,
  type BuiltFigure,
  markerIndices,
  valueOnFit,
  clipBand,
} from './figure-common';
import { axisName, gridLayout, layoutAxisKey } from './figure-grid';
import type { BandPoint } from '../score/band';
import { tooFewPromptsNote } from '../score/summary';

/** What the score stage knows about one model × setup beyond the curve: the bootstrap band and the departure point. */
export interface CurveUncertainty {
  band?: BandPoint[];
  /** The departure point with its interval; null when it is undefined for this curve. */
  departure?: { estimate: number; low: number; high: number } | null;
}

/** setup → model → uncertainty. */
export type TrendUncertainty = Partial<Record<Setup, Record<string, CurveUncertainty>>>;

export interface TrendFigureData {
  /** Setups drawn: those asked for that have prompts (a setup without any is absent from every field). */
  drawnSetups: Setup[];
  unit: string;
  curveOptions: CurveOptions;
  /** setup → model → curve (with its bootstrap band and departure point when known) */
  curves: Record<
    string,
    Record<
      string,
      CurveData & {
        band: BandPoint[] | null;
        departure: CurveUncertainty['departure'] | null;
        /** Band points not drawn: too few prompts in their rolling window (FigureOptions.bandMinPrompts). */
        bandDropped: number;
      }
    >
  >;
  xRange: Record<string, [number, number] | null>;
}

const SHORT_SETUP_TITLES: Record<Setup, string> = { A: 'Setup A', B: 'Setup B', C: 'Setup C' };

/** '#RRGGBB' with an alpha, as rgba() (Plotly reads both). */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/**
 * Figures 2/3: one panel per setup with prompts, sharing one y-axis; per model the fitted curve (its own colour, dash
 * and markers), the shaded bootstrap band of the fit, and the departure point with its interval as a horizontal
 * error bar (the turning point when no departure point is given); the X=Y line. Legend entries are grouped by
 * model, so clicking one hides it in every panel.
 */
export function entropyTrendFigure(
  domain: DomainName,
  scoresByModel: Record<string, ScoreRecord[]>,
  opts: FigureOptions,
  uncertainty: TrendUncertainty = {},
): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const models = Object.keys(scoresByModel);
  const data: TrendFigureData = {
    drawnSetups: [],
    unit,
    curveOptions: { ...opts.curve },
    curves: {},
    xRange: {},
  };
  for (const setup of opts.setups) {
    data.curves[setup] = {};
    // One binning range per setup, shared by the models drawn together, so their bins have the same edges.
    const bySetup = models.map((m) => scoresByModel[m].filter((s) => s.setup === setup));
    const range = opts.curve.range ?? pooledRange(bySetup);
    models.forEach((model, k) => {
      if (!bySetup[k].length) return;
      const u = uncertainty[setup]?.[model];
      const c = curveOf(bySetup[k], { ...opts.curve, range }, undefined, opts.minCurvePrompts);
      // Too few prompts: no band or departure either, whatever was computed for them.
      const band = u?.band && !c.tooFewPrompts ? clipBand(u.band, c, opts.curve.bins, opts.bandMinPrompts) : null;
      data.curves[setup][model] = {
        ...c,
        band: band?.band ?? null,
        departure: c.tooFewPrompts ? null : (u?.departure ?? null),
        bandDropped: band?.dropped ?? 0,
      };
    });
    const xRange = trendXRange(Object.values(data.curves[setup]), opts);
    if (xRange && Object.keys(data.curves[setup]).length) {
      data.xRange[setup] = xRange;
      data.drawnSetups.push(setup);
    } else delete data.curves[setup];
  }
  // Panels without prompts are left out; with none at all, one empty panel says so.
  const drawn = data.drawnSetups.length ? data.drawnSetups : [opts.setups[0] ?? 'A'];
  // The key is listed only when some marker is drawn: a point on its fitted curve.
  const anyDeparture = drawn.some((setup) =>
    Object.values(data.curves[setup] ?? {}).some((c) => {
      const x = c.departure?.estimate ?? c.turningPoint;
      return c.fitted.length > 0 && x !== null && valueOnFit(c.fitted, x) !== null;
    }),
  );
  const legendItems = [IDENTITY_LINE.name, ...models, ...(anyDeparture ? [DEPARTURE_KEY] : [])];
  const grid = gridLayout(opts.look, {
    rows: 1,
    cols: drawn.length,
    panels: drawn.length,
    panelTitles: drawn.map((s) => [SETUP_TITLES[s], SHORT_SETUP_TITLES[s]]),
    xTitle: `Target entropy (${unit})`,
    yTitle: `Cross-entropy (${unit})`,
    legendItems,
    title: `${domainTitle(domain)}: entropy trend by setup`,
    xTickChars: 4,
    xCategories: null,
    yTickChars: 3,
    aspect: 1.1,
    sharedY: true,
  });
  const traces: Record<string, unknown>[] = [];
  const annotations = [...grid.annotations];
  const layout: Record<string, unknown> = { ...grid.layout };
  const lw = opts.look.lineScale;
  const markerPx = Math.max(3.5, grid.fontPx * 0.55 * lw * 1.2);
  const shownInLegend = new Set<string>();
  const firstInLegend = (key: string): boolean => {
    const first = !shownInLegend.has(key);
    shownInLegend.add(key);
    return first;
  };
  drawn.forEach((setup, i) => {
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    const xRange = data.xRange[setup];
    if (xRange) {
      traces.push({
        type: 'scatter',
        mode: 'lines',
        x: [xRange[0], xRange[1]],
        y: [xRange[0], xRange[1]],
        xaxis: xa,
        yaxis: ya,
        name: IDENTITY_LINE.name,
        legendgroup: 'identity',
        showlegend: firstInLegend('identity'),
        line: { color: IDENTITY_LINE.color, width: IDENTITY_LINE.width * lw },
        hoverinfo: 'skip',
        meta: { role: 'identity', setup },
      });
    }
    models.forEach((model, modelIndex) => {
      const c = data.curves[setup]?.[model];
      if (!c) return;
      const st = styleOf(opts, model);
      if (c.band && c.band.length > 1) {
        traces.push({
          type: 'scatter',
          mode: 'lines',
          x: [...c.band.map((p) => p.x), ...c.band.map((p) => p.x).reverse()],
          y: [...c.band.map((p) => p.high), ...c.band.map((p) => p.low).reverse()],
          xaxis: xa,
          yaxis: ya,
          fill: 'toself',
          fillcolor: withAlpha(st.color, 0.16),
          line: { width: 0 },
          name: `${model} bootstrap band`,
          legendgroup: model,
          showlegend: false,
          hoverinfo: 'skip',
          meta: { role: 'band', model, setup },
        });
      }
      if (opts.showPoints) {
        traces.push({
          type: 'scatter',
          mode: 'markers',
          x: c.points.map((p) => p.x),
          y: c.points.map((p) => p.y),
          xaxis: xa,
          yaxis: ya,
          name: `${model} (binned means)`,
          legendgroup: model,
          showlegend: false,
          marker: { color: st.color, size: 4, opacity: 0.35 },
          hovertemplate: `${model}<br>bin %{x:.3f} ${unit}<br>mean cross-entropy %{y:.3f}<extra></extra>`,
          meta: { role: 'points', model, setup },
        });
      }
      if (c.tooFewPrompts) {
        traces.push({
          type: 'scatter',
          mode: 'markers',
          x: c.points.map((p) => p.x),
          y: c.points.map((p) => p.y),
          xaxis: xa,
          yaxis: ya,
          name: `${model} (prompts)`,
          legendgroup: model,
          showlegend: false,
          marker: { symbol: st.symbol, color: st.color, size: markerPx },
          hovertemplate: `${model} (${setup}), one prompt<br>target %{x:.3f} ${unit}<br>cross-entropy %{y:.3f} ${unit}<extra></extra>`,
          meta: { role: 'prompt-points', model, setup },
        });
      }
      if (c.fitted.length === 0 && !c.tooFewPrompts) return;
      if (c.fitted.length) {
        // The curve, its sparse markers, and (once) a legend entry showing line and marker together: Plotly sizes a
        // legend marker from the trace's sizes, which for the sparse markers would be tiny or huge.
        traces.push({
          type: 'scatter',
          mode: 'lines',
          x: c.fitted.map((p) => p.x),
          y: c.fitted.map((p) => p.y),
          xaxis: xa,
          yaxis: ya,
          name: model,
          legendgroup: model,
          showlegend: false,
          line: { color: st.color, dash: st.dash, width: st.width * lw },
          hovertemplate: `${model} (${setup})<br>target %{x:.3f} ${unit}<br>fit %{y:.3f} ${unit}<extra></extra>`,
          meta: { role: 'fit', model, setup },
        });
        const marks = markerIndices(c.fitted.length, modelIndex);
        traces.push({
          type: 'scatter',
          mode: 'markers',
          x: marks.map((k) => c.fitted[k].x),
          y: marks.map((k) => c.fitted[k].y),
          xaxis: xa,
          yaxis: ya,
          name: `${model} markers`,
          legendgroup: model,
          showlegend: false,
          marker: { symbol: st.symbol, color: st.color, size: markerPx },
          hoverinfo: 'skip',
          meta: { role: 'fit-markers', model, setup },
        });
      }
      if (firstInLegend(model)) {
        traces.push({
          type: 'scatter',
          mode: 'lines+markers',
          x: [null],
          y: [null],
          xaxis: xa,
          yaxis: ya,
          name: model,
          legendgroup: model,
          showlegend: true,
          line: { color: st.color, dash: st.dash, width: st.width * lw },
          marker: { symbol: st.symbol, color: st.color, size: markerPx },
          hoverinfo: 'skip',
          meta: { role: 'legend-key', model },
        });
      }
      const point =
        c.departure ??
        (c.turningPoint !== null ? { estimate: c.turningPoint, low: c.turningPoint, high: c.turningPoint } : null);
      const y = point ? valueOnFit(c.fitted, point.estimate) : null;
      if (point && y !== null) {
        traces.push({
          type: 'scatter',
          mode: 'markers',
          x: [point.estimate],
          y: [y],
          xaxis: xa,
          yaxis: ya,
          name: `${model} ${c.departure ? 'departure' : 'turning'} point`,
          legendgroup: model,
          showlegend: false,
          marker: { symbol: st.symbol, size: markerPx * 1.6, color: st.color, line: { color: '#ffffff', width: 1 } },
          error_x: {
            type: 'data',
            symmetric: false,
            array: [point.high - point.estimate],
            arrayminus: [point.estimate - point.low],
            color: st.color,
            thickness: 1.2 * lw,
            width: 3 * lw,
          },
          hovertemplate: `${model} (${setup}) ${c.departure ? 'departure' : 'turning'} point<br>%{x:.3f} ${unit} [${point.low.toFixed(3)}, ${point.high.toFixed(3)}]<extra></extra>`,
          meta: { role: 'departure', model, setup },
        });
      }
    });
    const few = [
      ...new Set(
        Object.values(data.curves[setup] ?? {})
          .filter((c) => c.tooFewPrompts)
          .map((c) => c.n),
      ),
    ].sort((a, b) => a - b);
    if (few.length) annotations.push(panelNote(i, tooFewPromptsNote(few.join(', '))));
    layout[layoutAxisKey('x', i)] = { ...grid.xAxis(i), ...(xRange ? { range: xRange } : {}) };
    layout[layoutAxisKey('y', i)] = grid.yAxis(i);
  });
  if (data.drawnSetups.length === 0) annotations.push(emptyNote(0, 'no prompts in any setup'));
  // A legend key for the departure markers; its data are empty so nothing is drawn.
  if (anyDeparture) {
    traces.push({
      type: 'scatter',
      mode: 'markers',
      x: [null],
      y: [null],
      name: DEPARTURE_KEY,
      marker: { symbol: 'circle', size: markerPx * 1.6, color: '#555555' },
      error_x: { type: 'data', array: [0], color: '#555555' },
      hoverinfo: 'skip',
      meta: { role: 'legend-key' },
    });
  }
  layout.annotations = annotations;
  const legend = grid.finish(layout, traces);
  return {
    name: 'entropy-trend',
    title: `${domainTitle(domain)}: entropy trend by setup`,
    figure: { data: traces, layout },
    look: opts.look,
    data,
    legend,
  };
}

const DEPARTURE_KEY = 'departure point (interval)';
