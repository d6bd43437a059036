import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { chunksFromVector } from '../../src/multivariate/baseline-store.js';
import {
  baselineChunks,
  baselineHalves,
  coMomentsFromVector,
  coMomentsOf,
} from '../../src/stats/comoments.js';
import { mulberry32 } from '../../src/stats/index.js';
import { fromF64Blob } from '../../src/store/repos/multivariate.js';
import type { AlertView } from '../../src/views.js';
import { baselineDetail, column, createBaseline, driftSeries, ingestAll, mrec } from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// Joint shifts end to end: training upload → baseline co-moments; ingest → per-bucket vectors; the drift
// tick → reconstruction error and correlation pairs → multivariate_drift alerts.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const HOUR = 3600e3;
// The bucket before FIXED_NOW: closed when the tick runs at FIXED_NOW.
const BUCKET = FIXED_NOW - HOUR;

/** Seeded N(0,1) pairs with correlation rho (Box–Muller), plus an independent third feature. */
function rows(n: number, rho: number, seed: number): { a: number; b: number; c: number }[] {
  const next = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return Array.from({ length: n }, () => {
    const u = normal();
    const v = normal();
    return { a: u, b: rho * u + Math.sqrt(1 - rho * rho) * v, c: normal() };
  });
}

const csv = (list: { a: number; b: number; c: number }[]) =>
  ['a,b,c', ...list.map((r) => `${r.a},${r.b},${r.c}`)].join('\n');

async function alerts(app: TestApp['app']): Promise<AlertView[]> {
  return (await getJson<{ alerts: AlertView[] }>(app, '/v1/alerts?limit=1000')).body.alerts;
}

