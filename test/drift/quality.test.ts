import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { chiSquareContingency, histogram, jensenShannon, psi, quantileEdges } from '../../src/stats/index.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import {
  baselineDetail,
  column,
  createBaseline,
  type DriftResultBody,
  driftSeries,
  feature,
  type HistogramBody,
  ingestAll,
  mrec,
  postBaseline,
  runDriftOne,
} from './helpers.js';

// Data-quality rates and the chart endpoint, on a small baseline whose counts are easy to reason about.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const TS = FIXED_NOW - 30 * 60e3;
// x = 0…199; colour: 100 red, 60 green, 40 blue. With top_k=2, blue is pooled into "other".
const training = Array.from({ length: 200 }, (_, i) => ({
  x: i,
  color: i < 100 ? 'red' : i < 160 ? 'green' : 'blue',
}));
const trainX = training.map((r) => r.x);

async function setup(query: Record<string, string> = { top_k: '2' }, rows: unknown[] = training) {
  t = makeTestApp({ drift: { minSamples: 1 } });
  const b = await createBaseline(t.app, 'm', JSON.stringify(rows), 'application/json', query);
  return { app: t.app, baselineId: b.id };
}

const records = (features: Record<string, unknown>[]) =>
  features.map((f, i) => mrec(`r${i}`, f, { timestamp: TS }));

async function histogramOf(app: TestApp['app'], name: string, query = '') {
  return getJson<HistogramBody>(app, `/v1/models/m/features/${name}/histogram${query ? `?${query}` : ''}`);
}

describe('categorical values outside the baseline', () => {
  it('counts unseen categories in unseen_rate and the "(unseen)" bin, and pooled ones in "(other)"', async () => {
    const { app, baselineId } = await setup();
    const detail = await baselineDetail(app, 'm', baselineId);
    const color = column(detail, 'color', 'categorical');
    expect(color.categories).toEqual(['red', 'green']);
    expect(color.pooled).toEqual(['blue']);
    expect(color.counts).toEqual([100, 60, 40]);

    const colors = [
      ...Array(10).fill('red'),
      ...Array(5).fill('green'),
      ...Array(3).fill('blue'),
      'purple',
      'teal',
    ];
    await ingestAll(app, records(colors.map((c, i) => ({ x: i * 10, color: c }))));

    const r = await runDriftOne(app, 'm');
    const f = feature(r, 'color');
    expect(f.n).toBe(20);
    expect(f.unseen_rate).toBe(2 / 20);
    expect(f.missing_rate).toBe(0);
    const ref = [100, 60, 40, 0];
    const cur = [10, 5, 3, 2];
    // χ² covers the categories known from training; the two unseen values count in unseen_rate instead.
    const chi = chiSquareContingency(ref.slice(0, -1), cur.slice(0, -1));
    expect(f.chi2_statistic).toBeCloseTo(chi.statistic, 10);
    expect(f.chi2_pvalue).toBeCloseTo(chi.pvalue, 12);
    expect(f.js).toBeCloseTo(jensenShannon(ref, cur), 12);
    expect(f.psi).toBeCloseTo(psi(ref, cur), 12);

    const h = await histogramOf(app, 'color');
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ feature: 'color', type: 'categorical', baseline_id: baselineId, n: 20 });
    expect(h.body.bins).toEqual([
      { label: 'red', baseline: 0.5, window: 0.5 },
      { label: 'green', baseline: 0.3, window: 0.25 },
      { label: '(other)', baseline: 0.2, window: 0.15 },
      { label: '(unseen)', baseline: 0, window: 0.1 },
    ]);
  });

  it('treats a number or boolean sent for a categorical feature as a category, not a type mismatch', async () => {
    const { app } = await setup();
    await ingestAll(app, records([{ color: 7 }, { color: true }, { color: 'red' }, { color: 'red' }]));
    const f = feature(await runDriftOne(app, 'm'), 'color');
    expect(f.type_mismatch_rate).toBe(0);
    expect(f.n).toBe(4);
    expect(f.unseen_rate).toBe(0.5);
  });

  it('matches categories given as numbers in a CSV baseline with the same numbers in production', async () => {
    t = makeTestApp({ drift: { minSamples: 1 } });
    await createBaseline(t.app, 'm', 'zone,x\n1,5\n2,6\n2,7\n3,8\n', 'text/csv', { categorical: 'zone' });
    await ingestAll(
      t.app,
      records([
        { zone: 2, x: 5 },
        { zone: 3, x: 6 },
        { zone: 4, x: 7 },
      ]),
    );
    const f = feature(await runDriftOne(t.app, 'm'), 'zone');
    expect(f.type).toBe('categorical');
    expect(f.unseen_rate).toBe(1 / 3);
  });
});

