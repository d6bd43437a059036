/**
 * Survival function of the one-sample two-sided Kolmogorov–Smirnov statistic D_n
 * (scipy.stats.kstwo.sf), following the method selection of Simard & L'Ecuyer (2011):
 * Ruben–Gambino closed forms at the extremes, the Durbin matrix (Marsaglia–Tsang–Wang scaling),
 * the Pomeranz recursion, the one-sided Smirnov series, or the Pelz–Good asymptotic expansion.
 */
import { StatsInputError } from './validate.js';

const E128 = 2 ** 128;
const EM128 = 2 ** -128;
const LOG_2PI = Math.log(2 * Math.PI);
const SQRT2PI = Math.sqrt(2 * Math.PI);
const PI2 = Math.PI ** 2;
const PI4 = Math.PI ** 4;
const PI6 = Math.PI ** 6;
const SQRT3 = Math.sqrt(3);
const MIN_LOG = -708;
/** log of the smallest subnormal double; below this exp() is 0. */
const CEPHES_MINLOG = -745.1332191019412;
const SMIRNOV_MAX_COMPUTE_N = 1_000_000;

const clip01 = (p: number): number => (p < 0 ? 0 : Math.min(p, 1));

/** x * 2**e without overflowing the intermediate power of two. */
function ldexp(x: number, e: number): number {
  let r = x;
  let k = e;
  while (k > 1000) {
    r *= 2 ** 1000;
    k -= 1000;
  }
  while (k < -1000) {
    r *= 2 ** -1000;
    k += 1000;
  }
  return r * 2 ** k;
}

/** Stirling series for log(n! / n^n), avoiding the cancellation of n log n. */
function logNFactorialOverNPowN(n: number): number {
  const coeffs = [
    -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
    -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
  ];
  const rn = 1 / n;
  const z = rn / n;
  let poly = 0;
  for (const c of coeffs) poly = poly * z + c;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

/** Multiplies two m×m row-major matrices. */
function matMul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    const rowOut = i * m;
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k] as number;
      if (aik === 0) continue;
      const rowB = k * m;
      for (let j = 0; j < m; j++)
        out[rowOut + j] = (out[rowOut + j] as number) + aik * (b[rowB + j] as number);
    }
  }
  return out;
}

/** P(D_n <= d) by Durbin's matrix method; O(m^3 log n) with m = 2⌈nd⌉ - 1, so only for small nd. */
function durbinCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;

  let H: Float64Array = new Float64Array(m * m);
  for (let col = 1; col < m; col++) {
    for (let row = col - 1; row < m; row++) H[row * m + col] = w[row - col + 1] as number;
  }
  for (let row = 0; row < m; row++) H[row * m] = v[row] as number;
  for (let col = 0; col < m; col++) H[(m - 1) * m + col] = v[m - 1 - col] as number;

  let P: Float64Array | null = null;
  let nn = n;
  let expnt = 0;
  let hExpnt = 0;
  // Binary powering; both the running power and the product carry separate power-of-two exponents.
  while (nn > 0) {
    if (nn % 2 === 1) {
      P = P === null ? H.slice() : matMul(P, H, m);
      expnt += hExpnt;
    }
    nn = Math.floor(nn / 2);
    if (nn === 0) break;
    H = matMul(H, H, m);
    hExpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)] as number) > E128) {
      for (let i = 0; i < H.length; i++) H[i] = (H[i] as number) * EM128;
      hExpnt += 128;
    }
  }
  let p = (P as Float64Array)[(k - 1) * m + (k - 1)] as number;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      expnt -= 128;
    }
  }
  return clip01(ldexp(p, expnt));
}

/** Row bounds of the Pomeranz recursion for row i. */
function pomeranzBounds(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = half - 1 - ll - roundf - 1;
        j2 = half + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** P(D_n <= d) by the Pomeranz (1974) recursion; O(n * (nd)^2). */
function pomeranzCdf(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  // Unnormalised Poisson weights (rate/n)^m / m! for the three possible interval lengths.
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = 1;
  twogpower[0] = 1;
  onem2gpower[0] = 1;
  const a1 = g / n;
  const a2 = (2 * g) / n;
  const a3 = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = ((gpower[m - 1] as number) * a1) / m;
    twogpower[m] = ((twogpower[m - 1] as number) * a2) / m;
    onem2gpower[m] = ((onem2gpower[m - 1] as number) * a3) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let expnt = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    const tmp = V0;
    V0 = V1;
    V1 = tmp;
    const tmps = V0s;
    V0s = V1s;
    V1s = tmps;
    V1.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 === 1 ? twogpower : onem2gpower;
    const len = j2 - k1 + 1;
    if (len > 0) {
      const base = k1 - V0s;
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      let vmax = 0;
      for (let idx = 0; idx < convLen; idx++) {
        const c = convStart + idx;
        let s = 0;
        const pLo = Math.max(0, c - len + 1);
        const pHi = Math.min(c, len - 1);
        for (let p = pLo; p <= pHi; p++) {
          const vi = base + p;
          if (vi >= 0 && vi < npwrs) s += (V0[vi] as number) * (pwrs[c - p] as number);
        }
        V1[idx] = s;
        if (s > vmax) vmax = s;
      }
      if (vmax > 0 && vmax < EM128) {
        for (let q = 0; q < npwrs; q++) V1[q] = (V1[q] as number) * E128;
        expnt -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s] ?? 0;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > E128) {
      ans *= EM128;
      expnt += 128;
    }
    ans *= m;
  }
  return clip01(ldexp(ans, expnt));
}

