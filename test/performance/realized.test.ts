import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { performanceResultSchema } from '../../src/performance/routes.js';
import type { PerformanceResult, RealizedView } from '../../src/performance/service.js';
import { binaryCellEdges, mulberry32 } from '../../src/stats/index.js';
import { createBaseline, ingestAll } from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, postJson, type TestApp } from '../support.js';

// Realized metrics end to end: labels at ingest, joined later, corrected and removed keep the per-bucket
// counts equal to a direct computation on the rows sent; the K-class estimate's one-vs-rest AUC equals the
// one computed from the logged probabilities.

const HOUR = 3_600_000;
const START = Math.floor(FIXED_NOW / HOUR) * HOUR - 5 * HOUR;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Mann–Whitney AUC of scores against 0/1 weights (labels, or probabilities for the expected AUC). */
function auc(scores: number[], weights: number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let num = 0;
  let negBelow = 0;
  let P = 0;
  let N = 0;
  let self = 0;
  for (let g = 0; g < order.length; ) {
    let h = g;
    let gp = 0;
    let gq = 0;
    let gpq = 0;
    while (h < order.length && scores[order[h] as number] === scores[order[g] as number]) {
      const p = weights[order[h] as number] as number;
      gp += p;
      gq += 1 - p;
      gpq += p * (1 - p);
      h++;
    }
    num += gp * negBelow + (gp * gq - gpq) / 2;
    negBelow += gq;
    P += gp;
    N += gq;
    self += gpq;
    g = h;
  }
  return num / (P * N - self);
}

const cellsOf = (edges: number[], scores: number[]) => scores.map((s) => edges.filter((e) => e <= s).length);

/** What `realized` should say, from the predicted and labelled class of each row. */
function direct(predicted: number[], actual: number[], names: string[], withOther: boolean) {
  const K = names.length;
  const C = withOther ? K + 1 : K;
  const counts = names.map((_, i) =>
    Array.from(
      { length: C },
      (_, j) => predicted.filter((p, k) => p === i && (j === K ? actual[k] === -1 : actual[k] === j)).length,
    ),
  );
  const per = names.map((_, c) => {
    const tp = counts[c]?.[c] as number;
    const pred = (counts[c] as number[]).reduce((s, v) => s + v, 0);
    const act = counts.reduce((s, row) => s + (row[c] as number), 0);
    return {
      precision: pred > 0 ? tp / pred : null,
      recall: act > 0 ? tp / act : null,
      f1: pred + act > 0 ? (2 * tp) / (pred + act) : null,
      support: act,
    };
  });
  // Over all classes, an undefined metric as 0 (scikit-learn's labels=classes, zero_division=0).
  const mean = (k: 'precision' | 'recall' | 'f1') => per.reduce((s, c) => s + (c[k] ?? 0), 0) / per.length;
  return {
    n: predicted.length,
    accuracy: predicted.filter((p, i) => p === actual[i]).length / predicted.length,
    counts,
    per,
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
  };
}

function expectClose(got: number | null | undefined, want: number | null, digits = 12): void {
  if (want === null) expect(got).toBeNull();
  else expect(got).toBeCloseTo(want, digits);
}

