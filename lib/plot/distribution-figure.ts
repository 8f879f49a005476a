/** Figures 4–7: per model, box plots of cross-entropy beside target entropy, by proxy setting and by history length. */
import type { DomainName } from '../core/config';
import { quantileSorted } from '../score/curves';
import { entropyUnit } from '../score/score';
import type { ScoreRecord } from '../core/types';
import {
  settingLabel,
  domainTitle,
  type FigureOptions,
  styleOf,
  orderedSettings,
  axisName,
  emptyNote,
  type BuiltFigure,
  fileSafe,
} from './figure-common';
import { gridLayout, layoutAxisKey } from './figure-grid';

export interface BoxStats {
  n: number;
  /** Values left out because they are not finite. */
  excluded: number;
  min: number;
  q1: number;
  median: number;
  q3: number;
  max: number;
  mean: number;
  /** Tukey whiskers: the most extreme values within 1.5 IQR of the box. */
  lowerFence: number;
  upperFence: number;
}

/** Quartiles by linear interpolation between order statistics (numpy's default), Tukey whiskers. Null for no data. */
export function boxStats(values: number[]): BoxStats | null {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return null;
  const q1 = quantileSorted(finite, 0.25);
  const q3 = quantileSorted(finite, 0.75);
  const iqr = q3 - q1;
  const lowLimit = q1 - 1.5 * iqr;
  const highLimit = q3 + 1.5 * iqr;
  let lowerFence = q1;
  let upperFence = q3;
  for (const v of finite)
    if (v >= lowLimit) {
      lowerFence = Math.min(v, q1);
      break;
    }
  for (let i = finite.length - 1; i >= 0; i--)
    if (finite[i] <= highLimit) {
      upperFence = Math.max(finite[i], q3);
      break;
    }
  let sum = 0;
  for (const v of finite) sum += v;
  return {
    n: finite.length,
    excluded: values.length - finite.length,
    min: finite[0],
    q1,
    median: quantileSorted(finite, 0.5),
    q3,
    max: finite[finite.length - 1],
    mean: sum / finite.length,
    lowerFence,
    upperFence,
  };
}

export interface DistributionGroup {
  /** Category label on the axis. */
  label: string;
  setting: string | null;
  historyLength: number | null;
  crossEntropy: BoxStats;
  targetEntropy: BoxStats;
}

export interface ProxyHistoryData {
  model: string;
  unit: string;
  byProxy: DistributionGroup[];
  byHistory: DistributionGroup[];
}

function groupOf(
  label: string,
  setting: string | null,
  historyLength: number | null,
  scores: ScoreRecord[],
): DistributionGroup | null {
  const ce = boxStats(scores.map((s) => s.crossEntropy));
  const te = boxStats(scores.map((s) => s.targetEntropy));
  return ce && te ? { label, setting, historyLength, crossEntropy: ce, targetEntropy: te } : null;
}

/** Target-entropy boxes: unfilled slate outlines, so they never look like any model's filled boxes (grey random, black oracle). */
export const TARGET_BOX_COLOR = '#3B4A5A';

function boxTrace(
  groups: DistributionGroup[],
  which: 'crossEntropy' | 'targetEntropy',
  name: string,
  color: string,
  axis: number,
  showlegend: boolean,
  unit: string,
): Record<string, unknown> {
  const fill = which === 'targetEntropy' ? '#FFFFFF' : `${color}40`;
  const stat = (k: keyof BoxStats) => groups.map((g) => g[which][k]);
  return {
    type: 'box',
    name,
    x: groups.map((g) => g.label),
    xaxis: axisName('x', axis),
    yaxis: axisName('y', axis),
    q1: stat('q1'),
    median: stat('median'),
    q3: stat('q3'),
    lowerfence: stat('lowerFence'),
    upperfence: stat('upperFence'),
    mean: stat('mean'),
    boxpoints: false,
    marker: { color },
    line: { color, width: 1.5 },
    fillcolor: fill,
    legendgroup: which,
    showlegend,
    offsetgroup: which,
    text: groups.map((g) => `n = ${g[which].n}`),
    hovertemplate: `%{x}<br>${which === 'crossEntropy' ? 'cross-entropy' : 'target entropy'} (${unit})<br>%{text}<extra></extra>`,
    meta: { role: which, categories: groups.map((g) => g.label) },
  };
}

