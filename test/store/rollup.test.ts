import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig, loadConfig } from '../../src/config/index.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { createJobs } from '../../src/jobs/index.js';
import { runRollupTick } from '../../src/retention/rollup.js';
import { mulberry32 } from '../../src/stats/index.js';
import type { Store, Tx } from '../../src/store/index.js';
import { createBaseline, type DriftResultBody, ingestAll, runDrift } from '../drift/helpers.js';
import { FIXED_NOW, makeTestApp, sqlRun, type TestApp } from '../support.js';

// Hourly aggregates older than retention.hourlyDays are merged into day rows by the rollup job; a window
// aligned with days reads the same totals before and after, on both dialects.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Three whole UTC days, 40 days before now: past the default 30 days of hourly buckets.
const DAY0 = Math.floor(FIXED_NOW / DAY) * DAY - 40 * DAY;
const TABLES = ['aggregates', 'bucket_stats', 'comoments', 'performance', 'realized_performance'] as const;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Rows of a logistic model on two correlated numeric features and a category, with a label. */
function draw(n: number, seed: number, shift = 0) {
  const r = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return Array.from({ length: n }, () => {
    const a = normal() + shift;
    const b = 0.6 * a + 0.8 * normal();
    const score = sigmoid(a - 0.5 * b);
    return { a, b, c: ['x', 'y', 'z'][Math.floor(r() * 3)] as string, score, y: r() < score ? 1 : 0 };
  });
}

/** A model with a labelled baseline (performance, co-moments) and records spread over the three days. */
async function seeded(): Promise<TestApp> {
  const t = makeTestApp({
    drift: { bucket: '1h', minSamples: 20 },
    models: { clf: { multivariate: { enabled: true } } },
  });
  apps.push(t);
  const training = draw(3000, 1);
  const csv = ['a,b,c,score,y', ...training.map((r) => `${r.a},${r.b},${r.c},${r.score},${r.y}`)].join('\n');
  await createBaseline(t.app, 'clf', csv, 'text/csv', { prediction: 'score', label: 'y' });
  const rows = draw(1800, 2, 0.3);
  await ingestAll(
    t.app,
    rows.map((row, i) => ({
      model: 'clf',
      model_version: 'v1',
      request_id: `r${i}`,
      // Spread over 3 days and most of their hours, a few minutes apart.
      timestamp: DAY0 + Math.floor((i / rows.length) * (3 * DAY - HOUR)) + (i % 7) * 60_000,
      features: { a: row.a, b: row.b, c: i % 97 === 0 ? null : row.c },
      prediction: row.score,
      // Two records in three come with their label: realized counts are rolled up with the estimate's sums.
      ...(i % 3 === 2 ? {} : { label: row.y }),
    })),
  );
  // As retention leaves them rawRecordsDays after receipt: a day is rolled up once its raw records are gone.
  await pruneRecords(t);
  return t;
}

/** Deletes every raw record, as retention.rawRecordsDays does once they are old. */
const pruneRecords = (t: TestApp) => sqlRun(t.deps.store, 'DELETE FROM records');

/** A result without what differs between two evaluations of one window (its id and time). */
const numbers = (results: DriftResultBody[]) => results.map(({ id: _id, evaluated_at: _at, ...r }) => r);

async function rowsBySize(t: TestApp): Promise<Record<string, Record<number, number>>> {
  const out: Record<string, Record<number, number>> = {};
  for (const table of TABLES) {
    const rows = await t.sql<{ ms: number; n: number }>(
      `SELECT bucket_ms AS ms, count(*) AS n FROM ${table} GROUP BY bucket_ms ORDER BY bucket_ms`,
    );
    out[table] = Object.fromEntries(rows.map((r) => [Number(r.ms), Number(r.n)]));
  }
  return out;
}

/** Every stored row of the rolled tables, as text, for comparing two stores. */
async function snapshot(t: TestApp): Promise<string[]> {
  const out: string[] = [];
  for (const table of TABLES) {
    const rows = await t.sql<Record<string, unknown>>(`SELECT * FROM ${table}`);
    for (const { updated_at: _u, ...row } of rows)
      out.push(
        `${table} ${JSON.stringify(row, (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v))}`,
      );
  }
  return out.sort();
}

