import { afterEach, describe, expect, it } from 'vitest';
import { backfillFeatureResults, driftSummaries, windowCells } from '../../src/drift/service.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import {
  createBaseline,
  driftSeries,
  ingestAll,
  mrec,
  runDrift,
  syntheticTraining,
} from '../drift/helpers.js';
import { makeTestApp, sqlRows, sqlRun, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const HOUR = 3600e3;
const T0 = Date.parse('2026-11-24T00:00:00Z');

/** Three closed hourly buckets of model m, the last one shifted (x drifts), evaluated by ticks. */
async function threeBuckets(): Promise<TestApp> {
  t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 50 } });
  await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
  for (let h = 0; h < 3; h++) {
    const records = Array.from({ length: 120 }, (_, i) =>
      mrec(
        `b${h}-${i}`,
        { x: h === 2 ? 150 + (i % 50) : (i * 7) % 200, color: ['red', 'green', 'blue'][i % 3] as string },
        { timestamp: new Date(T0 + h * HOUR + i * 1000).toISOString() },
      ),
    );
    await ingestAll(t.app, records);
  }
  t.setNow(T0 + 3 * HOUR + 60_000);
  await runDriftTick(t.deps, t.deps.clock());
  return t;
}

interface FeatureRow {
  feature: string;
  psi: number | null;
  pvalue_adjusted: number | null;
  severity: string | null;
  window_to: number;
}

