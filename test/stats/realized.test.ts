import { describe, expect, it } from 'vitest';
import {
  addRealizedBinary,
  addRealizedMulticlass,
  binaryCellEdges,
  emptyRealizedBinary,
  emptyRealizedMulticlass,
  mergeRealized,
  mulberry32,
  type RealizedBinaryAccumulator,
  realizedBinary,
  realizedMulticlass,
  StatsInputError,
} from '../../src/stats/index.js';
import { expectAbs } from './helpers.js';

// Realized metrics from per-cell label counts, each checked against a computation on the raw rows written
// independently of the accumulator (confusion matrices by comparison, AUC by Mann–Whitney on sorted rows).

const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Mann–Whitney AUC of scores against 0/1 labels, tied scores counted half; NaN without both labels. */
function mannWhitney(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  let negBelow = 0;
  let num = 0;
  let P = 0;
  for (let g = 0; g < order.length; ) {
    let h = g;
    let gp = 0;
    let gq = 0;
    while (h < order.length && scores[order[h] as number] === scores[order[g] as number]) {
      if (labels[order[h] as number] === 1) gp++;
      else gq++;
      h++;
    }
    num += gp * negBelow + (gp * gq) / 2;
    negBelow += gq;
    P += gp;
    g = h;
  }
  return P > 0 && negBelow > 0 ? num / (P * negBelow) : Number.NaN;
}

/** A score's cell by a linear scan of the edges (the number of edges ≤ s). */
function cellByScan(edges: number[], s: number): number {
  let c = 0;
  for (const e of edges) if (e <= s) c++;
  return c;
}

/** Per-class precision, recall, F1 and support, and their macro over all classes (undefined as 0). */
function directMetrics(predicted: number[], actual: number[], K: number) {
  const per = Array.from({ length: K }, (_, c) => {
    let tp = 0;
    let pred = 0;
    let act = 0;
    predicted.forEach((p, i) => {
      if (p === c) pred++;
      if (actual[i] === c) act++;
      if (p === c && actual[i] === c) tp++;
    });
    return {
      precision: pred > 0 ? tp / pred : Number.NaN,
      recall: act > 0 ? tp / act : Number.NaN,
      f1: pred + act > 0 ? (2 * tp) / (pred + act) : Number.NaN,
      support: act,
    };
  });
  const mean = (k: 'precision' | 'recall' | 'f1') =>
    per.reduce((s, c) => s + (Number.isFinite(c[k]) ? c[k] : 0), 0) / per.length;
  const correct = predicted.filter((p, i) => p === actual[i]).length;
  return {
    per,
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    accuracy: correct / predicted.length,
  };
}

function binaryRows(n: number, seed: number) {
  const r = mulberry32(seed);
  const scores: number[] = [];
  const labels: (0 | 1)[] = [];
  for (let i = 0; i < n; i++) {
    const u = r();
    // Continuous scores with exact ties, bin edges, 0 and 1 among them.
    const s = u < 0.05 ? Math.round(r() * 20) / 20 : u < 0.07 ? (r() < 0.5 ? 0 : 1) : sigmoid(2 * normal(r));
    scores.push(s);
    labels.push(r() < s ? 1 : 0);
  }
  return { scores, labels };
}

function expectMetric(got: number, want: number, tol = 1e-12): void {
  if (Number.isNaN(want)) expect(got).toBeNaN();
  else expectAbs(got, want, tol);
}

