// The test Prometheus helper (./prometheus.ts) against real targets: Prometheus scraping itself, then a
// stand-in exporter that serves every metric name the dashboards expect (from prom-client, with the
// specified labels) scraped with the driftwatch job of dashboards/prometheus/scrape.yml — every dashboard
// query returns data and every rule expression evaluates. The stand-in is not driftwatch's /metrics: the
// end-to-end test against a running driftwatch replaces it once the endpoint exists.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dashboardQueries,
  freePort,
  type Prometheus,
  ruleQueries,
  runnable,
  scrapeJob,
  startPrometheus,
} from './prometheus.js';

describe('test Prometheus scraping itself', () => {
  let prom: Prometheus;
  beforeAll(async () => {
    prom = await startPrometheus({
      scrapeConfigs: [{ job_name: 'prometheus', static_configs: [{ targets: ['127.0.0.1:{port}'] }] }],
    });
  });
  afterAll(async () => {
    await prom?.stop();
  });

  it('is ready, scrapes and answers queries', async () => {
    expect(prom.url).toBe(`http://127.0.0.1:${prom.port}`);
    const up = await prom.waitFor('up{job="prometheus"} == 1');
    expect(up[0]?.metric.instance).toBe(`127.0.0.1:${prom.port}`);
    const build = await prom.waitFor('prometheus_build_info');
    expect(build[0]?.metric.version).toMatch(/^2\./);
    expect(await prom.query('1 + 1')).toEqual([{ metric: {}, value: [expect.any(Number), '2'] }]);
  });

  it('rejects a PromQL error', async () => {
    await expect(prom.query('sum(')).rejects.toThrow(/query failed/);
  });

  it('stops and removes its data directory', async () => {
    const other = await startPrometheus({ scrapeConfigs: [] });
    expect(existsSync(join(other.dir, 'data'))).toBe(true);
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    await expect(fetch(`${other.url}/-/ready`)).rejects.toThrow();
  });
});

/** Serves every metric the dashboards use, with fresh observations on each scrape so rates are not zero. */
function standInExporter(): { register: Registry; tick: () => void } {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const r = { registers: [register] };
  const http = new Histogram({
    name: 'driftwatch_http_request_duration_seconds',
    help: 'h',
    labelNames: ['method', 'route', 'status'],
    ...r,
  });
  const ingest = new Counter({
    name: 'driftwatch_ingest_records_total',
    help: 'h',
    labelNames: ['model', 'outcome'],
    ...r,
  });
  const requests = new Counter({
    name: 'driftwatch_model_requests_total',
    help: 'h',
    labelNames: ['model', 'model_version', 'status'],
    ...r,
  });
  const latency = new Histogram({
    name: 'driftwatch_model_latency_seconds',
    help: 'h',
    labelNames: ['model', 'model_version'],
    ...r,
  });
  const predict = new Histogram({
    name: 'driftwatch_predict_duration_seconds',
    help: 'h',
    labelNames: ['model', 'model_version'],
    ...r,
  });
  const failures = new Counter({
    name: 'driftwatch_notification_failures_total',
    help: 'h',
    labelNames: ['channel'],
    ...r,
  });
  const gauge = (name: string, labelNames: string[]) => new Gauge({ name, help: 'h', labelNames, ...r });
  gauge('driftwatch_feature_psi', ['model', 'feature']).set({ model: 'churn', feature: 'tenure' }, 0.31);
  gauge('driftwatch_feature_ks_statistic', ['model', 'feature']).set(
    { model: 'churn', feature: 'tenure' },
    0.2,
  );
  gauge('driftwatch_feature_drifted', ['model', 'feature']).set({ model: 'churn', feature: 'tenure' }, 1);
  gauge('driftwatch_model_drifted_features', ['model']).set({ model: 'churn' }, 1);
  gauge('driftwatch_alerts_open', ['model', 'kind', 'severity']).set(
    { model: 'churn', kind: 'drift', severity: 'critical' },
    1,
  );
  gauge('driftwatch_retrain_requests', ['status']).set({ status: 'open' }, 1);
  const lastSuccess = gauge('driftwatch_job_last_success_timestamp_seconds', ['job']);
  const duration = new Histogram({
    name: 'driftwatch_job_duration_seconds',
    help: 'h',
    labelNames: ['job'],
    ...r,
  });
  gauge('driftwatch_build_info', ['version']).set({ version: '0.1.0' }, 1);
  gauge('driftwatch_leader', []).set(1);
  const jobs = ['drift', 'rebuild', 'retention', 'deliveries', 'alertmanager-resend', 'kserve-join'];
  const tick = () => {
    http.observe({ method: 'POST', route: '/v1/ingest', status: '200' }, 0.02);
    for (const outcome of ['accepted', 'duplicate', 'rejected']) ingest.inc({ model: 'churn', outcome }, 10);
    for (const status of ['ok', 'error']) requests.inc({ model: 'churn', model_version: 'v2', status }, 10);
    latency.observe({ model: 'churn', model_version: 'v2' }, 0.3);
    predict.observe({ model: 'churn', model_version: 'v2' }, 0.004);
    failures.inc({ channel: 'webhook' });
    for (const job of jobs) {
      lastSuccess.set({ job }, Date.now() / 1000);
      duration.observe({ job }, 0.05);
    }
  };
  return { register, tick };
}

describe('dashboard and rule queries against a stand-in exporter', () => {
  let prom: Prometheus;
  let server: Server;

  beforeAll(async () => {
    const { register, tick } = standInExporter();
    const port = await freePort();
    server = createServer(async (_req, res) => {
      tick();
      res.setHeader('content-type', register.contentType);
      res.end(await register.metrics());
    });
    await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
    const job = scrapeJob('driftwatch');
    prom = await startPrometheus({
      scrapeConfigs: [
        {
          ...job,
          scrape_interval: '1s',
          scrape_timeout: '1s',
          static_configs: [{ targets: [`127.0.0.1:${port}`] }],
        },
      ],
    });
    await prom.waitFor('up{job="driftwatch"} == 1');
    // enough samples for rate() over the test's 10 s range
    await prom.waitFor('count_over_time(driftwatch_build_info[10s]) >= 4', 30_000);
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await new Promise((ok) => server?.close(ok));
  });

  it("keeps driftwatch's own job label on the job metrics (honor_labels)", async () => {
    const s = await prom.query('driftwatch_job_last_success_timestamp_seconds');
    expect(s.map((x) => x.metric.job).sort()).toEqual([
      'alertmanager-resend',
      'deliveries',
      'drift',
      'kserve-join',
      'rebuild',
      'retention',
    ]);
    expect(s.every((x) => x.metric.exported_job === undefined)).toBe(true);
    expect(await prom.query('driftwatch_build_info{job="driftwatch"}')).toHaveLength(1);
  });

  it('every dashboard query returns data', async () => {
    const empty: string[] = [];
    for (const q of dashboardQueries()) {
      const expr = runnable(q.expr, '10s');
      const samples = await prom.query(expr);
      const values = samples.map((s) => Number(s.value[1]));
      if (samples.length === 0 || values.some((v) => Number.isNaN(v))) empty.push(`${q.where}: ${expr}`);
    }
    expect(empty).toEqual([]);
  });

  it('every rule expression evaluates', async () => {
    for (const q of ruleQueries()) await expect(prom.query(q.expr), q.where).resolves.toBeDefined();
  });
});
