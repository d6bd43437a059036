import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { histogram, psi, quantileEdges } from '../../src/stats/index.js';
import { getJson, ingestJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import {
  aggregateTotals,
  createBaseline,
  type DriftResultBody,
  driftSeries,
  feature,
  ingestAll,
  mrec,
  runDrift,
  runDriftOne,
  syntheticTraining,
} from './helpers.js';

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const HOUR = 3600e3;
const iso = (ms: number) => new Date(ms).toISOString();
const training = syntheticTraining();
const trainX = training.map((r) => r.x);

async function setup(config: Parameters<typeof makeTestApp>[0] = {}): Promise<TestApp> {
  t = makeTestApp(config);
  await createBaseline(t.app, 'm', JSON.stringify(training), 'application/json');
  return t;
}

/** `count` records of model m at `ts`, x cycling from `x0`; ids are prefixed so batches never collide. */
function batch(
  prefix: string,
  count: number,
  ts: number | null,
  x0 = 0,
  extra: Record<string, unknown> = {},
) {
  return Array.from({ length: count }, (_, i) =>
    mrec(
      `${prefix}-${i}`,
      { x: (x0 + i * 7) % 200, color: ['red', 'green', 'blue'][i % 3] as string },
      { ...(ts === null ? {} : { timestamp: ts }), ...extra },
    ),
  );
}

const xsOf = (records: Record<string, unknown>[]) => records.map((r) => (r.features as { x: number }).x);
const expectedPsi = (values: number[]) => {
  const edges = quantileEdges(trainX, 10);
  return psi(histogram(edges, trainX), histogram(edges, values));
};

describe('backfill: records with historic event times', () => {
  it('lands them in their own old buckets, which a tick and a range run over that period both see', async () => {
    const app = await setup({ drift: { minSamples: 10 } });
    const h5 = Date.parse('2024-03-10T05:00:00Z');
    const h7 = Date.parse('2024-03-10T07:00:00Z');
    const early = batch('h5', 30, h5 + 17 * 60e3);
    const late = batch('h7', 20, h7 + 59 * 60e3, 100);
    const fresh = batch('now', 10, null);
    await ingestAll(app.app, [...early, ...fresh, ...late]);

    await runDriftTick(app.deps, FIXED_NOW);
    const buckets = await driftSeries(app.app, 'm', 'kind=bucket');
    // The current hour is still open, so only the two historic hours are evaluated as buckets.
    expect(buckets.map((b) => [b.window.from, b.window.to, b.n])).toEqual([
      [iso(h7), iso(h7 + HOUR), 20],
      [iso(h5), iso(h5 + HOUR), 30],
    ]);
    const [b7, b5] = buckets as [DriftResultBody, DriftResultBody];
    expect(feature(b5, 'x').n).toBe(30);
    expect(feature(b5, 'x').psi).toBeCloseTo(expectedPsi(xsOf(early)), 12);
    expect(feature(b7, 'x').psi).toBeCloseTo(expectedPsi(xsOf(late)), 12);

    // The rolling window (the last day) holds only the records stamped now.
    const rolling = await runDriftOne(app.app, 'm');
    expect(rolling.window_kind).toBe('rolling');
    expect(rolling.n).toBe(10);

    const range = await runDriftOne(app.app, 'm', {
      from: '2024-03-10T00:00:00Z',
      to: '2024-03-11T00:00:00Z',
    });
    expect(range.n).toBe(50);
    expect(feature(range, 'x').n).toBe(50);
    expect(feature(range, 'x').psi).toBeCloseTo(expectedPsi(xsOf([...early, ...late])), 12);
    // A range between the backfilled period and now has no data, so no version is evaluated.
    expect(
      await runDrift(app.app, 'm', { from: '2025-01-01T00:00:00Z', to: '2025-02-01T00:00:00Z' }),
    ).toEqual([]);
  });

  it('widens a range to whole buckets', async () => {
    const app = await setup({ drift: { minSamples: 1 } });
    const h5 = Date.parse('2024-03-10T05:00:00Z');
    await ingestAll(app.app, [...batch('a', 3, h5 + 10 * 60e3), ...batch('b', 4, h5 + 50 * 60e3)]);
    const r = await runDriftOne(app.app, 'm', { from: h5 + 40 * 60e3, to: h5 + 45 * 60e3 });
    expect(r.window).toEqual({ from: iso(h5), to: iso(h5 + HOUR) });
    expect(r.n).toBe(7);
  });

  it('aligns a range given only its end to whole buckets and counts every record inside it', async () => {
    // A rolling window that is not a whole number of buckets must not cut a bucket in half.
    const app = await setup({ drift: { bucket: '1h', rollingWindow: '90m', minSamples: 1 } });
    const stamps = ['2026-11-24T10:05:00Z', '2026-11-24T10:40:00Z', '2026-11-24T11:40:00Z'].map(Date.parse);
    await ingestAll(
      app.app,
      stamps.map((ts, i) => mrec(`e${i}`, { x: i, color: 'red' }, { timestamp: ts })),
    );
    const r = await runDriftOne(app.app, 'm', { to: '2026-11-24T12:00:00Z' });
    const from = Date.parse(r.window.from);
    const to = Date.parse(r.window.to);
    expect(to).toBe(Date.parse('2026-11-24T12:00:00Z'));
    expect(from % HOUR).toBe(0);
    expect(r.n).toBe(stamps.filter((ts) => ts >= from && ts < to).length);
  });

  it('refuses a range whose start is not before its end', async () => {
    const app = await setup();
    const res = await app.app.request('/v1/models/m/drift/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: '2024-03-11T00:00:00Z', to: '2024-03-10T00:00:00Z' }),
    });
    expect(res.status).toBe(400);
  });
});

