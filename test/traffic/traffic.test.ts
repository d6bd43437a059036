import { afterEach, describe, expect, it } from 'vitest';
import type { AlertDetail } from '../../src/alerts/review.js';
import { defaultConfig } from '../../src/config/index.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { alertmanagerAlert, slackPayload, summaryOf } from '../../src/notifications/payloads.js';
import type { Store } from '../../src/store/index.js';
import { ALPHA, exactQuantile } from '../../src/traffic/histogram.js';
import type { TrafficSummary, TrafficView } from '../../src/traffic/service.js';
import type { AlertView } from '../../src/views.js';
import { ingestAll } from '../drift/helpers.js';
import { type ErrorBody, getJson } from '../helpers.js';
import { alertEvent, alertView } from '../notifications/helpers.js';
import { FIXED_NOW, makeTestApp, makeTestAppOn, openTestStore, type TestApp } from '../support.js';

// GET /v1/models/:model/traffic and the latency / error_rate alerts, from records' latency_ms, status and
// error. No baseline anywhere: traffic does not need one.

const HOUR = 3_600_000;
let t: TestApp | undefined;
let store: Store | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await store?.close();
  store = undefined;
});

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Rec {
  model: string;
  request_id: string;
  model_version: string;
  timestamp: number;
  features: Record<string, number>;
  latency_ms?: number;
  status?: 'ok' | 'error';
  error?: string;
}

/** Records in the hour starting at `start`: log-normal latencies around `medianMs`, a share of errors. */
function traffic(
  prefix: string,
  start: number,
  n: number,
  o: { medianMs: number; errorShare: number; seed: number; version?: string },
): Rec[] {
  const rand = rng(o.seed);
  return Array.from({ length: n }, (_, i) => {
    const normal = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    const failed = rand() < o.errorShare;
    return {
      model: 'm',
      request_id: `${prefix}-${i}`,
      model_version: o.version ?? 'v1',
      timestamp: start + Math.floor((i / n) * HOUR),
      features: { x: i },
      latency_ms: Math.exp(Math.log(o.medianMs) + 0.7 * normal),
      ...(failed ? { status: 'error' as const, error: 'upstream timeout' } : { status: 'ok' as const }),
    };
  });
}

/** What the endpoint should say about these records, from the raw values. */
function expectSummary(got: TrafficSummary, records: Rec[]): void {
  const latencies = records
    .flatMap((r) => (r.latency_ms === undefined ? [] : [r.latency_ms]))
    .sort((a, b) => a - b);
  const errors = records.filter((r) => r.status === 'error' || (r.status === undefined && r.error)).length;
  expect(got.requests).toBe(records.length);
  expect(got.errors).toBe(errors);
  expect(got.error_rate).toBeCloseTo(errors / records.length, 12);
  expect(got.latency.count).toBe(latencies.length);
  expect(got.latency.mean).toBeCloseTo(latencies.reduce((a, b) => a + b, 0) / latencies.length, 6);
  for (const [q, v] of [
    [0.5, got.latency.p50],
    [0.95, got.latency.p95],
    [0.99, got.latency.p99],
  ] as const) {
    const exact = exactQuantile(latencies, q) as number;
    expect(Math.abs((v as number) - exact) / exact, `p${q * 100}`).toBeLessThanOrEqual(ALPHA);
  }
}

