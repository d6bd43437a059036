import { afterEach, describe, expect, it } from 'vitest';
import { createJobs } from '../../src/jobs/index.js';
import { realizedBackfillTick } from '../../src/labels/backfill.js';
import type { PerformanceResult } from '../../src/performance/service.js';
import { runRollupTick } from '../../src/retention/rollup.js';
import { mulberry32 } from '../../src/stats/index.js';
import { createBaseline, ingestAll } from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, postJson, type TestApp } from '../support.js';

// A database upgraded from the version before realized_performance: its records carry labels but no
// realized counts. The leader's realized-backfill job recounts those buckets from the stored records, so
// `realized` equals what a database that counted every label as it arrived says; a second run changes nothing.

const HOUR = 3_600_000;
const START = Math.floor(FIXED_NOW / HOUR) * HOUR - 6 * HOUR;
const BUCKETS = 4;
const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

const config = { drift: { minSamples: 1 }, models: { clf: { performance: { threshold: 0.4 } } } };
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Rows of two versions over four hourly buckets, binary and K-class; most labelled at ingest or later. */
function dataset() {
  const rand = mulberry32(7);
  const clf = Array.from({ length: 400 }, (_, i) => {
    const x = rand() * 4 - 2;
    const score = sigmoid(1.5 * x);
    return {
      model: 'clf',
      model_version: i % 3 === 0 ? 'v2' : 'v1',
      request_id: `c${i}`,
      timestamp: START + Math.floor((i / 400) * BUCKETS * HOUR),
      features: { x },
      prediction: score,
      y: rand() < score ? 1 : 0,
    };
  });
  const classes = ['a', 'b', 'c'];
  const kc = Array.from({ length: 300 }, (_, i) => {
    const w = [rand(), rand(), rand()];
    const s = w.reduce((a, b) => a + b, 0);
    const probs = Object.fromEntries(classes.map((c, j) => [c, (w[j] as number) / s]));
    return {
      model: 'kc',
      request_id: `k${i}`,
      timestamp: START + Math.floor((i / 300) * BUCKETS * HOUR),
      features: { x: w[0] as number },
      prediction: probs,
      y: classes[Math.floor(rand() * 3)] as string,
    };
  });
  return { clf, kc };
}

type Row = ReturnType<typeof dataset>['clf'][number] | ReturnType<typeof dataset>['kc'][number];
const strip = ({ y: _y, ...r }: Row) => r;

/** Ingests the dataset: every 4th row labelled at ingest, every 4th+1 joined later, the rest unlabelled. */
async function load(t: TestApp, rows: ReturnType<typeof dataset>) {
  const training = Array.from({ length: 400 }, (_, i) => {
    const x = (i / 400) * 4 - 2;
    return `${x},${sigmoid(1.5 * x)},${i % 2}`;
  });
  await createBaseline(t.app, 'clf', ['x,score,y', ...training].join('\n'), 'text/csv', {
    prediction: 'score',
    label: 'y',
  });
  const all: Row[] = [...rows.clf, ...rows.kc];
  await ingestAll(
    t.app,
    all.map((r, i) => ({ ...strip(r), ...(i % 4 === 0 ? { label: r.y } : {}) })),
  );
  const joins = all.flatMap((r, i) =>
    i % 4 === 1 ? [{ model: r.model, request_id: r.request_id, label: r.y }] : [],
  );
  expect((await postJson(t.app, '/v1/labels', joins)).status).toBe(200);
}

/** A label joined after the upgrade: the first of its bucket's counts, the earlier labels not among them. */
async function lateLabel(t: TestApp, rows: ReturnType<typeof dataset>) {
  const r = rows.clf[2] as Row;
  expect(
    (await postJson(t.app, '/v1/labels', [{ model: 'clf', request_id: r.request_id, label: r.y }])).status,
  ).toBe(200);
}

/** `realized` of every bucket window of both models. */
async function realized(t: TestApp) {
  const out: Record<string, unknown> = {};
  for (const model of ['clf', 'kc']) {
    const res = await getJson<{ results: PerformanceResult[] }>(
      t.app,
      `/v1/models/${model}/performance?kind=bucket&from=${START}&to=${START + BUCKETS * HOUR}`,
    );
    expect(res.status).toBe(200);
    for (const r of res.body.results) out[`${model} ${r.model_version} ${r.window.from}`] = r.realized;
  }
  return out;
}

const realizedRows = (t: TestApp) =>
  t.sql<Record<string, unknown>>(
    `SELECT model, model_version, bucket_start, spec, rows, sums, updated_at FROM realized_performance
     ORDER BY model, model_version, bucket_start, spec`,
  );