describe('late data', () => {
  it('re-evaluates an already evaluated closed bucket when a record for it arrives later', async () => {
    const app = await setup({ drift: { minSamples: 10 } });
    const h9 = Date.parse('2026-11-24T09:00:00Z');
    const onTime = batch('on-time', 30, h9 + 15 * 60e3);
    await ingestAll(app.app, onTime);
    await runDriftTick(app.deps, FIXED_NOW);
    const [first, ...others] = await driftSeries(app.app, 'm', 'kind=bucket');
    expect(others).toEqual([]);
    expect(first?.window.from).toBe(iso(h9));
    expect(first?.n).toBe(30);
    expect(first?.evaluated_at).toBe(iso(FIXED_NOW));

    const later = FIXED_NOW + 5 * 60e3;
    app.setNow(later);
    // Late records all sit at the top of the range, so the bucket's PSI has to move.
    const late = Array.from({ length: 12 }, (_, i) =>
      mrec(`late-${i}`, { x: 190 + (i % 10), color: 'red' }, { timestamp: h9 + 40 * 60e3 }),
    );
    await ingestAll(app.app, late);
    const tick = await runDriftTick(app.deps, later);
    expect(tick.evaluated).toBeGreaterThanOrEqual(1);

    const series = await driftSeries(app.app, 'm', 'kind=bucket');
    expect(series).toHaveLength(1);
    const updated = series[0] as DriftResultBody;
    // Same window, same row: the result is replaced, not duplicated.
    expect(updated.id).toBe(first?.id);
    expect(updated.n).toBe(42);
    expect(updated.evaluated_at).toBe(iso(later));
    expect(feature(updated, 'x').n).toBe(42);
    const psiAfter = feature(updated, 'x').psi as number;
    expect(psiAfter).toBeCloseTo(expectedPsi([...xsOf(onTime), ...xsOf(late)]), 12);
    expect(psiAfter).not.toBeCloseTo(feature(first as DriftResultBody, 'x').psi as number, 6);
  });

  it('evaluates a bucket only once it has closed', async () => {
    const app = await setup({ drift: { minSamples: 10 } });
    await ingestAll(app.app, batch('open', 15, FIXED_NOW + 10 * 60e3));
    await runDriftTick(app.deps, FIXED_NOW + 30 * 60e3);
    expect(await driftSeries(app.app, 'm', 'kind=bucket')).toEqual([]);
    await runDriftTick(app.deps, FIXED_NOW + HOUR);
    const buckets = await driftSeries(app.app, 'm', 'kind=bucket');
    expect(buckets.map((b) => [b.window.from, b.n])).toEqual([[iso(FIXED_NOW), 15]]);
  });
});

