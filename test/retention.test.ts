import { afterEach, describe, expect, it } from 'vitest';
import { runRetentionTick } from '../src/retention/tick.js';
import { getJson, ingestJson, rec, rowCount, storedRejections, storedRequestIds } from './helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from './support.js';

const DAY = 86_400_000;
let t: TestApp | undefined;
afterEach(() => t?.close());

/** Ingests `records` as if they arrived at `receivedAt`. */
async function ingestAt(app: TestApp, receivedAt: number, records: unknown[]): Promise<void> {
  app.setNow(receivedAt);
  const res = await ingestJson(app.app, records);
  expect(res.status).toBeLessThan(300);
}

describe('runRetentionTick', () => {
  it('prunes by receipt time, keeping a backfilled record with an old event time', async () => {
    t = makeTestApp({ retention: { rawRecordsDays: 7 } });
    const now = FIXED_NOW;
    // Received 10 days ago with a recent-looking event time: past retention.
    await ingestAt(t, now - 10 * DAY, [rec('stale', { timestamp: new Date(now - 10 * DAY).toISOString() })]);
    // Received an hour ago but describing an event 90 days old: a backfill, kept.
    await ingestAt(t, now - 3_600_000, [
      rec('backfill', { timestamp: new Date(now - 90 * DAY).toISOString() }),
    ]);
    await ingestAt(t, now - 3_600_000, [rec('fresh')]);

    const result = await runRetentionTick(t.deps, now);
    expect(result).toEqual({ cutoff: now - 7 * DAY, records: 1, rejections: 0 });
    expect(await storedRequestIds(t.app)).toEqual(['backfill', 'fresh']);
  });

  it('keeps a record received exactly at the cutoff and prunes one a millisecond older', async () => {
    t = makeTestApp({ retention: { rawRecordsDays: 1 } });
    const now = FIXED_NOW;
    await ingestAt(t, now - DAY, [rec('at-cutoff')]);
    await ingestAt(t, now - DAY - 1, [rec('just-before')]);
    expect((await runRetentionTick(t.deps, now)).records).toBe(1);
    expect(await storedRequestIds(t.app)).toEqual(['at-cutoff']);
  });

  it('prunes rejections by receipt time too', async () => {
    t = makeTestApp({ retention: { rawRecordsDays: 7 } });
    const now = FIXED_NOW;
    t.setNow(now - 8 * DAY);
    await ingestJson(t.app, [rec('old-bad', { status: 'x' })]);
    t.setNow(now - DAY);
    await ingestJson(t.app, [rec('new-bad', { status: 'x' })]);

    expect(await runRetentionTick(t.deps, now)).toMatchObject({ records: 0, rejections: 1 });
    expect((await storedRejections(t.app)).map((r) => r.request_id)).toEqual(['new-bad']);
  });

  it('keeps the per-model counters after raw records are pruned', async () => {
    t = makeTestApp({ retention: { rawRecordsDays: 7 } });
    await ingestAt(t, FIXED_NOW - 30 * DAY, [rec('a'), rec('b')]);
    await runRetentionTick(t.deps, FIXED_NOW);
    expect(await rowCount(t, 'records')).toBe(0);
    const { body } = await getJson<{ models: { model: string; record_count: number }[] }>(
      t.app,
      '/v1/models',
    );
    expect(body.models).toEqual([expect.objectContaining({ model: 'iris', record_count: 2 })]);
  });

  it('deletes more rows than one slice in a single tick', async () => {
    t = makeTestApp({ retention: { rawRecordsDays: 7 } });
    const old = Array.from({ length: 12_001 }, (_, i) => rec(`old-${i}`));
    for (let i = 0; i < old.length; i += 3000) await ingestAt(t, FIXED_NOW - 8 * DAY, old.slice(i, i + 3000));
    await ingestAt(t, FIXED_NOW, [rec('new')]);
    expect(await rowCount(t, 'records')).toBe(12_002);

    expect((await runRetentionTick(t.deps, FIXED_NOW)).records).toBe(12_001);
    expect(await storedRequestIds(t.app)).toEqual(['new']);
  });

  it('does nothing, and is safe to repeat, when nothing is old enough', async () => {
    t = makeTestApp();
    await ingestAt(t, FIXED_NOW, [rec('a')]);
    expect(await runRetentionTick(t.deps, FIXED_NOW)).toMatchObject({ records: 0, rejections: 0 });
    expect(await runRetentionTick(t.deps, FIXED_NOW)).toMatchObject({ records: 0, rejections: 0 });
    expect(await rowCount(t, 'records')).toBe(1);
  });

  it('lets a pruned request id be ingested again', async () => {
    t = makeTestApp({ retention: { rawRecordsDays: 7 } });
    await ingestAt(t, FIXED_NOW - 8 * DAY, [rec('a')]);
    await runRetentionTick(t.deps, FIXED_NOW);
    t.setNow(FIXED_NOW);
    const res = await ingestJson(t.app, [rec('a')]);
    expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
  });
});