describe('rollup of hourly aggregates into days', () => {
  it('merges buckets older than hourlyDays into day rows; day-aligned windows give identical drift numbers', async () => {
    const t = await seeded();
    const oneDay = { from: DAY0 + DAY, to: DAY0 + 2 * DAY };
    const threeDays = { from: DAY0, to: DAY0 + 3 * DAY };
    const before = [await runDrift(t.app, 'clf', oneDay), await runDrift(t.app, 'clf', threeDays)];
    // The realized counts a day-aligned window reads: per spec, rows and the element-wise sum.
    const realized = () =>
      t.deps.store.read(async (tx) => {
        const rows = await tx.performance.realizedWindow({ model: 'clf', bucketMs: HOUR, ...threeDays });
        const bySpec = new Map<string, { rows: number; sums: number[] }>();
        for (const r of rows) {
          const have = bySpec.get(r.spec) ?? { rows: 0, sums: new Array<number>(r.sums.length).fill(0) };
          have.rows += r.rows;
          r.sums.forEach((v, k) => {
            have.sums[k] = (have.sums[k] as number) + v;
          });
          bySpec.set(r.spec, have);
        }
        return Object.fromEntries(bySpec);
      });
    // GET …/performance per bucket: hourly windows before, one window per rolled-up day after, same totals.
    const series = async () => {
      const q = `from=${new Date(threeDays.from).toISOString()}&to=${new Date(threeDays.to).toISOString()}`;
      const res = await t.app.request(`/v1/models/clf/performance?kind=bucket&${q}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        results: { window: { from: string; to: string }; n: number; realized: { n: number } | null }[];
      };
      return {
        windows: body.results.map((r) => (Date.parse(r.window.to) - Date.parse(r.window.from)) / HOUR),
        n: body.results.reduce((a, r) => a + r.n, 0),
        labelled: body.results.reduce((a, r) => a + (r.realized?.n ?? 0), 0),
      };
    };
    const seriesBefore = await series();
    expect(seriesBefore.windows.every((h) => h === 1)).toBe(true);
    expect(seriesBefore).toMatchObject({ n: 1800, labelled: 1200 });
    const realizedBefore = await realized();
    expect(Object.values(realizedBefore).map((v) => v.rows)).toEqual([1200]);
    expect(before[1]?.[0]?.n).toBe(1800);
    expect(before[1]?.[0]?.multivariate).not.toBeNull();
    expect(before[0]?.[0]?.performance).toBeDefined();
    const hourly = await rowsBySize(t);
    expect(Object.keys(hourly.comoments ?? {})).toEqual([String(HOUR)]);
    expect(Object.keys(hourly.performance ?? {})).toEqual([String(HOUR)]);

    const result = await runRollupTick(t.deps, FIXED_NOW);
    expect(result).toMatchObject({ cutoff: Math.floor(FIXED_NOW / DAY) * DAY - 30 * DAY, days: 3 });
    const after = await rowsBySize(t);
    for (const table of TABLES) {
      // No hourly row left; one row per day (per column for aggregates).
      expect(after[table]?.[HOUR]).toBeUndefined();
      expect(after[table]?.[DAY]).toBeGreaterThan(0);
      expect(after[table]?.[DAY]).toBeLessThan(hourly[table]?.[HOUR] as number);
    }
    expect(after.bucket_stats?.[DAY]).toBe(3);

    expect(numbers(await runDrift(t.app, 'clf', oneDay))).toEqual(numbers(before[0] ?? []));
    expect(numbers(await runDrift(t.app, 'clf', threeDays))).toEqual(numbers(before[1] ?? []));
    expect(await realized()).toEqual(realizedBefore);
    expect(await series()).toEqual({ windows: [24, 24, 24], n: 1800, labelled: 1200 });
    // A window over half of the first day and the whole second one counts the whole day only.
    const partial = await runDrift(t.app, 'clf', { from: DAY0 + 12 * HOUR, to: DAY0 + 2 * DAY });
    expect(partial[0]?.n).toBe(before[0]?.[0]?.n);
  });

  it('leaves a day whose raw records are kept in buckets, so a label correction never counts it twice', async () => {
    const t = makeTestApp({ drift: { bucket: '1h', minSamples: 20 } });
    apps.push(t);
    const training = draw(3000, 1);
    const csv = ['a,b,c,score,y', ...training.map((r) => `${r.a},${r.b},${r.c},${r.score},${r.y}`)].join(
      '\n',
    );
    await createBaseline(t.app, 'clf', csv, 'text/csv', { prediction: 'score', label: 'y' });
    // A replay of old data: event times 40 days back, received now, so retention keeps the records.
    const rows = draw(240, 5);
    await ingestAll(
      t.app,
      rows.map((row, i) => ({
        model: 'clf',
        model_version: 'v1',
        request_id: `r${i}`,
        timestamp: DAY0 + Math.floor((i / rows.length) * DAY),
        features: { a: row.a, b: row.b, c: row.c },
        prediction: row.score,
        label: row.y,
      })),
    );
    const day = { from: DAY0, to: DAY0 + DAY };
    const before = await runDrift(t.app, 'clf', day);
    expect(await runRollupTick(t.deps, FIXED_NOW)).toMatchObject({ days: 0, waiting: 1 });
    // A correction recounts its bucket from the kept records: the window's totals stay those of the records.
    const corrected = await t.app.request('/v1/labels', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ model: 'clf', request_id: 'r0', label: rows[0]?.y === 1 ? 0 : 1 }]),
    });
    expect(corrected.status, await corrected.clone().text()).toBe(200);
    const after = await runDrift(t.app, 'clf', day);
    expect(after[0]?.n).toBe(before[0]?.n);
    expect(after[0]?.performance?.labeled).toBe(240);
  });

  it('is a job of the registry, on retention.rollupSchedule', () => {
    const t = makeTestApp({ retention: { rollupSchedule: '5 * * * *' } });
    apps.push(t);
    expect(createJobs(t.deps).status()).toContainEqual(
      expect.objectContaining({ name: 'rollup', schedule: '5 * * * *' }),
    );
  });

  it('keeps buckets younger than hourlyDays, and late records of a rolled day add to it', async () => {
    const t = await seeded();
    // With 45 days of hourly buckets nothing of 40 days ago is rolled up.
    const keep = { ...t.deps, config: defaultConfig({ ...t.deps.config, retention: { hourlyDays: 45 } }) };
    expect(await runRollupTick(keep, FIXED_NOW)).toMatchObject({ days: 0, rows: 0 });
    const day = { from: DAY0, to: DAY0 + DAY };
    const rolled = await runDrift(t.app, 'clf', day);
    await runRollupTick(t.deps, FIXED_NOW);
    // A late record for the first day: an hourly row beside the day row, both read by the day's window.
    await ingestAll(t.app, [
      {
        model: 'clf',
        model_version: 'v1',
        request_id: 'late',
        timestamp: DAY0 + 5 * HOUR,
        features: { a: 0, b: 0, c: 'x' },
        prediction: 0.5,
      },
    ]);
    // The tick does not judge the late record's hour alone: its day row holds the hour's other records.
    const tick = await runDriftTick(t.deps, FIXED_NOW);
    expect(tick).toMatchObject({ evaluated: 0, errors: [] });
    expect(await t.deps.store.read((tx) => tx.aggregates.changed(100))).toEqual([]);
    const withLate = await runDrift(t.app, 'clf', day);
    expect(withLate[0]?.n).toBe((rolled[0]?.n as number) + 1);
    // While the late record is kept, its day waits in buckets; once it is pruned the day is rolled up.
    expect(await runRollupTick(t.deps, FIXED_NOW)).toMatchObject({ days: 0, waiting: 1 });
    await pruneRecords(t);
    expect(await runRollupTick(t.deps, FIXED_NOW)).toMatchObject({ days: 1, waiting: 0 });
    expect((await rowsBySize(t)).bucket_stats).toEqual({ [DAY]: 3 });
    expect(numbers(await runDrift(t.app, 'clf', day))).toEqual(numbers(withLate));
  });

  it('gives the same rows after an interrupted rollup is run again as after one uninterrupted run', async () => {
    const whole = await seeded();
    await runRollupTick(whole.deps, FIXED_NOW);

    const t = await seeded();
    // The first day's transaction fails after taking its hourly rows: it is rolled back whole.
    let failures = 0;
    const failing = (tx: Tx): Tx => ({
      ...tx,
      performance: Object.create(tx.performance, {
        add: {
          value: async () => {
            failures++;
            throw new Error('crash in the middle of a day');
          },
        },
      }),
    });
    const crashing: Pick<Store, 'read' | 'tx'> = {
      read: (fn) => t.store.read(fn),
      tx: (fn, options) => t.store.tx((tx) => fn(failing(tx)), options),
    };
    await expect(runRollupTick({ config: t.deps.config, store: crashing }, FIXED_NOW)).rejects.toThrow(
      /crash in the middle/,
    );
    expect(failures).toBe(1);
    // Nothing of that day was lost or merged.
    expect((await rowsBySize(t)).bucket_stats).toEqual({ [HOUR]: expect.any(Number) });
    // Then a run stopped after one day, and a run that finishes.
    expect(await runRollupTick(t.deps, FIXED_NOW, { maxDays: 1 })).toMatchObject({ days: 1 });
    expect(await runRollupTick(t.deps, FIXED_NOW)).toMatchObject({ days: 2 });
    expect(await snapshot(t)).toEqual(await snapshot(whole));
    // Once more: nothing left to merge, nothing changes.
    expect(await runRollupTick(t.deps, FIXED_NOW)).toMatchObject({ days: 0, rows: 0 });
    expect(await snapshot(t)).toEqual(await snapshot(whole));
  });
});

describe('retention.hourlyDays', () => {
  it('defaults to 30 days, or rawRecordsDays when longer, and refuses fewer than rawRecordsDays', () => {
    expect(defaultConfig({}).retention.hourlyDays).toBe(30);
    expect(defaultConfig({ retention: { rawRecordsDays: 60 } }).retention.hourlyDays).toBe(60);
    expect(defaultConfig({ retention: { hourlyDays: 10, rawRecordsDays: 7 } }).retention.hourlyDays).toBe(10);
    expect(() =>
      loadConfig({ env: {}, overrides: { 'retention.hourlyDays': 5, 'retention.rawRecordsDays': 7 } }),
    ).toThrow(/retention\.hourlyDays: must be at least retention\.rawRecordsDays/);
  });
});