describe('duplicates', () => {
  it('does not count a re-sent batch again, in aggregates or in drift', async () => {
    const app = await setup();
    const h = Date.parse('2026-11-23T10:00:00Z');
    const records = batch('dup', 250, h + 60e3);
    await ingestAll(app.app, records);
    const before = await aggregateTotals(app, 'm');
    expect(before.n).toBe(500); // two features × 250 records
    const first = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });

    const again = await ingestJson(app.app, records);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 250 });
    expect(await aggregateTotals(app, 'm')).toEqual(before);
    const second = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    expect(second.n).toBe(250);
    expect(second.features).toEqual(first.features);
  });

  it('counts only the new half of a partly re-sent batch, and only the first copy within a batch', async () => {
    const app = await setup({ drift: { minSamples: 1 } });
    const h = Date.parse('2026-11-23T10:00:00Z');
    const records = batch('p', 20, h);
    await ingestAll(app.app, records.slice(0, 10));
    // The in-batch duplicate carries a different x; counting it would move the window's maximum.
    const copy = mrec('p-12', { x: 199.5, color: 'red' }, { timestamp: h });
    const res = await ingestJson(app.app, [...records, copy]);
    expect(res.body).toMatchObject({ accepted: 10, duplicates: 11 });
    const r = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    expect(r.n).toBe(20);
    expect(feature(r, 'x').n).toBe(20);
    expect(feature(r, 'x').psi).toBeCloseTo(expectedPsi(xsOf(records)), 12);
    expect(feature(r, 'x').out_of_range_rate).toBe(0);
  });
});

describe('min-sample rule', () => {
  it('gives measures but no verdict below minSamples, and a verdict from minSamples on', async () => {
    const app = await setup({ drift: { minSamples: 50 } });
    const h = Date.parse('2026-11-23T10:00:00Z');
    await ingestAll(app.app, batch('a', 49, h));
    const small = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    for (const f of small.features) {
      expect(f.n).toBe(49);
      expect(f.psi).not.toBeNull();
      expect(f.drifted).toBeNull();
      expect(f.severity).toBeNull();
    }
    expect(feature(small, 'x').ks_statistic).not.toBeNull();
    expect(feature(small, 'color').chi2_statistic).not.toBeNull();
    expect(small.drifted).toBeNull();
    expect(small.drifted_share).toBeNull();

    await ingestAll(app.app, batch('b', 1, h));
    const enough = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    for (const f of enough.features) {
      expect(f.n).toBe(50);
      expect(typeof f.drifted).toBe('boolean');
      expect(f.severity).not.toBeNull();
    }
    expect(typeof enough.drifted).toBe('boolean');
  });

  it('counts values, not records: a feature missing in many records stays unjudged', async () => {
    const app = await setup({ drift: { minSamples: 50 } });
    const h = Date.parse('2026-11-23T10:00:00Z');
    const records = batch('c', 60, h).map((r, i) =>
      i < 20 ? { ...r, features: { x: (r.features as { x: number }).x } } : r,
    );
    await ingestAll(app.app, records);
    const r = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    expect(feature(r, 'x').n).toBe(60);
    expect(typeof feature(r, 'x').drifted).toBe('boolean');
    expect(feature(r, 'color').n).toBe(40);
    expect(feature(r, 'color').drifted).toBeNull();
    expect(r.drifted_share).toBe(feature(r, 'x').drifted ? 1 : 0);
  });

  it('uses the per-model minSamples over the global one', async () => {
    const app = await setup({ drift: { minSamples: 500 }, models: { m: { minSamples: 5 } } });
    const h = Date.parse('2026-11-23T10:00:00Z');
    await ingestAll(app.app, batch('d', 5, h));
    const r = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    expect(typeof feature(r, 'x').drifted).toBe('boolean');
  });
});

