import gammainc from '@stdlib/math-base-special-gammainc';
import { StatsInputError } from './validate.js';

/**
 * Standard normal quantile Φ⁻¹(p), Wichura's AS 241 (PPND16): relative error about 1e-16 on (0, 1).
 * Returns ∓Infinity at 0 and 1.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new StatsInputError(`normalQuantile: p must be in [0, 1], got ${String(p)}`);
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((r * 2509.0809287301227 + 33430.57558358813) * r + 67265.7709270087) * r + 45921.95393154987) *
          r +
          13731.69376550946) *
          r +
          1971.5909503065513) *
          r +
          133.14166789178438) *
          r +
          3.3871328727963665)) /
      (((((((r * 5226.495278852546 + 28729.085735721943) * r + 39307.89580009271) * r + 21213.794301586597) *
        r +
        5394.196021424751) *
        r +
        687.1870074920579) *
        r +
        42.31333070160091) *
        r +
        1)
    );
  }
  let r = q < 0 ? p : 1 - p;
  r = Math.sqrt(-Math.log(r));
  let x: number;
  if (r <= 5) {
    r -= 1.6;
    x =
      (((((((r * 0.0007745450142783414 + 0.022723844989269184) * r + 0.2417807251774506) * r +
        1.2704582524523684) *
        r +
        3.6478483247632045) *
        r +
        5.769497221460691) *
        r +
        4.630337846156546) *
        r +
        1.4234371107496835) /
      (((((((r * 1.0507500716444169e-9 + 0.0005475938084995345) * r + 0.015198666563616457) * r +
        0.14810397642748008) *
        r +
        0.6897673349851) *
        r +
        1.6763848301838038) *
        r +
        2.053191626637759) *
        r +
        1);
  } else {
    r -= 5;
    x =
      (((((((r * 2.0103343992922881e-7 + 0.000027115555687434876) * r + 0.0012426609473880784) * r +
        0.026532189526576124) *
        r +
        0.29656057182850487) *
        r +
        1.7848265399172913) *
        r +
        5.463784911164114) *
        r +
        6.657904643501103) /
      (((((((r * 2.0442631033899397e-15 + 1.421511758316446e-7) * r + 0.000018463183175100548) * r +
        0.0007868691311456133) *
        r +
        0.014875361290850615) *
        r +
        0.1369298809227358) *
        r +
        0.599832206555888) *
        r +
        1);
  }
  return q < 0 ? -x : x;
}

/** Two-sided normal p-value P(|Z| ≥ |z|) = P(χ²₁ ≥ z²), via the regularized upper incomplete gamma (no cancellation in the tail). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) throw new StatsInputError('normalTwoSidedP: z is NaN');
  if (z === 0) return 1;
  return gammainc((z * z) / 2, 0.5, true, true);
}

/** Normal scores are clamped to ±8 (null probability ~1e-15), so one degenerate bucket cannot dominate a CUSUM. */
export const NORMAL_SCORE_LIMIT = 8;

/**
 * Moment-matched gamma probability transform: with shape = mean²/var and scale = var/mean, returns the
 * normal score of x under that gamma (clamped to ±NORMAL_SCORE_LIMIT), computed from whichever tail is
 * smaller so both tails stay accurate.
 */
export function gammaNormalScore(x: number, mean: number, sd: number): number {
  if (!(mean > 0 && sd > 0)) {
    throw new StatsInputError(`gammaNormalScore: mean and sd must be positive, got ${mean} and ${sd}`);
  }
  if (Number.isNaN(x)) throw new StatsInputError('gammaNormalScore: x is NaN');
  if (x <= 0) return -NORMAL_SCORE_LIMIT;
  const shape = (mean * mean) / (sd * sd);
  const scale = (sd * sd) / mean;
  const lower = gammainc(x / scale, shape, true, false);
  const z = lower <= 0.5 ? normalQuantile(lower) : -normalQuantile(gammainc(x / scale, shape, true, true));
  return Math.max(-NORMAL_SCORE_LIMIT, Math.min(NORMAL_SCORE_LIMIT, z));
}

/**
 * Upper quantile of χ²_dof: the x with P(χ²_dof ≥ x) = alpha (dof > 0, not necessarily an integer).
 * Wilson–Hilferty start, then bisection on the exact tail to 1e-12 relative.
 */
export function chiSquareUpperQuantile(alpha: number, dof: number): number {
  if (!(alpha > 0 && alpha < 1)) {
    throw new StatsInputError(`chiSquareUpperQuantile: alpha must be in (0, 1), got ${String(alpha)}`);
  }
  if (!(dof > 0 && Number.isFinite(dof))) {
    throw new StatsInputError(`chiSquareUpperQuantile: dof must be positive, got ${String(dof)}`);
  }
  const sf = (x: number) => gammainc(x / 2, dof / 2, true, true);
  const c = 2 / (9 * dof);
  const start = Math.max(1e-12, dof * (1 - c + normalQuantile(1 - alpha) * Math.sqrt(c)) ** 3);
  let lo = start;
  let hi = start;
  while (sf(lo) < alpha && lo > 1e-300) lo /= 2;
  while (sf(hi) > alpha) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (sf(mid) > alpha) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
