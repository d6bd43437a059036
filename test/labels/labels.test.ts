import { afterEach, describe, expect, it } from 'vitest';
import type { LabelResult } from '../../src/labels/service.js';
import { createBaseline, type DriftResultBody, ingestAll, runDriftOne } from '../drift/helpers.js';
import type { ErrorBody } from '../helpers.js';
import { makeTestApp, postJson, type TestApp } from '../support.js';

// Delayed ground truth joined to stored records: what a run reports as performance.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const H = Date.parse('2026-11-23T10:00:00Z');
const RANGE = { from: H, to: H + 2 * 3600e3 };
const training = Array.from({ length: 20 }, (_, i) => ({ x: i }));

type LabelResponse = LabelResult;

async function setup(models: string[]) {
  t = makeTestApp({ drift: { minSamples: 1 } });
  for (const m of models) await createBaseline(t.app, m, JSON.stringify(training), 'application/json');
  return t.app;
}

async function label(app: TestApp['app'], body: unknown) {
  const res = await postJson(app, '/v1/labels', body);
  return { status: res.status, body: (await res.json()) as LabelResponse & ErrorBody };
}

const perf = async (app: TestApp['app'], model: string): Promise<DriftResultBody['performance']> =>
  (await runDriftOne(app, model, RANGE)).performance;

describe('classification labels', () => {
  // r0…r9: even ids predict cat, odd ids dog; the first four as class probabilities.
  const records = Array.from({ length: 10 }, (_, i) => {
    const cls = i % 2 === 0 ? 'cat' : 'dog';
    const prediction = i < 4 ? (cls === 'cat' ? { cat: 0.9, dog: 0.1 } : { cat: 0.3, dog: 0.7 }) : cls;
    // Spread over two hourly buckets, so performance is summed across buckets.
    return { model: 'clf', request_id: `r${i}`, timestamp: H + i * 700e3, features: { x: i }, prediction };
  });
  // Eight labels: r0…r5 right, r6 and r7 wrong.
  const truth = Array.from({ length: 8 }, (_, i) => ({
    model: 'clf',
    request_id: `r${i}`,
    label: i < 6 ? (i % 2 === 0 ? 'cat' : 'dog') : i % 2 === 0 ? 'dog' : 'cat',
  }));

  it('reports accuracy and label coverage, lists unknown request ids, and ignores a re-sent batch', async () => {
    const app = await setup(['clf']);
    await ingestAll(app, records);
    expect(await perf(app, 'clf')).toEqual({
      labeled: 0,
      label_coverage: 0,
      accuracy: null,
      mae: null,
      rmse: null,
    });

    const first = await label(app, [...truth, { model: 'clf', request_id: 'ghost', label: 'cat' }]);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      updated: 8,
      unchanged: 0,
      not_found: [{ index: 8, model: 'clf', request_id: 'ghost' }],
      unscored: [],
    });
    const expected = { labeled: 8, label_coverage: 0.8, accuracy: 0.75, mae: null, rmse: null };
    expect(await perf(app, 'clf')).toEqual(expected);

    const again = await label(app, { labels: truth });
    expect(again.body).toEqual({ updated: 0, unchanged: 8, not_found: [], unscored: [] });
    expect(await perf(app, 'clf')).toEqual(expected);
  });

  it('moves the outcome when a label is corrected, and un-counts a label reset to null', async () => {
    const app = await setup(['clf']);
    await ingestAll(app, records);
    await label(app, truth);
    // r0 was right (cat); correcting it to dog makes it wrong.
    expect((await label(app, [{ model: 'clf', request_id: 'r0', label: 'dog' }])).body.updated).toBe(1);
    expect(await perf(app, 'clf')).toMatchObject({ labeled: 8, accuracy: 5 / 8 });
    // r6 was wrong; its corrected label makes it right again.
    await label(app, [{ model: 'clf', request_id: 'r6', label: 'cat' }]);
    expect(await perf(app, 'clf')).toMatchObject({ labeled: 8, accuracy: 6 / 8 });
    await label(app, [{ model: 'clf', request_id: 'r7', label: null }]);
    expect(await perf(app, 'clf')).toMatchObject({ labeled: 7, label_coverage: 0.7, accuracy: 6 / 7 });
  });

  it('counts labels sent with the record at ingest, and treats the same label posted later as unchanged', async () => {
    const app = await setup(['clf']);
    await ingestAll(app, [
      { ...records[0], label: 'cat' },
      { ...records[1], label: 'cat' },
      ...records.slice(2),
    ]);
    expect(await perf(app, 'clf')).toMatchObject({ labeled: 2, label_coverage: 0.2, accuracy: 0.5 });
    const res = await label(app, [
      { model: 'clf', request_id: 'r0', label: 'cat' },
      { model: 'clf', request_id: 'r1', label: 'dog' },
    ]);
    expect(res.body).toMatchObject({ updated: 1, unchanged: 1 });
    expect(await perf(app, 'clf')).toMatchObject({ labeled: 2, accuracy: 1 });
  });

  it('matches request ids within the label’s model only', async () => {
    const app = await setup(['clf', 'other']);
    await ingestAll(app, records);
    const res = await label(app, [{ model: 'other', request_id: 'r0', label: 'cat' }]);
    expect(res.body).toEqual({
      updated: 0,
      unchanged: 0,
      not_found: [{ index: 0, model: 'other', request_id: 'r0' }],
      unscored: [],
    });
    expect((await perf(app, 'clf')).labeled).toBe(0);
  });

  it('compares a boolean label with a score thresholded at 0.5', async () => {
    const app = await setup(['clf']);
    const scored = [0.2, 0.5, 0.7, 0.9].map((p, i) => ({
      model: 'clf',
      request_id: `s${i}`,
      timestamp: H,
      features: { x: i },
      prediction: p,
    }));
    await ingestAll(app, scored);
    await label(
      app,
      [false, true, false, true].map((l, i) => ({ model: 'clf', request_id: `s${i}`, label: l })),
    );
    // 0.2→false ✓, 0.5→true ✓, 0.7→true ✗, 0.9→true ✓
    expect(await perf(app, 'clf')).toMatchObject({ labeled: 4, accuracy: 0.75, mae: null });
  });
});

