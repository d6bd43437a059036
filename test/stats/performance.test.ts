import { describe, expect, it } from 'vitest';
import {
  addBinary,
  addMulticlass,
  applyIsotonic,
  applyMulticlassCalibration,
  type BinaryPerformanceAccumulator,
  binaryCellEdges,
  chooseCalibration,
  chooseMulticlassCalibration,
  type Estimate,
  emptyBinary,
  emptyMulticlass,
  estimateBinary,
  estimateMulticlass,
  expectedCalibrationError,
  isotonicFit,
  merge,
  mulberry32,
  StatsInputError,
} from '../../src/stats/index.js';
import { expectAbs, loadJson } from './helpers.js';

const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

// ---- Direct computations on the raw rows, written independently of the accumulator. ----

interface Direct {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  accuracy: number;
  accuracySd: number;
  precision: number;
  precisionSd: number;
  recall: number;
  recallSd: number;
  f1: number;
  f1Sd: number;
}

/** Expected confusion matrix and delta-method sds, row by row: row i is positive with probability p_i. */
function directBinary(scores: number[], probs: number[], t: number): Direct {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let vPos = 0;
  let vNeg = 0;
  scores.forEach((s, i) => {
    const p = probs[i] as number;
    if (s >= t) {
      tp += p;
      fp += 1 - p;
      vPos += p * (1 - p);
    } else {
      fn += p;
      tn += 1 - p;
      vNeg += p * (1 - p);
    }
  });
  const n = scores.length;
  const m = tp + fp;
  const a = tp + fn;
  const d = 2 * tp + fp + fn;
  return {
    tp,
    fp,
    fn,
    tn,
    accuracy: (tp + tn) / n,
    accuracySd: Math.sqrt(vPos + vNeg) / n,
    precision: tp / m,
    precisionSd: Math.sqrt(vPos) / m,
    recall: tp / a,
    recallSd: Math.sqrt((fn / a ** 2) ** 2 * vPos + (tp / a ** 2) ** 2 * vNeg),
    f1: (2 * tp) / d,
    f1Sd: Math.sqrt(((2 * (fp + tp + fn)) / d ** 2) ** 2 * vPos + ((2 * tp) / d ** 2) ** 2 * vNeg),
  };
}

/** The definition: Σ_{i≠j} p_i(1−p_j)([s_i > s_j] + ½[s_i = s_j]) / Σ_{i≠j} p_i(1−p_j). O(n²). */
function expectedAucNaive(scores: number[], probs: number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < scores.length; i++) {
    for (let j = 0; j < scores.length; j++) {
      if (i === j) continue;
      const w = (probs[i] as number) * (1 - (probs[j] as number));
      den += w;
      const si = scores[i] as number;
      const sj = scores[j] as number;
      num += w * (si > sj ? 1 : si === sj ? 0.5 : 0);
    }
  }
  return num / den;
}

/** The same sum in O(n log n): sorted by score, tied scores grouped. */
function expectedAuc(scores: ArrayLike<number>, probs: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let negBelow = 0;
  let num = 0;
  let sumP = 0;
  let sumQ = 0;
  let sumPQ = 0;
  for (let g = 0; g < order.length; ) {
    let h = g;
    let gp = 0;
    let gq = 0;
    let gpq = 0;
    while (h < order.length && scores[order[h] as number] === scores[order[g] as number]) {
      const p = probs[order[h] as number] as number;
      gp += p;
      gq += 1 - p;
      gpq += p * (1 - p);
      h++;
    }
    num += gp * negBelow + (gp * gq - gpq) / 2;
    negBelow += gq;
    sumP += gp;
    sumQ += gq;
    sumPQ += gpq;
    g = h;
  }
  return num / (sumP * sumQ - sumPQ);
}

/** AUC the labels realize (Mann–Whitney, ties half). */
function realizedAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const probs = Array.from(labels, (y) => y);
  return expectedAuc(scores, probs);
}

