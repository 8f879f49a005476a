import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapFitBand } from '../lib/score/band';
import { entropyCurve } from '../lib/score/curves';
import { makeRng } from '../lib/core/rng';

const CURVE = { bins: 40, window: 5, order: 2, range: null };

function noisy(n: number, seed: number): { x: number[]; y: number[] } {
  const rng = makeRng(seed);
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const xi = 2 + 3 * rng();
    // Box–Muller noise of sd 0.5 around (x − 3)² + 3.
    const z = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    x.push(xi);
    y.push((xi - 3) ** 2 + 3 + 0.5 * z);
  }
  return { x, y };
}

function meanWidth(band: { low: number; high: number }[]): number {
  return band.reduce((s, p) => s + (p.high - p.low), 0) / band.length;
}

// Bins report their centre and the mean y of their prompts, so only a flat line survives resampling exactly.
test('band: noise-free flat data give a band of zero width on that line (every resample fits the same line)', () => {
  const x = Array.from({ length: 400 }, (_, i) => 1 + (3 * i) / 399);
  const y = x.map(() => 3.25);
  const band = bootstrapFitBand(x, y, { ...CURVE, order: 1, resamples: 30, confidence: 0.9, seed: 1 });
  assert.ok(band.length > 100, `${band.length} band points`);
  for (const p of band) {
    assert.ok(Math.abs(p.low - 3.25) < 1e-9 && Math.abs(p.high - 3.25) < 1e-9, JSON.stringify(p));
  }
});

test('band: holds the full-data fit, narrows as 1/sqrt(n), widens with the confidence, and is reproducible from its seed', () => {
  const small = noisy(500, 3);
  const large = noisy(2000, 4);
  const opts = { ...CURVE, resamples: 200, confidence: 0.9, seed: 'band-test' };
  const bSmall = bootstrapFitBand(small.x, small.y, opts);
  const bLarge = bootstrapFitBand(large.x, large.y, opts);
  const fit = entropyCurve(small.x, small.y, CURVE).fitted;
  const byX = new Map(fit.map((p) => [p.x, p.y]));
  const inside = bSmall.filter((p) => byX.get(p.x)! >= p.low && byX.get(p.x)! <= p.high).length;
  assert.ok(inside / bSmall.length > 0.95, `the fit lies inside its band at ${inside} of ${bSmall.length} points`);
  // Four times the prompts: the band halves (sampling error ∝ 1/sqrt(n)); bootstrap noise allows some slack.
  const ratio = meanWidth(bSmall) / meanWidth(bLarge);
  assert.ok(ratio > 1.5 && ratio < 2.7, `width ratio ${ratio}`);
  const wide = bootstrapFitBand(small.x, small.y, { ...opts, confidence: 0.99 });
  assert.ok(meanWidth(wide) > meanWidth(bSmall) * 1.2, `${meanWidth(wide)} vs ${meanWidth(bSmall)}`);
  assert.deepEqual(bootstrapFitBand(small.x, small.y, opts), bSmall);
  assert.notDeepEqual(bootstrapFitBand(small.x, small.y, { ...opts, seed: 'other' }), bSmall);
  assert.throws(
    () => bootstrapFitBand(small.x, small.y, { ...opts, resamples: 0 }),
    /resamples must be a whole number >= 1/,
  );
  assert.deepEqual(bootstrapFitBand([], [], opts), []);
});
