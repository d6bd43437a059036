// How fast the web UI's pages answer at scale: 50 models × 200 features × 30 days of hourly drift results
// (7.2 million feature results in 36,000 drift_results rows) in a SQLite file, seeded directly in big
// transactions (not through ingest). Each model also gets a baseline and a day of records through the API,
// so the overview has traffic and the feature page a histogram. Then the overview, a model page, a feature
// page and the alert queue are requested in-process (app.request, open mode), against two baselines
// measured in the same run: a trivial route and the JSON API's drift series. Results are seeded as stored
// before drift_feature_results (whole JSON only) and timed before and after the drift-backfill job.
//
//   npm run bench -- ui
//   BENCH_UI_MODELS=5 BENCH_UI_DAYS=3 npm run bench -- ui    a smaller run
// Prints medians and p95 against the target (≤ 100 ms); never fails on timings.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backfillFeatureResults } from '../src/drift/service.js';
import type { SqliteStore } from '../src/store/sqlite/index.js';
import { benchApp, benchDeps, removeDatabase, rng, timeAsync, writeResult } from './common.js';

const MODELS = Number(process.env.BENCH_UI_MODELS ?? 50);
const FEATURES = Number(process.env.BENCH_UI_FEATURES ?? 200);
const DAYS = Number(process.env.BENCH_UI_DAYS ?? 30);
const RUNS = Number(process.env.BENCH_UI_RUNS ?? 20);
const TARGET_MS = 100;
const HOUR = 3_600_000;

const path = join(tmpdir(), `driftwatch-bench-ui-${process.pid}.sqlite`);
removeDatabase(path);
const config = { drift: { bucket: '1h', rollingWindow: '24h' } };
const now = Math.floor(Date.now() / HOUR) * HOUR;
const hours = DAYS * 24;
const models = Array.from({ length: MODELS }, (_, i) => `model_${String(i).padStart(2, '0')}`);
const features = Array.from({ length: FEATURES }, (_, i) => `f${String(i).padStart(3, '0')}`);

console.log(
  `seeding ${MODELS} models × ${FEATURES} features × ${DAYS} days of hourly results (${(MODELS * FEATURES * hours).toLocaleString('en-US')} feature results) into ${path}`,
);

