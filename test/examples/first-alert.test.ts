import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  firstAlert,
  productionRecords,
  report,
  trainingCsv,
  WEATHER_CSV,
} from '../../examples/first-alert.mjs';
import type { AlertView } from '../../src/alerts/types.js';
import type { DriftResult } from '../../src/drift/service.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// The README's "First alert" walkthrough runs examples/first-alert.mjs; here the same steps run against
// an in-memory app, so the example and its promise cannot drift apart.

const csv = readFileSync(WEATHER_CSV, 'utf8');
let t: TestApp | undefined;
afterEach(() => t?.close());

describe('examples/first-alert.mjs', () => {
  it('shapes a 2012 training set and summer production records inside the last hour', () => {
    const training = trainingCsv(csv).trim().split('\n');
    expect(training[0]).toBe('date,precipitation,temp_max,temp_min,wind,weather');
    expect(training).toHaveLength(1 + 366);
    expect(training.slice(1).every((l) => l.startsWith('2012-'))).toBe(true);

    const records = productionRecords(csv, { model: 'm', modelVersion: 'v1', now: FIXED_NOW, run: 'r' });
    expect(records).toHaveLength(3 * 92);
    expect(records.length).toBeGreaterThanOrEqual(200); // the default minSamples
    expect(new Set(records.map((r) => r.request_id)).size).toBe(records.length);
    for (const r of records) {
      expect(r.timestamp).toBeLessThan(FIXED_NOW);
      expect(r.timestamp).toBeGreaterThanOrEqual(FIXED_NOW - 60 * 60_000);
      expect(r.request_id).toMatch(/^r-201[345]-0[678]-\d\d$/);
    }
  });

  it('ends with open drift alerts in the review queue', async () => {
    t = makeTestApp();
    const app = t.app;
    const out = await firstAlert({ request: (path, init) => app.request(path, init), csv, now: FIXED_NOW });

    expect(out.baseline).toMatchObject({
      model: 'seattle-weather',
      model_version: 'v1',
      row_count: 366,
      active: true,
    });
    expect(out.ingest).toEqual({ accepted: 276, duplicates: 0, rejected: [] });
    const results = out.results as DriftResult[];
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ window_kind: 'rolling', n: 276, drifted: true });

    const alerts = out.alerts as AlertView[];
    const temp = alerts.find((a) => a.kind === 'drift' && a.feature === 'temp_max');
    expect(temp).toMatchObject({
      status: 'open',
      severity: 'critical',
      model: 'seattle-weather',
      model_version: 'v1',
    });
    // The figures the README's walkthrough shows.
    expect(temp?.latest.psi).toBeCloseTo(4.6226, 4);
    const prediction = alerts.find((a) => a.kind === 'prediction_drift' && a.feature === 'prediction');
    expect(prediction?.latest.psi).toBeCloseTo(1.2356, 4);
    expect(alerts.every((a) => a.status === 'open')).toBe(true);
    // Joint shifts (on by default): the whole year's seasonal cycle ties the daily highs and lows together
    // far more than one season does, and the pair says so besides the features' own alerts.
    expect(
      alerts
        .filter((a) => a.kind === 'multivariate_drift')
        .map((a) => a.feature)
        .sort(),
    ).toEqual(['precipitation × temp_min', 'temp_max × temp_min']);
    const pair = alerts.find((a) => a.feature === 'temp_max × temp_min');
    expect(pair?.latest.correlation_baseline as number).toBeGreaterThan(0.8);
    expect(pair?.latest.correlation_window as number).toBeLessThan(0.6);

    // The queue as a reviewer sees it, independent of what the example returned.
    const queue = (await (await app.request('/v1/alerts?status=open&kind=drift')).json()) as {
      alerts: AlertView[];
    };
    expect(queue.alerts.map((a) => a.feature).sort()).toEqual([
      'precipitation',
      'temp_max',
      'temp_min',
      'wind',
    ]);

    const printed = report(out);
    expect(printed).toContain('temp_max       psi');
    expect(printed).toContain('4. GET /v1/alerts?status=open&model=seattle-weather: 7 open');
    expect(printed).toMatch(/#\d+ +drift +temp_max +critical psi 4\.\d{4} +open/);
    expect(printed).toMatch(
      /#\d+ +multivariate_drift +temp_max × temp_min +warning +r 0\.8648 → 0\.5618 open/,
    );
  });

  it('a second run reuses the active baseline and the open alerts', async () => {
    t = makeTestApp();
    const app = t.app;
    const request = (path: string, init?: RequestInit) => app.request(path, init);
    const first = await firstAlert({ request, csv, now: FIXED_NOW });
    t.setNow(FIXED_NOW + 60_000);
    const second = await firstAlert({ request, csv, now: FIXED_NOW + 60_000 });

    expect(second.baseline.id).toBe(first.baseline.id);
    expect(second.ingest).toEqual({ accepted: 276, duplicates: 0, rejected: [] });
    expect((second.results as DriftResult[])[0]?.n).toBe(2 * 276);
    expect(first.alerts).toHaveLength(7);
    const baselines = (await (await app.request('/v1/models/seattle-weather/baselines')).json()) as {
      baselines: unknown[];
    };
    expect(baselines.baselines).toHaveLength(1);
    expect((second.alerts as AlertView[]).map((a) => a.id).sort()).toEqual(
      (first.alerts as AlertView[]).map((a) => a.id).sort(),
    );
  });
});