describe('realized binary counts', () => {
  it.each([0.5, 0.3, 0.337, 0, 1])(
    'threshold %s: confusion, per-class and macro metrics and AUC equal the raw computation',
    (t) => {
      const { scores, labels } = binaryRows(3000, 11);
      const acc = emptyRealizedBinary({ threshold: t });
      scores.forEach((s, i) => {
        addRealizedBinary(acc, s, labels[i] as 0 | 1);
      });
      const r = realizedBinary(acc);
      const predicted = scores.map((s) => (s >= t ? 1 : 0));
      const d = directMetrics(predicted, labels, 2);
      const count = (p: number, y: number) => predicted.filter((v, i) => v === p && labels[i] === y).length;
      expect(r.rows).toBe(3000);
      expect(r.confusion).toEqual([count(0, 0), count(0, 1), count(1, 0), count(1, 1)]);
      expect(r.accuracy).toBe(d.accuracy);
      r.perClass.forEach((c, j) => {
        const w = d.per[j] as (typeof d.per)[number];
        expectMetric(c.precision, w.precision);
        expectMetric(c.recall, w.recall);
        expectMetric(c.f1, w.f1);
        expect(c.support).toBe(w.support);
      });
      expectMetric(r.macro.precision, d.macro.precision);
      expectMetric(r.macro.recall, d.macro.recall);
      expectMetric(r.macro.f1, d.macro.f1);
      // The AUC of the cells (pairs within one counted half) exactly, and the raw scores' within the bound.
      const edges = binaryCellEdges(t, 100);
      const cells = scores.map((s) => cellByScan(edges, s));
      expectAbs(r.auc, mannWhitney(cells, labels), 1e-12);
      const exact = mannWhitney(scores, labels);
      expect(Math.abs(r.auc - exact)).toBeLessThanOrEqual(r.aucErrorBound + 1e-12);
      expect(r.aucErrorBound).toBeLessThan(0.01);
    },
  );

  it('merging equals counting the union, and removing a label leaves exactly the counts without it', () => {
    const { scores, labels } = binaryRows(1000, 12);
    const all = emptyRealizedBinary({ threshold: 0.42 });
    const a = emptyRealizedBinary({ threshold: 0.42 });
    const b = emptyRealizedBinary({ threshold: 0.42 });
    scores.forEach((s, i) => {
      addRealizedBinary(all, s, labels[i] as 0 | 1);
      addRealizedBinary(i % 3 === 0 ? a : b, s, labels[i] as 0 | 1);
    });
    expect(mergeRealized(a, b)).toEqual(all);
    // A corrected label: out with the old, in with the new, equals counting the corrected rows.
    const corrected = labels.map((y, i) => (i === 17 ? 1 - y : y)) as (0 | 1)[];
    addRealizedBinary(all, scores[17] as number, labels[17] as 0 | 1, -1);
    addRealizedBinary(all, scores[17] as number, corrected[17] as 0 | 1, 1);
    const fresh = emptyRealizedBinary({ threshold: 0.42 });
    scores.forEach((s, i) => {
      addRealizedBinary(fresh, s, corrected[i] as 0 | 1);
    });
    expect(all).toEqual(fresh);
  });

  it('with labels of one kind only, AUC is undefined (NaN), never 0.5', () => {
    const acc: RealizedBinaryAccumulator = emptyRealizedBinary();
    for (const s of [0.1, 0.6, 0.9]) addRealizedBinary(acc, s, 1);
    const r = realizedBinary(acc);
    expect(r.auc).toBeNaN();
    expect(r.perClass[0]?.recall).toBeNaN();
    // Class 0 was never labelled: its undefined recall counts 0 in the macro.
    expect(r.macro.recall).toBe((0 + 2 / 3) / 2);
  });
});

