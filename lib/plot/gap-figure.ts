/**
 * The gap profile, the primary result (lib/score/gap.ts): per setup, each model's mean gap H(p, q) − H(p) on bins of
 * equal prompt counts against target entropy, its pointwise band shaded and its simultaneous band dotted, the zero
 * line (the model follows X = Y) and the threshold `curves.departureGap`; bins of the departure region have filled
 * markers, the others open ones. The numbers are the score stage's (summary.json); nothing is recomputed here.
 */
import type { DomainName } from '../core/config';
import type { Setup } from '../core/types';
import type { DepartureRegion, ProfileBin } from '../score/gap';
import { type BuiltFigure, type FigureOptions, SETUP_TITLES, domainTitle, styleOf } from './figure-common';
import { axisName, gridLayout, layoutAxisKey } from './figure-grid';
import { withAlpha } from './trend-figure';

/** What the figure draws of one model × setup. */
export interface GapProfile {
  prompts: number;
  profile: ProfileBin[];
  region: DepartureRegion;
}

/** setup → model → profile. */
export type GapProfiles = Partial<Record<Setup, Record<string, GapProfile>>>;

export interface GapFigureData {
  unit: string;
  threshold: number;
  confidence: number;
  drawnSetups: Setup[];
  profiles: GapProfiles;
}

const SHORT_SETUP_TITLES: Record<Setup, string> = { A: 'Setup A', B: 'Setup B', C: 'Setup C' };
const THRESHOLD_KEY = 'departure threshold';
const POINTWISE_KEY = 'pointwise band (shaded)';
const SIMULTANEOUS_KEY = 'simultaneous band (dotted)';
const REGION_KEY = 'filled: bin in the departure region';

function inRegion(b: ProfileBin, region: DepartureRegion): boolean {
  return region.ranges.some(([lo, hi]) => b.lo >= lo - 1e-12 && b.hi <= hi + 1e-12);
}

function openSymbol(symbol: string): string {
  return symbol.endsWith('-open') ? symbol : `${symbol}-open`;
}

