import { afterEach, describe, expect, it } from 'vitest';
import { zeroTallies } from '../../src/aggregates/service.js';
import type { AlertView } from '../../src/alerts/types.js';
import { startActivation } from '../../src/baselines/service.js';
import { ApiError } from '../../src/errors.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import {
  type AggregateDelta,
  type BucketKey,
  NestedTransactionError,
  type NewAlert,
} from '../../src/store/index.js';
import { type ErrorBody, hour, iso, type MApp, MIN, setupM } from '../alerts/helpers.js';
import { createBaseline, type DriftResultBody, syntheticTraining } from '../drift/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// The rules that must hold with several writers live in the store (additive upserts, unique indexes,
// compare-and-set, change sequences, leases), not in a service's memory. Each is checked at the store
// interface and, where it shows, through the API.

let t: TestApp | undefined;
let m: MApp | undefined;
afterEach(async () => {
  await t?.close();
  await m?.t.close();
  t = undefined;
  m = undefined;
});

const BUCKET = 3600e3;
const B0 = hour(8);

function delta(over: Partial<AggregateDelta> & { counts: Uint32Array }): AggregateDelta {
  return {
    model: 'm',
    modelVersion: 'v1',
    baselineId: 7,
    bucketStart: B0,
    bucketMs: BUCKET,
    role: 'feature',
    name: 'x',
    ...zeroTallies(),
    ...over,
  };
}

const windowOf = (store: TestApp['store'], over: { name?: string; from?: number; to?: number } = {}) =>
  store.read(async (tx) =>
    (
      await tx.aggregates.window({
        model: 'm',
        modelVersion: 'v1',
        baselineId: 7,
        bucketMs: BUCKET,
        from: over.from ?? B0,
        to: over.to ?? B0 + BUCKET,
      })
    ).filter((r) => over.name === undefined || r.name === over.name),
  );

describe('additive aggregates', () => {
  it('sums two deltas for the same key element-wise, whichever count vector is longer', async () => {
    t = makeTestApp();
    const { store } = t;
    await store.tx((tx) =>
      tx.aggregates.add(
        [
          delta({
            name: 'x',
            counts: Uint32Array.from([1, 2, 3]),
            n: 6,
            missing: 1,
            typeMismatch: 2,
            outOfRange: 3,
            unseen: 4,
            offEdge: 5,
            vmin: 2,
            vmax: 9,
          }),
          delta({ name: 'y', counts: Uint32Array.from([5, 5, 5, 5]), n: 20, vmin: null, vmax: null }),
          delta({ name: 'z', counts: Uint32Array.from([1]), n: 1, vmin: 3, vmax: 3 }),
        ],
        FIXED_NOW,
      ),
    );
    // A second writer's deltas, in their own transaction: nothing is read back and re-written by the service.
    await store.tx((tx) =>
      tx.aggregates.add(
        [
          delta({
            name: 'x',
            counts: Uint32Array.from([10, 20, 30, 40, 50]),
            n: 150,
            missing: 10,
            typeMismatch: 20,
            outOfRange: 30,
            unseen: 40,
            offEdge: 50,
            vmin: -1,
            vmax: 5,
          }),
          delta({ name: 'y', counts: Uint32Array.from([1]), n: 1, vmin: 4, vmax: 4 }),
          delta({ name: 'z', counts: Uint32Array.from([2, 7]), n: 9, vmin: null, vmax: null }),
        ],
        FIXED_NOW + 1,
      ),
    );
    const rows = await windowOf(store);
    const byName = Object.fromEntries(rows.map((r) => [r.name, { ...r, counts: [...r.counts] }]));
    expect(rows).toHaveLength(3);
    expect(byName.x).toEqual({
      role: 'feature',
      name: 'x',
      counts: [11, 22, 33, 40, 50],
      n: 156,
      missing: 11,
      typeMismatch: 22,
      outOfRange: 33,
      unseen: 44,
      offEdge: 55,
      vmin: -1,
      vmax: 9,
    });
    // The longer vector came first here, the shorter second: its tail is kept.
    expect(byName.y).toMatchObject({ counts: [6, 5, 5, 5], n: 21, vmin: 4, vmax: 4 });
    // A delta without min/max leaves the stored ones alone.
    expect(byName.z).toMatchObject({ counts: [3, 7], n: 10, vmin: 3, vmax: 3 });
  });

  it('keeps other buckets, versions and baselines in their own rows', async () => {
    t = makeTestApp();
    const { store } = t;
    const deltas = [
      delta({ counts: Uint32Array.from([1, 0]), n: 1 }),
      delta({ counts: Uint32Array.from([0, 1]), n: 1, bucketStart: B0 + BUCKET }),
      delta({ counts: Uint32Array.from([4, 4]), n: 8, modelVersion: 'v2' }),
      delta({ counts: Uint32Array.from([9, 9]), n: 18, baselineId: 8 }),
    ];
    await store.tx((tx) => tx.aggregates.add(deltas, FIXED_NOW));
    await store.tx((tx) => tx.aggregates.add(deltas, FIXED_NOW));
    const first = await windowOf(store);
    expect(first.map((r) => [r.n, [...r.counts]])).toEqual([[2, [2, 0]]]);
    const both = await windowOf(store, { to: B0 + 2 * BUCKET });
    expect(both.map((r) => r.n).sort()).toEqual([2, 2]);
    const v2 = await store.read((tx) =>
      tx.aggregates.window({
        model: 'm',
        modelVersion: 'v2',
        baselineId: 7,
        bucketMs: BUCKET,
        from: B0,
        to: B0 + BUCKET,
      }),
    );
    expect(v2.map((r) => [r.n, [...r.counts]])).toEqual([[16, [8, 8]]]);
  });
});