describe('realized binary performance from the labels that arrived', () => {
  it('confusion, per-class and macro metrics and AUC equal the raw rows through ingest labels, joins, corrections and removals', async () => {
    t = makeTestApp({ drift: { minSamples: 1 }, models: { clf: { performance: { threshold: 0.3 } } } });
    const rand = mulberry32(41);
    const training = Array.from({ length: 2000 }, () => {
      const x = normal(rand);
      const score = sigmoid(-1 + 2 * x);
      return { x, score, y: rand() < score ? 1 : 0 };
    });
    const csv = ['x,score,y', ...training.map((r) => `${r.x},${r.score},${r.y}`)].join('\n');
    await createBaseline(t.app, 'clf', csv, 'text/csv', { prediction: 'score', label: 'y' });
    const rows = Array.from({ length: 600 }, () => {
      const x = 0.5 + normal(rand);
      const score = sigmoid(-1 + 2 * x);
      return { x, score, y: rand() < score ? 1 : 0 };
    });
    // 150 carry their label at ingest (yes/no), 350 are joined later (0/1), 100 stay unlabelled.
    await ingestAll(
      t.app,
      rows.map((r, i) => ({
        model: 'clf',
        request_id: `r${i}`,
        timestamp: START + Math.floor((i / rows.length) * HOUR),
        features: { x: r.x },
        prediction: r.score,
        ...(i < 150 ? { label: r.y === 1 ? 'yes' : 'no' } : {}),
      })),
    );
    const join = rows
      .slice(150, 500)
      .map((r, i) => ({ model: 'clf', request_id: `r${i + 150}`, label: r.y }));
    expect((await postJson(t.app, '/v1/labels', join)).status).toBe(200);

    const app = t.app;
    const read = async () => {
      const res = await getJson<{ results: PerformanceResult[] }>(
        app,
        `/v1/models/clf/performance?kind=bucket&from=${START}&to=${START + HOUR}`,
      );
      expect(res.status).toBe(200);
      // The answer is what the OpenAPI schema says (counts are non-negative integers, nulls where allowed).
      z.object({ results: z.array(performanceResultSchema) }).parse(res.body);
      return res.body.results[0] as PerformanceResult;
    };
    const check = async (labels: (number | null)[]) => {
      const got = (await read()).realized as RealizedView;
      const idx = labels.flatMap((y, i) => (y === null ? [] : [i]));
      const scores = idx.map((i) => rows[i]?.score as number);
      const ys = idx.map((i) => labels[i] as number);
      const d = direct(
        scores.map((s) => (s >= 0.3 ? 1 : 0)),
        ys,
        ['0', '1'],
        false,
      );
      expect(got.n).toBe(d.n);
      expect(got.accuracy).toBe(d.accuracy);
      expect(got.confusion).toEqual({ predicted: ['0', '1'], actual: ['0', '1'], counts: d.counts });
      got.per_class.forEach((c, j) => {
        const w = d.per[j] as (typeof d.per)[number];
        expect(c).toMatchObject({ class: String(j), support: w.support, roc_auc: null });
        expectClose(c.precision, w.precision);
        expectClose(c.recall, w.recall);
        expectClose(c.f1, w.f1);
      });
      // Top level: the positive class, as the estimate's.
      expectClose(got.precision, d.per[1]?.precision ?? null);
      expectClose(got.recall, d.per[1]?.recall ?? null);
      expectClose(got.f1, d.per[1]?.f1 ?? null);
      expectClose(got.macro.f1, d.macro.f1);
      expectClose(got.macro.precision, d.macro.precision);
      expectClose(got.macro.recall, d.macro.recall);
      // AUC: the score cells' exactly; the raw scores' within the reported bound.
      const cells = cellsOf(binaryCellEdges(0.3, 100), scores);
      expectClose(got.roc_auc, auc(cells, ys));
      expect(Math.abs((got.roc_auc as number) - auc(scores, ys))).toBeLessThanOrEqual(
        (got.roc_auc_error_bound as number) + 1e-12,
      );
      return got;
    };
    const labels: (number | null)[] = rows.map((r, i) => (i < 500 ? r.y : null));
    const first = await check(labels);
    expect(first.n).toBe(500);
    // Corrections (one of an ingest label, one of a joined label) and a removal recount the bucket.
    const changes = [
      { request_id: 'r3', label: 1 - (rows[3]?.y as number) },
      { request_id: 'r200', label: 1 - (rows[200]?.y as number) },
      { request_id: 'r201', label: null },
      { request_id: 'r550', label: rows[550]?.y as number },
    ];
    expect(
      (
        await postJson(
          t.app,
          '/v1/labels',
          changes.map((c) => ({ model: 'clf', ...c })),
        )
      ).status,
    ).toBe(200);
    labels[3] = 1 - (rows[3]?.y as number);
    labels[200] = 1 - (rows[200]?.y as number);
    labels[201] = null;
    labels[550] = rows[550]?.y as number;
    const after = await check(labels);
    expect(after.n).toBe(500);
    expect(after.accuracy).not.toBe(first.accuracy);
  });
});