describe('co-moments through ingest', () => {
  it('stores per-bucket sums equal to a direct computation on the rows sent (missing values, an outlier clipped, two batches, two buckets)', async () => {
    // Joint shifts are on by default: no multivariate config.
    t = makeTestApp();
    const training = rows(1000, 0.5, 1).map((r) => ({ a: r.a * 100 + 5000, b: r.b * 0.01, c: r.c }));
    const b = await createBaseline(t.app, 'm', JSON.stringify(training), 'application/json');
    const detail = await baselineDetail(t.app, 'm', b.id);
    const names = ['a', 'b', 'c'];
    const mean = names.map((n) => column(detail, n, 'numeric').mean);
    const sd = names.map((n) => column(detail, n, 'numeric').std);

    // The baseline's own co-moments equal baselineHalves on its rows.
    const [stored] = await t.sql<{
      standardisation: string;
      fit: Buffer;
      calibration: Buffer;
      chunks: Buffer;
    }>('SELECT standardisation, fit, calibration, chunks FROM baseline_comoments WHERE baseline_id = ?', [
      b.id,
    ]);
    const standardisation = JSON.parse(stored?.standardisation ?? '{}') as {
      lower: number[];
      upper: number[];
    };
    expect(standardisation).toMatchObject({ features: names, mean, sd });
    // Clipping bounds from the first 2,048 rows, wide enough that none of these normal rows is clipped.
    const { lower, upper } = standardisation;
    for (const [i, n] of names.entries()) {
      expect((upper[i] as number) - (mean[i] as number)).toBeGreaterThan(6 * (sd[i] as number));
      expect((mean[i] as number) - (lower[i] as number)).toBeGreaterThan(6 * (sd[i] as number));
      expect(
        training.every((r) => r[n as 'a'] > (lower[i] as number) && r[n as 'a'] < (upper[i] as number)),
      ).toBe(true);
    }
    const st = { mean, sd, lower, upper };
    const trainingRows = training.map((r) => [r.a, r.b, r.c]);
    const direct = baselineHalves(trainingRows, st);
    const chunks = baselineChunks(trainingRows, st);
    const storedChunks = chunksFromVector(fromF64Blob(stored?.chunks as Buffer));
    expect(storedChunks).toHaveLength(chunks.length);
    for (const [half, got] of [
      [direct.fit, coMomentsFromVector(fromF64Blob(stored?.fit as Buffer))],
      [direct.calibration, coMomentsFromVector(fromF64Blob(stored?.calibration as Buffer))],
      ...chunks.map((c, k) => [c, storedChunks[k]] as const),
    ] as const) {
      expect(got?.n).toBe(half.n);
      for (const [k, v] of half.sumsq.entries())
        expect(Math.abs((got?.sumsq[k] as number) - v)).toBeLessThan(1e-9);
      for (const [k, v] of half.sum.entries())
        expect(Math.abs((got?.sum[k] as number) - v)).toBeLessThan(1e-9);
    }

    const sent = rows(600, -0.3, 2).map((r, i) => ({
      // Row 3 lies 10,000 sd out: it is clipped to the bound, in the stored sums and the direct computation.
      a: i % 7 === 0 ? null : i === 3 ? 5000 + 1e6 : r.a * 100 + 5000,
      b: i % 11 === 0 ? 'n/a' : r.b * 0.01,
      ...(i % 13 === 0 ? {} : { c: r.c }),
    }));
    const at = (i: number) => BUCKET - (i % 2) * HOUR + (i % 50) * 1000;
    const records = sent.map((f, i) => mrec(`r${i}`, f, { timestamp: at(i) }));
    await ingestAll(t.app, records.slice(0, 250));
    await ingestAll(t.app, records.slice(250));

    for (const start of [BUCKET, BUCKET - HOUR]) {
      const own = sent.filter((_, i) => at(i) - (at(i) % HOUR) === start);
      const expected = coMomentsOf(
        own
          .map((r) => [r.a, r.b, r.c] as (number | null | undefined)[])
          .map((v) => v.map((x) => (typeof x === 'number' ? x : null))),
        st,
      );
      const [row] = await t.sql<{ vector: Buffer }>(
        'SELECT vector FROM comoments WHERE model = ? AND baseline_id = ? AND bucket_start = ?',
        ['m', b.id, start],
      );
      const got = coMomentsFromVector(fromF64Blob(row?.vector as Buffer));
      expect(got.n).toBe(own.length);
      expect(got.missing).toEqual(expected.missing);
      expect(got.missing.every((m) => m > 0)).toBe(true);
      for (const [k, v] of expected.sum.entries())
        expect(Math.abs((got.sum[k] as number) - v)).toBeLessThan(1e-9);
      for (const [k, v] of expected.sumsq.entries())
        expect(Math.abs((got.sumsq[k] as number) - v)).toBeLessThan(1e-9);
    }
  });
});

describe('which columns are watched by default', () => {
  it('takes the 100 numeric columns of a model that also has 5 text columns (105 in all)', async () => {
    t = makeTestApp();
    const next = mulberry32(21);
    const numeric = Array.from({ length: 100 }, (_, k) => `x${k}`);
    const text = Array.from({ length: 5 }, (_, k) => `t${k}`);
    const lines = [[...numeric, ...text].join(',')];
    for (let r = 0; r < 300; r++)
      lines.push(
        [...numeric.map(() => next().toFixed(6)), ...text.map((_, k) => `v${(r + k) % 3}`)].join(','),
      );
    const b = await createBaseline(t.app, 'm', lines.join('\n'), 'text/csv');
    const [stored] = await t.sql<{ standardisation: string }>(
      'SELECT standardisation FROM baseline_comoments WHERE baseline_id = ?',
      [b.id],
    );
    expect((JSON.parse(stored?.standardisation ?? '{}') as { features: string[] }).features).toEqual(numeric);
  });
});