function accumulate(scores: number[], probs: number[], threshold: number): BinaryPerformanceAccumulator {
  const acc = emptyBinary({ threshold });
  scores.forEach((s, i) => {
    addBinary(acc, s, probs[i]);
  });
  return acc;
}

function rows(n: number, seed: number, scoreIsProbability: boolean) {
  const r = mulberry32(seed);
  const scores: number[] = [];
  const probs: number[] = [];
  for (let i = 0; i < n; i++) {
    // A few exact ties, bin edges and 0/1 among continuous scores.
    const u = r();
    const s = u < 0.05 ? Math.round(r() * 20) / 20 : u < 0.07 ? (r() < 0.5 ? 0 : 1) : sigmoid(2 * normal(r));
    scores.push(s);
    probs.push(scoreIsProbability ? s : Math.min(1, Math.max(0, s + 0.2 * (r() - 0.5))));
  }
  return { scores, probs };
}

describe('binary accumulator: estimates equal the raw computation', () => {
  it.each([
    [0.5, true],
    [0.37, true],
    [0.123456789, false],
    [0.29, false],
    [0, true],
    [1, true],
  ])('threshold %s (score is the probability: %s)', (t, same) => {
    const { scores, probs } = rows(3000, 11 + Math.round(t * 1000), same);
    const e = estimateBinary(accumulate(scores, probs, t));
    const d = directBinary(scores, probs, t);
    expect(e.rows).toBe(3000);
    for (const k of ['tp', 'fp', 'fn', 'tn'] as const) expectAbs(e[k] / 3000, d[k] / 3000, 1e-12);
    const check = (est: Estimate, value: number, sd: number) => {
      if (Number.isNaN(value)) {
        expect(est.value).toBeNaN();
        return;
      }
      expectAbs(est.value, value, 1e-12);
      expectAbs(est.sd, sd, 1e-12);
      expectAbs(est.lower, Math.max(0, value - 1.959963984540054 * sd), 1e-12);
      expectAbs(est.upper, Math.min(1, value + 1.959963984540054 * sd), 1e-12);
    };
    check(e.accuracy, d.accuracy, d.accuracySd);
    check(e.precision, d.precision, d.precisionSd);
    check(e.recall, d.recall, d.recallSd);
    check(e.f1, d.f1, d.f1Sd);
    const exact = expectedAuc(scores, probs);
    expect(Math.abs(e.auc.value - exact)).toBeLessThanOrEqual(e.aucErrorBound);
    expect(e.aucErrorBound).toBeLessThan(0.01);
  });

  it('puts a score exactly at the threshold on the positive side and the double below it on the negative', () => {
    for (const t of [0.5, 0.37, 0.123456789, 1]) {
      const below = t - Number.EPSILON * t;
      const acc = accumulate([t, below], [0.9, 0.2], t);
      const e = estimateBinary(acc);
      expect([e.tp, e.fp, e.fn, e.tn]).toEqual([0.9, 1 - 0.9, 0.2, 1 - 0.2]);
    }
    // 0.29 * 100 is 28.999999999999996: binned by comparison with the edge 29/100, not by floor.
    const edges = binaryCellEdges(0.5, 100);
    expect(edges).toHaveLength(99);
    expect(binaryCellEdges(0.37, 100)).toHaveLength(99);
    expect(binaryCellEdges(0.371, 100)).toHaveLength(100);
    const acc = emptyBinary();
    addBinary(acc, 0.29);
    expect(acc.count[29]).toBe(1);
  });

  it('bounds the AUC error by the within-cell spread, and the bound holds where the half rule is off', () => {
    // Naive and sorted exact expected AUC agree.
    const small = rows(300, 5, false);
    expectAbs(expectedAuc(small.scores, small.probs), expectedAucNaive(small.scores, small.probs), 1e-12);
    // Few coarse bins make the half rule visibly wrong; the bound must still hold.
    for (const bins of [1, 2, 5, 20]) {
      const { scores, probs } = rows(2000, 40 + bins, true);
      const acc = emptyBinary({ bins, threshold: 0.5 });
      scores.forEach((s, i) => {
        addBinary(acc, s, probs[i]);
      });
      const e = estimateBinary(acc);
      const exact = expectedAuc(scores, probs);
      expect(Math.abs(e.auc.value - exact)).toBeLessThanOrEqual(e.aucErrorBound);
      if (bins <= 2) expect(Math.abs(e.auc.value - exact)).toBeGreaterThan(0.01);
    }
    // All rows in one tied cell: the half rule is exact.
    const tied = estimateBinary(accumulate([0.3, 0.3, 0.3], [0.3, 0.3, 0.3], 0.5));
    expectAbs(tied.auc.value, 0.5, 1e-15);
    expect(tied.aucErrorBound).toBeLessThan(1e-6); // zero but for rounding in n·Σp̂² − (Σp̂)²
  });

  it('merge(a, b) equals accumulating the union', () => {
    const a = rows(1500, 1, false);
    const b = rows(900, 2, false);
    const merged = merge(accumulate(a.scores, a.probs, 0.37), accumulate(b.scores, b.probs, 0.37));
    const union = accumulate([...a.scores, ...b.scores], [...a.probs, ...b.probs], 0.37);
    expect(merged.count).toEqual(union.count);
    for (const k of ['sumP', 'sumP2'] as const) {
      merged[k].forEach((v, c) => {
        expectAbs(v, union[k][c] as number, 1e-9);
      });
    }
    expect(merged.threshold).toBe(0.37);
    // The accumulator survives a JSON round trip (stored as plain vectors).
    const back = JSON.parse(JSON.stringify(merged)) as BinaryPerformanceAccumulator;
    expect(estimateBinary(back)).toEqual(estimateBinary(merged));
  });
});