describe('realized K-class counts', () => {
  function softmaxRows(n: number, K: number, seed: number) {
    const r = mulberry32(seed);
    return Array.from({ length: n }, () => {
      const z = Array.from({ length: K }, (_, j) => normal(r) + (j === 0 ? 0.8 : 0));
      const e = z.map(Math.exp);
      const s = e.reduce((x, y) => x + y, 0);
      const p = e.map((v) => v / s);
      // Labels drawn from the probabilities; 3% are none of the classes (−1).
      let u = r();
      let y = -1;
      if (r() >= 0.03) {
        y = K - 1;
        for (let j = 0; j < K; j++) {
          u -= p[j] as number;
          if (u < 0) {
            y = j;
            break;
          }
        }
      }
      return { p, y };
    });
  }
  const argmaxOf = (p: number[]) => p.indexOf(Math.max(...p));

  it('confusion (with labels of no class), per-class and macro metrics and one-vs-rest AUC equal the raw computation', () => {
    const K = 4;
    const data = softmaxRows(3000, K, 21);
    const acc = emptyRealizedMulticlass(K, { aucBins: 100 });
    for (const { p, y } of data) addRealizedMulticlass(acc, argmaxOf(p), y, p);
    const r = realizedMulticlass(acc);
    const predicted = data.map((d) => argmaxOf(d.p));
    const actual = data.map((d) => d.y);
    expect(r.rows).toBe(3000);
    for (let i = 0; i < K; i++)
      for (let j = -1; j < K; j++) {
        const n = predicted.filter((v, k) => v === i && actual[k] === j).length;
        expect(r.confusion[i * (K + 1) + (j === -1 ? K : j)]).toBe(n);
      }
    const d = directMetrics(predicted, actual, K);
    expect(r.accuracy).toBe(d.accuracy);
    r.perClass.forEach((c, j) => {
      const w = d.per[j] as (typeof d.per)[number];
      expectMetric(c.precision, w.precision);
      expectMetric(c.recall, w.recall);
      expectMetric(c.f1, w.f1);
      expect(c.support).toBe(w.support);
    });
    expectMetric(r.macro.f1, d.macro.f1);
    expectMetric(r.macro.precision, d.macro.precision);
    expectMetric(r.macro.recall, d.macro.recall);
    // One-vs-rest AUC per class: label j against every other label (including no class).
    let exactMacro = 0;
    let cellMacro = 0;
    for (let j = 0; j < K; j++) {
      const scores = data.map((x) => x.p[j] as number);
      const ys = actual.map((y) => (y === j ? 1 : 0));
      const cells = scores.map((s) => cellByScan(binaryCellEdges(0, 100), s));
      expectAbs(r.aucPerClass[j] as number, mannWhitney(cells, ys), 1e-12);
      exactMacro += mannWhitney(scores, ys) / K;
      cellMacro += mannWhitney(cells, ys) / K;
    }
    expectAbs(r.auc, cellMacro, 1e-12);
    expect(Math.abs(r.auc - exactMacro)).toBeLessThanOrEqual(r.aucErrorBound + 1e-12);
    // Merge equals the union.
    const a = emptyRealizedMulticlass(K, { aucBins: 100 });
    const b = emptyRealizedMulticlass(K, { aucBins: 100 });
    data.forEach(({ p, y }, i) => {
      addRealizedMulticlass(i < 1111 ? a : b, argmaxOf(p), y, p);
    });
    expect(mergeRealized(a, b)).toEqual(acc);
  });

  it('averages the macro over all classes (undefined as 0, as the estimate), and the AUC over classes with both kinds of labels', () => {
    const acc = emptyRealizedMulticlass(3, { aucBins: 10 });
    // Class 2 is never predicted nor labelled; class 1 is labelled but never predicted.
    addRealizedMulticlass(acc, 0, 0, [0.7, 0.2, 0.1]);
    addRealizedMulticlass(acc, 0, 1, [0.6, 0.3, 0.1]);
    addRealizedMulticlass(acc, 0, 0, [0.5, 0.45, 0.05]);
    const r = realizedMulticlass(acc);
    expect(r.perClass[2]?.precision).toBeNaN();
    expect(r.macro.precision).toBe(2 / 3 / 3);
    expect(r.macro.recall).toBe(1 / 3);
    expect(r.aucPerClass[2]).toBeNaN();
    expect(r.auc).toBe(((r.aucPerClass[0] as number) + (r.aucPerClass[1] as number)) / 2);
    // Without AUC cells: no AUC, the rest unchanged.
    const plain = emptyRealizedMulticlass(3);
    addRealizedMulticlass(plain, 0, 0);
    expect(realizedMulticlass(plain).auc).toBeNaN();
  });

  it('names the field of bad input', () => {
    const acc = emptyRealizedMulticlass(3, { aucBins: 10 });
    expect(() => addRealizedMulticlass(acc, 3, 0, [0.2, 0.3, 0.5])).toThrow(StatsInputError);
    expect(() => addRealizedMulticlass(acc, 0, 5, [0.2, 0.3, 0.5])).toThrow(/label must be a class index/);
    expect(() => addRealizedMulticlass(acc, 0, 1, [0.2, 0.3])).toThrow(/scores must hold 3/);
    expect(() => addRealizedBinary(emptyRealizedBinary(), 1.5, 1)).toThrow(
      /score must be a number in \[0, 1\]/,
    );
    expect(() => mergeRealized(emptyRealizedMulticlass(3), acc)).toThrow(/shapes differ/);
  });
});
