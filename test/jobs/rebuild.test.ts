import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/types.js';
import { REBUILD_PAGE, rebuildStep, startActivation } from '../../src/baselines/service.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { runRebuildTick } from '../../src/jobs/index.js';
import {
  type BaselineBody,
  createBaseline,
  feature,
  ingestAll,
  mrec,
  runDrift,
  syntheticTraining,
} from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// An activation rebuilds the new baseline's aggregates page by page with a durable cursor; until it is
// complete, results say so and raise nothing, and however the pages are run every record counts once.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

// Not a multiple of any page size used below, so the last page is a partial one.
const N = 5_300;
const LATE = 120;
const START = FIXED_NOW - 3 * 3600e3;
// Production x spreads over 0…199 like baseline A; baseline B was trained on 0…99 only, so against B
// the same records drift strongly.
const records = (prefix: string, count: number, t0: number) =>
  Array.from({ length: count }, (_, i) =>
    mrec(
      `${prefix}-${i}`,
      { x: i % 200, color: ['red', 'green', 'blue'][i % 3] },
      { timestamp: t0 + i * 1000 },
    ),
  );

async function featureTotal(app: TestApp, baselineId: number, name: string): Promise<number> {
  const [row] = await app.sql<{ n: number }>(
    "SELECT coalesce(sum(n), 0) AS n FROM aggregates WHERE model = 'm' AND baseline_id = ? AND role = 'feature' AND name = ?",
    [baselineId, name],
  );
  return Number(row?.n ?? 0);
}

async function baselines(app: TestApp): Promise<BaselineBody[]> {
  const res = await getJson<{ baselines: BaselineBody[] }>(app.app, '/v1/models/m/baselines');
  expect(res.status).toBe(200);
  return res.body.baselines;
}

async function alerts(app: TestApp): Promise<AlertView[]> {
  const res = await getJson<{ alerts: AlertView[] }>(app.app, '/v1/alerts');
  expect(res.status).toBe(200);
  return res.body.alerts;
}

describe('activation rebuild', () => {
  it('is visible while incomplete, raises nothing from partial windows, resumes in the job and counts every record once', async () => {
    t = makeTestApp({ drift: { minSamples: 100 } });
    const app = t;
    const a = await createBaseline(app.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    expect(a.active).toBe(true);
    await ingestAll(app.app, records('r', N, START));
    const narrow = syntheticTraining().map((r) => ({ ...r, x: r.x % 100 }));
    const b = await createBaseline(app.app, 'm', JSON.stringify(narrow), 'application/json', {
      activate: 'false',
    });
    expect(b.active).toBe(false);

    const activation = await startActivation(app.deps, 'm', b.id, 'ana');
    expect(activation).toMatchObject({ baselineId: b.id, total: N, done: 0, cursor: 0 });
    expect(await rebuildStep(app.deps, 'm', 1000)).toBe(true);
    expect(await featureTotal(app, b.id, 'x')).toBe(1000);

    // Incomplete: the list shows the rebuild on the new baseline only.
    let list = await baselines(app);
    const listedB = list.find((x) => x.id === b.id);
    const listedA = list.find((x) => x.id === a.id);
    expect(listedB).toMatchObject({
      active: true,
      rebuild: { baseline_id: b.id, records_done: 1000, records_total: N, started_by: 'ana' },
    });
    expect(listedA).toMatchObject({ active: false, rebuild: null });
    const rebuild = listedB?.rebuild;
    if (!rebuild) throw new Error('no rebuild shown');
    expect(rebuild.records_done).toBeLessThan(rebuild.records_total);

    // Records arriving meanwhile are aggregated by ingest itself, on the new baseline.
    await ingestAll(app.app, records('late', LATE, START + N * 1000));
    expect(await featureTotal(app, b.id, 'x')).toBe(1000 + LATE);

    // Results over the partial aggregates say so, and raise no alert even though they look drifted.
    const partial = await runDrift(app.app, 'm');
    expect(partial).toHaveLength(1);
    const p = partial[0];
    expect(p).toMatchObject({
      window_kind: 'rolling',
      baseline_id: b.id,
      rebuilding: { records_done: 1000, records_total: N },
    });
    expect(p?.drifted).toBe(true);
    expect(p && feature(p, 'x').n).toBe(1000 + LATE);
    // The tick leaves the version's changed buckets for later rather than judging half a window.
    const tick = await runDriftTick(app.deps, FIXED_NOW);
    expect(tick.evaluated).toBe(0);
    expect(tick.pending).toBeGreaterThan(0);
    expect(tick.errors).toEqual([]);
    expect(await alerts(app)).toEqual([]);
    expect(await app.sql('SELECT count(*) AS n FROM deliveries')).toEqual([{ n: 0 }]);

    // Two runners at once (a request and the job, say): each page is folded in by exactly one.
    await Promise.all([rebuildStep(app.deps, 'm', 1000), rebuildStep(app.deps, 'm', 1000)]);
    expect(await featureTotal(app, b.id, 'x')).toBe(3000 + LATE);

    // The job finishes it.
    const done = await runRebuildTick(app.deps);
    expect(done).toEqual({ models: ['m'], pages: Math.ceil((N - 3000) / REBUILD_PAGE) });
    list = await baselines(app);
    expect(list.map((x) => x.rebuild)).toEqual([null, null]);
    expect(await app.store.read((tx) => tx.baselines.activation('m'))).toBeUndefined();
    expect(await featureTotal(app, b.id, 'x')).toBe(N + LATE);
    expect(await featureTotal(app, b.id, 'color')).toBe(N + LATE);

    // Running it again after completion adds nothing.
    expect(await rebuildStep(app.deps, 'm', 1000)).toBe(false);
    expect(await runRebuildTick(app.deps)).toEqual({ models: [], pages: 0 });
    expect(await featureTotal(app, b.id, 'x')).toBe(N + LATE);

    // Complete now: the same window is final and raises its alert.
    const final = await runDrift(app.app, 'm');
    expect(final).toHaveLength(1);
    const f = final[0];
    expect(f).toMatchObject({ baseline_id: b.id, rebuilding: null, n: N + LATE });
    expect(f && feature(f, 'x').n).toBe(N + LATE);
    const raised = await alerts(app);
    expect(raised.filter((x) => x.feature === 'x' && x.kind === 'drift')).toHaveLength(1);
  });
});