describe('multiclass accumulator', () => {
  function softmaxRows(n: number, K: number, seed: number) {
    const r = mulberry32(seed);
    return Array.from({ length: n }, () => {
      const z = Array.from({ length: K }, (_, j) => normal(r) + (j === 0 ? 0.8 : 0));
      const e = z.map(Math.exp);
      const s = e.reduce((x, y) => x + y, 0);
      return e.map((v) => v / s);
    });
  }
  const argmaxOf = (p: number[]) => p.indexOf(Math.max(...p));

  it('expected confusion, accuracy, per-class and macro metrics equal the raw computation', () => {
    const K = 4;
    const data = softmaxRows(4000, K, 9);
    const acc = emptyMulticlass(K);
    for (const p of data) addMulticlass(acc, p);
    const e = estimateMulticlass(acc);
    const C = Array.from({ length: K * K }, () => 0);
    const V = Array.from({ length: K * K }, () => 0);
    const m = Array.from({ length: K }, () => 0);
    for (const p of data) {
      const i = argmaxOf(p);
      m[i] = (m[i] as number) + 1;
      p.forEach((v, j) => {
        C[i * K + j] = (C[i * K + j] as number) + v;
        V[i * K + j] = (V[i * K + j] as number) + v * (1 - v);
      });
    }
    e.confusion.forEach((v, c) => {
      expectAbs(v / 4000, (C[c] as number) / 4000, 1e-12);
    });
    let correct = 0;
    let vc = 0;
    for (let j = 0; j < K; j++) {
      correct += C[j * K + j] as number;
      vc += V[j * K + j] as number;
    }
    expectAbs(e.accuracy.value, correct / 4000, 1e-12);
    expectAbs(e.accuracy.sd, Math.sqrt(vc) / 4000, 1e-12);
    let macroF1 = 0;
    for (let j = 0; j < K; j++) {
      const tp = C[j * K + j] as number;
      let fn = 0;
      for (let i = 0; i < K; i++) if (i !== j) fn += C[i * K + j] as number;
      const cls = e.perClass[j];
      expectAbs(cls?.precision.value as number, tp / (m[j] as number), 1e-12);
      expectAbs(cls?.recall.value as number, tp / (tp + fn), 1e-12);
      expectAbs(cls?.f1.value as number, (2 * tp) / ((m[j] as number) + tp + fn), 1e-12);
      macroF1 += (2 * tp) / ((m[j] as number) + tp + fn) / K;
    }
    expectAbs(e.macro.f1.value, macroF1, 1e-12);
    // Merge equals the union.
    const a = emptyMulticlass(K);
    const b = emptyMulticlass(K);
    data.forEach((p, i) => {
      addMulticlass(i < 1234 ? a : b, p);
    });
    const merged = estimateMulticlass(merge(a, b));
    expect(merge(a, b).count).toEqual(acc.count);
    expectAbs(merged.accuracy.value, e.accuracy.value, 1e-12);
    expectAbs(merged.macro.f1.value, e.macro.f1.value, 1e-12);
  });

  it('realized accuracy and macro F1 lie inside their bands in at least 90% of 200 windows', () => {
    const r = mulberry32(77);
    let accIn = 0;
    let f1In = 0;
    for (let w = 0; w < 200; w++) {
      const data = softmaxRows(2000, 3, 1000 + w);
      const acc = emptyMulticlass(3);
      const conf = Array.from({ length: 9 }, () => 0);
      for (const p of data) {
        addMulticlass(acc, p);
        const u = r();
        const y = u < (p[0] as number) ? 0 : u < (p[0] as number) + (p[1] as number) ? 1 : 2;
        const i = argmaxOf(p);
        conf[i * 3 + y] = (conf[i * 3 + y] as number) + 1;
      }
      const e = estimateMulticlass(acc);
      const correct = (conf[0] as number) + (conf[4] as number) + (conf[8] as number);
      if (correct / 2000 >= e.accuracy.lower && correct / 2000 <= e.accuracy.upper) accIn++;
      let f1 = 0;
      for (let j = 0; j < 3; j++) {
        const tp = conf[j * 4] as number;
        const pred = (conf[j * 3] as number) + (conf[j * 3 + 1] as number) + (conf[j * 3 + 2] as number);
        const act = (conf[j] as number) + (conf[3 + j] as number) + (conf[6 + j] as number);
        f1 += pred + act > 0 ? (2 * tp) / (pred + act) / 3 : 0;
      }
      if (f1 >= e.macro.f1.lower && f1 <= e.macro.f1.upper) f1In++;
    }
    expect(accIn).toBeGreaterThanOrEqual(180);
    expect(f1In).toBeGreaterThanOrEqual(180);
  });

  it('expected one-vs-rest AUC per class and macro: the cells exactly, the raw rows within the bound', () => {
    const K = 4;
    const data = softmaxRows(3000, K, 31);
    // Calibrated probabilities differ from the raw ones the cells bin by (a sharpening, renormalised).
    const calibrated = data.map((p) => {
      const q = p.map((v) => v ** 1.3);
      const s = q.reduce((x, y) => x + y, 0);
      return q.map((v) => v / s);
    });
    const acc = emptyMulticlass(K, { aucBins: 100 });
    data.forEach((p, i) => {
      addMulticlass(acc, calibrated[i] as number[], argmaxOf(p), p);
    });
    const e = estimateMulticlass(acc);
    const edges = binaryCellEdges(0, 100);
    let exactMacro = 0;
    let boundMacro = 0;
    let sdMacro = 0;
    for (let j = 0; j < K; j++) {
      const scores = data.map((p) => p[j] as number);
      const probs = calibrated.map((p) => p[j] as number);
      const cells = scores.map((s) => edges.filter((x) => x <= s).length);
      const got = e.aucPerClass[j] as Estimate;
      // The cells' expected AUC (pairs within one counted half) is what is computed; the raw rows' lies
      // within the class's bound of it.
      expectAbs(got.value, expectedAuc(cells, probs), 1e-12);
      const exact = expectedAuc(scores, probs);
      const bound = (got.upper - got.lower) / 2;
      expect(Math.abs(got.value - exact)).toBeLessThanOrEqual(bound);
      const one = estimateBinary({
        kind: 'binary',
        threshold: 0,
        bins: 100,
        count: acc.auc?.count.slice(j * 100, j * 100 + 100) as number[],
        sumP: acc.auc?.sumP.slice(j * 100, j * 100 + 100) as number[],
        sumP2: acc.auc?.sumP2.slice(j * 100, j * 100 + 100) as number[],
      });
      expect(Math.abs(got.value - exact)).toBeLessThanOrEqual(one.aucErrorBound);
      exactMacro += exact / K;
      boundMacro += one.aucErrorBound / K;
      sdMacro += got.sd / K;
    }
    expectAbs(e.aucErrorBound, boundMacro, 1e-15);
    expectAbs(e.auc.sd, sdMacro, 1e-15);
    expect(Math.abs(e.auc.value - exactMacro)).toBeLessThanOrEqual(e.aucErrorBound);
    expect(e.aucErrorBound).toBeLessThan(0.01);
    // Merge equals the union; without AUC cells there is no AUC.
    const a = emptyMulticlass(K, { aucBins: 100 });
    const b = emptyMulticlass(K, { aucBins: 100 });
    data.forEach((p, i) => {
      addMulticlass(i < 999 ? a : b, calibrated[i] as number[], argmaxOf(p), p);
    });
    expectAbs(estimateMulticlass(merge(a, b)).auc.value, e.auc.value, 1e-12);
    expect(() => merge(a, emptyMulticlass(K))).toThrow(/AUC cells differ/);
    expect(() => addMulticlass(a, data[0] as number[], 0, [0.5, 0.5])).toThrow(/scores must hold 4/);
    expect(() => addMulticlass(a, [0.25, 0.25, 0.25, 0.25], 0, [0.2, 0.3, 1.2, 0])).toThrow(
      /scores\[2\] must be a number in \[0, 1\]/,
    );
    const plain = emptyMulticlass(K);
    addMulticlass(plain, data[0] as number[]);
    expect(estimateMulticlass(plain).auc.value).toBeNaN();
  });

  it('the realized macro one-vs-rest AUC lies inside the estimated band in at least 90% of 200 windows', () => {
    const r = mulberry32(78);
    let inside = 0;
    let worst = 0;
    for (let w = 0; w < 200; w++) {
      const data = softmaxRows(2000, 3, 5000 + w);
      const acc = emptyMulticlass(3, { aucBins: 100 });
      const ys: number[] = [];
      for (const p of data) {
        addMulticlass(acc, p);
        const u = r();
        ys.push(u < (p[0] as number) ? 0 : u < (p[0] as number) + (p[1] as number) ? 1 : 2);
      }
      const e = estimateMulticlass(acc);
      let realized = 0;
      let expected = 0;
      for (let j = 0; j < 3; j++) {
        const scores = data.map((p) => p[j] as number);
        realized +=
          realizedAuc(
            scores,
            ys.map((y) => (y === j ? 1 : 0)),
          ) / 3;
        expected += expectedAuc(scores, scores) / 3;
      }
      worst = Math.max(worst, Math.abs(e.auc.value - expected));
      if (realized >= e.auc.lower && realized <= e.auc.upper) inside++;
    }
    // The estimate is the expected macro AUC of the logged probabilities, to within the cells' bound.
    expect(worst).toBeLessThan(0.01);
    expect(inside).toBeGreaterThanOrEqual(180);
  });
});