/** Pelz–Good asymptotic expansion of P(D_n <= x), accurate for large n. */
function pelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < MIN_LOG) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  let K0 = 0;
  let K1 = 0;
  let K2 = 0;
  let K3 = 0;
  // Horner evaluation of sums over odd m of c(m) q^(m^2).
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qp = q ** (8 * k);
    K0 = K0 * qp + 1;
    K1 = K1 * qp + (k1a + k1b * m2);
    K2 = K2 * qp + (k2a + k2b * m2 + k2c * m4);
    K3 = K3 * qp + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
  }
  const scale = q * SQRT2PI;
  K0 = (K0 * scale) / z;
  K1 = (K1 * scale) / (6 * z4);
  K2 = (K2 * scale) / (72 * z ** 7);
  K3 = (K3 * scale) / (6480 * z ** 10);
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = SQRT3 * z;
  for (let k = maxk; k > 0; k--) {
    const ks2 = k * k;
    const qk = q ** ks2;
    const kpi = Math.PI * k;
    k2extra += ks2 * qk;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * ks2 * qk;
  }
  K2 += (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K3 += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  return K0 + K1 / Math.sqrt(n) + K2 / n + K3 / n ** 1.5;
}

/**
 * Survival function of the one-sided statistic D_n^+ (Birnbaum–Tingey / Smirnov series),
 * summed in log space so neither the binomial coefficients nor the powers overflow.
 */
export function smirnovSf(n: number, x: number): number {
  if (n === 1) return 1 - x;
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  const nx = n * x;
  const nxfl = Math.floor(nx);
  if (nx <= 1) {
    // x <= 1/n: closed form of the lower tail.
    return 1 - x * (1 + x) ** (n - 1);
  }
  if (-2 * n * x * x < CEPHES_MINLOG) return 0;
  if (nxfl >= n - 1) return (1 - x) ** n;
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    const logp = -((6 * n * x + 1) ** 2) / 18 / n;
    return logp < -Math.LN2 ? Math.exp(logp) : 1 + Math.expm1(logp);
  }
  const last = n - nxfl - 1;
  const nTerms = last + 1;
  const half = n / 2;
  let logC = 0; // log binomial(n, v)
  let sum = 0;
  for (let v = 0; v <= last; v++) {
    const upper = (n - v) / n - x;
    let term = 0;
    if (upper > 0) {
      const lower = v / n + x;
      term = Math.exp(logC + (v - 1) * Math.log(lower) + (n - v) * Math.log(upper));
      sum += term;
    }
    if (term !== 0) {
      if (4 * (nTerms - v) * term < Number.EPSILON * sum && v !== last) break;
    } else if (v > half) {
      break;
    }
    logC += Math.log((n - v) / (v + 1));
  }
  return clip01(sum * x);
}

/** scipy.stats.kstwo.sf(d, n): P(D_n >= d) for the two-sided one-sample KS statistic with n observations. */
export function kstwoSf(d: number, n: number): number {
  if (!Number.isFinite(d)) throw new StatsInputError(`kstwoSf: d must be a finite number, got ${String(d)}`);
  if (!Number.isInteger(n) || n < 1) {
    throw new StatsInputError(`kstwoSf: n must be a positive integer, got ${String(n)}`);
  }
  if (d >= 1) return 0;
  if (d <= 0) return 1;
  const t = n * d;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      const inv = 1 / n;
      const c = 2 * t - 1;
      for (let i = 1; i <= n; i++) prob *= i * inv * c;
    } else {
      prob = Math.exp(logNFactorialOverNPowN(n) + n * Math.log(2 * t - 1));
    }
    return clip01(1 - prob);
  }
  if (t >= n - 1) return clip01(2 * (1 - d) ** n);
  if (d >= 0.5) return clip01(2 * smirnovSf(n, d));
  const nxsq = t * d;
  if (n <= 140) {
    if (nxsq <= 0.754693) return clip01(1 - durbinCdf(n, d));
    if (nxsq <= 4) return clip01(1 - pomeranzCdf(n, d));
    return clip01(2 * smirnovSf(n, d));
  }
  if (nxsq >= 370) return 0;
  if (nxsq >= 2.2) return clip01(2 * smirnovSf(n, d));
  const cdf = n <= 100000 && n * d ** 1.5 <= 1.4 ? durbinCdf(n, d) : pelzGoodCdf(n, d);
  return clip01(1 - clip01(cdf));
}