describe('missing values and type mismatches', () => {
  it('counts null and absent features as missing, out of every record that could have carried them', async () => {
    const { app } = await setup();
    const features: Record<string, unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      if (i < 4) features.push({ x: null, color: 'red' });
      else if (i < 7) features.push({ color: 'green' });
      else if (i < 9) features.push({ x: i, color: null });
      else if (i === 9) features.push({});
      else features.push({ x: i, color: 'red' });
    }
    await ingestAll(app, records(features));
    const r = await runDriftOne(app, 'm');
    expect(r.n).toBe(20);
    const x = feature(r, 'x');
    expect(x.missing_rate).toBe(8 / 20);
    expect(x.n).toBe(12);
    expect(x.type_mismatch_rate).toBe(0);
    const values = features.filter((f) => typeof f.x === 'number').map((f) => f.x as number);
    const edges = quantileEdges(trainX, 10);
    expect(x.psi).toBeCloseTo(psi(histogram(edges, trainX), histogram(edges, values)), 12);
    const color = feature(r, 'color');
    expect(color.missing_rate).toBe(3 / 20);
    expect(color.n).toBe(17);
  });

  it('reports strings and booleans sent for a numeric feature as type mismatches, outside n', async () => {
    const { app } = await setup();
    const features: Record<string, unknown>[] = [
      ...Array.from({ length: 5 }, () => ({ x: '12', color: 'red' })),
      { x: true, color: 'red' },
      ...Array.from({ length: 14 }, (_, i) => ({ x: 100 + i, color: 'green' })),
    ];
    await ingestAll(app, records(features));
    const x = feature(await runDriftOne(app, 'm'), 'x');
    expect(x.type_mismatch_rate).toBe(6 / 20);
    expect(x.missing_rate).toBe(0);
    expect(x.n).toBe(14);
    const edges = quantileEdges(trainX, 10);
    expect(x.psi).toBeCloseTo(
      psi(
        histogram(edges, trainX),
        histogram(
          edges,
          Array.from({ length: 14 }, (_, i) => 100 + i),
        ),
      ),
      12,
    );
  });

  it('gives rates but no statistics when no value of a feature was usable', async () => {
    const { app } = await setup();
    await ingestAll(
      app,
      records([
        { x: 'a', color: 'red' },
        { x: null, color: 'red' },
      ]),
    );
    const x = feature(await runDriftOne(app, 'm'), 'x');
    expect(x).toMatchObject({
      n: 0,
      psi: null,
      ks_statistic: null,
      drifted: null,
      missing_rate: 0.5,
      type_mismatch_rate: 0.5,
    });
  });

  it('reports values beyond the baseline range in out_of_range_rate', async () => {
    const { app } = await setup();
    await ingestAll(app, records([{ x: -5 }, { x: 250 }, { x: 0 }, { x: 199 }, { x: 50 }]));
    const x = feature(await runDriftOne(app, 'm'), 'x');
    expect(x.out_of_range_rate).toBe(2 / 5);
  });
});