describe('input errors name the field', () => {
  it('rejects bad scores, probabilities, thresholds and mismatched merges', () => {
    const acc = emptyBinary();
    expect(() => addBinary(acc, 1.2)).toThrow(/addBinary: score must be a number in \[0, 1\], got 1.2/);
    expect(() => addBinary(acc, 0.4, Number.NaN)).toThrow(
      /probability must be a number in \[0, 1\], got NaN/,
    );
    expect(() => emptyBinary({ threshold: -0.1 })).toThrow(/threshold must be a number in \[0, 1\]/);
    expect(() => emptyBinary({ bins: 0 })).toThrow(/bins must be an integer/);
    expect(() => estimateBinary(acc)).toThrow(/holds no rows/);
    expect(() => merge(emptyBinary({ threshold: 0.4 }), emptyBinary())).toThrow(/thresholds and bins differ/);
    expect(() => merge({ ...emptyBinary(), count: [1] }, emptyBinary())).toThrow(/merge: a has vectors/);
    const mc = emptyMulticlass(3);
    expect(() => addMulticlass(mc, [0.5, 0.5])).toThrow(/probs must hold 3 probabilities, got 2/);
    expect(() => addMulticlass(mc, [0.5, 0.6, 0.1])).toThrow(/probs must sum to 1, got 1.2/);
    expect(() => addMulticlass(mc, [0.5, -0.1, 0.6])).toThrow(/probs\[1\] must be a number in \[0, 1\]/);
    expect(() => addMulticlass(mc, [0.2, 0.3, 0.5], 3)).toThrow(
      /predicted must be a class index from 0 to 2/,
    );
    expect(() => merge(mc, emptyMulticlass(4))).toThrow(StatsInputError);
    expect(() => expectedCalibrationError([0.2, 0.4], [1, 2])).toThrow(
      /labels\[1\] is 2; each label must be 0 or 1/,
    );
    expect(() => chooseCalibration([0.2, 1.4], [1, 0])).toThrow(
      /scores\[1\] is 1.4; it must lie in \[0, 1\]/,
    );
    expect(() => isotonicFit([0.1, 0.2], [1])).toThrow(/labels has 1 entries, scores has 2/);
  });
});