/** The figure, or null when no model has a profile in any setup (nothing scored, or too few prompts for one bin). */
export function gapProfileFigure(
  domain: DomainName,
  profiles: GapProfiles,
  opts: FigureOptions,
  stats: { threshold: number; confidence: number; unit: string },
): BuiltFigure | null {
  const models = Object.keys(opts.styles).filter((m) =>
    opts.setups.some((s) => (profiles[s]?.[m]?.profile.length ?? 0) > 0),
  );
  const drawn = opts.setups.filter((s) => models.some((m) => (profiles[s]?.[m]?.profile.length ?? 0) > 0));
  if (!drawn.length) return null;
  const pct = Math.round(stats.confidence * 100);
  const has = (pred: (p: GapProfile) => boolean) =>
    drawn.some((s) => models.some((m) => profiles[s]?.[m] && pred(profiles[s]![m])));
  const anyPointwise = has((p) => p.profile.some((b) => b.low !== null));
  const anySimultaneous = has((p) => p.profile.some((b) => b.simLow !== null));
  const anyRegion = has((p) => p.region.ranges.length > 0);
  const legendItems = [
    ...models,
    THRESHOLD_KEY,
    ...(anyPointwise ? [POINTWISE_KEY] : []),
    ...(anySimultaneous ? [SIMULTANEOUS_KEY] : []),
    ...(anyRegion ? [REGION_KEY] : []),
  ];
  const title = `${domainTitle(domain)}: gap to X = Y by target entropy (${pct} % bands)`;
  const grid = gridLayout(opts.look, {
    rows: 1,
    cols: drawn.length,
    panels: drawn.length,
    panelTitles: drawn.map((s) => [SETUP_TITLES[s], SHORT_SETUP_TITLES[s]]),
    xTitle: `Target entropy (${stats.unit})`,
    yTitle: `Gap H(p, q) − H(p) (${stats.unit})`,
    legendItems,
    title,
    xTickChars: 4,
    xCategories: null,
    yTickChars: 5,
    aspect: 1.1,
    sharedY: true,
  });
  const lw = opts.look.lineScale;
  const markerPx = Math.max(3.5, grid.fontPx * 0.55 * lw * 1.2);
  const traces: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = { ...grid.layout };
  const shown = new Set<string>();
  const first = (key: string): boolean => {
    const isFirst = !shown.has(key);
    shown.add(key);
    return isFirst;
  };
  drawn.forEach((setup, i) => {
    const xa = axisName('x', i);
    const ya = axisName('y', i);
    const xs = models.flatMap((m) => (profiles[setup]?.[m]?.profile ?? []).flatMap((b) => [b.lo, b.hi]));
    const xRange: [number, number] = [Math.min(...xs), Math.max(...xs)];
    for (const [y, key, dash, color] of [
      [0, 'zero', 'solid', '#9A9A9A'],
      [stats.threshold, THRESHOLD_KEY, 'dash', '#555555'],
    ] as const) {
      traces.push({
        type: 'scatter',
        mode: 'lines',
        x: xRange,
        y: [y, y],
        xaxis: xa,
        yaxis: ya,
        name: key === 'zero' ? 'no gap (X = Y)' : `${THRESHOLD_KEY} ${stats.threshold} ${stats.unit}`,
        legendgroup: key,
        showlegend: key !== 'zero' && first(key),
        line: { color, dash, width: lw },
        hoverinfo: 'skip',
        meta: { role: key === 'zero' ? 'zero' : 'threshold', setup },
      });
    }
    for (const model of models) {
      const p = profiles[setup]?.[model];
      if (!p || !p.profile.length) continue;
      const st = styleOf(opts, model);
      const bins = p.profile;
      const withBand = bins.filter((b) => b.low !== null && b.high !== null);
      if (withBand.length > 1) {
        traces.push({
          type: 'scatter',
          mode: 'lines',
          x: [...withBand.map((b) => b.x), ...withBand.map((b) => b.x).reverse()],
          y: [...withBand.map((b) => b.high), ...withBand.map((b) => b.low).reverse()],
          xaxis: xa,
          yaxis: ya,
          fill: 'toself',
          fillcolor: withAlpha(st.color, 0.16),
          line: { width: 0 },
          name: `${model} pointwise band`,
          legendgroup: model,
          showlegend: false,
          hoverinfo: 'skip',
          meta: { role: 'pointwise-band', model, setup },
        });
      }
      const sim = bins.filter((b) => b.simLow !== null && b.simHigh !== null);
      for (const side of ['simLow', 'simHigh'] as const) {
        if (sim.length < 2) break;
        traces.push({
          type: 'scatter',
          mode: 'lines',
          x: sim.map((b) => b.x),
          y: sim.map((b) => b[side]),
          xaxis: xa,
          yaxis: ya,
          name: `${model} simultaneous band`,
          legendgroup: model,
          showlegend: false,
          line: { color: st.color, dash: 'dot', width: 0.8 * lw },
          hoverinfo: 'skip',
          meta: { role: 'simultaneous-band', model, setup },
        });
      }
      traces.push({
        type: 'scatter',
        mode: 'lines+markers',
        x: bins.map((b) => b.x),
        y: bins.map((b) => b.gap),
        customdata: bins.map((b) => [b.prompts, b.clusters, b.low, b.high]),
        xaxis: xa,
        yaxis: ya,
        name: model,
        legendgroup: model,
        showlegend: false,
        line: { color: st.color, dash: st.dash, width: st.width * lw },
        // A bin of the departure region (its simultaneous lower edge clears the threshold) has a filled marker.
        marker: {
          symbol: bins.map((b) => (inRegion(b, p.region) ? st.symbol : openSymbol(st.symbol))),
          color: st.color,
          size: markerPx,
        },
        hovertemplate:
          `${model} (${setup})<br>target %{x:.3f} ${stats.unit}<br>mean gap %{y:.3f} ` +
          `[%{customdata[2]:.3f}, %{customdata[3]:.3f}]<br>%{customdata[0]} prompts, %{customdata[1]} draws<extra></extra>`,
        meta: { role: 'profile', model, setup },
      });
      // The legend shows the model's own (filled) marker, whatever its first bin's.
      if (first(model))
        traces.push({
          type: 'scatter',
          mode: 'lines+markers',
          x: [null],
          y: [null],
          xaxis: xa,
          yaxis: ya,
          name: model,
          legendgroup: model,
          line: { color: st.color, dash: st.dash, width: st.width * lw },
          marker: { symbol: st.symbol, color: st.color, size: markerPx },
          hoverinfo: 'skip',
          meta: { role: 'legend-key', model },
        });
    }
    layout[layoutAxisKey('x', i)] = { ...grid.xAxis(i), range: xRange };
    layout[layoutAxisKey('y', i)] = grid.yAxis(i);
  });
  // Legend keys for the band styles and the region: empty data, so nothing is drawn; only for marks drawn.
  const key = (name: string, extra: Record<string, unknown>) =>
    traces.push({
      type: 'scatter',
      x: [null],
      y: [null],
      name,
      hoverinfo: 'skip',
      meta: { role: 'legend-key' },
      ...extra,
    });
  if (anyPointwise) key(POINTWISE_KEY, { mode: 'lines', line: { color: 'rgba(90,90,90,0.35)', width: 8 * lw } });
  if (anySimultaneous) key(SIMULTANEOUS_KEY, { mode: 'lines', line: { color: '#555555', dash: 'dot', width: lw } });
  if (anyRegion) key(REGION_KEY, { mode: 'markers', marker: { symbol: 'circle', color: '#555555', size: markerPx } });
  layout.annotations = [...grid.annotations];
  const legend = grid.finish(layout, traces);
  const data: GapFigureData = {
    unit: stats.unit,
    threshold: stats.threshold,
    confidence: stats.confidence,
    drawnSetups: drawn,
    profiles: Object.fromEntries(
      drawn.map((s) => [
        s,
        Object.fromEntries(models.filter((m) => profiles[s]?.[m]).map((m) => [m, profiles[s]![m]])),
      ]),
    ),
  };
  return { name: 'gap-profile', title, figure: { data: traces, layout }, look: opts.look, data, legend };
}
