import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { ConfigInput } from '../../src/config/index.js';
import type { AppDeps } from '../../src/context.js';
import { runDeliveryTick } from '../../src/notifications/service.js';
import { emailProvider } from '../../src/reports/email.js';
import { runReportsTick } from '../../src/reports/service.js';
import type { AlertKind } from '../../src/store/index.js';
import { ingestJson } from '../helpers.js';
import { freePort } from '../ports.js';
import { makeTestApp, type TestApp } from '../support.js';

export { freePort };

/** A free TCP port nothing listens on (yet): SMTP "down" until a server is started on it. */

export interface MailSink {
  port: number;
  mails: (ParsedMail & { envelopeTo: string[]; authUser: string | undefined })[];
  close(): Promise<void>;
}

/**
 * A real SMTP server in the test process (no TLS, auth optional) keeping every message it receives, parsed.
 * `beforeAccept` runs when a message's data arrives (the n-th, from 1) and holds the answer until it settles.
 */
export async function startSmtp(port = 0, beforeAccept?: (n: number) => Promise<void>): Promise<MailSink> {
  let arrived = 0;
  const mails: MailSink['mails'] = [];
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'dw' && auth.password === 'smtp-secret') cb(null, { user: auth.username });
      else cb(new Error('bad credentials'));
    },
    onData(stream, session, cb) {
      const held = beforeAccept?.(++arrived) ?? Promise.resolve();
      simpleParser(stream, { keepCidLinks: true })
        .then(async (mail) => {
          await held;
          return mail;
        })
        .then(
          (mail) => {
            mails.push(
              Object.assign(mail, {
                envelopeTo: session.envelope.rcptTo.map((r) => r.address),
                authUser: session.user as string | undefined,
              }),
            );
            cb();
          },
          (err: Error) => cb(err),
        );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    mails,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const DAILY = {
  name: 'daily',
  cron: '0 8 * * *',
  timezone: 'Europe/Berlin',
  to: ['ml-team@example.com', 'oncall@example.com'],
  period: '24h',
};

export function reportsApp(port: number, extra: ConfigInput = {}): TestApp {
  return makeTestApp({
    notifications: { externalUrl: 'https://driftwatch.example.com' },
    reports: {
      smtp: {
        host: '127.0.0.1',
        port,
        secure: false,
        auth: { user: 'dw', pass: 'smtp-secret' },
        from: 'driftwatch@example.com',
        timeoutMs: 2_000,
      },
      schedules: [DAILY],
      maxAttempts: 3,
    },
    ...extra,
  } as ConfigInput);
}

/** Records of two models in the period of the 24 Nov 2026 daily report (23 Nov 07:00Z – 24 Nov 07:00Z). */
export async function seedTraffic(t: TestApp): Promise<void> {
  const records = [];
  for (let i = 0; i < 20; i++)
    records.push({
      model: 'fraud',
      model_version: 'v3',
      request_id: `f-${i}`,
      timestamp: `2026-11-24T0${3 + (i % 3)}:00:00Z`,
      features: { amount: i },
      latency_ms: 10 + i,
      status: i < 2 ? 'error' : 'ok',
    });
  for (let i = 0; i < 5; i++)
    records.push({
      model: 'iris',
      request_id: `i-${i}`,
      timestamp: '2026-11-24T04:00:00Z',
      features: { petal_width: 1.5 },
      latency_ms: 3,
    });
  const res = await ingestJson(t.app, records);
  if (res.status !== 200) throw new Error(`ingest: ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * A stored drift result of `model` whose window ends at `to`: a 24-hour rolling window of 500 records unless
 * `window` says otherwise. A feature with `drifted: null` had too few values for a verdict.
 */
export async function seedDrift(
  t: TestApp,
  model: string,
  version: string,
  to: string,
  features: { feature: string; psi: number; drifted: boolean | null; severity?: string }[],
  window: { kind?: 'rolling' | 'bucket'; hours?: number; n?: number } = {},
): Promise<void> {
  const kind = window.kind ?? 'rolling';
  const n = window.n ?? 500;
  const end = Date.parse(to);
  const from = end - (window.hours ?? 24) * 3_600_000;
  const judged = features.filter((f) => f.drifted !== null);
  const drifted = judged.length === 0 ? null : judged.some((f) => f.drifted);
  await t.store.tx((tx) =>
    tx.drift.upsertResult({
      model,
      modelVersion: version,
      baselineId: 1,
      windowKind: kind,
      windowFrom: from,
      windowTo: end,
      n,
      drifted,
      driftedShare: judged.length === 0 ? null : judged.filter((f) => f.drifted).length / judged.length,
      evaluatedAt: end,
      result: JSON.stringify({
        model,
        model_version: version,
        baseline_id: 1,
        window_kind: kind,
        window: { from: new Date(from).toISOString(), to },
        n,
        features: features.map((f) => ({
          feature: f.feature,
          psi: f.psi,
          drifted: f.drifted,
          severity: f.drifted ? (f.severity ?? 'warning') : 'none',
        })),
        prediction: null,
        unknown_features: [],
        drifted_share: null,
        drifted,
        performance: { labeled: 0, label_coverage: null, accuracy: null, mae: null, rmse: null },
        rebuilding: null,
        evaluated_at: to,
      }),
    }),
  );
}

export async function seedAlert(
  t: TestApp,
  model: string,
  feature: string,
  severity: 'warning' | 'critical',
  kind: AlertKind = 'drift',
): Promise<number> {
  const at = Date.parse('2026-11-24T05:00:00Z');
  const row = await t.store.tx((tx) =>
    tx.alerts.insert({
      model,
      modelVersion: 'v3',
      feature,
      kind,
      severity,
      status: 'open',
      evidenceCount: 1,
      firstSeen: at,
      lastSeen: at,
      peakPsi: 0.4,
      latest: '{}',
      peak: '{}',
      createdAt: at,
      updatedAt: at,
    }),
  );
  if (!row) throw new Error('alert not inserted');
  return row.id;
}

/**
 * What the leader's jobs do at `now`: the reports job creates due runs (their mails queued in the outbox),
 * then the delivery loop sends what is due through the email provider. Both results, merged.
 */
export async function reportsAndDeliveries(deps: AppDeps, now: number) {
  const created = await runReportsTick(deps, now);
  const sent = await runDeliveryTick(deps, now, { email: emailProvider(deps) });
  return { ...created, ...sent };
}