const newAlert = (over: Partial<NewAlert> = {}): NewAlert => ({
  model: 'm',
  modelVersion: '',
  feature: 'x',
  kind: 'drift',
  severity: 'warning',
  status: 'open',
  evidenceCount: 1,
  firstSeen: B0,
  lastSeen: B0 + BUCKET,
  peakPsi: 0.3,
  latest: '{}',
  peak: '{}',
  createdAt: FIXED_NOW,
  updatedAt: FIXED_NOW,
  ...over,
});

describe('one alert in review per (model, feature, kind)', () => {
  it('refuses a second open alert for the key until the first is closed', async () => {
    t = makeTestApp();
    const { store } = t;
    const first = await store.tx((tx) => tx.alerts.insert(newAlert()));
    if (!first) throw new Error('first insert refused');
    expect(first).toMatchObject({ status: 'open', version: 1 });

    expect(await store.tx((tx) => tx.alerts.insert(newAlert({ severity: 'critical' })))).toBeUndefined();
    // Any status short of closed still holds the key.
    const acked = await store.tx((tx) =>
      tx.alerts.update(first.id, 1, { status: 'acknowledged' }, FIXED_NOW),
    );
    expect(acked?.version).toBe(2);
    expect(await store.tx((tx) => tx.alerts.insert(newAlert()))).toBeUndefined();
    // Other keys are free meanwhile.
    const otherKind = await store.tx((tx) => tx.alerts.insert(newAlert({ kind: 'data_quality' })));
    const otherFeature = await store.tx((tx) => tx.alerts.insert(newAlert({ feature: 'color' })));
    const otherModel = await store.tx((tx) => tx.alerts.insert(newAlert({ model: 'n' })));
    expect([otherKind, otherFeature, otherModel].every((a) => a !== undefined)).toBe(true);

    const closed = await store.tx((tx) =>
      tx.alerts.update(first.id, 2, { status: 'closed', closedAt: FIXED_NOW }, FIXED_NOW),
    );
    expect(closed).toMatchObject({ status: 'closed', version: 3 });
    const second = await store.tx((tx) => tx.alerts.insert(newAlert()));
    expect(second).toMatchObject({ status: 'open', version: 1 });
    expect(second?.id).not.toBe(first.id);
    expect(await store.read((tx) => tx.alerts.openFor('m', 'x', 'drift'))).toMatchObject({ id: second?.id });
    expect(
      await t.sql("SELECT count(*) AS n FROM alerts WHERE model = 'm' AND feature = 'x' AND kind = 'drift'"),
    ).toEqual([{ n: 2 }]);
  });
});

