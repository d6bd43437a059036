import { afterEach, describe, expect, it } from 'vitest';
import type { JobsView } from '../../src/context.js';
import { MAX_MODEL_LABELS, Metrics } from '../../src/metrics/index.js';
import {
  AUTH_CONFIG,
  bearer,
  Client,
  hour,
  type MApp,
  MIN,
  QUEUE_ONLY,
  setupM,
  TOKENS,
} from '../alerts/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp, tempDir } from '../support.js';

// GET /metrics: the exposition parses, every metric is there with its labels after ingest, drift and alert
// activity, counters grow, apps keep separate registries, access follows the metrics rules, and the
// store-wide gauges come from the leader only.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  samples: Sample[];
}

/** A small parser of the Prometheus text format (0.0.4): HELP/TYPE lines and samples with labels. */
function parse(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const help = new Set<string>();
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/;
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped'], line).toContain(rest);
        expect(types.has(name), `TYPE twice for ${name}`).toBe(false);
        types.set(name, rest);
      } else help.add(name);
      continue;
    }
    const m = sampleLine.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, , body, value] = m as unknown as [string, string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    if (body) {
      labelPair.lastIndex = 0;
      while (labelPair.lastIndex < body.length) {
        const p = labelPair.exec(body);
        expect(p, `bad labels in ${line}`).not.toBeNull();
        labels[(p as RegExpExecArray)[1] as string] = (p as RegExpExecArray)[2] as string;
      }
    }
    // prom-client writes NaN as "Nan"; Prometheus parses floats as Go does, case-insensitively.
    const nan = value.toLowerCase() === 'nan';
    const v = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : nan ? NaN : Number(value);
    expect(Number.isNaN(v) && !nan, `bad value in ${line}`).toBe(false);
    const family = name.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(name) || types.has(family), `sample before its TYPE: ${line}`).toBe(true);
    samples.push({ name, labels, value: v });
  }
  for (const name of types.keys()) expect(help.has(name), `no HELP for ${name}`).toBe(true);
  return { types, samples };
}

const LOOPBACK = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
const REMOTE = { incoming: { socket: { remoteAddress: '10.1.2.3' } } };

async function scrape(
  app: TestApp['app'],
  headers: Record<string, string> = {},
  env: unknown = undefined,
): Promise<Exposition> {
  const res = await app.request('/metrics', { headers }, env);
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parse(await res.text());
}

const find = (e: Exposition, name: string, labels: Record<string, string> = {}) =>
  e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const value = (e: Exposition, name: string, labels: Record<string, string> = {}) => {
  const found = find(e, name, labels);
  expect(found.length, `${name} ${JSON.stringify(labels)}`).toBe(1);
  return (found[0] as Sample).value;
};
const labelNames = (e: Exposition, name: string) =>
  [
    ...new Set(
      e.samples
        .filter(
          (s) => s.name === name || (e.types.get(name) === 'histogram' && s.name.startsWith(`${name}_`)),
        )
        .flatMap((s) => Object.keys(s.labels).filter((k) => k !== 'le')),
    ),
  ].sort();

let m: MApp | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await m?.t.close();
  await t?.close();
  m = undefined;
  t = undefined;
});

/** Model m with one drifted hour: feature x shifts in hour 8, the tick raises a drift alert. */
async function drifted(config = {}): Promise<MApp> {
  const app = await setupM({ ...QUEUE_ONLY, ...config });
  await app.window('a', hour(8), 0.6);
  await app.tick(FIXED_NOW + 10 * MIN);
  return app;
}