describe('the realized-backfill job', () => {
  it('gives an upgraded database the realized metrics a fresh one computes, and a second run changes nothing', async () => {
    const rows = dataset();
    const fresh = makeTestApp(config);
    apps.push(fresh);
    await load(fresh, rows);
    await lateLabel(fresh, rows);
    const expected = await realized(fresh);
    // 2 versions × 4 buckets of clf and 4 of kc, each with labels counted.
    expect(Object.keys(expected)).toHaveLength(12);
    for (const v of Object.values(expected)) expect((v as { n: number }).n).toBeGreaterThan(0);

    const upgraded = makeTestApp(config);
    apps.push(upgraded);
    await load(upgraded, rows);
    // The previous version kept no realized counts; one label then joins after the upgrade.
    await upgraded.exec('DELETE FROM realized_performance');
    await lateLabel(upgraded, rows);
    const before = await realized(upgraded);
    expect(Object.values(before).filter((v) => v === null)).toHaveLength(11);
    expect(before).not.toEqual(expected);

    const registry = createJobs(upgraded.deps);
    expect(await registry.renew()).toBe(true);
    expect(await registry.runNow('realized-backfill')).toBe(true);
    expect(registry.status().find((s) => s.name === 'realized-backfill')?.last_error).toBeNull();
    expect(await realized(upgraded)).toEqual(expected);

    // A second run (a new leader's pass, later) finds every bucket complete and writes nothing.
    const stored = await realizedRows(upgraded);
    upgraded.setNow(FIXED_NOW + HOUR);
    const again = await realizedBackfillTick(upgraded.deps)(FIXED_NOW + HOUR);
    expect(again).toEqual({ examined: 12, recounted: 0, filled: 0, passDone: true });
    expect(await realizedRows(upgraded)).toEqual(stored);
    expect(await realized(upgraded)).toEqual(expected);
    await registry.stop();
  });

  it('recounts a bounded number of buckets per tick and resumes where the last tick ended', async () => {
    const rows = dataset();
    const fresh = makeTestApp(config);
    apps.push(fresh);
    await load(fresh, rows);
    const expected = await realized(fresh);
    const upgraded = makeTestApp(config);
    apps.push(upgraded);
    await load(upgraded, rows);
    await upgraded.exec('DELETE FROM realized_performance');

    const tick = realizedBackfillTick(upgraded.deps, { scan: 5, recounts: 2, restMs: HOUR });
    const results = [];
    for (let i = 0; i < 20; i++) {
      const r = await tick(FIXED_NOW);
      results.push(r);
      expect(r.recounted).toBeLessThanOrEqual(2);
      if (r.passDone) break;
    }
    expect(results.at(-1)?.passDone).toBe(true);
    expect(results.reduce((s, r) => s + r.recounted, 0)).toBe(12);
    expect(results.reduce((s, r) => s + r.filled, 0)).toBe(12);
    expect(await realized(upgraded)).toEqual(expected);
    // Resting after the pass: a tick within restMs examines nothing; after it, a new pass finds nothing to do.
    expect(await tick(FIXED_NOW + HOUR - 1)).toEqual({
      examined: 0,
      recounted: 0,
      filled: 0,
      passDone: false,
    });
    const second = [await tick(FIXED_NOW + HOUR), await tick(FIXED_NOW + HOUR), await tick(FIXED_NOW + HOUR)];
    expect(second.map((r) => [r.examined, r.recounted, r.passDone])).toEqual([
      [5, 0, false],
      [5, 0, false],
      [2, 0, true],
    ]);
  });

  it('leaves days rolled up from buckets alone: their labels are counted in the hourly rows they came from', async () => {
    const upgraded = makeTestApp(config);
    apps.push(upgraded);
    await load(upgraded, dataset());
    await upgraded.exec('DELETE FROM realized_performance');
    // The buckets' days are rolled up once retention has pruned their records (40 days on).
    await upgraded.exec('DELETE FROM records');
    const later = FIXED_NOW + 40 * 24 * HOUR;
    expect((await runRollupTick(upgraded.deps, later)).days).toBeGreaterThan(0);
    const days = await upgraded.sql<{ n: number }>(
      'SELECT count(*) AS n FROM performance WHERE bucket_ms = 86400000',
    );
    expect(Number(days[0]?.n)).toBeGreaterThan(0);
    const page = await upgraded.deps.store.read((tx) => tx.performance.labelledBuckets(null, 1000));
    expect(page).toEqual([]);
  });

  it('never recounts a bucket down to what retention left of its records', async () => {
    const rows = dataset();
    const t = makeTestApp(config);
    apps.push(t);
    await load(t, rows);
    // A K-class row whose probabilities are not a distribution: its label counts in the outcomes only, so
    // its bucket's realized counts stay one short of them and every pass recounts it.
    const odd = {
      model: 'kc',
      request_id: 'odd',
      timestamp: START,
      features: { x: 0.5 },
      prediction: { a: 0.5, b: 0.1, c: 0.1 },
    };
    await ingestAll(t.app, [odd]);
    expect(
      (await postJson(t.app, '/v1/labels', [{ model: 'kc', request_id: 'odd', label: 'a' }])).status,
    ).toBe(200);
    const counted = await realized(t);
    // Retention pruned the bucket's labelled records but one.
    const pruned = await t.exec(
      `DELETE FROM records WHERE model = 'kc' AND ts >= ? AND ts < ? AND label IS NOT NULL AND request_id <> 'k0'`,
      [START, START + HOUR],
    );
    expect(pruned).toBeGreaterThan(10);
    const stored = await realizedRows(t);

    const tick = realizedBackfillTick(t.deps, { restMs: 0 });
    const r = await tick(FIXED_NOW);
    expect(r).toEqual({ examined: 12, recounted: 1, filled: 0, passDone: true });
    expect(await realizedRows(t)).toEqual(stored);
    expect(await realized(t)).toEqual(counted);
    // The next pass does not recount it again while its label count stays what it was.
    expect(await tick(FIXED_NOW + 1)).toEqual({ examined: 12, recounted: 0, filled: 0, passDone: true });
  });
});