const trafficOf = async (app: TestApp['app'], query: string) => {
  const res = await getJson<TrafficView>(app, `/v1/models/m/traffic?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

const alertsOf = async (app: TestApp['app'], kind: string) =>
  (
    await getJson<{ alerts: AlertView[] }>(
      app,
      `/v1/alerts?kind=${kind}&status=open,acknowledged,decided,snoozed,closed`,
    )
  ).body.alerts;

describe('traffic', () => {
  it('reports requests, errors and latency quantiles per bucket and over the range', async () => {
    t = makeTestApp();
    const a = traffic('a', FIXED_NOW - 2 * HOUR, 1500, { medianMs: 40, errorShare: 0.02, seed: 1 });
    const b = traffic('b', FIXED_NOW - HOUR, 1000, { medianMs: 120, errorShare: 0.1, seed: 2 });
    // Another version in the same hours, and records without latency or status (an error message only).
    const other = traffic('c', FIXED_NOW - HOUR, 300, { medianMs: 5, errorShare: 0, seed: 3, version: 'v2' });
    const bare: Rec[] = [
      { model: 'm', request_id: 'bare-1', model_version: 'v1', timestamp: FIXED_NOW - HOUR, features: {} },
      {
        model: 'm',
        request_id: 'bare-2',
        model_version: 'v1',
        timestamp: FIXED_NOW - HOUR,
        features: {},
        error: 'boom',
      },
    ];
    await ingestAll(t.app, [...a, ...b, ...other, ...bare] as unknown as Record<string, unknown>[], 700);

    const from = new Date(FIXED_NOW - 2 * HOUR).toISOString();
    const to = new Date(FIXED_NOW).toISOString();
    const v1 = await trafficOf(t.app, `from=${from}&to=${to}&model_version=v1`);
    expect(v1.model_version).toBe('v1');
    expect(v1.bucket_ms).toBe(HOUR);
    expect(v1.window).toEqual({ from, to });
    expect(v1.buckets.map((x) => [x.from, x.to])).toEqual([
      [from, new Date(FIXED_NOW - HOUR).toISOString()],
      [new Date(FIXED_NOW - HOUR).toISOString(), to],
    ]);
    expectSummary(v1.buckets[0] as TrafficSummary, a);
    expectSummary(v1.buckets[1] as TrafficSummary, [...b, ...bare]);
    expect(v1.buckets[1]?.errors).toBe(b.filter((r) => r.status === 'error').length + 1);
    expectSummary(v1.total, [...a, ...b, ...bare]);

    // Without a version: every version merged; `bucket` groups hours into longer buckets.
    const all = await trafficOf(t.app, `from=${from}&to=${to}&bucket=2h`);
    expect(all.model_version).toBeNull();
    expect(all.buckets).toHaveLength(1);
    expectSummary(all.buckets[0] as TrafficSummary, [...a, ...b, ...other, ...bare]);
    expectSummary(all.total, [...a, ...b, ...other, ...bare]);

    // The default range is the rolling window (24 h ending with the current bucket): both hours.
    expect((await trafficOf(t.app, 'model_version=v2')).total.requests).toBe(300);

    // Duplicates count nowhere.
    await ingestAll(t.app, a.slice(0, 10) as unknown as Record<string, unknown>[]).catch(() => undefined);
    expect((await trafficOf(t.app, `from=${from}&to=${to}&model_version=v1`)).total.requests).toBe(2502);
  });

  it('merges what two processes on one database wrote into the same buckets', async () => {
    store = openTestStore();
    const one = makeTestAppOn(store);
    const two = makeTestAppOn(store);
    const start = FIXED_NOW - HOUR;
    const first = traffic('p1', start, 1200, { medianMs: 30, errorShare: 0.05, seed: 11 });
    const second = traffic('p2', start, 800, { medianMs: 300, errorShare: 0.2, seed: 12 });
    // Concurrently, in several requests each: on PostgreSQL the two lock and merge the same rows.
    await Promise.all([
      ingestAll(one.app, first as unknown as Record<string, unknown>[], 300),
      ingestAll(two.app, second as unknown as Record<string, unknown>[], 200),
    ]);
    const q = `from=${new Date(start).toISOString()}&to=${new Date(FIXED_NOW).toISOString()}`;
    const seenByOne = await trafficOf(one.app, q);
    const seenByTwo = await trafficOf(two.app, q);
    expect(seenByTwo).toEqual(seenByOne);
    expect(seenByOne.buckets).toHaveLength(1);
    expectSummary(seenByOne.total, [...first, ...second]);
    const rows = await one.sql<{ n: number }>('SELECT count(*) AS n FROM traffic');
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('raises an error_rate alert and marks it recovered when the error rate is back under', async () => {
    t = makeTestApp({ drift: { minSamples: 50, rollingWindow: '1h' }, models: { m: { errorRate: 0.2 } } });
    const bad = traffic('bad', FIXED_NOW, 200, { medianMs: 20, errorShare: 0.3, seed: 21 });
    await ingestAll(t.app, bad as unknown as Record<string, unknown>[]);
    const tick = await runDriftTick(t.deps, FIXED_NOW + HOUR + 60_000);
    expect(tick.errors).toEqual([]);
    expect(await alertsOf(t.app, 'latency')).toEqual([]);
    const [alert, ...more] = await alertsOf(t.app, 'error_rate');
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      model: 'm',
      model_version: 'v1',
      feature: '(traffic)',
      kind: 'error_rate',
      severity: 'warning',
      status: 'open',
      recovered: false,
    });
    const errors = bad.filter((r) => r.status === 'error').length;
    expect(alert?.latest).toMatchObject({ requests: 200, errors, threshold: 0.2 });
    // Between the threshold and twice it: a warning.
    expect(errors / 200).toBeGreaterThanOrEqual(0.2);
    expect(errors / 200).toBeLessThan(0.4);
    expect(alert?.latest.error_rate).toBeCloseTo(errors / 200, 12);
    // The closed bucket fired; the rolling window (the 13:00 hour, empty) did not judge.
    expect(alert?.evidence_count).toBe(1);
    const detail = await getJson<AlertDetail>(t.app, `/v1/alerts/${alert?.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.histogram).toBeNull();
    expect(detail.body.evidence.map((e) => [e.window_kind, e.drift_result_id])).toEqual([['bucket', null]]);

    // The next hour is calm: its rolling window recovers the alert (a person still closes it).
    const calm = traffic('calm', FIXED_NOW + HOUR, 100, { medianMs: 20, errorShare: 0, seed: 22 });
    await ingestAll(t.app, calm as unknown as Record<string, unknown>[]);
    await runDriftTick(t.deps, FIXED_NOW + HOUR + 30 * 60_000);
    const [after] = await alertsOf(t.app, 'error_rate');
    expect(after).toMatchObject({ id: alert?.id, recovered: true, status: 'open' });
    expect(await alertsOf(t.app, 'error_rate')).toHaveLength(1);
  });

  it('raises a latency alert on p95, escalates it, and recovers it', async () => {
    t = makeTestApp({ drift: { minSamples: 50, rollingWindow: '1h' }, models: { m: { latencyP95Ms: 100 } } });
    // p95 of a log-normal around 60 ms (σ 0.7) is about 190 ms: over 100, under 200 (warning).
    const slow = traffic('slow', FIXED_NOW, 400, { medianMs: 60, errorShare: 0.5, seed: 31 });
    await ingestAll(t.app, slow as unknown as Record<string, unknown>[]);
    await runDriftTick(t.deps, FIXED_NOW + HOUR / 2);
    expect(await alertsOf(t.app, 'error_rate')).toEqual([]);
    const [alert] = await alertsOf(t.app, 'latency');
    expect(alert).toMatchObject({
      kind: 'latency',
      feature: '(traffic)',
      severity: 'warning',
      status: 'open',
    });
    const p95 = exactQuantile(
      slow.map((r) => r.latency_ms as number).sort((a, b) => a - b),
      0.95,
    ) as number;
    expect(Math.abs((alert?.latest.latency_p95_ms as number) - p95) / p95).toBeLessThanOrEqual(ALPHA);
    expect(alert?.latest.latency_count).toBe(400);

    // Much slower still in the same (open) hour: p95 ≥ 200 ms escalates the same alert to critical.
    const slower = traffic('slower', FIXED_NOW, 1600, { medianMs: 400, errorShare: 0, seed: 32 });
    await ingestAll(t.app, slower as unknown as Record<string, unknown>[]);
    await runDriftTick(t.deps, FIXED_NOW + HOUR / 2 + 60_000);
    const [escalated, ...more] = await alertsOf(t.app, 'latency');
    expect(more).toEqual([]);
    expect(escalated).toMatchObject({ id: alert?.id, severity: 'critical', recovered: false });

    // The slow hour closes and is judged as a bucket (more evidence, still firing)…
    await runDriftTick(t.deps, FIXED_NOW + HOUR + 60_000);
    expect((await alertsOf(t.app, 'latency'))[0]).toMatchObject({ recovered: false, evidence_count: 2 });
    // …then it is fast again: the next hour's rolling window recovers it.
    const fast = traffic('fast', FIXED_NOW + HOUR, 300, { medianMs: 10, errorShare: 0, seed: 33 });
    await ingestAll(t.app, fast as unknown as Record<string, unknown>[]);
    await runDriftTick(t.deps, FIXED_NOW + HOUR + 10 * 60_000);
    const [recovered] = await alertsOf(t.app, 'latency');
    expect(recovered).toMatchObject({ id: alert?.id, recovered: true });
  });

  it('judges nothing without thresholds or below minSamples', async () => {
    t = makeTestApp({ drift: { minSamples: 500 }, models: { m: { errorRate: 0.01, latencyP95Ms: 1 } } });
    await ingestAll(
      t.app,
      traffic('few', FIXED_NOW, 100, { medianMs: 50, errorShare: 0.5, seed: 41 }) as unknown as Record<
        string,
        unknown
      >[],
    );
    await runDriftTick(t.deps, FIXED_NOW + 2 * HOUR);
    expect(await alertsOf(t.app, 'error_rate')).toEqual([]);
    expect(await alertsOf(t.app, 'latency')).toEqual([]);
  });

  it('answers 400 naming the bad query parameter, and 404 for a model that sent nothing', async () => {
    t = makeTestApp();
    await ingestAll(
      t.app,
      traffic('x', FIXED_NOW, 5, { medianMs: 5, errorShare: 0, seed: 51 }) as unknown as Record<
        string,
        unknown
      >[],
    );
    const cases: [string, string][] = [
      ['from=yesterday', 'from'],
      ['to=tomorrow', 'to'],
      ['bucket=soon', 'bucket'],
      ['bucket=90m', 'bucket'],
      ['bucket=100000001d', 'bucket'],
      ['model_version=', 'model_version'],
      ['colour=red', 'colour'],
      [`from=${FIXED_NOW}&to=${FIXED_NOW - HOUR}`, 'from'],
    ];
    for (const [query, field] of cases) {
      const res = await getJson<ErrorBody>(t.app, `/v1/models/m/traffic?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('bad_request');
      const problems = res.body.error.details?.problems as { path: string }[];
      expect(
        problems.map((p) => p.path),
        query,
      ).toContain(field);
    }
    expect((await getJson<ErrorBody>(t.app, '/v1/models/nobody/traffic')).status).toBe(404);
  });
});

describe('traffic alert notifications', () => {
  const latest = {
    window: { from: '2026-11-24T12:00:00.000Z', to: '2026-11-24T13:00:00.000Z' },
    window_kind: 'bucket',
    model_version: 'v2',
    requests: 950,
    errors: 190,
    error_rate: 0.2,
    latency_count: 950,
    latency_p50_ms: 41.2,
    latency_p95_ms: 187.46,
    latency_p99_ms: 240,
    latency_mean_ms: 55,
  };

  it('quote the latency p95 or the error rate, never PSI', () => {
    const config = defaultConfig({ notifications: { externalUrl: 'https://dw.example.com/' } });
    const latency = alertView({
      kind: 'latency',
      feature: '(traffic)',
      latest: { ...latest, threshold: 100 },
      peak: {},
    });
    const errors = alertView({
      kind: 'error_rate',
      feature: '(traffic)',
      latest: { ...latest, threshold: 0.05 },
      peak: {},
    });
    expect(summaryOf(config, alertEvent('alert.opened', latency))).toBe(
      'Latency on iris v2 · (traffic) (critical) opened, latency p95 187.5 ms over 950 requests (alerting at 100.0 ms)',
    );
    expect(summaryOf(config, alertEvent('alert.opened', errors))).toContain('error rate 20');
    for (const a of [latency, errors]) {
      const slack = JSON.stringify(slackPayload(config, alertEvent('alert.opened', a)));
      expect(slack).not.toContain('PSI');
      expect(slack).toContain('Requests');
      const am = alertmanagerAlert(config, a);
      expect(am.labels.alertname).toBe(a.kind === 'latency' ? 'LatencyHigh' : 'ErrorRateHigh');
      expect(am.labels.kind).toBe(a.kind);
      expect(am.annotations.description).not.toContain('PSI');
      expect(am.annotations.description).not.toContain('n/a');
    }
  });
});