interface IsoCase {
  x: number[];
  y: number[];
  w: number[];
  fit: number[];
}
interface EceCase {
  p: number[];
  y: number[];
  bins: number;
  ece: number;
}
const extra = loadJson<{ isotonic: IsoCase[]; ece: EceCase[] }>('./extra-golden.json');

/** Least-squares monotone fit by brute force: every split of the sorted points into consecutive blocks. */
function bruteIsotonic(x: number[], y: number[]): number[] {
  const order = x.map((_, i) => i).sort((a, b) => (x[a] as number) - (x[b] as number));
  const n = x.length;
  let best = Number.POSITIVE_INFINITY;
  let bestFit: number[] = [];
  for (let mask = 0; mask < 1 << (n - 1); mask++) {
    const fit = new Array<number>(n).fill(0);
    let start = 0;
    let prev = Number.NEGATIVE_INFINITY;
    let ok = true;
    let sse = 0;
    for (let k = 0; k < n && ok; k++) {
      const cut = k === n - 1 || (mask >> k) & 1;
      // Equal scores must share a value: no cut between them.
      if (cut && k < n - 1 && x[order[k] as number] === x[order[k + 1] as number]) ok = false;
      if (!cut || !ok) continue;
      const block = order.slice(start, k + 1);
      const mean = block.reduce((s, i) => s + (y[i] as number), 0) / block.length;
      if (mean < prev) ok = false;
      for (const i of block) {
        fit[i] = mean;
        sse += ((y[i] as number) - mean) ** 2;
      }
      prev = mean;
      start = k + 1;
    }
    if (ok && sse < best - 1e-12) {
      best = sse;
      bestFit = fit;
    }
  }
  return bestFit;
}

