/**
 * One style per model (colour, dash, marker), fixed by the model's place in the configuration, so a model looks the
 * same in every figure; oracle and random in fixed styles, a method entry in its model's colour.
 */
import type { Config } from '../core/config';
import { methodEntryOf } from '../score/method-entries';
import type { MeasuredMethod } from '../score/measured';

export type MarkerSymbol =
  'circle' | 'square' | 'diamond' | 'triangle-up' | 'triangle-down' | 'cross' | 'x' | 'star' | 'pentagon' | 'hexagon';

export interface ModelStyle {
  color: string;
  dash: 'solid' | 'dot' | 'dash' | 'longdash' | 'dashdot' | 'longdashdot';
  width: number;
  /** Marker drawn at a few points of the curve, so that curves stay apart in greyscale and where they coincide. */
  symbol: MarkerSymbol;
  /** 'oracle' and 'random' are drawn in fixed, recognisable styles. */
  kind: 'oracle' | 'random' | 'model';
}

/** The dash of a method entry's curve (its colour is its model's). */
const METHOD_DASHES: Record<MeasuredMethod, ModelStyle['dash']> = {
  samples: 'dot',
  stated: 'dash',
  logprobs: 'dashdot',
};

/** Okabe–Ito (colour-blind safe, without its yellow) followed by a few tab10 colours; grey and black are reserved. */
export const MODEL_PALETTE = [
  '#0072B2',
  '#D55E00',
  '#009E73',
  '#CC79A7',
  '#E69F00',
  '#56B4E9',
  '#8C564B',
  '#9467BD',
  '#17BECF',
  '#BCBD22',
];
/** Dash and marker cycles of coprime-ish lengths against the palette, so no two of the first models share either. */
export const MODEL_DASHES: ModelStyle['dash'][] = ['solid', 'dashdot', 'longdash', 'longdashdot', 'dash', 'dot'];
export const MODEL_SYMBOLS: MarkerSymbol[] = [
  'circle',
  'square',
  'diamond',
  'triangle-up',
  'triangle-down',
  'pentagon',
  'hexagon',
  'cross',
];
export const ORACLE_STYLE: ModelStyle = { color: '#000000', dash: 'dash', width: 2, symbol: 'star', kind: 'oracle' };
export const RANDOM_STYLE: ModelStyle = { color: '#7F7F7F', dash: 'dot', width: 2.5, symbol: 'x', kind: 'random' };

function baselineKind(config: Config | null, id: string): 'oracle' | 'random' | 'model' {
  const m = config?.query.models.find((x) => x.id === id);
  const kind = m && m.provider === 'baseline' ? m.model : id;
  return kind === 'oracle' ? 'oracle' : kind === 'random' ? 'random' : 'model';
}

/**
 * One style per model id, fixed by the model's position in `config.query.models` (ids not in the config follow in
 * sorted order), so a model keeps its colour, dash and marker in every figure whichever subset is plotted.
 */
export function modelStyles(config: Config | null, extraIds: string[] = []): Record<string, ModelStyle> {
  const configured = config ? config.query.models.map((m) => m.id) : [];
  const extra = [...new Set(extraIds.filter((id) => !configured.includes(id)))].sort();
  const out: Record<string, ModelStyle> = {};
  let k = 0;
  const all = [...configured, ...extra];
  // A method entry ("<model>@<method>") of a listed model is drawn in its model's colour with its method's dash.
  const entries = all.filter((id) => all.includes(methodEntryOf(id)?.model ?? ''));
  for (const id of all) {
    if (entries.includes(id)) continue;
    const kind = baselineKind(config, id);
    if (kind === 'oracle') out[id] = { ...ORACLE_STYLE };
    else if (kind === 'random') out[id] = { ...RANDOM_STYLE };
    else {
      out[id] = {
        color: MODEL_PALETTE[k % MODEL_PALETTE.length],
        dash: MODEL_DASHES[k % MODEL_DASHES.length],
        width: 2,
        symbol: MODEL_SYMBOLS[k % MODEL_SYMBOLS.length],
        kind,
      };
      k++;
    }
  }
  for (const id of entries) {
    const { model, method } = methodEntryOf(id)!;
    out[id] = { ...out[model], kind: 'model', dash: METHOD_DASHES[method] };
  }
  return out;
}
