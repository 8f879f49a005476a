/**
 * The chi-square distribution's survival function P(X >= x) for X ~ χ²(df), through the regularized upper incomplete
 * gamma function Q(df/2, x/2): the series of P for x < a + 1 and Lentz's continued fraction of Q otherwise (Numerical
 * Recipes §6.2), each accurate to ~1e-14 relative, with ln Γ from the Lanczos approximation (g = 7, 9 terms).
 */

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(z) for z > 0. */
export function logGamma(z: number): number {
  if (!(z > 0)) throw new RangeError(`logGamma: z must be > 0, got ${z}`);
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - logGamma(1 - z);
  const x = z - 1;
  let a = LANCZOS[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-15;
const MAX_ITERATIONS = 10_000;

function lowerSeries(a: number, x: number): number {
  let sum = 1 / a;
  let term = sum;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

function upperContinuedFraction(a: number, x: number): number {
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function, for a > 0 and x >= 0. */
export function upperRegularizedGamma(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`upperRegularizedGamma: a must be > 0, got ${a}`);
  if (!(x >= 0)) throw new RangeError(`upperRegularizedGamma: x must be >= 0, got ${x}`);
  if (x === 0) return 1;
  if (x < a + 1) return Math.max(0, 1 - lowerSeries(a, x));
  return upperContinuedFraction(a, x);
}

/** P(X >= x) for X ~ χ²(df): the p-value of a chi-square statistic x with df degrees of freedom. */
export function chiSquareSurvival(x: number, df: number): number {
  if (!(Number.isInteger(df) && df >= 1))
    throw new RangeError(`chiSquareSurvival: df must be a whole number >= 1, got ${df}`);
  return upperRegularizedGamma(df / 2, Math.max(0, x) / 2);
}

/** The critical value x with P(X >= x) = alpha for X ~ χ²(df) (bisection on the survival function, to 1e-10). */
export function chiSquareCritical(alpha: number, df: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`chiSquareCritical: alpha must lie in (0, 1), got ${alpha}`);
  let lo = 0;
  let hi = df + 10 * Math.sqrt(2 * df) + 50;
  while (chiSquareSurvival(hi, df) > alpha) hi *= 2;
  while (hi - lo > 1e-10 * Math.max(1, hi)) {
    const mid = (lo + hi) / 2;
    if (chiSquareSurvival(mid, df) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
