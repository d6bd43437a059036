import { expect } from 'vitest';
import type { AlertView, RetrainRequestView } from '../../src/alerts/types.js';
import type { ConfigInput } from '../../src/config/index.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import type { DriftResultBody } from '../drift/helpers.js';
import { syntheticTraining } from '../drift/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

type App = TestApp['app'];

export const HOUR = 3600e3;
export const MIN = 60e3;
/** Whole hours before FIXED_NOW (12:00Z): bucket starts of closed windows. */
export const hour = (h: number) => Date.parse(`2026-11-24T${String(h).padStart(2, '0')}:00:00Z`);
export const iso = (ms: number) => new Date(ms).toISOString();

export const TOKENS = {
  ingest: 'ingest-token-0123456789abcdef',
  reviewer: 'reviewer-token-0123456789abcdef',
  admin: 'admin-token-0123456789abcdef',
  metrics: 'metrics-token-0123456789abcdef',
} as const;

export const AUTH_CONFIG = {
  auth: {
    tokens: [
      { name: 'collector', role: 'ingest' as const, token: TOKENS.ingest },
      { name: 'ana', role: 'reviewer' as const, token: TOKENS.reviewer },
      { name: 'root', role: 'admin' as const, token: TOKENS.admin },
      { name: 'prometheus', role: 'metrics' as const, token: TOKENS.metrics },
    ],
  },
};

export const bearer = (token: string | undefined): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${token}` };

export interface AlertDetail extends AlertView {
  evidence: {
    drift_result_id: number;
    window_kind: string;
    window: { from: string; to: string };
    severity: string;
    measures: Record<string, unknown>;
  }[];
  histogram: { feature: string; baseline_id: number; n: number; bins: unknown[] } | null;
  events: {
    at: string;
    actor: string;
    action: string;
    from: string | null;
    to: string | null;
    note: string | null;
    data: Record<string, unknown> | null;
  }[];
  retrain_requests: RetrainRequestView[];
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/**
 * A small client for one test app: every request carries `token` (if any), JSON bodies, parsed answers.
 * Status and body are returned together so tests can assert both.
 */
export class Client {
  constructor(
    readonly app: App,
    public token?: string,
  ) {}

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await this.app.request(path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...bearer(this.token),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T, headers: res.headers };
  }

  get<T = unknown>(path: string) {
    return this.request<T>('GET', path);
  }

  post<T = unknown>(path: string, body: unknown, headers: Record<string, string> = {}) {
    return this.request<T>('POST', path, body, headers);
  }

  async alerts(query = ''): Promise<AlertView[]> {
    const res = await this.get<{ alerts: AlertView[] }>(`/v1/alerts${query ? `?${query}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.alerts;
  }

  async alert(id: number): Promise<AlertDetail> {
    const res = await this.get<AlertDetail>(`/v1/alerts/${id}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body;
  }

  /** The only alert of a feature (kind drift); fails unless there is exactly one. */
  async alertOf(feature: string): Promise<AlertView> {
    const all = (await this.alerts()).filter((a) => a.feature === feature && a.kind === 'drift');
    expect(all, `alerts of ${feature}`).toHaveLength(1);
    return all[0] as AlertView;
  }

  /** An alert action with If-Match set to `version`. */
  act<T = AlertView>(id: number, action: string, body: unknown, version: number | undefined) {
    return this.post<T>(
      `/v1/alerts/${id}/${action}`,
      body,
      version === undefined ? {} : { 'if-match': `"${version}"` },
    );
  }

  async ingest(records: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < records.length; i += 5000) {
      const chunk = records.slice(i, i + 5000);
      const res = await this.post<{ accepted: number; rejected: unknown[] }>('/v1/ingest', chunk);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.accepted).toBe(chunk.length);
    }
  }

  async baseline(model: string, body: string, contentType: string, query: Record<string, string> = {}) {
    const qs = new URLSearchParams(query).toString();
    const res = await this.app.request(`/v1/models/${model}/baselines${qs ? `?${qs}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...bearer(this.token) },
      body,
    });
    const parsed = (await res.json()) as { id: number; active: boolean };
    expect(res.status, JSON.stringify(parsed)).toBe(201);
    return parsed;
  }

  async driftRun(model: string, range?: { from?: string | number; to?: string | number }) {
    const res = await this.post<{ results: DriftResultBody[] }>(`/v1/models/${model}/drift/run`, range ?? '');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.results;
  }
}

