/**
 * The percentile bootstrap band of a fitted entropy curve: prompts are resampled with replacement (seeded), each
 * resample's curve is fitted with the same options and the same binning range as the full data, and at every x of
 * the full fit's grid the band spans the (1 − confidence)/2 and (1 + confidence)/2 quantiles of the resampled fits.
 * A resampled fit counts at x only inside its own fit range: outside it a polynomial is an extrapolation.
 */
import { type CurveOptions, entropyCurve, polyval, quantileSorted } from './curves';
import { makeRng, randomInt } from '../core/rng';

export interface BandPoint {
  x: number;
  low: number;
  high: number;
}

export function bootstrapFitBand(
  targetEntropy: number[],
  crossEntropy: number[],
  opts: CurveOptions & { resamples: number; confidence: number; seed: string | number },
): BandPoint[] {
  if (!(Number.isInteger(opts.resamples) && opts.resamples >= 1)) throw new RangeError(`band: resamples must be a whole number >= 1, got ${opts.resamples}`);
  if (!(opts.confidence > 0 && opts.confidence < 1)) throw new RangeError(`band: confidence must be in (0, 1), got ${opts.confidence}`);
  const full = entropyCurve(targetEntropy, crossEntropy, opts);
  if (full.fitted.length < 2) return [];
  const fixed: CurveOptions = { bins: opts.bins, window: opts.window, order: opts.order, range: full.range };
  const n = targetEntropy.length;
  const rng = makeRng(opts.seed);
  const valuesAt: number[][] = full.fitted.map(() => []);
  const xs = new Array<number>(n);
  const ys = new Array<number>(n);
  for (let r = 0; r < opts.resamples; r++) {
    for (let i = 0; i < n; i++) {
      const j = randomInt(rng, n);
      xs[i] = targetEntropy[j];
      ys[i] = crossEntropy[j];
    }
    const c = entropyCurve(xs, ys, fixed);
    if (!c.fitRange) continue;
    const [a, b] = c.fitRange;
    full.fitted.forEach((p, k) => {
      if (p.x >= a && p.x <= b) valuesAt[k].push(polyval(c.coefficients, p.x));
    });
  }
  const alpha = (1 - opts.confidence) / 2;
  const band: BandPoint[] = [];
  full.fitted.forEach((p, k) => {
    const v = valuesAt[k].sort((u, w) => u - w);
    // Fewer than half the resamples reaching x would make a band narrower than the uncertainty there.
    if (v.length * 2 < opts.resamples) return;
    band.push({ x: p.x, low: quantileSorted(v, alpha), high: quantileSorted(v, 1 - alpha) });
  });
  return band;
}