describe('drift_feature_results', () => {
  it('holds one row per feature of each stored result, written with it, with the measures the result has', async () => {
    const app = await threeBuckets();
    const results = await driftSeries(app.app, 'm', 'kind=bucket');
    expect(results.length).toBeGreaterThanOrEqual(3);
    for (const r of results) {
      const rows = await sqlRows<FeatureRow>(
        app.store,
        'SELECT feature, psi, pvalue_adjusted, severity, window_to FROM drift_feature_results WHERE drift_result_id = ? ORDER BY feature',
        [r.id],
      );
      expect(rows.map((x) => x.feature)).toEqual(r.features.map((f) => f.feature).sort());
      for (const row of rows) {
        const f = r.features.find((c) => c.feature === row.feature);
        expect(Number(row.window_to)).toBe(Date.parse(r.window.to));
        expect(row.psi).toBe(f?.psi);
        expect(row.pvalue_adjusted).toBe(f?.pvalue_adjusted);
        expect(row.severity).toBe(f?.severity);
      }
    }
    // The drifted bucket's x is what the narrow series reads.
    const series = await driftSeries(app.app, 'm', 'kind=bucket&feature=x');
    expect(series.map((r) => r.features.map((f) => f.feature))).toEqual(results.map(() => ['x']));
    expect(series[0]?.features[0]?.drifted).toBe(true);
  });

  it('keeps the summary of each result in a table of its own, one row per result, replaced on re-evaluation', async () => {
    const app = await threeBuckets();
    await runDrift(app.app, 'm', { from: T0, to: T0 + 3 * HOUR });
    const evaluatedAt = async () =>
      (
        await sqlRows<{ summary: string }>(
          app.store,
          `SELECT s.summary FROM drift_result_summaries s JOIN drift_results d ON d.id = s.drift_result_id
           WHERE d.window_kind = 'range'`,
        )
      ).map((r) => (JSON.parse(r.summary) as { evaluated_at: string }).evaluated_at);
    const first = await evaluatedAt();
    app.setNow(T0 + 3 * HOUR + 120_000);
    await runDrift(app.app, 'm', { from: T0, to: T0 + 3 * HOUR });
    const second = await evaluatedAt();
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]);
    const whole = await driftSeries(app.app, 'm');
    const rows = await sqlRows<{ id: number; summary: string }>(
      app.store,
      'SELECT drift_result_id AS id, summary FROM drift_result_summaries ORDER BY drift_result_id',
    );
    expect(rows.map((r) => Number(r.id))).toEqual(whole.map((r) => r.id).sort((a, b) => a - b));
    for (const r of rows) {
      const { id: _, features: __, ...rest } = whole.find((w) => w.id === Number(r.id)) ?? {};
      expect(JSON.parse(r.summary)).toEqual(rest);
    }
  });

  it('gives every window as its summary, the picked features as cells and the highest PSI of every feature, as the whole results do', async () => {
    const app = await threeBuckets();
    await runDrift(app.app, 'm', { from: T0, to: T0 + 3 * HOUR });
    const whole = await driftSeries(app.app, 'm');
    const narrow = (
      fs: readonly { feature: string; psi: number | null; drifted: boolean | null }[],
      pick: string[],
    ) =>
      fs
        .filter((f) => pick.includes(f.feature))
        .map((f) => ({ feature: f.feature, psi: f.psi, drifted: f.drifted }))
        .sort((a, b) => a.feature.localeCompare(b.feature));
    const highest = new Map<string, number | null>();
    for (const r of whole)
      for (const f of r.features) {
        const had = highest.get(f.feature);
        if (had === undefined || (f.psi !== null && (had === null || f.psi > had)))
          highest.set(f.feature, f.psi);
      }
    const read = async (pick: string[], kind?: 'bucket') => {
      const results = await driftSummaries(app.deps, 'm', { limit: 100, ...(kind ? { kind } : {}) });
      let offered: string[] = [];
      const { features, latest } = await windowCells(app.deps, results, (fs, newest) => {
        offered = fs.map((f) => f.feature).sort();
        expect(newest).toEqual(results[0] && whole.find((w) => w.id === results[0]?.id));
        return pick;
      });
      return { results, features, latest, offered };
    };
    const check = async (pick: string[], split: boolean) => {
      const { results, features, latest, offered } = await read(pick);
      expect(results.map((r) => ({ ...r, features: narrow(r.features, pick) }))).toEqual(
        whole.map((r) => ({ ...r, features: narrow(r.features, pick) })),
      );
      // Split results carry the picked features only; the others are read whole.
      if (split)
        for (const r of results) expect(r.features.every((f) => pick.includes(f.feature))).toBe(true);
      expect(new Map(features.map((f) => [f.feature, f.psi]))).toEqual(highest);
      expect(offered).toEqual([...highest.keys()].sort());
      expect(latest).toEqual(whole[0]);
      const buckets = await read(pick, 'bucket');
      expect(buckets.results.map((r) => r.id)).toEqual(
        whole.filter((r) => r.window_kind === 'bucket').map((r) => r.id),
      );
    };
    expect(whole.some((r) => r.features.some((f) => f.drifted === true))).toBe(true);
    await check(['x'], true);
    await check(['x', 'color'], true);
    await check([], true);
    // Upgraded from a version that kept summaries in drift_results: no summary rows yet, feature rows there.
    // Read whole, without the feature rows' cells added a second time.
    await sqlRun(app.store, 'DELETE FROM drift_result_summaries');
    await check(['x'], false);
    // Stored whole only (before the split): read whole, the same cells and maxima.
    await sqlRun(app.store, 'DELETE FROM drift_feature_results');
    await check(['x'], false);
    await backfillFeatureResults(app.deps);
    await check(['color'], true);
  });

  it('gives a one-feature series equal to the whole results filtered, before and after results are split', async () => {
    const app = await threeBuckets();
    // A window evaluated again replaces its feature rows rather than adding to them.
    await runDrift(app.app, 'm', { from: T0, to: T0 + 3 * HOUR });
    await runDrift(app.app, 'm', { from: T0, to: T0 + 3 * HOUR });
    const whole = await driftSeries(app.app, 'm');
    const expected = (feature: string) =>
      whole.map((r) => ({ ...r, features: r.features.filter((f) => f.feature === feature) }));
    for (const feature of ['x', 'color', 'prediction'])
      expect(await driftSeries(app.app, 'm', `feature=${feature}`)).toEqual(expected(feature));
    const counted = await sqlRows<{ n: number }>(
      app.store,
      'SELECT count(*) AS n FROM drift_feature_results',
    );
    expect(Number(counted[0]?.n)).toBe(whole.reduce((s, r) => s + r.features.length, 0));

    // As stored before the table existed: the whole JSON only. Reads fall back to it; the backfill splits.
    await sqlRun(app.store, 'DELETE FROM drift_result_summaries');
    await sqlRun(app.store, 'DELETE FROM drift_feature_results');
    expect(await driftSeries(app.app, 'm', 'feature=x')).toEqual(expected('x'));
    expect(await backfillFeatureResults(app.deps, 2)).toBe(whole.length);
    expect(await backfillFeatureResults(app.deps, 2)).toBe(0);
    for (const feature of ['x', 'color'])
      expect(await driftSeries(app.app, 'm', `feature=${feature}`)).toEqual(expected(feature));
    const after = await sqlRows<{ n: number }>(app.store, 'SELECT count(*) AS n FROM drift_feature_results');
    expect(Number(after[0]?.n)).toBe(Number(counted[0]?.n));
  });
});