describe('a training column without a single value', () => {
  it('is refused at upload, and once left out, production sending it fails neither runs nor the tick', async () => {
    t = makeTestApp({ drift: { minSamples: 1 } });
    const rows = [{ x: 1, opt: null }, { x: 2, opt: null }, { x: 3 }];
    const refused = await postBaseline(t.app, 'm', JSON.stringify(rows), 'application/json');
    expect(refused.status).toBe(400);
    expect(refused.body.error?.message).toMatch(/"opt".*no values/);

    await createBaseline(t.app, 'm', JSON.stringify(rows), 'application/json', { exclude: 'opt' });
    await ingestAll(
      t.app,
      records([
        { x: 1, opt: 'z' },
        { x: 2, opt: 5 },
      ]),
    );
    const r = await runDriftOne(t.app, 'm');
    expect(r.features.map((f) => f.feature)).toEqual(['x']);
    expect(feature(r, 'x').n).toBe(2);

    // runDriftTick reports a window that fails in `errors` instead of throwing, so check what it returned.
    // At 13:00 the 11:00 bucket holding the records is closed, and it lies in the rolling window too.
    const tick = await runDriftTick(t.deps, FIXED_NOW + 3600e3);
    expect(tick.errors).toEqual([]);
    expect(tick.evaluated).toBe(2);
    const [bucket, ...more] = await driftSeries(t.app, 'm', 'kind=bucket');
    expect(more).toEqual([]);
    expect(bucket?.window.from).toBe('2026-11-24T11:00:00.000Z');
    expect(bucket?.n).toBe(2);
  });
});

describe('a drift tick with a window that cannot be evaluated', () => {
  it('reports the failing windows with model and kind, evaluates the others, and retries the bucket later', async () => {
    const a = makeTestApp({ drift: { minSamples: 1 } });
    t = a;
    const { app, deps } = a;
    for (const model of ['m', 'bad'])
      await createBaseline(app, model, JSON.stringify(training), 'application/json');
    const features = Array.from({ length: 12 }, (_, i) => ({ x: i * 15, color: i % 2 ? 'red' : 'green' }));
    await ingestAll(app, [
      ...records(features),
      ...features.map((f, i) => mrec(`b${i}`, f, { model: 'bad', timestamp: TS })),
    ]);

    // A counts blob cut to 3 bytes cannot be read as uint32 counts: every window over it fails.
    const where = "model = 'bad' AND role = 'feature' AND name = 'x'";
    const stored = await a.sql<{ counts: Buffer }>(`SELECT counts FROM aggregates WHERE ${where}`);
    expect(stored).toHaveLength(1);
    expect(await a.exec(`UPDATE aggregates SET counts = ? WHERE ${where}`, [Buffer.from([1, 2, 3])])).toBe(1);

    const first = await runDriftTick(deps, FIXED_NOW + 3600e3);
    expect(first.errors).toHaveLength(2);
    expect(first.errors).toEqual(
      expect.arrayContaining([
        {
          model: 'bad',
          model_version: null,
          kind: 'bucket',
          from: '2026-11-24T11:00:00.000Z',
          error: expect.stringMatching(/\S/),
        },
        {
          model: 'bad',
          model_version: null,
          kind: 'rolling',
          from: '2026-11-23T14:00:00.000Z',
          error: expect.stringMatching(/\S/),
        },
      ]),
    );
    // The healthy model's bucket and rolling window were evaluated and stored all the same.
    expect(first.evaluated).toBe(2);
    expect((await driftSeries(app, 'm', 'kind=bucket')).map((r) => r.n)).toEqual([12]);
    expect((await driftSeries(app, 'm', 'kind=rolling')).map((r) => r.n)).toEqual([12]);
    expect(await driftSeries(app, 'bad')).toEqual([]);

    // Once the aggregate is readable again, the next tick evaluates the bucket that failed, with no new data.
    expect(await a.exec(`UPDATE aggregates SET counts = ? WHERE ${where}`, [stored[0]?.counts])).toBe(1);
    const second = await runDriftTick(deps, FIXED_NOW + 2 * 3600e3);
    expect(second.errors).toEqual([]);
    const retried = await driftSeries(app, 'bad', 'kind=bucket');
    expect(retried.map((r) => [r.window.from, r.n])).toEqual([['2026-11-24T11:00:00.000Z', 12]]);
    expect(feature(retried[0] as DriftResultBody, 'x').n).toBe(12);
  });
});

