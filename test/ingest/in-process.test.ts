import { afterEach, describe, expect, it, vi } from 'vitest';
import { IngestBatcher } from '../../src/ingest/in-process.js';
import { rowCount, storedRejections, storedRequestIds } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const rec = (id: string, extra: Record<string, unknown> = {}) => ({
  model: 'iris',
  request_id: id,
  features: { petal_width: 1.5 },
  ...extra,
});

describe('in-process ingest with write-behind', () => {
  it('returns at once, stores nothing until the flush, then stores like HTTP ingest (duplicates and rejections included)', async () => {
    t = makeTestApp();
    const flushed: number[] = [];
    const b = new IngestBatcher(t.deps, { maxRecords: 1000, maxDelayMs: 60_000 }, (r) =>
      flushed.push(r.accepted),
    );
    b.submit(rec('a'));
    b.submit(rec('b'));
    b.submit(rec('a'));
    b.submit({ model: 'iris', request_id: 7, features: {} });
    // Written behind: nothing has reached the store yet.
    expect(await rowCount(t, 'records')).toBe(0);
    await b.flush();
    expect(flushed).toEqual([2]);
    expect(b.stats).toMatchObject({
      submitted: 4,
      flushes: 1,
      accepted: 2,
      duplicates: 1,
      rejected: 1,
      failed: 0,
    });
    expect(await storedRequestIds(t.app)).toEqual(['a', 'b']);
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.errors[0]?.path).toBe('records[3].request_id');
    expect(rejection?.raw).toBe(JSON.stringify({ model: 'iris', request_id: 7, features: {} }));
  });

  it('flushes by itself when a batch is full, and close() flushes the rest', async () => {
    const app = makeTestApp();
    t = app;
    const b = new IngestBatcher(app.deps, { maxRecords: 3, maxDelayMs: 60_000 });
    for (const id of ['1', '2', '3', '4']) b.submit(rec(id));
    // The full batch is written without close(); the fourth record waits for the timer or close().
    await vi.waitFor(async () => expect(await storedRequestIds(app.app)).toEqual(['1', '2', '3']), {
      timeout: 5_000,
    });
    await b.close();
    expect(await storedRequestIds(t.app)).toEqual(['1', '2', '3', '4']);
    expect(() => b.submit(rec('5'))).toThrow(/closed/);
  });

  it('commits its flushes with deferred durability, and serialises a record only when it is rejected', async () => {
    t = makeTestApp();
    const store = t.deps.store;
    const options: unknown[] = [];
    const spy: typeof store = Object.create(store);
    spy.tx = (fn, o) => {
      options.push(o);
      return store.tx(fn, o);
    };
    let serialised = 0;
    const valid = rec('a');
    // JSON.stringify calls toJSON; a non-enumerable one is not part of the record's fields.
    Object.defineProperty(valid, 'toJSON', {
      enumerable: false,
      value: () => {
        serialised++;
        return {};
      },
    });
    const b = new IngestBatcher({ ...t.deps, store: spy }, { maxRecords: 1000, maxDelayMs: 60_000 });
    b.submit(valid);
    b.submit({ model: 'iris', request_id: 'b', features: 'none' });
    await b.close();
    expect(options).toEqual([{ durability: 'deferred' }]);
    expect(b.stats).toMatchObject({ accepted: 1, rejected: 1 });
    expect(serialised).toBe(0);
    expect(await storedRequestIds(t.app)).toEqual(['a']);
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.raw).toBe(JSON.stringify({ model: 'iris', request_id: 'b', features: 'none' }));
  });

  it('gives the event loop turns during a flush, between its steps and every 100 records, and stores all of it', async () => {
    t = makeTestApp();
    const store = t.deps.store;
    const events: string[] = [];
    const spy: typeof store = Object.create(store);
    // Inside the transaction, a chain of setImmediate callbacks notes every turn the event loop gets.
    spy.tx = (fn, o) =>
      store.tx(async (tx) => {
        let open = true;
        const turn = () =>
          setImmediate(() => {
            if (!open) return;
            events.push('turn');
            turn();
          });
        events.push('begin');
        turn();
        try {
          return await fn(tx);
        } finally {
          open = false;
          events.push('end');
        }
      }, o);
    const b = new IngestBatcher({ ...t.deps, store: spy }, { maxRecords: 1000, maxDelayMs: 60_000 });
    for (let i = 0; i < 250; i++) b.submit(rec(`r${i}`));
    await b.close();
    expect(events[0]).toBe('begin');
    expect(events.at(-1)).toBe('end');
    // 250 records are three slices: at least one turn after each.
    expect(events.filter((e) => e === 'turn').length).toBeGreaterThanOrEqual(3);
    expect(b.stats).toMatchObject({ accepted: 250, failed: 0 });
    expect(await rowCount(t, 'records')).toBe(250);
  });

  it('refuses records beyond maxPending instead of queueing without bound', async () => {
    t = makeTestApp();
    const b = new IngestBatcher(t.deps, { maxRecords: 1000, maxDelayMs: 60_000, maxPending: 2 });
    expect([b.submit(rec('1')), b.submit(rec('2')), b.submit(rec('3'))]).toEqual([true, true, false]);
    expect(b.stats.refused).toBe(1);
    await b.flush();
    // Room again once the flush committed.
    expect(b.submit(rec('4'))).toBe(true);
    await b.close();
    expect(await storedRequestIds(t.app)).toEqual(['1', '2', '4']);
  });
});