describe('turning joint shifts off', () => {
  it('keeps no co-moments and judges no pairs for a model with multivariate.enabled false', async () => {
    t = makeTestApp({ models: { m: { multivariate: { enabled: false } } } });
    const b = await createBaseline(t.app, 'm', csv(rows(1000, 0.8, 11)), 'text/csv');
    await ingestAll(
      t.app,
      rows(500, -0.8, 12).map((f, i) => mrec(`r${i}`, f, { timestamp: BUCKET + i * 1000 })),
    );
    expect((await runDriftTick(t.deps, FIXED_NOW)).errors).toEqual([]);
    expect(await t.sql('SELECT baseline_id FROM baseline_comoments WHERE baseline_id = ?', [b.id])).toEqual(
      [],
    );
    expect(await t.sql('SELECT model FROM comoments')).toEqual([]);
    const [bucket] = await driftSeries(t.app, 'm', 'kind=bucket');
    expect(bucket?.features.length).toBe(3);
    expect(bucket?.multivariate).toBeNull();
  });
});

describe('joint drift through the drift tick', () => {
  it('flags a correlation flip (0.8 → −0.8, marginals unchanged) in the first closed bucket of 2,000, with every univariate test silent', async () => {
    t = makeTestApp({ models: { m: { multivariate: { enabled: true } } } });
    await createBaseline(t.app, 'm', csv(rows(4000, 0.8, 3)), 'text/csv');
    await ingestAll(
      t.app,
      rows(2000, -0.8, 4).map((f, i) => mrec(`r${i}`, f, { timestamp: BUCKET + i * 1000 })),
    );
    const tick = await runDriftTick(t.deps, FIXED_NOW);
    expect(tick.errors).toEqual([]);
    const [bucket] = await driftSeries(t.app, 'm', 'kind=bucket');
    expect(bucket?.features.every((f) => f.drifted === false)).toBe(true);
    const mv = bucket?.multivariate;
    const pair = mv?.pairs.find((p) => p.pair === 'a × b');
    expect(pair?.flagged).toBe(true);
    expect(pair?.baseline).toBeGreaterThan(0.75);
    expect(pair?.window).toBeLessThan(-0.75);
    expect(mv?.pairs.filter((p) => p.flagged).map((p) => p.pair)).toEqual(['a × b']);
    expect(mv?.reconstruction?.flagged).toBe(true);

    const raised = await alerts(t.app);
    expect(raised.filter((a) => a.kind !== 'multivariate_drift')).toEqual([]);
    const joint = raised.filter((a) => a.kind === 'multivariate_drift').map((a) => a.feature);
    expect(joint.sort()).toEqual(['a × b', 'reconstruction']);
    const alert = raised.find((a) => a.feature === 'a × b') as AlertView;
    expect(alert.severity).toBe('critical');
    expect(alert.latest).toMatchObject({ pair: 'a × b' });
    expect(alert.latest.correlation_window as number).toBeLessThan(-0.75);

    // The alert page shows the two correlations in "why it fired".
    const page = await t.app.request(`/ui/alerts/${alert.id}`);
    const html = await page.text();
    expect(html).toContain('correlation in the baseline');
    expect(html).toContain(String((alert.latest.correlation_window as number).toFixed(3)));
  });

  it('raises no multivariate alert over null buckets of 2,000 (reduced run: 8 buckets)', async () => {
    t = makeTestApp({ models: { m: { multivariate: { enabled: true } } } });
    await createBaseline(t.app, 'm', csv(rows(4000, 0.8, 5)), 'text/csv');
    const buckets = 8;
    for (let k = 0; k < buckets; k++) {
      const start = FIXED_NOW - (buckets - k) * HOUR;
      await ingestAll(
        t.app,
        rows(2000, 0.8, 100 + k).map((f, i) => mrec(`n${k}-${i}`, f, { timestamp: start + i * 1000 })),
      );
    }
    const tick = await runDriftTick(t.deps, FIXED_NOW);
    expect(tick.errors).toEqual([]);
    const results = await driftSeries(t.app, 'm', 'kind=bucket');
    expect(results).toHaveLength(buckets);
    expect(results.every((r) => r.multivariate !== null && r.multivariate.flagged === false)).toBe(true);
    expect((await alerts(t.app)).filter((a) => a.kind === 'multivariate_drift')).toEqual([]);
  });
});