// Baselines and a day of records through the API: the models exist as they would in production.
const seedStarted = Date.now();
{
  const app = await benchApp(path, config);
  const r = rng(7);
  for (const model of models) {
    const rows = Array.from({ length: 300 }, () =>
      JSON.stringify(Object.fromEntries(features.map((f) => [f, Math.round(r() * 1000) / 10]))),
    ).join('\n');
    const res = await app.request(`/v1/models/${model}/baselines`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: rows,
    });
    if (res.status !== 201) throw new Error(`baseline of ${model}: ${res.status} ${await res.text()}`);
    const records = Array.from({ length: 96 }, (_, i) => ({
      model,
      model_version: 'v1',
      request_id: `${model}-${i}`,
      timestamp: new Date(now - 24 * HOUR + i * 15 * 60_000).toISOString(),
      latency_ms: 5 + r() * 40,
      status: r() < 0.02 ? 'error' : 'ok',
      features: Object.fromEntries(features.map((f) => [f, Math.round(r() * 1100) / 10])),
    }));
    const ing = await app.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(records),
    });
    if (ing.status !== 200) throw new Error(`ingest of ${model}: ${ing.status} ${await ing.text()}`);
  }
  await app.close();
}
console.log(`baselines and records: ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

// Drift results straight into drift_results: one transaction per model, 720 rows of 200 features each.
{
  const deps = benchDeps(path, config);
  const store = deps.store as SqliteStore;
  const db = store.connection.sqlite;
  const ids = db.prepare('SELECT model, id FROM baselines WHERE active = 1').all() as {
    model: string;
    id: number;
  }[];
  const baselineOf = new Map(ids.map((b) => [b.model, b.id]));
  const insert = db.prepare(
    `INSERT INTO drift_results (model, model_version, baseline_id, window_kind, window_from, window_to, n, drifted,
       drifted_share, result, evaluated_at) VALUES (?, ?, ?, 'bucket', ?, ?, ?, ?, ?, ?, ?)`,
  );
  const r = rng(11);
  const started = Date.now();
  let bytes = 0;
  for (const [mi, model] of models.entries()) {
    const baselineId = baselineOf.get(model) as number;
    db.transaction(() => {
      for (let h = hours; h >= 1; h--) {
        const from = now - h * HOUR;
        const to = from + HOUR;
        let drifted = 0;
        const cols = features.map((feature, fi) => {
          // a few features drift in the last days, the rest stay calm
          const hot = fi < 5 && h < 72 ? 0.3 : 0;
          const psi = Math.round((r() * 0.08 + hot) * 1e6) / 1e6;
          const severity = psi >= 0.25 ? 'critical' : psi >= 0.1 ? 'warning' : null;
          if (severity) drifted++;
          return {
            feature,
            type: 'numeric',
            n: 1000,
            records: 1000,
            psi,
            ks_statistic: Math.round(r() * 0.1 * 1e6) / 1e6,
            ks_pvalue: r(),
            wasserstein_normed: r() * 0.1,
            chi2_statistic: null,
            chi2_pvalue: null,
            js: r() * 0.05,
            pvalue_adjusted: r(),
            missing_rate: fi % 17 === 0 ? 0.03 : 0,
            baseline_missing_rate: 0,
            type_mismatch_rate: 0,
            unseen_rate: null,
            out_of_range_rate: fi % 23 === 0 ? 0.01 : 0,
            psi_warning: 0.1,
            drifted: severity !== null,
            severity,
          };
        });
        const body = {
          model,
          model_version: 'v1',
          baseline_id: baselineId,
          window_kind: 'bucket',
          window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
          n: 1000,
          features: cols,
          prediction: null,
          unknown_features: [],
          drifted_share: drifted / FEATURES,
          drifted: drifted > 0,
          performance: { labeled: 0, label_coverage: 0, accuracy: null, mae: null, rmse: null },
          rebuilding: null,
          evaluated_at: new Date(to + 60_000).toISOString(),
        };
        const text = JSON.stringify(body);
        bytes += text.length;
        insert.run(
          model,
          'v1',
          baselineId,
          from,
          to,
          1000,
          drifted > 0 ? 1 : 0,
          drifted / FEATURES,
          text,
          to + 60_000,
        );
      }
    })();
    if ((mi + 1) % 10 === 0 || mi === models.length - 1)
      console.log(
        `  ${mi + 1} of ${MODELS} models: ${((Date.now() - started) / 1000).toFixed(1)} s, ${(bytes / 1e9).toFixed(2)} GB of results`,
      );
  }
  // The review queue: 20 alerts per model (the five hot features and fifteen others) across every status,
  // each with a day of evidence windows and a short audit trail.
  const statuses = ['open', 'open', 'acknowledged', 'snoozed', 'decided', 'closed'] as const;
  const insertAlert = db.prepare(
    `INSERT INTO alerts (model, model_version, feature, kind, severity, status, assignee, version, evidence_count,
       first_seen, last_seen, peak_psi, latest, peak, created_at, updated_at, closed_at)
     VALUES (?, 'v1', ?, 'drift', ?, ?, ?, 1, 24, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertEvidence = db.prepare(
    `INSERT INTO alert_evidence (alert_id, drift_result_id, window_kind, window_from, window_to, severity, measures, at)
     SELECT ?, id, 'bucket', window_from, window_to, ?, ?, ? FROM drift_results WHERE model = ? AND window_to = ?`,
  );
  const insertEvent = db.prepare(
    `INSERT INTO alert_events (alert_id, at, actor, action, from_status, to_status, note, data) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  let alerts = 0;
  for (const model of models) {
    db.transaction(() => {
      for (let k = 0; k < 20; k++) {
        const feature = features[k < 5 ? k : 5 + k * 9] as string;
        const status = statuses[k % statuses.length] as (typeof statuses)[number];
        const first = now - (72 - k) * HOUR;
        const measures = JSON.stringify({
          psi: 0.3 + k / 100,
          pvalue_adjusted: 1e-9,
          n: 1000,
          psi_warning: 0.1,
        });
        const id = Number(
          insertAlert.run(
            model,
            feature,
            k % 3 === 0 ? 'critical' : 'warning',
            status,
            k % 4 === 0 ? 'dana' : null,
            first,
            now - HOUR,
            0.3 + k / 100,
            measures,
            measures,
            first,
            now - HOUR,
            status === 'closed' ? now - HOUR : null,
          ).lastInsertRowid,
        );
        for (let h = 24; h >= 1; h--) {
          insertEvidence.run(
            id,
            k % 3 === 0 ? 'critical' : 'warning',
            measures,
            now - h * HOUR,
            model,
            now - h * HOUR,
          );
        }
        insertEvent.run(id, first, 'driftwatch', 'opened', null, 'open', null);
        if (status !== 'open')
          insertEvent.run(id, first + HOUR, 'dana', 'acknowledged', 'open', 'acknowledged', null);
        alerts++;
      }
    })();
  }
  console.log(`  ${alerts} alerts with evidence and audit trails`);
  await deps.store.close();
}

// The pages, in-process, after a warm-up; the JSON API and a trivial route as baselines of the same run.
// Twice: on results stored whole only (as before drift_feature_results; every read parses each window's
// JSON), then after the drift-backfill job has split them into summaries and per-feature rows.
const app = await benchApp(path, config);
const model = models[0] as string;
const pages: { name: string; url: string; baseline?: boolean }[] = [
  { name: 'trivial route (GET /healthz)', url: '/healthz', baseline: true },
  {
    name: `JSON API: GET /v1/models/${model}/drift?limit=48`,
    url: `/v1/models/${model}/drift?limit=48`,
    baseline: true,
  },
  {
    name: `one feature's series, ${DAYS} days (drift?feature=f000)`,
    url: `/v1/models/${model}/drift?feature=f000&kind=bucket&limit=${hours}`,
  },
  { name: 'overview /ui', url: '/ui' },
  { name: `model /ui/models/${model}`, url: `/ui/models/${model}` },
  { name: `feature /ui/models/${model}/features/f000`, url: `/ui/models/${model}/features/f000` },
  { name: 'alert queue /ui/alerts', url: '/ui/alerts' },
  { name: 'alert queue, one model, critical', url: `/ui/alerts?model=${model}&severity=critical` },
  { name: 'alert detail /ui/alerts/1', url: '/ui/alerts/1' },
];

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;

interface Timing {
  name: string;
  median: number;
  p95: number;
  status: number;
  bytes: number;
  baseline?: boolean | undefined;
}

async function timePages(label: string): Promise<Timing[]> {
  console.log(`\n${label}: ${RUNS} requests each after 3 warm-ups (in-process app.request, open mode):`);
  const results: Timing[] = [];
  for (const p of pages) {
    let status = 0;
    let size = 0;
    for (let i = 0; i < 3; i++) await (await app.request(p.url)).text();
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const res = await app.request(p.url);
      const body = await res.text();
      times.push(performance.now() - t0);
      status = res.status;
      size = body.length;
    }
    times.sort((a, b) => a - b);
    results.push({
      name: p.name,
      median: quantile(times, 0.5),
      p95: quantile(times, 0.95),
      status,
      bytes: size,
      baseline: p.baseline,
    });
  }
  const trivial = results[0] as Timing;
  for (const r of results) {
    const vs =
      r === trivial ? '' : ` ${(r.median / trivial.median).toFixed(0).padStart(5)}× the trivial route`;
    const verdict = r.baseline
      ? 'baseline'
      : r.status !== 200
        ? `status ${r.status}: not measured as a page`
        : r.p95 <= TARGET_MS
          ? `within ${TARGET_MS} ms`
          : r.median <= TARGET_MS
            ? `median within ${TARGET_MS} ms, p95 not`
            : `over ${TARGET_MS} ms`;
    console.log(
      `  ${r.name.padEnd(56)} median ${r.median.toFixed(1).padStart(7)} ms  p95 ${r.p95.toFixed(1).padStart(7)} ms  ${(r.bytes / 1024).toFixed(0).padStart(5)} KiB ${vs}  ${verdict}`,
    );
  }
  return results;
}

