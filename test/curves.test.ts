import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  binMeans,
  bootstrapCurveStats,
  departurePoint,
  luSolve,
  derivative,
  entropyCurve,
  evalPolynomial,
  monomial,
  percentileInterval,
  polyfit,
  polyval,
  quantileSorted,
  rollingMean,
  signChanges,
  toMonomial,
} from '../lib/score/curves';
import { makeRng } from '../lib/core/rng';
import { all, type BigNumber, create, lusolve } from 'mathjs';

const close = (a: number, b: number, tol: number, what = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b} (tol ${tol})`);

test('binMeans on a hand case: numpy.histogram edges, last bin closed, bin centres', () => {
  // range [0, 2], 2 bins: [0, 1) holds 0 and 0.5; [1, 2] holds 1, 1.5 and 2.
  const pts = binMeans([0, 0.5, 1, 1.5, 2], [10, 20, 30, 40, 50], 2, [0, 2]);
  assert.deepEqual(pts, [
    { x: 0.5, y: 15, n: 2 },
    { x: 1.5, y: 40, n: 3 },
  ]);
  // Values outside an explicit range are dropped; empty bins are not returned.
  assert.deepEqual(binMeans([-1, 0.1, 3.9, 5], [1, 2, 3, 4], 4, [0, 4]), [
    { x: 0.5, y: 2, n: 1 },
    { x: 3.5, y: 3, n: 1 },
  ]);
  // All x equal: one bin at that x.
  assert.deepEqual(binMeans([2, 2, 2], [1, 2, 6], 200), [{ x: 2, y: 3, n: 3 }]);
  assert.deepEqual(binMeans([], [], 10), []);
  assert.throws(() => binMeans([1, NaN], [1, 2], 3), /x\[1\]/);
});

test('binMeans matches a brute-force per-bin loop on random data', () => {
  const rng = makeRng('bins');
  const x = Array.from({ length: 3000 }, () => 1 + 3 * rng() ** 2);
  const y = x.map((v) => v + rng());
  const bins = 57;
  const got = binMeans(x, y, bins);
  const lo = Math.min(...x);
  const hi = Math.max(...x);
  const expected: { x: number; y: number; n: number }[] = [];
  for (let b = 0; b < bins; b++) {
    const left = lo + ((hi - lo) * b) / bins;
    const right = lo + ((hi - lo) * (b + 1)) / bins;
    let s = 0;
    let n = 0;
    for (let i = 0; i < x.length; i++) {
      const inside = b === bins - 1 ? x[i] >= left && x[i] <= hi : x[i] >= left && x[i] < right;
      if (inside) {
        s += y[i];
        n++;
      }
    }
    if (n) expected.push({ x: (left + right) / 2, y: s / n, n });
  }
  assert.equal(got.length, expected.length);
  assert.equal(
    got.reduce((s, p) => s + p.n, 0),
    x.length,
  );
  got.forEach((p, i) => {
    assert.equal(p.n, expected[i].n, `count in bin ${i}`);
    close(p.x, expected[i].x, 1e-12, 'centre');
    close(p.y, expected[i].y, 1e-12, 'mean');
  });
});

test('rollingMean: hand case, full windows only, and a prefix-sum computation', () => {
  assert.deepEqual(rollingMean([1, 2, 3, 4, 5], 2), [1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(rollingMean([1, 2, 3, 4, 5], 5), [3]);
  assert.deepEqual(rollingMean([1, 2, 3], 4), []);
  assert.throws(() => rollingMean([1, 2], 0), /window/);
  const rng = makeRng('roll');
  const v = Array.from({ length: 180 }, () => rng() * 10);
  const w = 30;
  const prefix = [0];
  for (const x of v) prefix.push(prefix[prefix.length - 1] + x);
  const expected = Array.from({ length: v.length - w + 1 }, (_, j) => (prefix[j + w] - prefix[j]) / w);
  const got = rollingMean(v, w);
  assert.equal(got.length, expected.length);
  got.forEach((g, j) => close(g, expected[j], 1e-10, `window ${j}`));
});

test('polyval is Horner on ascending coefficients', () => {
  assert.equal(polyval([1, 2, 3], 2), 17); // 1 + 2·2 + 3·4
  assert.equal(polyval([], 5), 0);
});

test('polyfit recovers a known quartic from exact points', () => {
  const c = [1.5, -2, 0.75, 0.3, -0.05];
  const x = Array.from({ length: 60 }, (_, i) => 0.5 + (4.5 * i) / 59);
  const y = x.map((v) => c[0] + c[1] * v + c[2] * v ** 2 + c[3] * v ** 3 + c[4] * v ** 4);
  const fit = toMonomial(polyfit(x, y, 4));
  assert.equal(fit.length, 5);
  fit.forEach((f, k) => close(f, c[k], 1e-8, `c${k}`));
  // Exactly order+1 points: interpolation.
  const fit5 = toMonomial(polyfit(x.slice(0, 5), y.slice(0, 5), 4));
  fit5.forEach((f, k) => close(f, c[k], 1e-8, `interpolated c${k}`));
});

test('polyfit is a least-squares fit: the closed-form line, and residuals orthogonal to the basis', () => {
  const rng = makeRng('lsq');
  const x = Array.from({ length: 200 }, () => 2 + 2 * rng());
  const y = x.map((v) => 3 - 0.7 * v + 0.2 * Math.sin(7 * v) + 0.1 * rng());
  const mx = x.reduce((s, v) => s + v, 0) / x.length;
  const my = y.reduce((s, v) => s + v, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  x.forEach((v, i) => {
    sxy += (v - mx) * (y[i] - my);
    sxx += (v - mx) ** 2;
  });
  const slope = sxy / sxx;
  const [c0, c1] = toMonomial(polyfit(x, y, 1));
  close(c1, slope, 1e-10, 'slope');
  close(c0, my - slope * mx, 1e-10, 'intercept');
  const c = polyfit(x, y, 4);
  const r = x.map((v, i) => y[i] - evalPolynomial(c, v));
  for (let k = 0; k <= 4; k++) {
    const dot = x.reduce((s, v, i) => s + ((v - 3) / 1) ** k * r[i], 0);
    close(dot, 0, 1e-8, `basis ${k} · residual`);
  }
  assert.throws(() => polyfit([1, 1, 2], [1, 2, 3], 2), /distinct/);
});

test('signChanges of known polynomials match their analytic roots', () => {
  // (x − 1)² has a double root without a sign change; (x − 1)(x − 2) changes sign twice.
  assert.equal(signChanges(monomial([1, -2, 1]), 0, 3).length, 0);
  const sc = signChanges(monomial([2, -3, 1]), 0, 3);
  assert.deepEqual(
    sc.map((s) => s.direction),
    ['down', 'up'],
  );
  close(sc[0].x, 1, 1e-12);
  close(sc[1].x, 2, 1e-12);
  // p''(x) = 12(x − 1)(x − 3) for p(x) = x⁴ − 8x³ + 18x² + x + 2, here in a scaled basis centred at 2 (t = (x − 2)/2).
  const p = polyfit(
    Array.from({ length: 100 }, (_, i) => (4 * i) / 99),
    Array.from({ length: 100 }, (_, i) => polyval([2, 1, 18, -8, 1], (4 * i) / 99)),
    4,
  );
  signChanges(derivative(derivative(p)), 0, 4).forEach((r, i) =>
    close(r.x, [1, 3][i], 1e-7, 'fitted second-derivative root'),
  );
  assert.equal(signChanges(derivative(derivative(p)), 1.5, 2.5).length, 0, 'outside the interval: not reported');
});

test('entropyCurve finds the turning point of designed curves', () => {
  // y = x + 0.5 (x − 2)²: slope 1 + (x − 2) = 0 at x = 1 — to the right it rises with x, to the left it turns up.
  const x = Array.from({ length: 20001 }, (_, i) => (4 * i) / 20000);
  const quad = entropyCurve(
    x,
    x.map((v) => v + 0.5 * (v - 2) ** 2),
    { bins: 200, window: 30, order: 4, range: null, edges: 'drop' },
  );
  assert.equal(quad.points.length, 200);
  assert.equal(quad.rolling.length, 171);
  assert.equal(quad.n, x.length);
  assert.notEqual(quad.turningPoint, null);
  close(quad.turningPoint!, 1, 1e-3, 'quadratic turning point');
  // The fit's support is the span of the centred rolling points: bins 0..29 average to a centre near bin 14.5.
  close(quad.fitRange![0], 0.01 + (14.5 * 4) / 200, 1e-3, 'fit range start');

  // The paper's picture: y = x above a = 2.5, and y = x + 2 (a − x)² below it; the true minimum is at a − 1/4 = 2.25.
  const a = 2.5;
  const kinked = entropyCurve(
    x,
    x.map((v) => (v >= a ? v : v + 2 * (a - v) ** 2)),
    { bins: 200, window: 30, order: 4, range: null },
  );
  assert.notEqual(kinked.turningPoint, null);
  // A quartic cannot follow the kink exactly; it lands within 0.05 of the true minimum.
  close(kinked.turningPoint!, 2.25, 0.1, 'kinked turning point');

  // Following X=Y everywhere: no turning point, and the reason says so.
  const line = entropyCurve(x, x, { bins: 200, window: 30, order: 4, range: null });
  assert.equal(line.turningPoint, null);
  assert.match(line.notes.join(' '), /never turns up/);
  // Bin means sit 1e-4 below the bin centres (100 evenly spaced points from the bin's left edge), hence the tolerance.
  line.fitted.forEach((p) => close(p.y, p.x, 2e-4, 'X=Y fit'));
  // Points exactly at bin centres on X=Y: the fit is a line up to rounding, which must not create inflection points.
  const centres = Array.from({ length: 4000 }, (_, i) => ((i % 200) + 0.5) * 0.02);
  const exact = entropyCurve(centres, centres, { bins: 200, window: 30, order: 4, range: [0, 4] });
  exact.fitted.forEach((p) => close(p.y, p.x, 1e-9, 'exact X=Y fit'));
  assert.equal(exact.turningPoint, null);
  // Rising as x falls everywhere: no turning point either.
  const falling = entropyCurve(
    x,
    x.map((v) => 5 - v),
    { bins: 200, window: 30, order: 4, range: null },
  );
  assert.equal(falling.turningPoint, null);
  assert.match(falling.notes.join(' '), /never follows X = Y/);
});

test('entropyCurve handles degenerate data without throwing and says what it changed', () => {
  const opts = { bins: 200, window: 30, order: 4, range: null, edges: 'drop' } as const;
  const none = entropyCurve([], [], opts);
  assert.equal(none.order, -1);
  assert.equal(none.polynomial, null);
  assert.match(none.notes.join(' '), /no data/);

  const same = entropyCurve([2, 2, 2], [3, 4, 5], opts);
  assert.deepEqual(same.points, [{ x: 2, y: 4, n: 3 }]);
  assert.equal(same.order, 0);
  assert.deepEqual(toMonomial(same.polynomial!), [4]);
  assert.equal(same.turningPoint, null);
  assert.match(same.notes.join(' '), /order lowered from 4 to 0/);

  // Three distinct x values at the centres of 3 bins: window shrinks to 1, order drops to 2 (a parabola through them).
  const three = entropyCurve([0, 1, 2, 0, 2], [1, 0, 1, 1, 1], { ...opts, bins: 3, range: [-0.5, 2.5] });
  assert.equal(three.points.length, 3);
  assert.equal(three.window, 1);
  assert.equal(three.order, 2);
  toMonomial(three.polynomial!).forEach((c, k) => close(c, [1, -2, 1][k], 1e-10, `parabola c${k}`));
  close(three.turningPoint!, 1, 1e-9, 'parabola minimum');

  // Ten non-empty bins and window 30: the window shrinks so that order + 1 = 5 rolling points remain.
  const ten = entropyCurve(
    Array.from({ length: 10 }, (_, i) => i),
    Array.from({ length: 10 }, (_, i) => i * i),
    { bins: 10, window: 30, order: 4, range: null, edges: 'drop' },
  );
  assert.equal(ten.window, 6);
  assert.equal(ten.order, 4);
  assert.equal(ten.rolling.length, 5);
  assert.match(ten.notes.join(' '), /window lowered from 30 to 6/);
});

test('quantileSorted interpolates like numpy', () => {
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
  assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
  close(quantileSorted([0, 10], 0.025), 0.25, 1e-12);
});

test('bootstrapCurveStats: seeded, and its interval covers the designed turning point', () => {
  const rng = makeRng('boot-data');
  const x = Array.from({ length: 3000 }, () => 4 * rng());
  const y = x.map((v) => v + 0.5 * (v - 2) ** 2 + 0.2 * (rng() - 0.5));
  const opts = {
    bins: 100,
    window: 15,
    order: 4,
    range: null,
    departureGap: 0.1,
    resamples: 40,
    confidence: 0.95,
    seed: 'boot',
  };
  const a = bootstrapCurveStats(x, y, opts);
  const b = bootstrapCurveStats(x, y, opts);
  assert.deepEqual(a, b, 'same seed, same intervals');
  const c = bootstrapCurveStats(x, y, { ...opts, seed: 'other' });
  assert.notDeepEqual(a.turningPoint, c.turningPoint, 'another seed resamples differently');
  assert.ok(a.turningPoint);
  const tp = a.turningPoint!;
  assert.ok(tp.low <= tp.estimate && tp.estimate <= tp.high, JSON.stringify(tp));
  assert.ok(tp.low < 1.05 && tp.high > 0.95 && tp.high - tp.low < 0.3, JSON.stringify(tp));
  assert.equal(tp.defined, 1);
  // A straight line has no turning point and no inflection points.
  const centres = x.map((v) => (Math.floor(v * 25) + 0.5) / 25);
  const line = bootstrapCurveStats(centres, centres, { ...opts, range: [0, 4] });
  assert.equal(line.turningPoint, null);
  assert.equal(line.departurePoint, null, 'on X = Y: never departs');
});

test('rollingMean "shrink": centred windows narrowing to 1, 3, 5, … bins at both ends (hand cases)', () => {
  const sq = [1, 4, 9, 16, 25, 36];
  // Odd window 3: [1] | (1+4+9)/3, …, (16+25+36)/3 | [36] — each point is the mean of a window centred on its bin.
  assert.deepEqual(rollingMean(sq, 3, 'shrink'), [1, 14 / 3, 29 / 3, 50 / 3, 77 / 3, 36]);
  // Odd window 5: edges of 1 and 3 bins, then the two full windows (1+4+9+16+25)/5 = 11 and (4+9+16+25+36)/5 = 18.
  assert.deepEqual(rollingMean(sq, 5, 'shrink'), [1, 14 / 3, 11, 18, 77 / 3, 36]);
  // Even window 4: edges of 1 and 3 bins, full windows 30/4, 54/4, 86/4 (centred between two bins).
  assert.deepEqual(rollingMean(sq, 4, 'shrink'), [1, 14 / 3, 7.5, 13.5, 21.5, 77 / 3, 36]);
  // Window wider than the data: it narrows to the data (3 values), so the ends are still the first and last values.
  assert.deepEqual(rollingMean([3, 6, 9], 10, 'shrink'), [3, 6, 9]);
  assert.deepEqual(rollingMean([3, 6, 9], 10, 'drop'), []);
  assert.deepEqual(rollingMean([], 3, 'shrink'), []);
  assert.deepEqual(rollingMean([7], 30, 'shrink'), [7]);
});

test('entropyCurve with edges "shrink" fits from the first to the last non-empty bin; "drop" loses half a window', () => {
  const x = Array.from({ length: 20001 }, (_, i) => (4 * i) / 20000);
  const y = x.map((v) => v + 0.5 * (v - 2) ** 2);
  const shrink = entropyCurve(x, y, { bins: 200, window: 30, order: 4, range: null, edges: 'shrink' });
  // 200 bins of width 0.02 on [0, 4]: centres 0.01 … 3.99; 15 edge windows per side plus 171 full windows.
  assert.equal(shrink.rolling.length, 15 + 171 + 15);
  close(shrink.fitRange![0], 0.01, 1e-12, 'first bin centre');
  close(shrink.fitRange![1], 3.99, 1e-12, 'last bin centre');
  close(shrink.fitCoverage!, 3.98 / 4, 1e-12, 'coverage');
  for (let i = 1; i < shrink.rolling.length; i++)
    assert.ok(shrink.rolling[i].x > shrink.rolling[i - 1].x, 'rolling x ascending');
  close(shrink.turningPoint!, 1, 2e-3, 'turning point of y = x + (x−2)²/2');
  const drop = entropyCurve(x, y, { bins: 200, window: 30, order: 4, range: null, edges: 'drop' });
  // Full windows only: the first rolling point sits at the mean centre of bins 0..29, 0.01 + 14.5 · 0.02 = 0.30.
  close(drop.fitCoverage!, (3.7 - 0.3) / 4, 1e-9, 'full windows only: 14.5 bins lost at each end');
});

test('scaled-basis polynomial agrees with an independent 100-digit least-squares fit on narrow offset ranges (1e-9 relative)', () => {
  const big = create(all, { number: 'BigNumber', precision: 100, relTol: 1e-90, absTol: 1e-95 });
  const rng = makeRng('narrow');
  for (const [lo, hi, order] of [
    [4.6, 4.62, 4],
    [4.6, 4.6002, 3],
    [3.2, 3.5, 4],
    [100, 100.01, 2],
  ] as const) {
    const x = Array.from({ length: 120 }, (_, i) => lo + ((hi - lo) * i) / 119);
    const y = x.map((v) => Math.sin(3 * v) + 0.01 * (rng() - 0.5));
    // Independent: the normal equations in plain powers of x, solved in 100-digit decimals (no scaling, no doubles).
    const k = order + 1;
    const add = (a: BigNumber, b: BigNumber) => big.add(a, b) as BigNumber;
    const mul = (a: BigNumber, b: BigNumber) => big.multiply(a, b) as BigNumber;
    const pow = (a: BigNumber, e: number) => big.pow(a, big.bignumber(e)) as BigNumber;
    const X = x.map((v) => big.bignumber(v));
    const zero = big.bignumber(0);
    const M = Array.from({ length: k }, (_, r) =>
      Array.from({ length: k }, (_, c) => X.reduce((s, v) => add(s, pow(v, r + c)), zero)),
    );
    const b = Array.from({ length: k }, (_, r) =>
      X.reduce((s, v, i) => add(s, mul(pow(v, r), big.bignumber(y[i]))), zero),
    );
    const sol = (big.lusolve(big.matrix(M), big.matrix(b.map((v) => [v]))) as unknown as { toArray(): BigNumber[][] })
      .toArray()
      .map((r) => r[0]);
    const exactAt = (v: number) => Number(sol.reduceRight((acc, c) => add(mul(acc, big.bignumber(v)), c), zero));
    const fit = polyfit(x, y, order);
    for (let i = 0; i <= 20; i++) {
      const v = lo + ((hi - lo) * i) / 20;
      const want = exactAt(v);
      const got = evalPolynomial(fit, v);
      assert.ok(
        Math.abs(got - want) <= 1e-9 * Math.abs(want),
        `[${lo}, ${hi}] order ${order} at ${v}: ${got} vs ${want}`,
      );
    }
  }
});

test('departure point on constructed curves: a step at a known x, a line on X = Y, a line above it, a falling gap', () => {
  // 40,000 prompts spread evenly over [1, 3]: 200 bins of width 0.01, 200 prompts each, symmetric about the centre.
  const x = Array.from({ length: 40000 }, (_, i) => 1 + (i + 0.5) / 20000);
  const opts = { bins: 200, range: [1, 3] as [number, number], departureGap: 0.1 };
  // Gap 1 below 2, 0 from 2 on: the median keeps the step between the centres 1.995 (gap 1) and 2.005 (gap 0);
  // interpolating to the 0.1 threshold: 1.995 + 0.9 · 0.01 = 2.004.
  const step = departurePoint(
    x,
    x.map((v) => (v < 2 ? v + 1 : v)),
    opts,
  );
  close(step!, 2.004, 1e-9, 'step at 2');
  assert.equal(departurePoint(x, x, opts), null, 'on X = Y: never departs');
  assert.equal(
    departurePoint(
      x,
      x.map((v) => v + 0.5),
      opts,
    ),
    3,
    'above X = Y everywhere: the top of the range',
  );
  // Gap 2 − x (above 0.1 below x = 1.9): linear through the bin centres, so the crossing is exact.
  close(
    departurePoint(
      x,
      x.map((v) => v + 2 - v),
      opts,
    )!,
    1.9,
    1e-9,
    'falling gap',
  );
  // A single noisy bin below the threshold inside the departed region does not end it (the median outvotes it).
  const noisy = x.map((v) => (v < 2 ? (v > 1.5 && v < 1.51 ? v : v + 1) : v));
  close(departurePoint(x, noisy, opts)!, 2.004, 1e-9, 'one dip at 1.5');
  // A sharp step at 2.3 survives the bootstrap: the interval holds it and the estimate is inside it.
  const y = x.map((v) => (v < 2.3 ? v + 0.8 : v));
  const boot = bootstrapCurveStats(x, y, {
    bins: 200,
    window: 30,
    order: 4,
    range: [1, 3],
    departureGap: 0.1,
    resamples: 30,
    confidence: 0.95,
    seed: 'dep',
  });
  assert.ok(
    boot.departurePoint && boot.departurePoint.low <= 2.3 + 0.01 && boot.departurePoint.high >= 2.3,
    JSON.stringify(boot.departurePoint),
  );
  assert.equal(boot.departurePoint!.unstable, false);
  assert.equal(boot.departurePoint!.defined, 1);
});

test('turning point is the lowest point of the fit only when it lies inside the fit range', () => {
  // y = x + 0.5 (x − 2)² on [0, 4]: lowest at x = 1 (inside) ⇒ a turning point; on [1.5, 4] it is lowest at the left end.
  const x = Array.from({ length: 4001 }, (_, i) => (4 * i) / 4000);
  const f = (v: number) => v + 0.5 * (v - 2) ** 2;
  const opts = { bins: 100, window: 9, order: 4, range: null };
  close(entropyCurve(x, x.map(f), opts).turningPoint!, 1, 5e-3, 'interior minimum');
  const right = x.filter((v) => v >= 1.5);
  assert.equal(entropyCurve(right, right.map(f), opts).turningPoint, null, 'rising throughout: no turn-up');
  // A local minimum that is not the lowest point (the curve is lower at the high end): not a turning point.
  const wavy = (v: number) => 3 * v - 2 * Math.exp(-((v - 1) ** 2) / 0.1) + 2 * Math.exp(-((v - 0.5) ** 2) / 0.1);
  const w = entropyCurve(x, x.map(wavy), { ...opts, order: 6 });
  assert.equal(w.turningPoint, null, JSON.stringify(w.notes));
});

test('percentileInterval: numpy percentiles, defined share, and the unstable flag', () => {
  const values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const i = percentileInterval(5, values, 20, 0.8);
  // numpy.percentile([1..10], [10, 90]) = 1.9, 9.1
  close(i.low, 1.9, 1e-12);
  close(i.high, 9.1, 1e-12);
  assert.equal(i.defined, 0.5);
  assert.equal(i.unstable, false);
  assert.equal(percentileInterval(9.5, values, 10, 0.8).unstable, true, 'estimate above the interval');
  assert.deepEqual(percentileInterval(3, [], 10, 0.95), { estimate: 3, low: 3, high: 3, defined: 0, unstable: false });
});

test('luSolve: hand-worked systems, including row pivoting by a 3-cycle and a singular matrix', () => {
  // x2 = 1, x3 = 2, x1 = 3
  assert.deepEqual(
    luSolve(
      [
        [0, 1, 0],
        [0, 0, 1],
        [1, 0, 0],
      ],
      [1, 2, 3],
    ),
    [3, 1, 2],
  );
  // x + 2y = 1, 3x + 4y = 2  →  x = 0, y = 1/2
  assert.deepEqual(
    luSolve(
      [
        [1, 2],
        [3, 4],
      ],
      [1, 2],
    ),
    [0, 0.5],
  );
  assert.throws(
    () =>
      luSolve(
        [
          [1, 2],
          [2, 4],
        ],
        [1, 3],
      ),
    /singular/,
  );
});

test('luSolve gives bit for bit what mathjs lusolve gives (the fits it replaced), zeros and pivoting included', () => {
  const rng = makeRng('lusolve-parity');
  for (let t = 0; t < 3000; t++) {
    const k = 1 + (t % 7);
    let M: number[][];
    if (t % 3 === 0)
      M = Array.from({ length: k }, () => Array.from({ length: k }, () => (rng() < 0.2 ? 0 : rng() * 2 - 1)));
    else {
      // Normal equations of a polynomial fit in t ∈ [−1, 1], on continuous or on tied x values.
      const xs = Array.from({ length: k + Math.floor(rng() * 50) }, () =>
        t % 3 === 1 ? Math.round(rng() * 8) / 4 - 1 : rng() * 2 - 1,
      );
      M = Array.from({ length: k }, (_, a) =>
        Array.from({ length: k }, (_, b) => xs.reduce((s, x) => s + x ** (a + b), 0)),
      );
    }
    const b = Array.from({ length: k }, () => (rng() < 0.1 ? 0 : rng() * 4 - 2));
    let expected: number[] | 'singular';
    try {
      expected = (lusolve(M, b) as number[][]).map((r) => r[0]);
    } catch {
      expected = 'singular';
    }
    if (expected === 'singular') assert.throws(() => luSolve(M, b), /singular/, JSON.stringify(M));
    else assert.deepEqual(luSolve(M, b), expected, JSON.stringify({ M, b }));
  }
});
