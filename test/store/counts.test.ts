import { afterEach, describe, expect, it } from 'vitest';
import { runRollupTick } from '../../src/retention/rollup.js';
import { mulberry32 } from '../../src/stats/index.js';
import {
  addCounts,
  addCountsInto,
  addEncoded,
  compactCounts,
  compactEncoded,
  decodeCounts,
  encodeCounts,
} from '../../src/store/counts.js';
import { createBaseline, ingestAll, mrec, runDrift, syntheticTraining } from '../drift/helpers.js';
import { makeTestApp, sqlRows, sqlRun, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** The dense format of databases before sparse cells: little-endian uint32 per slot. */
const dense = (counts: Uint32Array) => Buffer.from(counts.buffer.slice(0));

describe('sparse count vectors', () => {
  it('decode to the vectors they encode, of every length and size of count', () => {
    const r = mulberry32(9);
    for (let len = 0; len < 40; len++) {
      const v = new Uint32Array(len);
      for (let i = 0; i < len; i++)
        v[i] = r() < 0.6 ? 0 : r() < 0.5 ? Math.floor(r() * 300) : Math.floor(r() * 0xffffffff);
      const blob = encodeCounts(v);
      // The format marker: a sparse blob is never a multiple of 4 bytes, as every dense one is.
      expect(blob.byteLength % 4).not.toBe(0);
      expect(decodeCounts(blob)).toEqual(v);
      expect(decodeCounts(dense(v))).toEqual(v);
    }
    expect(encodeCounts(new Uint32Array(1000)).byteLength).toBeLessThan(8);
  });

  it('add across formats as dense vectors add, the longer tail kept', () => {
    const a = Uint32Array.from([1, 0, 0, 7, 0xffffffff]);
    const b = Uint32Array.from([0, 2, 0, 3, 1, 0, 0, 5]);
    const sum = Uint32Array.from([1, 2, 0, 10, 0, 0, 0, 5]);
    for (const x of [dense(a), encodeCounts(a)])
      for (const y of [dense(b), encodeCounts(b)]) {
        const added = addEncoded(x, y);
        expect(added && decodeCounts(added)).toEqual(sum);
      }
    expect(addEncoded(null, null)).toBeNull();
    expect(decodeCounts(addEncoded(null, dense(b)) as Buffer)).toEqual(b);
  });

  it('add any two sparse or dense vectors byte for byte as decoding and adding each does', () => {
    const r = mulberry32(33);
    const vector = (len: number, fill: number) =>
      Uint32Array.from({ length: len }, () =>
        r() > fill ? 0 : r() < 0.8 ? Math.floor(r() * 200) : 0xffffffff - Math.floor(r() * 1000),
      );
    for (let k = 0; k < 100; k++) {
      const a = vector(Math.floor(r() * (k % 3 === 0 ? 5 : 3000)), r());
      const b = vector(Math.floor(r() * 3000), r());
      const expected = encodeCounts(addCounts(a, b)).toString('hex');
      for (const x of [dense(a), encodeCounts(a)])
        for (const y of [dense(b), encodeCounts(b)]) expect(addEncoded(x, y)?.toString('hex')).toBe(expected);
    }
    // Malformed vectors are refused as decodeCounts refuses them.
    const three = encodeCounts(new Uint32Array(3));
    expect(() => addEncoded(Buffer.from([1, 0x85]), three)).toThrow(/ends inside a number/);
    expect(() => addEncoded(three, Buffer.from([1, 3, 2, 0, 5]))).toThrow(/ends inside a number/);
    expect(() => addEncoded(Buffer.from([1, 2, 1, 5, 1]), three)).toThrow(/past its length/);
    expect(() => addEncoded(Buffer.from([7, 1, 0]), three)).toThrow(/unknown format 7/);
  });

  it('compact a busy vector deflated, far shorter than sparse, and decode it exactly', () => {
    const r = mulberry32(4);
    // A busy numeric bucket: most of 1,000 cells hold a few values, each position sum up to 255 per value.
    const cells = 1000;
    const v = new Uint32Array(2 * cells);
    for (let k = 0; k < 4000; k++) {
      const cell = Math.floor(r() * cells);
      v[cell] = (v[cell] as number) + 1;
      v[cells + cell] = (v[cells + cell] as number) + 1 + Math.floor(r() * 255);
    }
    v[7] = 0xffffffff;
    // Merges write sparse vectors; compacting deflates them.
    expect(encodeCounts(v)[0]).toBe(1);
    const blob = compactCounts(v);
    expect(compactEncoded(encodeCounts(v))).toEqual(blob);
    expect(compactEncoded(dense(v))).toEqual(blob);
    expect(compactEncoded(blob)).toBeNull();
    expect(blob[0]).toBe(2);
    expect(blob.byteLength % 4).not.toBe(0);
    expect(decodeCounts(blob)).toEqual(v);
    // The sparse form of the same vector: at least 1.5 times as long.
    let sparse = 0;
    for (let i = 0; i < v.length; i++) if (v[i] !== 0) sparse += 2 + ((v[i] as number) >= 128 ? 1 : 0);
    expect(blob.byteLength * 1.5).toBeLessThan(sparse);
    // Deflated vectors add with sparse and dense ones.
    const one = new Uint32Array(2 * cells);
    one[3] = 1;
    const sum = Uint32Array.from(v);
    sum[3] = (sum[3] as number) + 1;
    expect(decodeCounts(addEncoded(blob, encodeCounts(one)) as Buffer)).toEqual(sum);
    expect(decodeCounts(addEncoded(dense(one), blob) as Buffer)).toEqual(sum);
  });

  it('refuse a deflated blob cut short or with cells past its length', () => {
    const v = new Uint32Array(2000).map((_, i) => (i * 37) % 300);
    const blob = compactCounts(v);
    expect(blob[0]).toBe(2);
    // Cut to a length that is not a multiple of 4 (else it would read as a dense vector).
    const cut = blob.byteLength - 9 - ((blob.byteLength - 9) % 4 === 0 ? 1 : 0);
    expect(() => decodeCounts(blob.subarray(0, cut))).toThrow(/ends inside its deflated cells/);
  });

  it('add into a window sum as decoding and adding each does, cells past the sum dropped', () => {
    const r = mulberry32(21);
    const vector = (len: number) =>
      Uint32Array.from({ length: len }, () =>
        r() < 0.5 ? 0 : r() < 0.8 ? Math.floor(r() * 200) : Math.floor(r() * 0xffffffff),
      );
    for (const len of [0, 1, 5, 37, 300]) {
      const rows = Array.from({ length: 6 }, (_, k) => vector(k === 3 ? len + 4 : len));
      const expected = new Float64Array(len);
      for (const v of rows)
        for (let i = 0; i < len; i++) expected[i] = (expected[i] as number) + (v[i] as number);
      for (const format of [encodeCounts, dense]) {
        // The first row sizes the sum, as a window's first bucket does.
        const sum = addCountsInto(format(rows[0] as Uint32Array));
        for (const v of rows.slice(1)) expect(addCountsInto(format(v), sum)).toBe(sum);
        expect(sum).toEqual(expected);
      }
    }
    expect(() => addCountsInto(Buffer.from([1, 3, 1, 5]).subarray(0, 3))).toThrow(/ends inside a number/);
    expect(() => addCountsInto(Buffer.from([1, 2, 1, 4, 1]))).toThrow(/past its length/);
  });

  it('refuse a blob of an unknown format rather than misread it', () => {
    expect(() => decodeCounts(Buffer.from([7, 1, 0]))).toThrow(/unknown format 7/);
  });
});

describe('aggregates stored dense (older databases), sparse and deflated', () => {
  it('give identical drift results, and dense rows keep merging new records', async () => {
    t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 50 } });
    await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    const T0 = Date.parse('2026-11-24T00:00:00Z');
    const records = (prefix: string, shift: number) =>
      Array.from({ length: 300 }, (_, i) =>
        mrec(
          `${prefix}-${i}`,
          { x: ((i * 7) % 200) + shift + (i % 3) / 3, color: ['red', 'green', 'blue'][i % 3] as string },
          { timestamp: new Date(T0 + i * 10_000).toISOString() },
        ),
      );
    await ingestAll(t.app, records('a', 30));
    const range = { from: T0, to: T0 + 3_600_000 };
    const sparse = await runDrift(t.app, 'm', range);
    const written = await sqlRows<{ counts: Buffer }>(t.store, 'SELECT counts FROM aggregates');
    expect(written.length).toBeGreaterThan(0);
    for (const row of written) expect(row.counts[0]).toBe(1);

    // The bucket has closed: the rollup job deflates its busy numeric column, the others stay sparse.
    expect((await runRollupTick(t.deps, t.deps.clock())).compacted).toBeGreaterThan(0);
    const stored = await sqlRows<{ counts: Buffer }>(t.store, 'SELECT counts FROM aggregates');
    for (const row of stored) expect(row.counts.byteLength % 4).not.toBe(0);
    expect(stored.some((row) => row.counts[0] === 2)).toBe(true);
    expect(stored.some((row) => row.counts[0] === 1)).toBe(true);
    const deflated = await runDrift(t.app, 'm', range);
    expect(deflated.map((r) => r.features)).toEqual(sparse.map((r) => r.features));
    expect(deflated.map((r) => r.prediction)).toEqual(sparse.map((r) => r.prediction));

    // Rewrite every aggregate as a dense vector, as a database from before sparse cells holds them.
    const ids = await sqlRows<{ name: string; role: string; counts: Buffer }>(
      t.store,
      'SELECT name, role, counts FROM aggregates',
    );
    for (const row of ids)
      await sqlRun(t.store, 'UPDATE aggregates SET counts = ? WHERE name = ? AND role = ?', [
        dense(decodeCounts(row.counts)),
        row.name,
        row.role,
      ]);
    const denseResults = await runDrift(t.app, 'm', range);
    expect(denseResults.map((r) => r.features)).toEqual(sparse.map((r) => r.features));
    expect(denseResults.map((r) => r.prediction)).toEqual(sparse.map((r) => r.prediction));

    // New records merge into the dense rows; the numbers equal those of a store that was sparse throughout.
    await ingestAll(t.app, records('b', 60));
    const merged = await runDrift(t.app, 'm', range);
    const fresh = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 50 } });
    try {
      await createBaseline(fresh.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
      await ingestAll(fresh.app, records('a', 30));
      await ingestAll(fresh.app, records('b', 60));
      const reference = await runDrift(fresh.app, 'm', range);
      expect(merged.map((r) => r.features)).toEqual(reference.map((r) => r.features));
      expect(merged[0]?.n).toBe(600);
    } finally {
      await fresh.close();
    }
  });
});