describe('GET /v1/models/:model/features/:feature/histogram', () => {
  it('gives baseline and window shares per decile bin that each sum to 1 and match the raw values', async () => {
    const { app } = await setup();
    const values = Array.from({ length: 37 }, (_, i) => (i * i) % 230);
    await ingestAll(app, records(values.map((x) => ({ x, color: 'red' }))));
    const h = await histogramOf(app, 'x');
    expect(h.status).toBe(200);
    expect(h.body.type).toBe('numeric');
    expect(h.body.n).toBe(values.length);
    const edges = Array.from(quantileEdges(trainX, 10));
    expect(h.body.bins).toHaveLength(edges.length + 1);
    expect(h.body.bins.map((b) => [b.lower, b.upper])).toEqual(
      [null, ...edges].map((lo, i) => [lo, i < edges.length ? edges[i] : null]),
    );
    const sum = (k: 'baseline' | 'window') => h.body.bins.reduce((s, b) => s + b[k], 0);
    expect(sum('baseline')).toBeCloseTo(1, 12);
    expect(sum('window')).toBeCloseTo(1, 12);
    const expected = histogram(edges, values);
    h.body.bins.forEach((b, i) => {
      expect(b.window).toBeCloseTo((expected[i] as number) / values.length, 12);
      expect(b.baseline).toBeCloseTo(0.1, 12);
    });
  });

  it('limits the window to from/to and reports an empty window as zero shares', async () => {
    const { app } = await setup();
    await ingestAll(app, [
      mrec('old', { x: 1, color: 'red' }, { timestamp: Date.parse('2026-11-20T08:30:00Z') }),
      mrec('new', { x: 2, color: 'red' }, { timestamp: TS }),
    ]);
    const old = await histogramOf(app, 'x', 'from=2026-11-20T08:10:00Z&to=2026-11-20T08:40:00Z');
    expect(old.body.window).toEqual({ from: '2026-11-20T08:00:00.000Z', to: '2026-11-20T09:00:00.000Z' });
    expect(old.body.n).toBe(1);
    const empty = await histogramOf(app, 'x', 'from=2026-11-21T00:00:00Z&to=2026-11-22T00:00:00Z');
    expect(empty.status).toBe(200);
    expect(empty.body.n).toBe(0);
    expect(empty.body.bins.every((b) => b.window === 0)).toBe(true);
  });

  it('answers 404 for an unknown feature or a model without a baseline, 400 for a bad time', async () => {
    const { app } = await setup();
    expect((await histogramOf(app, 'nope')).status).toBe(404);
    expect((await getJson(app, '/v1/models/other/features/x/histogram')).status).toBe(404);
    expect((await histogramOf(app, 'x', 'from=yesterday')).status).toBe(400);
  });
});

describe('prediction drift', () => {
  it('profiles the prediction column apart from the features and compares top classes', async () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({
      x: i,
      pred: i < 70 ? 'cat' : 'dog',
      truth: 'cat',
    }));
    const { app, baselineId } = await setup({ prediction: 'pred', label: 'truth' }, rows);
    const detail = await baselineDetail(app, 'm', baselineId);
    expect(detail.columns.map((c) => `${c.role}:${c.name}`).sort()).toEqual([
      'feature:x',
      'prediction:prediction',
    ]);

    // Probability objects reduce to their top class; 8 of 20 are dogs against 30% in training.
    const sent = Array.from({ length: 20 }, (_, i) =>
      mrec(
        `p${i}`,
        { x: i },
        { timestamp: TS, prediction: i < 8 ? { cat: 0.2, dog: 0.8 } : { cat: 0.9, dog: 0.1 } },
      ),
    );
    await ingestAll(app, sent);
    const r = await runDriftOne(app, 'm');
    expect(r.features.map((f) => f.feature)).toEqual(['x']);
    expect(r.prediction?.n).toBe(20);
    expect(r.prediction?.type).toBe('categorical');
    const chi = chiSquareContingency([70, 30, 0, 0], [12, 8, 0, 0]);
    expect(r.prediction?.chi2_statistic).toBeCloseTo(chi.statistic, 10);
    expect(r.prediction?.pvalue_adjusted).toBe(r.prediction?.chi2_pvalue);

    const h = await histogramOf(app, 'prediction');
    expect(h.status).toBe(200);
    expect(h.body.bins.slice(0, 2)).toEqual([
      { label: 'cat', baseline: 0.7, window: 0.6 },
      { label: 'dog', baseline: 0.3, window: 0.4 },
    ]);
  });
});