describe('K-class performance: realized metrics and the estimated one-vs-rest AUC', () => {
  it('equal the computation on the logged probabilities and labels, labels of no class counted wrong', async () => {
    t = makeTestApp({ drift: { minSamples: 1 } });
    const classes = ['cat', 'dog', 'eel'];
    const rand = mulberry32(42);
    const rows = Array.from({ length: 900 }, () => {
      const z = classes.map((_, j) => normal(rand) + (j === 0 ? 0.7 : 0));
      const e = z.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      const p = e.map((v) => v / s);
      let u = rand();
      let y = 2;
      for (let j = 0; j < 3; j++) {
        u -= p[j] as number;
        if (u < 0) {
          y = j;
          break;
        }
      }
      // 2% are labelled with a class the model does not know.
      return { p, y: rand() < 0.02 ? -1 : y };
    });
    await ingestAll(
      t.app,
      rows.map((r, i) => ({
        model: 'zoo',
        request_id: `z${i}`,
        timestamp: START + Math.floor((i / rows.length) * HOUR),
        features: { a: i % 7 },
        prediction: Object.fromEntries(classes.map((c, j) => [c, r.p[j]])),
      })),
    );
    const labelOf = (y: number) => (y === -1 ? 'yak' : (classes[y] as string));
    expect(
      (
        await postJson(
          t.app,
          '/v1/labels',
          rows.map((r, i) => ({ model: 'zoo', request_id: `z${i}`, label: labelOf(r.y) })),
        )
      ).status,
    ).toBe(200);
    // One correction recounts the bucket.
    rows[5] = { p: rows[5]?.p as number[], y: ((rows[5]?.y as number) + 2) % 3 };
    expect(
      (await postJson(t.app, '/v1/labels', [{ model: 'zoo', request_id: 'z5', label: labelOf(rows[5].y) }]))
        .status,
    ).toBe(200);

    const res = await getJson<{ results: PerformanceResult[] }>(
      t.app,
      `/v1/models/zoo/performance?kind=bucket&from=${START}&to=${START + HOUR}`,
    );
    expect(res.status).toBe(200);
    z.object({ results: z.array(performanceResultSchema) }).parse(res.body);
    const [got] = res.body.results;
    expect(got).toMatchObject({ kind: 'multiclass', classes, n: 900, labeled: 900 });
    const argmax = (p: number[]) => p.indexOf(Math.max(...p));
    const predicted = rows.map((r) => argmax(r.p));
    const actual = rows.map((r) => r.y);
    const d = direct(predicted, actual, classes, true);
    const realized = got?.realized as RealizedView;
    expect(realized.n).toBe(900);
    expect(realized.accuracy).toBe(d.accuracy);
    expect(realized.confusion).toEqual({
      predicted: classes,
      actual: [...classes, '(other)'],
      counts: d.counts,
    });
    expectClose(realized.precision, d.macro.precision);
    expectClose(realized.recall, d.macro.recall);
    expectClose(realized.f1, d.macro.f1);
    const edges = binaryCellEdges(0, 100);
    let realizedMacro = 0;
    let estimatedCells = 0;
    let estimatedExact = 0;
    classes.forEach((c, j) => {
      const w = d.per[j] as (typeof d.per)[number];
      const r = realized.per_class[j];
      expect(r).toMatchObject({ class: c, support: w.support });
      expectClose(r?.precision, w.precision);
      expectClose(r?.recall, w.recall);
      expectClose(r?.f1, w.f1);
      const scores = rows.map((x) => x.p[j] as number);
      const cells = cellsOf(edges, scores);
      const ys = actual.map((y) => (y === j ? 1 : 0));
      expectClose(r?.roc_auc, auc(cells, ys));
      realizedMacro += auc(cells, ys) / 3;
      // Estimated (no baseline, so uncalibrated): the expected AUC with p_j as P(label = j).
      const e = got?.estimated.per_class?.[j];
      expect(e?.class).toBe(c);
      expectClose(e?.roc_auc, auc(cells, scores), 9);
      estimatedCells += auc(cells, scores) / 3;
      estimatedExact += auc(scores, scores) / 3;
    });
    expectClose(realized.roc_auc, realizedMacro);
    expectClose(got?.estimated.roc_auc, estimatedCells, 9);
    expect(Math.abs((got?.estimated.roc_auc as number) - estimatedExact)).toBeLessThanOrEqual(
      got?.estimated.roc_auc_error_bound as number,
    );
    expect(got?.estimated.band.roc_auc?.lower).toBeLessThan(got?.estimated.roc_auc as number);
  });
});
