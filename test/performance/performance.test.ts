import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import type { PerformanceResult } from '../../src/performance/service.js';
import { type BaselinePerformance, calibrateScore } from '../../src/profiles/calibration.js';
import { mulberry32 } from '../../src/stats/index.js';
import type { AlertView } from '../../src/views.js';
import { createBaseline, ingestAll } from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, postJson, type TestApp } from '../support.js';

// Performance without labels end to end: a labelled baseline calibrates, ingest accumulates per bucket, the
// API's estimate equals the computation on the records sent, and a drop raises performance_drop.

const HOUR = 3_600_000;
const START = Math.floor(FIXED_NOW / HOUR) * HOUR - 5 * HOUR;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function normals(seed: number) {
  const rand = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A logistic model P(y = 1 | x) = σ(−1 + 2x) with x ~ N(mean, sd): its score and a label drawn from it. */
function draw(n: number, mean: number, sd: number, seed: number) {
  const normal = normals(seed);
  const rand = mulberry32(seed + 1);
  return Array.from({ length: n }, () => {
    const x = mean + sd * normal();
    const score = sigmoid(-1 + 2 * x);
    return { x, score, y: rand() < score ? 1 : 0 };
  });
}

describe('performance estimated from logged probabilities', () => {
  it('equals the direct computation per bucket and raises performance_drop when accuracy falls', async () => {
    t = makeTestApp({ drift: { minSamples: 200, rollingWindow: '1h' } });
    const training = draw(20_000, 0, 1, 1);
    const csv = ['x,score,y', ...training.map((r) => `${r.x},${r.score},${r.y}`)].join('\n');
    await createBaseline(t.app, 'clf', csv, 'text/csv', { prediction: 'score', label: 'y' });
    const [stored] = await t.sql<{ performance: string | null }>('SELECT performance FROM baselines');
    const facts = JSON.parse(stored?.performance ?? 'null') as BaselinePerformance;
    expect(facts).toMatchObject({ kind: 'binary', threshold: 0.5, rows: 20_000 });
    let correct = 0;
    for (const r of training) if ((r.score >= 0.5 ? 1 : 0) === r.y) correct++;
    expect(facts.accuracy).toBe(correct / 20_000);

    // Two buckets of 5,000 under covariate shift, then one where the scores crowd around the threshold.
    const buckets = [draw(5_000, 0.5, 1, 2), draw(5_000, 1, 1, 3), draw(5_000, 0.5, 0.05, 4)];
    const records = buckets.flatMap((rows, b) =>
      rows.map((r, i) => ({
        model: 'clf',
        model_version: 'v1',
        request_id: `b${b}-${i}`,
        timestamp: START + b * HOUR + Math.floor((i / rows.length) * HOUR),
        features: { x: r.x },
        prediction: r.score,
      })),
    );
    await ingestAll(t.app, records);

    const res = await getJson<{ results: PerformanceResult[] }>(
      t.app,
      `/v1/models/clf/performance?kind=bucket&from=${START}&to=${START + 3 * HOUR}`,
    );
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(3);
    buckets.forEach((rows, b) => {
      const got = res.body.results[b] as PerformanceResult;
      // Expected accuracy from what was sent: a positive row is right with its calibrated probability.
      let expected = 0;
      for (const r of rows) {
        const p = calibrateScore(facts, r.score);
        expected += r.score >= 0.5 ? p : 1 - p;
      }
      expect(got.window.from).toBe(new Date(START + b * HOUR).toISOString());
      expect(got).toMatchObject({
        model_version: 'v1',
        kind: 'binary',
        n: 5_000,
        realized: null,
        labeled: 0,
      });
      expect(got.estimated.accuracy).toBeCloseTo(expected / rows.length, 9);
      expect(got.baseline_accuracy).toBe(facts.accuracy);
      expect(got.estimated.band.accuracy?.lower).toBeLessThan(got.estimated.accuracy as number);
    });
    // The crowded bucket is far below the baseline's accuracy (about 0.73 against 0.5–0.55).
    expect(facts.accuracy - (res.body.results[2]?.estimated.accuracy as number)).toBeGreaterThan(0.1);

    const tick = await runDriftTick(t.deps, START + 3 * HOUR + 60_000);
    expect(tick.errors).toEqual([]);
    const alerts = await getJson<{ alerts: AlertView[] }>(t.app, '/v1/alerts?kind=performance_drop');
    expect(alerts.status).toBe(200);
    const [alert, ...more] = alerts.body.alerts;
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      model: 'clf',
      kind: 'performance_drop',
      feature: '(performance)',
      severity: 'critical',
    });
    expect(alert?.latest).toMatchObject({
      source: 'estimated',
      baseline_accuracy: facts.accuracy,
      threshold: 0.05,
    });
  });
});

describe('realized performance of a binary classifier', () => {
  it('counts 0/1 and true/false labels on its scores as decisions at its threshold, at ingest, labelled later and corrected', async () => {
    t = makeTestApp({ drift: { minSamples: 1 }, models: { clf: { performance: { threshold: 0.3 } } } });
    const training = draw(2_000, 0, 1, 5);
    const csv = ['x,score,y', ...training.map((r) => `${r.x},${r.score},${r.y}`)].join('\n');
    await createBaseline(t.app, 'clf', csv, 'text/csv', { prediction: 'score', label: 'y' });
    const rows = draw(400, 0.5, 1, 6);
    // The first 100 carry their label at ingest (true/false), the rest get 0/1 through /v1/labels.
    await ingestAll(
      t.app,
      rows.map((r, i) => ({
        model: 'clf',
        request_id: `r${i}`,
        timestamp: START + Math.floor((i / rows.length) * HOUR),
        features: { x: r.x },
        prediction: r.score,
        ...(i < 100 ? { label: r.y === 1 } : {}),
      })),
    );
    const labels = rows.slice(100).map((r, i) => ({ model: 'clf', request_id: `r${i + 100}`, label: r.y }));
    expect((await postJson(t.app, '/v1/labels', labels)).status).toBe(200);
    const realized = async () => {
      const res = await getJson<{ results: PerformanceResult[] }>(
        t?.app as TestApp['app'],
        `/v1/models/clf/performance?kind=bucket&from=${START}&to=${START + HOUR}`,
      );
      return res.body.results[0]?.realized;
    };
    const direct = (ys: number[]) =>
      rows.filter((r, i) => (r.score >= 0.3 ? 1 : 0) === ys[i]).length / rows.length;
    const ys = rows.map((r) => r.y);
    // Not the 0.5 of a boolean label's default, nor a regression error: the model's own threshold.
    expect(direct(ys)).not.toBe(rows.filter((r) => (r.score >= 0.5 ? 1 : 0) === r.y).length / rows.length);
    expect(await realized()).toMatchObject({ accuracy: direct(ys), n: 400 });
    // A correction recounts the bucket from its stored labels, with the same rule.
    const flipped = ys.map((y, i) => (i === 150 ? 1 - y : y));
    expect(
      (await postJson(t.app, '/v1/labels', [{ model: 'clf', request_id: 'r150', label: flipped[150] }]))
        .status,
    ).toBe(200);
    expect(await realized()).toMatchObject({ accuracy: direct(flipped), n: 400 });
  });
});