describe('compare-and-set', () => {
  it('alerts.update with a stale version changes nothing; with the current one it bumps the version by 1', async () => {
    t = makeTestApp();
    const { store } = t;
    const a = await store.tx((tx) => tx.alerts.insert(newAlert()));
    if (!a) throw new Error('insert refused');
    const v2 = await store.tx((tx) => tx.alerts.update(a.id, 1, { assignee: 'ana' }, FIXED_NOW + 1));
    expect(v2).toMatchObject({ version: 2, assignee: 'ana', updatedAt: FIXED_NOW + 1 });

    const before = await store.read((tx) => tx.alerts.get(a.id));
    const stale = await store.tx((tx) =>
      tx.alerts.update(a.id, 1, { assignee: 'bob', status: 'acknowledged' }, FIXED_NOW + 2),
    );
    expect(stale).toBeUndefined();
    expect(await store.read((tx) => tx.alerts.get(a.id))).toEqual(before);
    // A version from the future is as stale as one from the past.
    expect(
      await store.tx((tx) => tx.alerts.update(a.id, 3, { assignee: 'bob' }, FIXED_NOW + 2)),
    ).toBeUndefined();

    const v3 = await store.tx((tx) => tx.alerts.update(a.id, 2, { assignee: 'bob' }, FIXED_NOW + 3));
    expect(v3).toMatchObject({ version: 3, assignee: 'bob', updatedAt: FIXED_NOW + 3 });
    // bumpVersion: false applies the change at the same version (evidence a reviewer does not act on).
    const quiet = await store.tx((tx) =>
      tx.alerts.update(a.id, 3, { evidenceCount: 5 }, FIXED_NOW + 4, { bumpVersion: false }),
    );
    expect(quiet).toMatchObject({ version: 3, evidenceCount: 5, updatedAt: FIXED_NOW + 3 });
    expect(
      await store.tx((tx) =>
        tx.alerts.update(a.id, 2, { evidenceCount: 6 }, FIXED_NOW + 5, { bumpVersion: false }),
      ),
    ).toBeUndefined();
    expect((await store.read((tx) => tx.alerts.get(a.id)))?.evidenceCount).toBe(5);
  });

  it('alerts.updateRetrain with a stale version changes nothing; with the current one it bumps the version by 1', async () => {
    t = makeTestApp();
    const { store } = t;
    const r = await store.tx((tx) =>
      tx.alerts.insertRetrain({
        model: 'm',
        modelVersion: '',
        alertIds: '[]',
        requestedBy: 'ana',
        reason: 'drift',
        status: 'requested',
        createdAt: FIXED_NOW,
        updatedAt: FIXED_NOW,
      }),
    );
    expect(r.version).toBe(1);
    const accepted = await store.tx((tx) =>
      tx.alerts.updateRetrain(r.id, 1, { status: 'accepted' }, FIXED_NOW + 1),
    );
    expect(accepted).toMatchObject({ version: 2, status: 'accepted', updatedAt: FIXED_NOW + 1 });
    const before = await store.read((tx) => tx.alerts.getRetrain(r.id));
    expect(
      await store.tx((tx) => tx.alerts.updateRetrain(r.id, 1, { status: 'rejected' }, FIXED_NOW + 2)),
    ).toBeUndefined();
    expect(await store.read((tx) => tx.alerts.getRetrain(r.id))).toEqual(before);
    const done = await store.tx((tx) =>
      tx.alerts.updateRetrain(r.id, 2, { status: 'done', producedVersion: 'v2' }, FIXED_NOW + 3),
    );
    expect(done).toMatchObject({ version: 3, status: 'done', producedVersion: 'v2' });
  });

  it('of two reviewers changing an alert at the same version, one gets 200 and the other 409 stale_version', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const alert = await m.reviewer.alertOf('x');
    expect(alert.version).toBe(1);

    const [ack, assign] = await Promise.all([
      m.reviewer.act<AlertView | ErrorBody>(alert.id, 'ack', {}, 1),
      m.reviewer.act<AlertView | ErrorBody>(alert.id, 'assign', { assignee: 'bob' }, 1),
    ]);
    expect([ack.status, assign.status].sort()).toEqual([200, 409]);
    const loser = ack.status === 409 ? ack : assign;
    const winner = ack.status === 200 ? ack : assign;
    expect((loser.body as ErrorBody).error.code).toBe('stale_version');
    expect((winner.body as AlertView).version).toBe(2);

    const detail = await m.reviewer.alert(alert.id);
    expect(detail.version).toBe(2);
    // Only the winner's change is applied and audited.
    const reviewEvents = detail.events.filter((e) => e.action === 'acknowledged' || e.action === 'assigned');
    expect(reviewEvents).toHaveLength(1);
    if (winner === ack) expect(detail).toMatchObject({ status: 'acknowledged' });
    else expect(detail).toMatchObject({ status: 'open', assignee: 'bob' });
  });
});