describe('GET /metrics', () => {
  it('exports every metric with its labels after ingest, drift and alert activity', async () => {
    m = await drifted();
    const client = new Client(m.t.app);
    // Logged records with latency and status, a duplicate and a rejected record.
    await client.ingest([
      { model: 'm', model_version: 'v1', request_id: 'l1', features: { x: 5 }, latency_ms: 12, status: 'ok' },
      {
        model: 'm',
        model_version: 'v1',
        request_id: 'l2',
        features: { x: 5 },
        latency_ms: 40,
        status: 'error',
      },
    ]);
    await client.request('POST', '/v1/ingest', [
      { model: 'm', model_version: 'v1', request_id: 'l1', features: { x: 5 } },
      { model: 'm', request_id: 'bad', features: 'nope' },
      { model: 'never-seen', request_id: 'bad2', features: 'nope' },
    ]);
    await client.request('POST', '/v1/retrain-requests', { model: 'm', reason: 'metrics test' });
    const e = await scrape(m.t.app);

    expect(e.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(e.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    const expected: Record<string, { type: string; labels: string[] }> = {
      driftwatch_http_request_duration_seconds: { type: 'histogram', labels: ['method', 'route', 'status'] },
      driftwatch_ingest_records_total: { type: 'counter', labels: ['model', 'outcome'] },
      driftwatch_model_requests_total: { type: 'counter', labels: ['model', 'model_version', 'status'] },
      driftwatch_model_latency_seconds: { type: 'histogram', labels: ['model', 'model_version'] },
      driftwatch_predict_duration_seconds: { type: 'histogram', labels: [] },
      driftwatch_feature_psi: { type: 'gauge', labels: ['feature', 'model'] },
      driftwatch_feature_ks_statistic: { type: 'gauge', labels: ['feature', 'model'] },
      driftwatch_feature_drifted: { type: 'gauge', labels: ['feature', 'model'] },
      driftwatch_model_drifted_features: { type: 'gauge', labels: ['model'] },
      driftwatch_alerts_open: { type: 'gauge', labels: ['kind', 'model', 'severity'] },
      driftwatch_retrain_requests: { type: 'gauge', labels: ['status'] },
      driftwatch_job_last_success_timestamp_seconds: { type: 'gauge', labels: [] },
      driftwatch_job_duration_seconds: { type: 'histogram', labels: [] },
      driftwatch_notification_failures_total: { type: 'counter', labels: [] },
      driftwatch_build_info: { type: 'gauge', labels: ['version'] },
      driftwatch_leader: { type: 'gauge', labels: [] },
    };
    for (const [name, want] of Object.entries(expected)) {
      expect(e.types.get(name), name).toBe(want.type);
      expect(labelNames(e, name), name).toEqual(want.labels.sort());
    }

    // HTTP: the route pattern, never the path.
    expect(
      value(e, 'driftwatch_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/ingest',
        status: '200',
      }),
    ).toBeGreaterThanOrEqual(2);
    expect(
      find(e, 'driftwatch_http_request_duration_seconds_count').every(
        (s) => !s.labels.route?.includes('/m/'),
      ),
    ).toBe(true);

    expect(value(e, 'driftwatch_ingest_records_total', { model: 'm', outcome: 'accepted' })).toBe(202);
    expect(value(e, 'driftwatch_ingest_records_total', { model: 'm', outcome: 'duplicate' })).toBe(1);
    expect(value(e, 'driftwatch_ingest_records_total', { model: 'm', outcome: 'rejected' })).toBe(1);
    // A model the store does not know gets no label of its own.
    expect(value(e, 'driftwatch_ingest_records_total', { model: 'other', outcome: 'rejected' })).toBe(1);
    expect(find(e, 'driftwatch_ingest_records_total', { model: 'never-seen' })).toEqual([]);

    expect(
      value(e, 'driftwatch_model_requests_total', { model: 'm', model_version: 'v1', status: 'ok' }),
    ).toBe(1);
    expect(
      value(e, 'driftwatch_model_requests_total', { model: 'm', model_version: 'v1', status: 'error' }),
    ).toBe(1);
    expect(
      value(e, 'driftwatch_model_requests_total', { model: 'm', model_version: '', status: 'unknown' }),
    ).toBe(200);
    expect(value(e, 'driftwatch_model_latency_seconds_count', { model: 'm', model_version: 'v1' })).toBe(2);
    expect(value(e, 'driftwatch_model_latency_seconds_sum', { model: 'm', model_version: 'v1' })).toBeCloseTo(
      0.052,
    );
    expect(
      value(e, 'driftwatch_model_latency_seconds_bucket', { model: 'm', model_version: 'v1', le: '0.025' }),
    ).toBe(1);

    // Drift: the baseline's features only, from the latest result.
    const psi = find(e, 'driftwatch_feature_psi', { model: 'm' });
    expect(psi.map((s) => s.labels.feature).sort()).toEqual(['color', 'x']);
    expect(value(e, 'driftwatch_feature_psi', { model: 'm', feature: 'x' })).toBeGreaterThan(0.25);
    expect(value(e, 'driftwatch_feature_ks_statistic', { model: 'm', feature: 'x' })).toBeGreaterThan(0);
    expect(value(e, 'driftwatch_feature_drifted', { model: 'm', feature: 'x' })).toBe(1);
    expect(value(e, 'driftwatch_feature_drifted', { model: 'm', feature: 'color' })).toBe(0);
    expect(value(e, 'driftwatch_model_drifted_features', { model: 'm' })).toBe(1);
    expect(value(e, 'driftwatch_alerts_open', { model: 'm', kind: 'drift' })).toBeGreaterThanOrEqual(1);
    expect(value(e, 'driftwatch_retrain_requests', { status: 'requested' })).toBe(1);
    expect(value(e, 'driftwatch_build_info', { version: '0.1.0' })).toBe(1);
    expect(value(e, 'driftwatch_leader')).toBe(1);
  });

  it('matches feature_latest to the newest result and forgets features an older baseline had', async () => {
    m = await drifted();
    const rows = await m.t.sql<{ feature: string; window_kind: string; window_to: number }>(
      'SELECT feature, window_kind, window_to FROM feature_latest ORDER BY feature',
    );
    expect(rows.map((r) => r.feature)).toEqual(['color', 'x']);
    // An older window does not overwrite a newer one; a newer one with fewer features replaces the set.
    const newest = Math.max(...rows.map((r) => Number(r.window_to)));
    await m.t.store.tx((tx) =>
      tx.metrics.putFeatureLatest('m', '', { kind: 'bucket', to: newest - 3600e3, evaluatedAt: FIXED_NOW }, [
        { feature: 'x', psi: 9, ksStatistic: null, ksPvalue: null, drifted: true },
      ]),
    );
    expect(
      (await m.t.sql<{ psi: number }>("SELECT psi FROM feature_latest WHERE feature = 'x'"))[0]?.psi,
    ).not.toBe(9);
    await m.t.store.tx((tx) =>
      tx.metrics.putFeatureLatest(
        'm',
        '',
        { kind: 'rolling', to: newest + 3600e3, evaluatedAt: FIXED_NOW + 20 * MIN },
        [{ feature: 'x', psi: 0.01, ksStatistic: 0.02, ksPvalue: 0.5, drifted: false }],
      ),
    );
    const e = await scrape(m.t.app);
    expect(find(e, 'driftwatch_feature_psi', { model: 'm' }).map((s) => s.labels.feature)).toEqual(['x']);
    expect(value(e, 'driftwatch_feature_psi', { model: 'm', feature: 'x' })).toBe(0.01);
    expect(value(e, 'driftwatch_model_drifted_features', { model: 'm' })).toBe(0);
  });

  it('counts up between scrapes, and two apps keep separate registries', async () => {
    t = makeTestApp();
    const other = makeTestApp();
    try {
      const rec = (id: string) => ({ model: 'iris', request_id: id, features: { a: 1 }, latency_ms: 3 });
      const client = new Client(t.app);
      await client.ingest([rec('1'), rec('2')]);
      const first = await scrape(t.app);
      expect(value(first, 'driftwatch_ingest_records_total', { model: 'iris', outcome: 'accepted' })).toBe(2);
      await client.ingest([rec('3')]);
      const second = await scrape(t.app);
      expect(value(second, 'driftwatch_ingest_records_total', { model: 'iris', outcome: 'accepted' })).toBe(
        3,
      );
      // A scrape is counted once answered: the first one saw none.
      const scrapes = (e: Exposition) =>
        find(e, 'driftwatch_http_request_duration_seconds_count', {
          method: 'GET',
          route: '/metrics',
          status: '200',
        })[0]?.value ?? 0;
      expect(scrapes(second)).toBe(scrapes(first) + 1);

      const apart = await scrape(other.app);
      expect(find(apart, 'driftwatch_ingest_records_total', { model: 'iris' })).toEqual([]);
      expect(t.deps.metrics).toBeInstanceOf(Metrics);
      expect(t.deps.metrics).not.toBe(other.deps.metrics);
      expect((t.deps.metrics as Metrics).registry).not.toBe((other.deps.metrics as Metrics).registry);
    } finally {
      await other.close();
    }
  });

  it('bounds the model label: beyond the cap, models count as "other"', async () => {
    t = makeTestApp();
    const metrics = t.deps.metrics as Metrics;
    const accepted = new Map<string, number>();
    for (let i = 0; i < MAX_MODEL_LABELS + 50; i++) accepted.set(`model-${i}`, 1);
    metrics.ingested({ accepted, duplicate: new Map(), rejected: new Map() });
    const e = await scrape(t.app);
    const models = new Set(find(e, 'driftwatch_ingest_records_total').map((s) => s.labels.model));
    expect(models.size).toBe(MAX_MODEL_LABELS + 1);
    expect(value(e, 'driftwatch_ingest_records_total', { model: 'other', outcome: 'accepted' })).toBe(50);
  });

  it('exports the store-wide gauges only from the job leader', async () => {
    m = await drifted();
    let leading = false;
    const jobs: JobsView = {
      leader: () => leading,
      status: () => [
        {
          name: 'drift',
          schedule: '* * * * *',
          timezone: null,
          running: false,
          last_start: new Date(FIXED_NOW).toISOString(),
          last_success: new Date(FIXED_NOW + 1000).toISOString(),
          last_error: null,
          last_error_at: null,
          last_duration_ms: 12,
          next_run: null,
        },
      ],
    };
    m.t.deps.jobs = jobs;
    const follower = await scrape(m.t.app);
    expect(value(follower, 'driftwatch_leader')).toBe(0);
    for (const name of [
      'driftwatch_feature_psi',
      'driftwatch_feature_ks_statistic',
      'driftwatch_feature_drifted',
      'driftwatch_model_drifted_features',
      'driftwatch_alerts_open',
      'driftwatch_retrain_requests',
      'driftwatch_job_last_success_timestamp_seconds',
    ])
      expect(find(follower, name), name).toEqual([]);
    // Per-process counters are there on every process.
    expect(find(follower, 'driftwatch_ingest_records_total').length).toBeGreaterThan(0);

    leading = true;
    const leader = await scrape(m.t.app);
    expect(value(leader, 'driftwatch_leader')).toBe(1);
    expect(find(leader, 'driftwatch_feature_psi').length).toBe(2);
    expect(value(leader, 'driftwatch_job_last_success_timestamp_seconds', { job: 'drift' })).toBe(
      (FIXED_NOW + 1000) / 1000,
    );
  });

  it('counts job runs and failed notification attempts', async () => {
    t = makeTestApp({
      notifications: { channels: [{ name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook' }] },
    });
    const { JobRegistry } = await import('../../src/jobs/index.js');
    const { runDeliveryTick } = await import('../../src/notifications/service.js');
    const registry = new JobRegistry(t.deps);
    registry.register({ name: 'noop', schedule: '0 0 1 1 *', tick: async () => ({}) });
    await registry.renew();
    expect(await registry.runNow('noop')).toBe(true);
    await registry.stop();
    await t.store.tx((tx) =>
      tx.deliveries.insert({ channel: 'hook', event: 'test', payload: '{}', now: FIXED_NOW }),
    );
    // A mail is a delivery of the same outbox: its failed attempts count under channel "email".
    await t.store.tx((tx) =>
      tx.deliveries.insert({ channel: 'email', event: 'report.daily', payload: '{}', now: FIXED_NOW }),
    );
    const email = {
      type: 'email' as const,
      maxAttempts: 3,
      backoffMs: () => 60_000,
      send: async () => ({ ok: false as const, error: 'relay down' }),
    };
    expect(await runDeliveryTick(t.deps, FIXED_NOW, { email })).toEqual({ sent: 0, failed: 0, retried: 2 });
    const e = await scrape(t.app);
    expect(value(e, 'driftwatch_job_duration_seconds_count', { job: 'noop' })).toBe(1);
    expect(value(e, 'driftwatch_notification_failures_total', { channel: 'hook' })).toBe(1);
    expect(value(e, 'driftwatch_notification_failures_total', { channel: 'email' })).toBe(1);
  });
});

describe('predict metrics', () => {
  it('times the bundled predict endpoint per model and version', async () => {
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { createApp } = await import('../../src/app.js');
    const { ServingRuntime } = await import('../../src/serving/runtime.js');
    const { REPO_ROOT } = await import('../server/process.js');
    const { dir, cleanup } = tempDir();
    t = makeTestApp({ serving: { modelsDir: dir } });
    const runtime = new ServingRuntime(t.deps);
    try {
      await runtime.start();
      const app = createApp(t.deps, { serving: runtime });
      const models = join(REPO_ROOT, 'models', 'weather', '1');
      const up = await new Client(app).request('POST', '/v1/models/weather/versions', {
        manifest: JSON.parse(readFileSync(join(models, 'manifest.json'), 'utf8')),
        model_base64: readFileSync(join(models, 'model.onnx')).toString('base64'),
        baseline_csv: readFileSync(join(models, 'baseline.csv'), 'utf8'),
      });
      expect(up.status, JSON.stringify(up.body)).toBe(201);
      const features = { precipitation: 0, temp_max: 24, temp_min: 13, wind: 2.5 };
      for (let i = 0; i < 2; i++)
        expect(
          (await new Client(app).request('POST', '/v1/models/weather/predict', { features })).status,
        ).toBe(200);
      await runtime.batcher.flush();
      // The app made by makeTestApp and this one share the deps' registry.
      const e = await scrape(t.app);
      expect(labelNames(e, 'driftwatch_predict_duration_seconds')).toEqual(['model', 'model_version']);
      expect(
        value(e, 'driftwatch_predict_duration_seconds_count', { model: 'weather', model_version: '1' }),
      ).toBe(2);
      // The predictions logged into ingest count as the model's requests, with the latency they report.
      expect(
        value(e, 'driftwatch_model_requests_total', { model: 'weather', model_version: '1', status: 'ok' }),
      ).toBe(2);
      expect(
        value(e, 'driftwatch_model_latency_seconds_count', { model: 'weather', model_version: '1' }),
      ).toBe(2);
    } finally {
      await runtime.close();
      cleanup();
    }
  });
});

describe('GET /metrics access', () => {
  const METRICS_TOKEN = TOKENS.metrics;
  const withMetrics = AUTH_CONFIG;

  it('is open when the API is open', async () => {
    t = makeTestApp();
    expect((await t.app.request('/metrics', {}, REMOTE)).status).toBe(200);
  });

  it('with tokens: a metrics or admin token, or no credential from loopback', async () => {
    t = makeTestApp(withMetrics);
    const status = async (headers: Record<string, string>, env?: unknown) =>
      (await t?.app.request('/metrics', { headers }, env))?.status;
    expect(await status({}, REMOTE)).toBe(401);
    expect(await status({})).toBe(401);
    expect(await status({}, LOOPBACK)).toBe(200);
    expect(await status({}, { incoming: { socket: { remoteAddress: '::ffff:127.0.0.1' } } })).toBe(200);
    expect(await status(bearer(METRICS_TOKEN), REMOTE)).toBe(200);
    expect(await status(bearer(TOKENS.admin), REMOTE)).toBe(200);
    expect(await status(bearer(TOKENS.reviewer), REMOTE)).toBe(403);
    expect(await status(bearer(TOKENS.ingest), REMOTE)).toBe(403);
    // A credential that is sent is checked, loopback or not.
    expect(await status(bearer('not-a-configured-token-at-all'), LOOPBACK)).toBe(401);
    expect(await status(bearer(TOKENS.ingest), LOOPBACK)).toBe(403);
  });

  it('with metrics.loopbackOpen false, loopback needs a token too', async () => {
    t = makeTestApp({ ...withMetrics, metrics: { loopbackOpen: false } });
    expect((await t.app.request('/metrics', {}, LOOPBACK)).status).toBe(401);
    expect((await t.app.request('/metrics', { headers: bearer(METRICS_TOKEN) }, LOOPBACK)).status).toBe(200);
  });

  it('a metrics token may do nothing else', async () => {
    t = makeTestApp(withMetrics);
    for (const path of ['/v1/alerts', '/v1/models', '/v1/jobs']) {
      expect((await t.app.request(path, { headers: bearer(METRICS_TOKEN) })).status, path).toBe(403);
    }
    const res = await t.app.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(METRICS_TOKEN) },
      body: '[]',
    });
    expect(res.status).toBe(403);
  });
});
