import { afterEach, describe, expect, it } from 'vitest';
import { startActivation } from '../../src/baselines/service.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { runRebuildTick } from '../../src/jobs/index.js';
import { MAX_EXTRA_PER_BUCKET, type Store } from '../../src/store/index.js';
import { Client, hour, MIN, mBatch } from '../alerts/helpers.js';
import { syntheticTraining } from '../drift/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const key = { model: 'm', modelVersion: '', bucketStart: 0, bucketMs: 3600e3 };

describe('the change sequence', () => {
  it('keeps growing when a bucket is taken and changes again, so a stale take cannot delete the new change', async () => {
    t = makeTestApp();
    const store = t.deps.store;
    await store.tx((tx) => tx.aggregates.markChanged([key]));
    const [first] = await store.read((tx) => tx.aggregates.changed(10));
    await store.tx((tx) => tx.aggregates.takeChanged(key, first?.seq ?? -1));
    await store.tx((tx) => tx.aggregates.markChanged([key]));
    const [again] = await store.read((tx) => tx.aggregates.changed(10));
    expect(again?.seq).toBeGreaterThan(first?.seq ?? Number.POSITIVE_INFINITY);
    // A tick that read the first change and takes it late must not delete the second one.
    await store.tx((tx) => tx.aggregates.takeChanged(key, first?.seq ?? -1));
    expect(await store.read((tx) => tx.aggregates.changed(10))).toHaveLength(1);
  });
});

describe('an activation that begins while a drift tick runs', () => {
  it('leaves the provisional windows changed, so they are judged once the rebuild is done', async () => {
    t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 100 } });
    const client = new Client(t.app);
    await client.baseline('m', JSON.stringify(syntheticTraining()), 'application/json');
    // Baseline B knows only x < 100: against it, these records drift.
    const narrow = syntheticTraining().map((r) => ({ ...r, x: r.x % 100 }));
    const b = await client.baseline('m', JSON.stringify(narrow), 'application/json', { activate: 'false' });
    t.setNow(hour(9) + 5 * MIN);
    await client.ingest(mBatch('a', hour(8), 0));
    const deps = t.deps;
    // The tick reads what changed, then the activation starts before it evaluates anything.
    let started = false;
    const racing: Store = Object.create(deps.store, {
      read: {
        value: async <T>(fn: Parameters<Store['read']>[0]) => {
          const value = (await deps.store.read(fn)) as T;
          if (!started) {
            started = true;
            await startActivation(deps, 'm', b.id, 'ana');
          }
          return value;
        },
      },
    });
    const first = await runDriftTick({ ...deps, store: racing }, hour(9) + 10 * MIN);
    expect(first.pending).toBeGreaterThan(0);
    expect(await client.alerts()).toEqual([]);
    await runRebuildTick(deps);
    await runDriftTick(deps, hour(9) + 11 * MIN);
    expect((await client.alerts()).filter((a) => a.feature === 'x' && a.kind === 'drift')).toHaveLength(1);
  });
});

describe('features outside the baseline', () => {
  it(`are capped at ${MAX_EXTRA_PER_BUCKET} names per bucket across requests`, async () => {
    t = makeTestApp({ drift: { bucket: '1h', minSamples: 10 } });
    const client = new Client(t.app);
    await client.baseline('m', JSON.stringify(syntheticTraining()), 'application/json');
    for (let request = 0; request < 4; request++) {
      const batch = mBatch(`r${request}`, hour(8), 0, 30).map((r, i) => ({
        ...r,
        features: { ...(r.features as object), [`extra_${request}_${i}`]: 1, shared: 2 },
      }));
      await client.ingest(batch);
    }
    const extra = await t.sql<{ name: string; n: number }>(
      "SELECT name, n FROM aggregates WHERE role = 'extra' AND bucket_start = ? ORDER BY name",
      [hour(8)],
    );
    expect(extra).toHaveLength(MAX_EXTRA_PER_BUCKET);
    // A name already kept goes on counting after the cap is reached.
    expect(extra.find((e) => e.name === 'shared')?.n).toBe(120);
  });
});

describe('work started inside a transaction', () => {
  it('may open its own transaction once the first has ended (a timer set inside keeps the async context)', async () => {
    t = makeTestApp();
    const store = t.deps.store;
    // The timer is set inside the transaction but fires after it committed (wrapped, so tx does not wait for it).
    const { later } = await store.tx(async () => ({
      later: new Promise<number>((done, fail) =>
        setTimeout(() => store.read(async (tx) => (await tx.models.list()).length).then(done, fail), 20),
      ),
    }));
    expect(await later).toBe(0);
  });
});
