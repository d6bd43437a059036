import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { ksTwoSample } from '../../src/stats/index.js';
import { getJson } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';
import {
  type BaselineBody,
  createBaseline,
  driftSeries,
  feature,
  ingestAll,
  mrec,
  runDriftOne,
  syntheticTraining,
} from './helpers.js';

// Regression tests for the review's drift fixes: each one fails if its fix is reverted.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const MIN = 60e3;
const hour = (h: number) => Date.parse(`2026-11-24T${String(h).padStart(2, '0')}:00:00Z`);

interface ErrorBody {
  error: { code: string; message: string; details?: { problems?: { path: string; message: string }[] } };
}

/** Training x uniform over 0…199 with colours, and `n` production records per hour with the same mix. */
function hourly(prefix: string, h: number, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) =>
    mrec(
      `${prefix}-${i}`,
      { x: (i * 7) % 200, color: ['red', 'green', 'blue'][i % 3] },
      { timestamp: hour(h) + (i % 50) * MIN },
    ),
  );
}

describe('values above the training maximum', () => {
  it('get their own grid cell, so KS matches the raw samples', async () => {
    t = makeTestApp({ drift: { minSamples: 100 } });
    const training = Array.from({ length: 1000 }, (_, i) => ({ flag: i % 2, other: i % 7 }));
    await createBaseline(t.app, 'k', JSON.stringify(training), 'application/json');
    const prod = Array.from({ length: 1000 }, (_, i) => ({
      model: 'k',
      request_id: `r${i}`,
      timestamp: hour(8) + i * 1000,
      features: { flag: i % 2 === 0 ? 0 : 2, other: i % 7 },
    }));
    t.setNow(hour(9) + MIN);
    await ingestAll(t.app, prod);
    const r = await runDriftOne(t.app, 'k', { from: hour(8), to: hour(9) });
    const flag = feature(r, 'flag');
    // With 2 folded into the cell of 1 the window looked like training: KS 0, Wasserstein 0.
    const raw = ksTwoSample(
      training.map((x) => x.flag),
      prod.map((x) => x.features.flag),
    );
    expect(raw.statistic).toBe(0.5);
    expect(flag.ks_statistic).toBeCloseTo(raw.statistic, 12);
    expect(flag.wasserstein_normed).toBeGreaterThan(0);
    expect(flag.out_of_range_rate).toBe(0.5);
  });
});

describe('times outside years 1–9999', () => {
  async function setup() {
    t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 100 } });
    await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    t.setNow(hour(9) + MIN);
    await ingestAll(t.app, hourly('a', 8, 200));
    return t.app;
  }

  it('POST drift/run with ±1e300 is a 400 naming the field', async () => {
    const app = await setup();
    const res = await app.request('/v1/models/m/drift/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"from":-1e300,"to":1e300}',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    const paths = (body.error.details?.problems ?? []).map((p) => p.path).sort();
    expect(paths, body.error.message).toEqual(['from', 'to']);
    expect(await driftSeries(app, 'm')).toEqual([]);
  });

  it('GET histogram with a 20-digit "to" is a 400 naming the field', async () => {
    const app = await setup();
    const res = await getJson<ErrorBody>(app, '/v1/models/m/features/x/histogram?to=99999999999999999999');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/^to: /);
    expect(res.body.error.details?.problems?.map((p) => p.path)).toEqual(['to']);
  });
});

describe('concurrent activation of a baseline', () => {
  it('answers 409 to the second request and counts every record once', async () => {
    t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '24h', minSamples: 100 } });
    await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    // More records than one re-aggregation page (5000), so the first activation yields in between pages.
    const records = [0, 1, 2, 3, 4, 5].flatMap((h) => hourly(`h${h}`, h, 2000));
    t.setNow(hour(9));
    await ingestAll(t.app, records);
    const b2 = await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining(600)), 'application/json', {
      activate: 'false',
    });
    expect(b2.active).toBe(false);

    const activate = () => t?.app.request(`/v1/models/m/baselines/${b2.id}/activate`, { method: 'POST' });
    const [r1, r2] = await Promise.all([activate(), activate()]);
    const answers = await Promise.all(
      [r1, r2].map(async (r) => ({ status: r?.status, body: (await r?.json()) as BaselineBody & ErrorBody })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(answers.find((a) => a.status === 409)?.body.error.code).toBe('conflict');
    expect(answers.find((a) => a.status === 200)?.body.reaggregated_records).toBe(records.length);
    const [x] = await t.sql<{ n: number }>(
      "SELECT sum(n) AS n FROM aggregates WHERE baseline_id = ? AND name = 'x'",
      [b2.id],
    );
    expect(Number(x?.n)).toBe(records.length);
  });
});

describe('features named like Object.prototype members', () => {
  it('"constructor" and "toString" absent from records are missing, not mistyped', async () => {
    t = makeTestApp({ drift: { minSamples: 1 } });
    const training = Array.from({ length: 200 }, (_, i) => ({
      constructor: i % 50,
      toString: ['a', 'b'][i % 2],
      x: i,
    }));
    await createBaseline(t.app, 'm', JSON.stringify(training), 'application/json', {
      numeric: 'constructor',
      categorical: 'toString',
    });
    t.setNow(hour(9) + MIN);
    await ingestAll(
      t.app,
      Array.from({ length: 100 }, (_, i) => mrec(`r${i}`, { x: i * 2 }, { timestamp: hour(8) + i * 1000 })),
    );
    const r = await runDriftOne(t.app, 'm', { from: hour(8), to: hour(9) });
    const ctor = feature(r, 'constructor');
    expect(ctor.type).toBe('numeric');
    expect([ctor.missing_rate, ctor.type_mismatch_rate]).toEqual([1, 0]);
    const str = feature(r, 'toString');
    expect(str.type).toBe('categorical');
    expect([str.missing_rate, str.type_mismatch_rate, str.unseen_rate ?? 0]).toEqual([1, 0, 0]);
  });
});

describe('a bucket whose evaluation fails', () => {
  it('stays pending and is evaluated on the next tick', async () => {
    t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 100 } });
    await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    t.setNow(hour(9) + MIN);
    await ingestAll(t.app, hourly('a', 8, 200));
    // A counts blob that is not a whole number of uint32s makes the window unreadable: the evaluation throws.
    const where = "role = 'feature' AND name = 'x'";
    const rows = await t.sql<{ counts: Buffer }>(`SELECT counts FROM aggregates WHERE ${where}`);
    expect(rows).toHaveLength(1);
    const counts = rows[0]?.counts as Buffer;
    expect(await t.exec(`UPDATE aggregates SET counts = ? WHERE ${where}`, [Buffer.alloc(3)])).toBe(1);
    const failed = await runDriftTick(t.deps, hour(9) + 2 * MIN);
    expect(failed.evaluated).toBe(0);
    expect(failed.errors.map((e) => [e.kind, e.from])).toEqual([['bucket', new Date(hour(8)).toISOString()]]);

    // No new data arrives; the next tick still owes the bucket its evaluation.
    expect(await t.exec(`UPDATE aggregates SET counts = ? WHERE ${where}`, [counts])).toBe(1);
    const retried = await runDriftTick(t.deps, hour(9) + 3 * MIN);
    expect(retried.errors).toEqual([]);
    expect(retried.evaluated).toBe(1);
    const series = await driftSeries(t.app, 'm', 'kind=bucket');
    expect(series.map((r) => [r.window.from, r.n])).toEqual([[new Date(hour(8)).toISOString(), 200]]);
  });
});