describe('changed-bucket sequence', () => {
  const key: BucketKey = { model: 'm', modelVersion: '', bucketStart: B0, bucketMs: BUCKET };

  it('markChanged bumps seq; takeChanged forgets the bucket only at its current seq', async () => {
    t = makeTestApp();
    const { store } = t;
    await store.tx((tx) => tx.aggregates.markChanged([key]));
    const [first] = await store.read((tx) => tx.aggregates.changed(100));
    expect(first).toMatchObject({ ...key, seq: 1, rolledSeq: 0 });

    // A tick read seq 1; the bucket changes again before it is done.
    await store.tx((tx) => tx.aggregates.markChanged([key]));
    await store.tx((tx) => tx.aggregates.takeChanged(key, 1));
    const kept = await store.read((tx) => tx.aggregates.changed(100));
    expect(kept).toEqual([{ ...key, seq: 2, rolledSeq: 0 }]);

    // markRolled records the rolling window's seq, never moving it back.
    await store.tx((tx) => tx.aggregates.markRolled(key, 2));
    await store.tx((tx) => tx.aggregates.markRolled(key, 1));
    expect((await store.read((tx) => tx.aggregates.changed(100)))[0]?.rolledSeq).toBe(2);

    await store.tx((tx) => tx.aggregates.takeChanged(key, 2));
    expect(await store.read((tx) => tx.aggregates.changed(100))).toEqual([]);
  });

  it('the drift tick evaluates a changed closed bucket once, and again after late data arrives for it', async () => {
    m = await setupM();
    const app = m;
    const bucketResults = async () => {
      const res = await app.reviewer.get<{ results: DriftResultBody[] }>('/v1/models/m/drift?kind=bucket');
      expect(res.status).toBe(200);
      return res.body.results.filter((r) => r.window.from === iso(hour(8)));
    };
    // hour 8 is closed at noon.
    await m.window('early', hour(8), 0, FIXED_NOW + MIN, 200);
    let tick = await runDriftTick(m.t.deps, FIXED_NOW + 2 * MIN);
    expect(tick).toMatchObject({ evaluated: 1, errors: [] });
    let results = await bucketResults();
    expect(results.map((r) => r.n)).toEqual([200]);
    const firstId = results[0]?.id;
    expect(await m.t.sql('SELECT count(*) AS n FROM changed_buckets')).toEqual([{ n: 0 }]);

    // Nothing changed: the next tick evaluates nothing.
    tick = await runDriftTick(m.t.deps, FIXED_NOW + 3 * MIN);
    expect(tick.evaluated).toBe(0);

    // Late data for the same past bucket, at a later clock.
    await m.window('late', hour(8), 0, FIXED_NOW + 4 * MIN, 150);
    tick = await runDriftTick(m.t.deps, FIXED_NOW + 5 * MIN);
    expect(tick).toMatchObject({ evaluated: 1, errors: [] });
    results = await bucketResults();
    // The same stored window, re-evaluated with every record.
    expect(results.map((r) => [r.id, r.n])).toEqual([[firstId, 350]]);
    expect(results[0]?.features.find((f) => f.feature === 'x')?.n).toBe(350);
  });
});

