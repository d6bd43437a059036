import { afterEach, describe, expect, it } from 'vitest';
import { histogram, psi, quantileEdges } from '../../src/stats/index.js';
import {
  aggregateTotals,
  type BaselineBody,
  createBaseline,
  type DriftResultBody,
  feature,
  ingestAll,
  mrec,
  runDrift,
} from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// Aggregates live on one baseline's grid, so switching baselines must rebuild them from raw records.

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

const H = Date.parse('2026-11-23T10:00:00Z');
const RANGE = { from: H, to: H + 3600e3 };
const trainingA = Array.from({ length: 200 }, (_, i) => ({ x: i, color: i % 2 ? 'red' : 'blue' }));
// B is A shifted up by 100: the same production values land in different deciles.
const trainingB = trainingA.map((r) => ({ ...r, x: r.x + 100 }));

const xOf = (i: number) => (i * 37) % 250;
const recs = (prefix: string, count: number, version: string) =>
  Array.from({ length: count }, (_, i) =>
    mrec(`${prefix}-${i}`, { x: xOf(i), color: 'red' }, { model_version: version, timestamp: H + i * 1000 }),
  );
const expectedPsi = (training: { x: number }[], values: number[]) => {
  const train = training.map((r) => r.x);
  const edges = quantileEdges(train, 10);
  return psi(histogram(edges, train), histogram(edges, values));
};
const byVersion = (results: DriftResultBody[]) =>
  Object.fromEntries(results.map((r) => [r.model_version, r])) as Record<string, DriftResultBody>;

async function activate(app: TestApp['app'], id: number) {
  const res = await app.request(`/v1/models/m/baselines/${id}/activate`, { method: 'POST' });
  return { status: res.status, body: (await res.json()) as BaselineBody };
}

describe('re-aggregation when the baseline changes', () => {
  it('rebuilds aggregates from stored records on creation and on every activation', async () => {
    t = makeTestApp({ drift: { minSamples: 1 } });
    const app = t.app;
    // v2 has no baseline of its own, so it is compared with the most recently activated one.
    await ingestAll(app, [...recs('v1', 30, 'v1'), ...recs('v2', 10, 'v2')]);
    expect(await aggregateTotals(t, 'm')).toEqual({ rows: 0, n: 0 });
    expect(await runDrift(app, 'm', RANGE)).toEqual([]);

    const a = await createBaseline(app, 'm', JSON.stringify(trainingA), 'application/json', {
      model_version: 'v1',
    });
    expect(a.active).toBe(true);
    expect(a.activated_at).toBe(new Date(FIXED_NOW).toISOString());
    expect(a.reaggregated_records).toBe(40);
    let results = byVersion(await runDrift(app, 'm', RANGE));
    expect(Object.keys(results).sort()).toEqual(['v1', 'v2']);
    for (const [version, n] of [
      ['v1', 30],
      ['v2', 10],
    ] as const) {
      const r = results[version] as DriftResultBody;
      expect(r.baseline_id).toBe(a.id);
      expect(r.n).toBe(n);
      expect(feature(r, 'x').n).toBe(n);
      expect(feature(r, 'x').psi).toBeCloseTo(
        expectedPsi(
          trainingA,
          Array.from({ length: n }, (_, i) => xOf(i)),
        ),
        12,
      );
    }

    const b = await createBaseline(app, 'm', JSON.stringify(trainingB), 'application/json', {
      model_version: 'v1',
      activate: 'false',
    });
    expect(b.active).toBe(false);
    expect(b.activated_at).toBeNull();
    expect(b.reaggregated_records).toBe(0);
    results = byVersion(await runDrift(app, 'm', RANGE));
    expect(results.v1?.baseline_id).toBe(a.id);
    expect(results.v1?.n).toBe(30);

    const activated = await activate(app, b.id);
    expect(activated.status).toBe(200);
    expect(activated.body).toMatchObject({ id: b.id, active: true, reaggregated_records: 40 });
    const list = await getJson<{ baselines: BaselineBody[] }>(app, '/v1/models/m/baselines');
    expect(list.body.baselines.map((x) => [x.id, x.active])).toEqual([
      [b.id, true],
      [a.id, false],
    ]);
    results = byVersion(await runDrift(app, 'm', RANGE));
    for (const [version, n] of [
      ['v1', 30],
      ['v2', 10],
    ] as const) {
      const r = results[version] as DriftResultBody;
      expect(r.baseline_id).toBe(b.id);
      expect(r.n).toBe(n);
      expect(feature(r, 'x').n).toBe(n);
      expect(feature(r, 'x').psi).toBeCloseTo(
        expectedPsi(
          trainingB,
          Array.from({ length: n }, (_, i) => xOf(i)),
        ),
        12,
      );
    }

    // Records after the switch are aggregated by ingest itself on the new baseline.
    await ingestAll(app, recs('v1-late', 5, 'v1'));
    expect(byVersion(await runDrift(app, 'm', RANGE)).v1?.n).toBe(35);
    expect(feature(byVersion(await runDrift(app, 'm', RANGE)).v1 as DriftResultBody, 'x').n).toBe(35);

    const h = await getJson<{ baseline_id: number; n: number }>(
      app,
      `/v1/models/m/features/x/histogram?model_version=v1&from=${H}&to=${H + 3600e3}`,
    );
    expect(h.body).toMatchObject({ baseline_id: b.id, n: 35 });

    // Switching back clears A's old aggregates before rebuilding them, so nothing is counted twice.
    const back = await activate(app, a.id);
    expect(back.body).toMatchObject({ id: a.id, active: true, reaggregated_records: 45 });
    results = byVersion(await runDrift(app, 'm', RANGE));
    expect(results.v1?.baseline_id).toBe(a.id);
    expect(feature(results.v1 as DriftResultBody, 'x').n).toBe(35);
    expect(feature(results.v2 as DriftResultBody, 'x').n).toBe(10);
  });

  it('leaves a version with its own active baseline alone when another version gets one', async () => {
    t = makeTestApp({ drift: { minSamples: 1 } });
    const app = t.app;
    await ingestAll(app, [...recs('v1', 20, 'v1'), ...recs('v2', 8, 'v2')]);
    const a = await createBaseline(app, 'm', JSON.stringify(trainingA), 'application/json', {
      model_version: 'v1',
    });
    expect(a.reaggregated_records).toBe(28);
    const b = await createBaseline(app, 'm', JSON.stringify(trainingB), 'application/json', {
      model_version: 'v2',
    });
    // v2's first own baseline is activated; v1 keeps A, so only v2's records are rebuilt.
    expect(b.active).toBe(true);
    expect(b.reaggregated_records).toBe(8);
    const results = byVersion(await runDrift(app, 'm', RANGE));
    expect(results.v1?.baseline_id).toBe(a.id);
    expect(results.v2?.baseline_id).toBe(b.id);
    expect(feature(results.v1 as DriftResultBody, 'x').n).toBe(20);
    expect(feature(results.v2 as DriftResultBody, 'x').n).toBe(8);
  });

  it('answers 404 for activating a baseline that does not exist or belongs to another model, 400 for a bad id', async () => {
    t = makeTestApp();
    const a = await createBaseline(t.app, 'm', JSON.stringify(trainingA), 'application/json');
    expect((await activate(t.app, a.id + 1)).status).toBe(404);
    const res = await t.app.request(`/v1/models/other/baselines/${a.id}/activate`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect((await t.app.request('/v1/models/m/baselines/abc/activate', { method: 'POST' })).status).toBe(400);
  });
});