/**
 * Figures 4–7 for one model: box plots of cross-entropy (model colour) beside target entropy (slate outline)
 * — left, per proxy setting, with "(Def)" = history length 0 (setup C) broken down by setting;
 * — right, per history length, with "(Def)" = every h = 0 prompt pooled (no history, any proxy).
 * Boxes are drawn from precomputed quartiles (boxStats) so the figure carries summary numbers, not every prompt.
 */
export function proxyHistoryFigure(
  domain: DomainName,
  modelId: string,
  scores: ScoreRecord[],
  opts: FigureOptions,
): BuiltFigure {
  const unit = entropyUnit(opts.logBase);
  const kept = scores.filter((s) => opts.setups.includes(s.setup));
  const byProxy: DistributionGroup[] = [];
  for (const setting of orderedSettings(
    opts,
    kept.map((s) => s.proxy),
  )) {
    const inSetting = kept.filter((s) => s.proxy === setting);
    const def = groupOf(
      `${settingLabel(setting)} (Def)`,
      setting,
      0,
      inSetting.filter((s) => s.historyLength === 0),
    );
    const hist = groupOf(
      settingLabel(setting),
      setting,
      null,
      inSetting.filter((s) => s.historyLength > 0),
    );
    if (def) byProxy.push(def);
    if (hist) byProxy.push(hist);
  }
  const byHistory: DistributionGroup[] = [];
  for (const h of [...new Set(kept.map((s) => s.historyLength))].sort((a, b) => a - b)) {
    const g = groupOf(
      h === 0 ? '(Def)' : String(h),
      null,
      h,
      kept.filter((s) => s.historyLength === h),
    );
    if (g) byHistory.push(g);
  }
  const st = styleOf(opts, modelId);
  // Panels without prompts are left out; with none at all, one empty panel says so.
  const panels = [
    { groups: byProxy, titles: ['Proxy setting ((Def) = no history)', 'Proxy setting'] },
    { groups: byHistory, titles: ['History length ((Def) = 0)', 'History length'] },
  ].filter((p) => p.groups.length > 0);
  const drawn = panels.length ? panels : [{ groups: [] as DistributionGroup[], titles: ['no prompts'] }];
  const categories = Math.max(1, ...drawn.map((p) => p.groups.length));
  // Side by side unless a category slot would be narrower than a (rotated) label's line: then stacked.
  const sideBySide =
    drawn.length === 1 || (opts.look.widthPx - 6 * opts.look.fontPx) / 2 / categories >= 1.7 * opts.look.fontPx;
  const grid = gridLayout(opts.look, {
    rows: sideBySide ? 1 : drawn.length,
    cols: sideBySide ? drawn.length : 1,
    panels: drawn.length,
    panelTitles: drawn.map((p) => p.titles),
    xTitle: '',
    yTitle: `Entropy (${unit})`,
    legendItems: panels.length ? [`cross-entropy (${modelId})`, 'target entropy'] : [],
    title: `${modelId}: cross-entropy by proxy setting and history length — ${domainTitle(domain)}`,
    xTickChars: drawn.map((p) => Math.max(1, ...p.groups.map((g) => g.label.length))),
    xCategories: drawn.map((p) => Math.max(1, p.groups.length)),
    yTickChars: 3,
    aspect: sideBySide ? 0.9 : 0.5,
    sharedY: true,
  });
  const traces: Record<string, unknown>[] = [];
  const layout: Record<string, unknown> = { ...grid.layout, boxmode: 'group' };
  const annotations = [...grid.annotations];
  drawn.forEach((p, i) => {
    traces.push(boxTrace(p.groups, 'crossEntropy', `cross-entropy (${modelId})`, st.color, i, i === 0, unit));
    traces.push(boxTrace(p.groups, 'targetEntropy', 'target entropy', TARGET_BOX_COLOR, i, i === 0, unit));
    layout[layoutAxisKey('x', i)] = grid.xAxis(i);
    layout[layoutAxisKey('y', i)] = grid.yAxis(i);
  });
  if (panels.length === 0) annotations.push(emptyNote(0, 'no prompts'));
  layout.annotations = annotations;
  const legend = grid.finish(layout, traces);
  return {
    legend,
    name: `proxy-history-${fileSafe(modelId)}`,
    title: `${domainTitle(domain)}: ${modelId}, cross-entropy by proxy and history`,
    figure: { data: traces, layout },
    look: opts.look,
    data: { model: modelId, unit, byProxy, byHistory } satisfies ProxyHistoryData,
  };
}
