// End to end: a real Prometheus scrapes a real driftwatch process (serving the demo model, with traffic,
// drift, alerts, a retrain request, failing notifications and running jobs), and every dashboard query
// returns data; the metric names the dashboards use are the ones /metrics exposes.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAll, type ServerProcess, startServerProcess } from '../server/process.js';
import { tempDir } from '../support.js';
import {
  dashboardQueries,
  type Prometheus,
  prometheusBinaries,
  ruleQueries,
  runnable,
  scrapeJob,
  startPrometheus,
} from './prometheus.js';

const WEATHER = join(import.meta.dirname, '../../node_modules/vega-datasets/data/seattle-weather.csv');

function weatherRows(): Record<string, number>[] {
  const [header, ...lines] = readFileSync(WEATHER, 'utf8').trim().split('\n');
  const cols = (header ?? '').split(',');
  return lines.map((l) => {
    const cells = l.split(',');
    const row: Record<string, number> = {};
    for (const name of ['precipitation', 'temp_max', 'temp_min', 'wind'])
      row[name] = Number(cells[cols.indexOf(name)]);
    return row;
  });
}

describe('Prometheus scraping a running driftwatch', () => {
  let server: ServerProcess;
  let prom: Prometheus;
  let cleanup: () => void;
  let traffic: NodeJS.Timeout;

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(server.url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    const config = join(dir, 'driftwatch.json');
    writeFileSync(
      config,
      JSON.stringify({
        // Jobs every few seconds, so every job has a last success and a duration within the test.
        drift: { schedule: '*/3 * * * * *', minSamples: 50 },
        retention: { pruneSchedule: '*/3 * * * * *' },
        // A channel nobody listens on: its deliveries fail and count as notification failures.
        notifications: {
          channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }],
          maxAttempts: 2,
        },
      }),
    );
    server = await startServerProcess(join(dir, 'driftwatch.db'), { DRIFTWATCH_CONFIG: config });
    const rows = weatherRows();
    // The training period, then summer 2015 (hotter than the model was trained on): drift and alerts.
    const quiet = rows.slice(0, 300);
    const summer = rows.slice(1276, 1368);
    for (let i = 0; i < quiet.length; i += 50) {
      expect((await post('/v1/models/weather/predict', { instances: quiet.slice(i, i + 50) })).status).toBe(
        200,
      );
    }
    for (let k = 0; k < 4; k++) {
      expect((await post('/v1/models/weather/predict', { instances: summer })).status).toBe(200);
    }
    // Logged records of another (monitored, not served) model with errors and latencies; one rejected record.
    const now = Date.now();
    const logged = Array.from({ length: 60 }, (_, i) => ({
      model: 'checkout',
      model_version: 'v7',
      request_id: `c-${i}`,
      timestamp: now - i * 1000,
      features: { amount: i },
      latency_ms: 5 + (i % 10),
      status: i % 6 === 0 ? 'error' : 'ok',
      ...(i % 6 === 0 ? { error: 'timeout' } : {}),
    }));
    expect(
      (await post('/v1/ingest', { records: [...logged, { model: 'weather', request_id: 'bad' }] })).status,
    ).toBe(207);
    const run = await post('/v1/models/weather/drift/run', {});
    expect(run.status).toBe(200);
    const retrain = await post('/v1/retrain-requests', {
      model: 'weather',
      model_version: '2',
      reason: 'summer drift',
    });
    expect(retrain.status).toBe(201);
    // Keep traffic flowing so rates are not zero while Prometheus scrapes.
    let i = 0;
    traffic = setInterval(() => {
      void post('/v1/models/weather/predict', { features: rows[i++ % rows.length] });
      void post('/v1/ingest', {
        records: [
          {
            model: 'checkout',
            model_version: 'v7',
            request_id: `t-${i}`,
            timestamp: Date.now(),
            features: { amount: i },
            latency_ms: 7,
            status: i % 5 === 0 ? 'error' : 'ok',
          },
        ],
      });
    }, 100);
    prom = await startPrometheus({
      scrapeConfigs: [
        {
          ...scrapeJob('driftwatch'),
          scrape_interval: '1s',
          scrape_timeout: '1s',
          static_configs: [{ targets: [`127.0.0.1:${server.port}`] }],
        },
      ],
    });
    await prom.waitFor('up{job="driftwatch"} == 1', 30_000);
    await prom.waitFor('count_over_time(driftwatch_build_info[15s]) >= 6', 40_000);
    await prom.waitFor('count(driftwatch_job_last_success_timestamp_seconds) >= 5', 40_000);
    await prom.waitFor('sum(driftwatch_notification_failures_total) > 0', 40_000);
  }, 150_000);

  afterAll(async () => {
    clearInterval(traffic);
    await prom?.stop();
    await killAll();
    cleanup?.();
  });

  it('every dashboard query returns data', async () => {
    const empty: string[] = [];
    for (const q of dashboardQueries()) {
      const expr = runnable(q.expr, '15s');
      const samples = await prom.query(expr);
      const values = samples.map((s) => Number(s.value[1]));
      // A histogram quantile is NaN for a series idle in the window (a route hit once); data means at least
      // one real number.
      if (!values.some((v) => Number.isFinite(v))) empty.push(`${q.where}: ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('every rule expression evaluates, and drift is detected', async () => {
    for (const q of ruleQueries()) await expect(prom.query(q.expr), q.where).resolves.toBeDefined();
    const drifted = await prom.query('max by (model) (driftwatch_model_drifted_features)');
    expect(drifted.find((s) => s.metric.model === 'weather')?.value[1]).not.toBe('0');
  });

  it('exposes every driftwatch_* name the dashboards and rules use', async () => {
    const text = await (await fetch(server.url('/metrics'))).text();
    const exposed = new Set(
      [...text.matchAll(/^(driftwatch_[a-z_]+?)(_bucket|_sum|_count)?[{ ]/gm)].map((m) => m[1]),
    );
    const used = new Set(
      [...dashboardQueries(), ...ruleQueries()].flatMap((q) =>
        [...q.expr.matchAll(/driftwatch_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    expect([...used].filter((n) => !exposed.has(n))).toEqual([]);
  });

  it('passes promtool check metrics (names, units, help)', async () => {
    const text = await (await fetch(server.url('/metrics'))).text();
    const { promtool } = prometheusBinaries();
    const check = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const findings = `${check.stdout}${check.stderr}`.trim().split('\n').filter(Boolean);
    // prom-client's own defaults name three gauges *_total (nodejs_active_handles_total, …): promtool
    // flags those, and nothing of driftwatch's.
    const flagged = findings.map((f) => f.split(' ')[0]);
    expect(
      flagged.filter((n) => !/^nodejs_active_(handles|requests|resources)_total$/.test(n ?? '')),
    ).toEqual([]);
    const ours = text
      .split('\n')
      .filter((l) => /^(# (HELP|TYPE) )?driftwatch_/.test(l))
      .join('\n');
    const strict = spawnSync(promtool, ['check', 'metrics'], { input: `${ours}\n`, encoding: 'utf8' });
    expect(`${strict.stdout}${strict.stderr}`.trim()).toBe('');
    expect(strict.status).toBe(0);
  });
});