// ---- the synthetic model "m": x uniform over 0…199 in training, colour red/green/blue ----

/**
 * `n` records of model m at `ts`. A share `hot` of them sits in the top decile of x (180…199), the rest
 * spread evenly: hot 0 is the training distribution, 0.2 a warning-sized shift, 0.6 a critical one.
 */
export function mBatch(
  prefix: string,
  ts: number,
  hot: number,
  n = 200,
  extra: Record<string, unknown> = {},
): Record<string, unknown>[] {
  const hotEvery = hot === 0 ? 0 : Math.round(hot * 10);
  return Array.from({ length: n }, (_, i) => ({
    model: 'm',
    request_id: `${prefix}-${i}`,
    timestamp: ts + (i % 50) * MIN,
    features: {
      x: i % 10 < hotEvery ? 180 + (i % 20) : (i * 7) % 200,
      color: ['red', 'green', 'blue'][i % 3] as string,
    },
    ...extra,
  }));
}

export interface MApp {
  t: TestApp;
  /** Client with the admin token when auth is on (anonymous otherwise). */
  admin: Client;
  /** Client as the reviewer "ana" when auth is on (anonymous otherwise). */
  reviewer: Client;
  baselineId: number;
  /** Moves the clock and runs the drift tick at that time. */
  tick(now: number): Promise<void>;
  /** Ingests a batch into the bucket starting at `bucket` with the clock at `clockAt`. */
  window(prefix: string, bucket: number, hot: number, clockAt?: number, n?: number): Promise<void>;
  deliveries(): Promise<{ id: number; event: string; payload: string; status: string }[]>;
}

/**
 * Model m with its synthetic baseline, hourly buckets and a one-hour rolling window, so a tick over past
 * hours judges each hour once as a bucket and the (empty) current hour never adds rolling evidence.
 */
export async function setupM(config: ConfigInput = {}, auth = false): Promise<MApp> {
  const t = makeTestApp({
    ...config,
    drift: { bucket: '1h', rollingWindow: '1h', minSamples: 100, ...config.drift },
    ...(auth ? AUTH_CONFIG : {}),
  });
  const admin = new Client(t.app, auth ? TOKENS.admin : undefined);
  const reviewer = new Client(t.app, auth ? TOKENS.reviewer : undefined);
  const ingester = new Client(t.app, auth ? TOKENS.ingest : undefined);
  const b = await admin.baseline('m', JSON.stringify(syntheticTraining()), 'application/json');
  expect(b.active).toBe(true);
  let clock = FIXED_NOW;
  return {
    t,
    admin,
    reviewer,
    baselineId: b.id,
    async tick(now) {
      clock = now;
      t.setNow(now);
      await runDriftTick(t.deps, now);
    },
    async window(prefix, bucket, hot, clockAt, n = 200) {
      // Each ingest gets a later clock than the last, so the tick's watermark separates them.
      clock = clockAt ?? clock + MIN;
      t.setNow(clock);
      await ingester.ingest(mBatch(prefix, bucket, hot, n));
    },
    deliveries: () =>
      t.sql<{ id: number; event: string; payload: string; status: string }>(
        'SELECT id, event, payload, status FROM deliveries ORDER BY id',
      ),
  };
}

/** A webhook channel nobody delivers to in these tests: queued rows show what would be sent. */
export const QUEUE_ONLY = {
  notifications: { channels: [{ name: 'hook', type: 'webhook' as const, url: 'http://127.0.0.1:9/hook' }] },
};