describe('isotonic calibration', () => {
  it.each(extra.isotonic.map((c, i) => [i, c.x.length, c] as const))(
    'PAV equals the min-max reference: case %s (n=%s)',
    (_i, _n, c) => {
      const map = isotonicFit(c.x, c.y, c.w);
      c.x.forEach((x, i) => {
        expectAbs(applyIsotonic(map, x), c.fit[i] as number, 1e-12);
      });
      for (let k = 1; k < map.y.length; k++)
        expect(map.y[k] as number).toBeGreaterThan(map.y[k - 1] as number);
    },
  );

  it('PAV equals a brute-force least-squares monotone fit on small inputs', () => {
    const r = mulberry32(3);
    for (let t = 0; t < 300; t++) {
      const n = 1 + (t % 9);
      const x = Array.from({ length: n }, () => Math.floor(r() * 6) / 5);
      const y = Array.from({ length: n }, () => (t % 2 ? Math.round(r()) : r()));
      const map = isotonicFit(x, y);
      const brute = bruteIsotonic(x, y);
      x.forEach((v, i) => {
        expectAbs(applyIsotonic(map, v), brute[i] as number, 1e-12);
      });
    }
  });

  it.each(extra.ece.map((c, i) => [i, c.p.length, c.bins, c] as const))(
    'ECE equals the numpy reference: case %s (n=%s, bins=%s)',
    (_i, _n, bins, c) => {
      expectAbs(expectedCalibrationError(c.p, c.y, bins), c.ece, 1e-12);
    },
  );

  it('chooses isotonic for miscalibrated baselines and the identity for calibrated ones (cross-fitted ECE)', () => {
    const r = mulberry32(21);
    const truth: number[] = [];
    const over: number[] = [];
    const labels: number[] = [];
    for (let i = 0; i < 10000; i++) {
      const z = -1 + 2 * normal(r);
      truth.push(sigmoid(z));
      over.push(sigmoid(2 * z));
      labels.push(r() < sigmoid(z) ? 1 : 0);
    }
    const mis = chooseCalibration(over, labels);
    expect(mis.method).toBe('isotonic');
    expect(mis.eceIsotonic).toBeLessThan(mis.eceIdentity);
    const cal = chooseCalibration(truth, labels);
    expect(cal.method).toBe('identity');
    expect(cal.map).toBeNull();
    expect(cal.eceIsotonic).toBeGreaterThanOrEqual(cal.eceIdentity);
  });

  it('multiclass: one-vs-rest maps renormalised, chosen on the top-label ECE', () => {
    const r = mulberry32(8);
    const probs: number[][] = [];
    const labels: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const z = [normal(r) + 1, normal(r), normal(r) - 0.5];
      const t = z.map(Math.exp);
      const ts = t.reduce((a, b) => a + b, 0);
      const u = r();
      labels.push(u < (t[0] as number) / ts ? 0 : u < ((t[0] as number) + (t[1] as number)) / ts ? 1 : 2);
      // Overconfident model: logits doubled.
      const o = z.map((v) => Math.exp(2 * v));
      const os = o.reduce((a, b) => a + b, 0);
      probs.push(o.map((v) => v / os));
    }
    const c = chooseMulticlassCalibration(probs, labels);
    expect(c.method).toBe('isotonic');
    expect(c.eceIsotonic).toBeLessThan(c.eceIdentity);
    const q = applyMulticlassCalibration(c.maps ?? [], probs[0] as number[]);
    expectAbs(
      q.reduce((a, b) => a + b, 0),
      1,
      1e-12,
    );
  });
});

