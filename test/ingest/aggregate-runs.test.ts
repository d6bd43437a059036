import { afterEach, describe, expect, it } from 'vitest';
import { createBaseline, ingestAll } from '../drift/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// Aggregation looks a record's (model, version, bucket) up once for a run of records that share it. A batch
// that hops between versions, buckets and models must aggregate exactly as the same records sent one by one.

const HOUR = 3_600_000;
const START = Math.floor(FIXED_NOW / HOUR) * HOUR - 6 * HOUR;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const t of apps.splice(0)) await t.close();
});

async function appWithBaselines(): Promise<TestApp> {
  const t = makeTestApp();
  apps.push(t);
  const rows = Array.from({ length: 200 }, (_, i) =>
    JSON.stringify({ x: (i % 20) / 2, c: `k${i % 3}`, prediction: (i % 10) / 10 }),
  ).join('\n');
  for (const model of ['a', 'b'])
    await createBaseline(t.app, model, rows, 'application/x-ndjson', { model_version: 'v1' });
  return t;
}

const TABLES = {
  aggregates:
    'SELECT model, model_version, bucket_start, role, name, n, missing, vmin, vmax, counts FROM aggregates',
  bucket_stats: 'SELECT model, model_version, bucket_start, records FROM bucket_stats',
  traffic:
    'SELECT model, model_version, bucket_start, requests, errors, latency_count, latency_sum FROM traffic',
  performance: 'SELECT model, model_version, bucket_start, spec, rows, sums FROM performance',
  realized: 'SELECT model, model_version, bucket_start, spec, rows, sums FROM realized_performance',
};

async function snapshot(t: TestApp): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [name, sql] of Object.entries(TABLES)) {
    const rows = await t.sql(sql);
    out[name] = rows
      .map((r) =>
        JSON.stringify(r, (_, v) =>
          v instanceof Uint8Array ? Buffer.from(v).toString('hex') : typeof v === 'bigint' ? Number(v) : v,
        ),
      )
      .sort();
  }
  return out;
}

describe('aggregation of a batch that hops between buckets', () => {
  it('adds up as the same records sent one at a time', async () => {
    const records = Array.from({ length: 60 }, (_, i) => ({
      model: i % 7 === 3 ? 'b' : 'a',
      model_version: Math.floor(i / 2) % 2 ? 'v1' : 'v2',
      request_id: `r-${i}`,
      // Runs of six in one of three hourly buckets (back and forth), versions alternating by pairs within a run,
      // and the run's last record exactly at the next bucket's start.
      timestamp: START + (Math.floor(i / 6) % 3) * HOUR + (i % 6 === 5 ? HOUR : (i % 6) * 1000),
      features: { x: i % 11, c: `k${i % 4}`, ...(i % 9 === 0 ? { extra: 1 } : {}) },
      prediction: (i % 10) / 10,
      latency_ms: i,
      ...(i % 13 === 0 ? { status: 'error' } : {}),
    }));
    const batched = await appWithBaselines();
    await ingestAll(batched.app, records);
    const oneByOne = await appWithBaselines();
    await ingestAll(oneByOne.app, records, 1);
    const a = await snapshot(batched);
    expect(a.aggregates?.length).toBeGreaterThan(20);
    expect(a.bucket_stats?.length).toBeGreaterThan(10);
    expect(a).toEqual(await snapshot(oneByOne));
  });
});

describe('aggregation of a long batch in one bucket', () => {
  it('adds up as the same records in batches of 7, past the records binned together at once', async () => {
    // 700 records: several runs of values binned column by column, split mid-bucket, with missing and
    // mistyped values, unseen categories and extra features (past the per-bucket cap of extra names).
    const records = Array.from({ length: 700 }, (_, i) => ({
      model: i === 650 ? 'b' : 'a',
      model_version: 'v1',
      request_id: `r-${i}`,
      timestamp: START + (i < 600 ? i * 1000 : HOUR + i),
      features: {
        ...(i % 17 === 0 ? {} : { x: i % 23 === 0 ? 'text' : ((i * 7) % 41) / 4 }),
        c: `k${i % 5}`,
        ...(i % 50 === 0 ? { [`new${i}`]: 1 } : {}),
      },
      prediction: (i % 10) / 10,
    }));
    const batched = await appWithBaselines();
    await ingestAll(batched.app, records, 700);
    const small = await appWithBaselines();
    await ingestAll(small.app, records, 7);
    const a = await snapshot(batched);
    expect(a.aggregates?.filter((r) => r.includes('"extra"')).length).toBeGreaterThan(5);
    expect(a).toEqual(await snapshot(small));
  });
});

describe('performance accumulators of a batch whose prediction shape changes', () => {
  it('add up as the same records sent one at a time', async () => {
    // One bucket; runs of scores, two-class and three-class probabilities (three specs), some labelled.
    const prediction = (i: number) => {
      const p = (i % 10) / 10;
      const run = Math.floor(i / 4) % 3;
      return run === 0 ? p : run === 1 ? { yes: p, no: 1 - p } : { a: p / 2, b: p / 2, c: 1 - p };
    };
    const records = Array.from({ length: 90 }, (_, i) => ({
      model: 'a',
      model_version: 'v1',
      request_id: `r-${i}`,
      timestamp: START + i * 1000,
      features: { x: i % 11, c: `k${i % 4}` },
      prediction: prediction(i),
      ...(i % 3 === 0 ? { label: Math.floor(i / 4) % 3 === 0 ? i % 2 : ['yes', 'no', 'a', 'c'][i % 4] } : {}),
    }));
    const batched = await appWithBaselines();
    await ingestAll(batched.app, records);
    const oneByOne = await appWithBaselines();
    await ingestAll(oneByOne.app, records, 1);
    const a = await snapshot(batched);
    expect(a.performance?.length).toBe(3);
    expect(a.realized?.length).toBeGreaterThan(1);
    expect(a).toEqual(await snapshot(oneByOne));
  });
});