describe('rolling window and /drift/latest', () => {
  it('serves what a run stored through GET /drift and GET /drift/latest', async () => {
    const app = await setup({ drift: { minSamples: 1 } });
    const h = Date.parse('2026-11-23T10:00:00Z');
    await ingestAll(app.app, batch('s', 5, h));
    const run = await runDriftOne(app.app, 'm', { from: h, to: h + HOUR });
    const series = await getJson<{ results: DriftResultBody[] }>(app.app, '/v1/models/m/drift');
    expect(series.status).toBe(200);
    expect(series.body.results).toEqual([run]);
    const latest = await getJson<{ results: DriftResultBody[] }>(app.app, '/v1/models/m/drift/latest');
    expect(latest.status).toBe(200);
    expect(latest.body.results).toEqual([run]);
  });

  it('covers the configured number of buckets up to the current one, per model version', async () => {
    const app = await setup({ drift: { bucket: '1h', rollingWindow: '6h', minSamples: 10 } });
    const records: Record<string, unknown>[] = [];
    // Hours 04:00 … 12:00 for version a, 10:00 … 12:00 for version b; 12:00 is the current, open hour.
    for (let h = 4; h <= 12; h++) {
      const ts = Date.parse(`2026-11-24T${String(h).padStart(2, '0')}:20:00Z`);
      records.push(...batch(`a${h}`, 10, ts, h, { model_version: 'a' }));
      if (h >= 10) records.push(...batch(`b${h}`, 5, ts, h, { model_version: 'b' }));
    }
    await ingestAll(app.app, records);

    const results = await runDrift(app.app, 'm');
    expect(results.map((r) => [r.model_version, r.window_kind, r.window.from, r.window.to, r.n])).toEqual([
      ['a', 'rolling', '2026-11-24T07:00:00.000Z', '2026-11-24T13:00:00.000Z', 60],
      ['b', 'rolling', '2026-11-24T07:00:00.000Z', '2026-11-24T13:00:00.000Z', 15],
    ]);

    const latest = await getJson<{ results: DriftResultBody[] }>(app.app, '/v1/models/m/drift/latest');
    expect(latest.status).toBe(200);
    expect(latest.body.results.map((r) => [r.model_version, r.id, r.n])).toEqual(
      results.map((r) => [r.model_version, r.id, r.n]),
    );

    // A tick two hours later evaluates the closed buckets and a rolling window that has moved on.
    const later = FIXED_NOW + 2 * HOUR;
    app.setNow(later);
    const tick = await runDriftTick(app.deps, later);
    expect(tick.evaluated).toBeGreaterThan(0);
    const after = await getJson<{ results: DriftResultBody[] }>(app.app, '/v1/models/m/drift/latest');
    expect(after.body.results.map((r) => r.model_version)).toEqual(['a', 'b']);
    for (const r of after.body.results) expect(r.evaluated_at).toBe(iso(later));
    const rollingA = await driftSeries(app.app, 'm', 'kind=rolling&model_version=a');
    expect(rollingA.map((r) => [r.window.from, r.n])).toEqual([
      ['2026-11-24T09:00:00.000Z', 40],
      ['2026-11-24T07:00:00.000Z', 60],
    ]);
  });

  it('rounds a rolling window up to whole buckets', async () => {
    const app = await setup({ drift: { bucket: '1h', rollingWindow: '90m', minSamples: 1 } });
    await ingestAll(app.app, [
      ...batch('in', 4, Date.parse('2026-11-24T11:05:00Z')),
      ...batch('out', 3, Date.parse('2026-11-24T10:55:00Z')),
    ]);
    const r = await runDriftOne(app.app, 'm');
    expect(r.window).toEqual({ from: '2026-11-24T11:00:00.000Z', to: '2026-11-24T13:00:00.000Z' });
    expect(r.n).toBe(4);
  });

  it('filters the stored series by feature and time', async () => {
    const app = await setup({ drift: { minSamples: 1 } });
    const h = Date.parse('2026-11-23T10:00:00Z');
    await ingestAll(app.app, [...batch('a', 5, h), ...batch('b', 5, h + 3 * HOUR)]);
    await runDriftTick(app.deps, FIXED_NOW);
    const onlyX = await driftSeries(app.app, 'm', 'kind=bucket&feature=x');
    expect(onlyX).toHaveLength(2);
    for (const r of onlyX) expect(r.features.map((f) => f.feature)).toEqual(['x']);
    const early = await driftSeries(app.app, 'm', `kind=bucket&to=${iso(h + HOUR)}`);
    expect(early.map((r) => r.window.from)).toEqual([iso(h)]);
  });
});
