/**
 * The percentile bootstrap band of a fitted entropy curve: prompts are resampled with replacement (seeded), each
 * resample's curve is fitted with the same options and the same binning range as the full data, and at every x of
 * the full fit's grid the band spans the (1 − confidence)/2 and (1 + confidence)/2 quantiles of the resampled fits.
 * A resampled fit counts at x only inside its own fit range: outside it a polynomial is an extrapolation.
 */
import {
  type BootstrapOptions,
  type CurveOptions,
  entropyCurve,
  evalPolynomial,
  fixedBinning,
  forEachResample,
  quantileSorted,
  resampledFit,
} from './curves';

export interface BandPoint {
  x: number;
  low: number;
  high: number;
}

export function bootstrapFitBand(
  targetEntropy: number[],
  crossEntropy: number[],
  opts: CurveOptions & BootstrapOptions,
): BandPoint[] {
  const full = entropyCurve(targetEntropy, crossEntropy, opts);
  if (full.fitted.length < 2) return [];
  // The same binning range and edge rule as the full fit; no departure point is needed for a band.
  const fixed: CurveOptions = {
    bins: opts.bins,
    window: opts.window,
    order: opts.order,
    range: full.range,
    edges: opts.edges,
  };
  const valuesAt: number[][] = full.fitted.map(() => []);
  const binning = fixedBinning(targetEntropy, opts.bins, full.range);
  forEachResample(targetEntropy.length, opts, (idx) => {
    const fit = resampledFit(binning, crossEntropy, idx, fixed);
    if (!fit) return;
    const [a, b] = fit.fitRange;
    full.fitted.forEach((p, k) => {
      if (p.x >= a && p.x <= b) valuesAt[k].push(evalPolynomial(fit.polynomial, p.x));
    });
  });
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