describe('leases', () => {
  it('is held by one holder until it expires; renewal by the holder extends it', async () => {
    t = makeTestApp();
    const { store } = t;
    const T = FIXED_NOW;
    const acquire = (holder: string, now: number) =>
      store.tx((tx) => tx.leases.acquire('x', holder, 1000, now));
    expect(await acquire('a', T)).toBe(true);
    expect(await acquire('b', T)).toBe(false);
    expect(await acquire('b', T + 999)).toBe(false);
    expect(await store.read((tx) => tx.leases.get('x'))).toEqual({
      name: 'x',
      holder: 'a',
      expiresAt: T + 1000,
      acquiredAt: T,
    });

    // 'a' renews before expiry: at T + 1500 the lease would have lapsed without it.
    expect(await acquire('a', T + 900)).toBe(true);
    expect(await acquire('b', T + 1500)).toBe(false);
    expect(await store.read((tx) => tx.leases.get('x'))).toEqual({
      name: 'x',
      holder: 'a',
      expiresAt: T + 1900,
      acquiredAt: T,
    });

    // Once it has expired, another holder takes it over, and the old holder is out.
    expect(await acquire('b', T + 2000)).toBe(true);
    expect(await store.read((tx) => tx.leases.get('x'))).toEqual({
      name: 'x',
      holder: 'b',
      expiresAt: T + 3000,
      acquiredAt: T + 2000,
    });
    expect(await acquire('a', T + 2001)).toBe(false);

    // Only the holder can release it.
    await store.tx((tx) => tx.leases.release('x', 'a'));
    expect((await store.read((tx) => tx.leases.get('x')))?.holder).toBe('b');
    await store.tx((tx) => tx.leases.release('x', 'b'));
    expect(await store.read((tx) => tx.leases.get('x'))).toBeUndefined();
    expect(await acquire('a', T + 2002)).toBe(true);
  });
});

describe('transactions', () => {
  it('a store.tx inside store.tx rejects with NestedTransactionError and rolls the outer one back', async () => {
    t = makeTestApp();
    const store = t.store;
    const outer = store.tx(async (tx) => {
      await tx.leases.acquire('outer', 'a', 1000, FIXED_NOW);
      await store.tx((inner) => inner.leases.acquire('inner', 'a', 1000, FIXED_NOW));
    });
    await expect(outer).rejects.toBeInstanceOf(NestedTransactionError);
    const read = store.tx(async () => store.read(async () => 1));
    await expect(read).rejects.toBeInstanceOf(NestedTransactionError);
    expect(await store.read((tx) => tx.leases.get('outer'))).toBeUndefined();
    expect(await store.read((tx) => tx.leases.get('inner'))).toBeUndefined();
    // The queue is not stuck behind the failed transactions.
    expect(await store.tx((tx) => tx.leases.acquire('after', 'a', 1000, FIXED_NOW))).toBe(true);
  });
});

describe('activation lease', () => {
  it('of two concurrent activations of one model, one starts and the other gets conflict', async () => {
    t = makeTestApp();
    const a = await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    const b = await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining(300)), 'application/json', {
      activate: 'false',
    });
    const c = await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining(350)), 'application/json', {
      activate: 'false',
    });
    expect(a.active).toBe(true);
    expect(b.active).toBe(false);

    const outcomes = await Promise.allSettled([
      startActivation(t.deps, 'm', b.id, 'ana'),
      startActivation(t.deps, 'm', c.id, 'bob'),
    ]);
    const ok = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const err = refused[0]?.reason as unknown;
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('conflict');
    const winner = outcomes[0]?.status === 'fulfilled' ? b : c;
    const loser = winner === b ? c : b;
    const rows = await t.store.read((tx) => tx.baselines.list('m'));
    expect(rows.filter((r) => r.active).map((r) => r.id)).toEqual([winner.id]);
    expect((await t.store.read((tx) => tx.baselines.activation('m')))?.baselineId).toBe(winner.id);

    // The lease row itself refuses a second activation, whoever checks first.
    const row = await t.store.read((tx) => tx.baselines.activation('m'));
    if (!row) throw new Error('no activation row');
    expect(await t.store.tx((tx) => tx.baselines.beginActivation({ ...row, baselineId: loser.id }))).toBe(
      false,
    );

    // Once the running one finishes, the model can be activated again.
    await t.store.tx((tx) => tx.baselines.finishActivation('m'));
    await expect(startActivation(t.deps, 'm', loser.id, 'bob')).resolves.toMatchObject({
      baselineId: loser.id,
    });
  });
});
