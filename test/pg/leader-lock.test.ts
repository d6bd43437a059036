import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectionSettings } from '../../src/store/pg/client.js';
import { PgLeaderLock } from '../../src/store/pg/leader.js';
import { createTestDatabase } from './databases.js';

// pg warns (DeprecationWarning, an error in pg 9) when a query is issued on a client that is still busy
// with others. Each test file runs in a process of its own, so a warning here comes from these tests.

let warnings: Error[] = [];
const onWarning = (w: Error) => {
  if (w.name === 'DeprecationWarning') warnings.push(w);
};
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(() => {
  process.off('warning', onWarning);
});

/** Warnings are emitted on a later tick than the call that caused them. */
const settled = () => new Promise<void>((done) => setImmediate(done));

describe('the leader lock connection', () => {
  it('runs overlapping renewals and a release one after another, without a DeprecationWarning', async () => {
    const db = await createTestDatabase();
    const lock = new PgLeaderLock(connectionSettings({ url: db.url }).config, 'a');
    try {
      expect(await lock.hold(0)).toBe(true);
      // Renewals that overlap (a slow one still running when the next is due), then a release among them.
      expect(await Promise.all([lock.hold(0), lock.hold(0), lock.hold(0), lock.hold(0)])).toEqual([
        true,
        true,
        true,
        true,
      ]);
      await Promise.all([lock.hold(0), lock.hold(0), lock.release()]);
      expect(await lock.holder()).toBeUndefined();
      await settled();
      expect(warnings.map((w) => w.message)).toEqual([]);
    } finally {
      await lock.release();
      await db.drop();
    }
  });

  it('creates and drops test databases concurrently on the shared admin connection without one', async () => {
    const dbs = await Promise.all([createTestDatabase(), createTestDatabase(), createTestDatabase()]);
    await Promise.all(dbs.map((d) => d.drop()));
    await settled();
    expect(warnings.map((w) => w.message)).toEqual([]);
  });
});