const before = await timePages('results stored whole only (before the backfill)');
const backfillDeps = benchDeps(path, config);
const split = await timeAsync(() => backfillFeatureResults(backfillDeps));
await backfillDeps.store.close();
console.log(
  `\ndrift-backfill: ${split.value.toLocaleString('en-US')} results split into summaries and feature rows in ${(split.ms / 1000).toFixed(1)} s`,
);
const after = await timePages('after the backfill (summaries and drift_feature_results)');
console.log('\nafter / before (medians of the same process and data; × the trivial route of each pass):');
for (const [i, a] of after.entries()) {
  const b = before[i] as Timing;
  if (a.baseline) continue;
  const vsTrivial = (t: Timing[], x: Timing) => (x.median / (t[0] as Timing).median).toFixed(0);
  console.log(
    `  ${a.name.padEnd(56)} ${b.median.toFixed(1).padStart(7)} → ${a.median.toFixed(1).padStart(6)} ms  ${(a.median / b.median).toFixed(2)}  (${vsTrivial(before, b)}× → ${vsTrivial(after, a)}×)`,
  );
}
// For BENCHMARKS.md: the pass after the backfill, each against the trivial route of the same pass.
{
  const trivial = after[0] as Timing;
  const figure = (i: number, id: string, limitMs: number) => {
    const t = after[i] as Timing;
    return {
      id,
      figure: t.name,
      value: t.median,
      unit: 'ms',
      baseline: { label: trivial.name, value: trivial.median, unit: 'ms' },
      ratio: t.median / trivial.median,
      target: `≤ ${limitMs} ms`,
      met: t.median <= limitMs,
    };
  };
  writeResult(
    'ui',
    `${MODELS} models × ${FEATURES} features × ${DAYS} days of hourly results, medians of ${RUNS} in-process requests`,
    [figure(2, 'ui.drift-series', 10), figure(4, 'ui.model-page', 30), figure(8, 'ui.alert-page', 30)],
  );
}
await app.close();
if (process.env.BENCH_UI_KEEP) console.log(`kept ${path}`);
else removeDatabase(path);