describe('regression labels', () => {
  const predictions = [1, 2.5, 4, 10];
  const records = predictions.map((p, i) => ({
    model: 'reg',
    request_id: `q${i}`,
    timestamp: H + i * 60e3,
    features: { x: i },
    prediction: p,
  }));

  it('reports MAE and RMSE, unchanged by a re-sent batch and moved by a correction', async () => {
    const app = await setup(['reg']);
    await ingestAll(app, [
      ...records,
      { model: 'reg', request_id: 'unlabeled', timestamp: H, features: { x: 1 }, prediction: 3 },
    ]);
    const labels = [1.5, 2.5, 3, 7].map((l, i) => ({ model: 'reg', request_id: `q${i}`, label: l }));
    expect((await label(app, labels)).body.updated).toBe(4);
    // Errors −0.5, 0, 1, 3.
    const expected = {
      labeled: 4,
      label_coverage: 0.8,
      accuracy: null,
      mae: 4.5 / 4,
      rmse: Math.sqrt(10.25 / 4),
    };
    const first = await perf(app, 'reg');
    expect(first).toMatchObject({ labeled: 4, label_coverage: 0.8, accuracy: null });
    expect(first.mae).toBeCloseTo(expected.mae, 12);
    expect(first.rmse).toBeCloseTo(expected.rmse, 12);

    expect((await label(app, labels)).body).toEqual({
      updated: 0,
      unchanged: 4,
      not_found: [],
      unscored: [],
    });
    expect(await perf(app, 'reg')).toEqual(first);

    // q3's label corrected from 7 to 10: its error goes from 3 to 0.
    await label(app, [{ model: 'reg', request_id: 'q3', label: 10 }]);
    const corrected = await perf(app, 'reg');
    expect(corrected.labeled).toBe(4);
    expect(corrected.mae).toBeCloseTo(1.5 / 4, 12);
    expect(corrected.rmse).toBeCloseTo(Math.sqrt(1.25 / 4), 12);
  });
});

describe('label request validation', () => {
  it('answers 400 for a body that is not a list of labels, and stores nothing', async () => {
    const app = await setup(['clf']);
    await ingestAll(app, [
      { model: 'clf', request_id: 'r0', timestamp: H, features: { x: 1 }, prediction: 'cat' },
    ]);
    for (const body of [
      '{"labels": [',
      { labels: [{ model: 'clf', request_id: 'r0', label: { cls: 'cat' } }] },
      [{ model: 'clf', label: 'cat' }],
      [{ model: 'clf', request_id: 'r0', label: 'cat', extra: 1 }],
      { model: 'clf', request_id: 'r0', label: 'cat' },
    ]) {
      const res = await label(app, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_body');
    }
    expect((await perf(app, 'clf')).labeled).toBe(0);
  });
});