describe('simulation: covariate shift, windows of 5000', () => {
  // Logistic model P(y = 1 | x) = σ(−1 + 2x); the feature's mean moves from 0 to 1.5 across 200 windows.
  function window(w: number, r: () => number) {
    const x = Array.from({ length: 5000 }, () => (1.5 * w) / 199 + normal(r));
    const p = x.map((v) => sigmoid(-1 + 2 * v));
    const y = p.map((v) => (r() < v ? 1 : 0));
    return { x, p, y };
  }

  it('calibrated scores: accuracy within 0.005 and AUC within 0.01 of the expected values; realized accuracy in the band in ≥ 90% of windows', () => {
    const r = mulberry32(2024);
    let inside = 0;
    let aucInside = 0;
    let worstAcc = 0;
    let worstAuc = 0;
    for (let w = 0; w < 200; w++) {
      const { p, y } = window(w, r);
      const acc = emptyBinary();
      for (const v of p) addBinary(acc, v);
      const e = estimateBinary(acc);
      const expectedAccuracy = p.reduce((s, v) => s + (v >= 0.5 ? v : 1 - v), 0) / p.length;
      worstAcc = Math.max(worstAcc, Math.abs(e.accuracy.value - expectedAccuracy));
      worstAuc = Math.max(worstAuc, Math.abs(e.auc.value - expectedAuc(p, p)));
      const realized = p.reduce((s, v, i) => s + ((v >= 0.5 ? 1 : 0) === y[i] ? 1 : 0), 0) / p.length;
      if (realized >= e.accuracy.lower && realized <= e.accuracy.upper) inside++;
      const ra = realizedAuc(p, y);
      if (ra >= e.auc.lower && ra <= e.auc.upper) aucInside++;
    }
    expect(worstAcc).toBeLessThan(0.005);
    expect(worstAuc).toBeLessThan(0.01);
    expect(inside).toBeGreaterThanOrEqual(180);
    expect(aucInside).toBeGreaterThanOrEqual(180);
  });

  it('an overconfident model calibrated by isotonic regression on the baseline: estimates follow the truth', () => {
    const r = mulberry32(99);
    // Baseline: 200 000 labelled rows at the unshifted mean; the model's score is σ(2·(−1 + 2x)). The band
    // covers the labels' sampling only: the map's own error (about √(a(1−a)/n) for a baseline of n rows)
    // comes on top, so a small baseline shifts every window alike (docs/statistics.md).
    const base = Array.from({ length: 40 }, () => window(0, r));
    const baseScores = base.flatMap((b) => b.p.map((v) => sigmoid(2 * Math.log(v / (1 - v)))));
    const baseLabels = base.flatMap((b) => b.y);
    const choice = chooseCalibration(baseScores, baseLabels);
    expect(choice.method).toBe('isotonic');
    const map = choice.map ?? { x: [0], y: [0] };
    let inside = 0;
    let worstCalibrated = 0;
    let worstRaw = 0;
    let worstAuc = 0;
    for (let w = 0; w < 200; w++) {
      const { p, y } = window(w, r);
      const scores = p.map((v) => sigmoid(2 * Math.log(v / (1 - v))));
      const acc = emptyBinary();
      const raw = emptyBinary();
      for (const s of scores) {
        addBinary(acc, s, applyIsotonic(map, s));
        addBinary(raw, s);
      }
      const e = estimateBinary(acc);
      const truth = p.reduce((s, v) => s + (v >= 0.5 ? v : 1 - v), 0) / p.length;
      worstCalibrated = Math.max(worstCalibrated, Math.abs(e.accuracy.value - truth));
      worstRaw = Math.max(worstRaw, Math.abs(estimateBinary(raw).accuracy.value - truth));
      const realized = p.reduce((s, v, i) => s + ((v >= 0.5 ? 1 : 0) === y[i] ? 1 : 0), 0) / p.length;
      if (realized >= e.accuracy.lower && realized <= e.accuracy.upper) inside++;
      worstAuc = Math.max(worstAuc, Math.abs(e.auc.value - expectedAuc(scores, p)));
    }
    expect(worstCalibrated).toBeLessThan(0.005);
    expect(worstAuc).toBeLessThan(0.01);
    expect(worstRaw).toBeGreaterThan(0.05);
    expect(inside).toBeGreaterThanOrEqual(180);
  });
});
