import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertView, NotificationEvent, RetrainRequestView } from '../../src/alerts/types.js';
import type { AppDeps } from '../../src/context.js';
import { enqueueNotification } from '../../src/notifications/service.js';

/** A delivery row as stored (snake_case columns, straight from SQLite). */
export interface DeliveryRow {
  id: number;
  channel: string;
  event: string;
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

/** Queues an event in a transaction of its own, as a service would inside its change. */
export function enqueue(deps: AppDeps, event: NotificationEvent): Promise<number> {
  return deps.store.tx((tx) => enqueueNotification(tx, deps.config, event));
}

import type { TestApp } from '../support.js';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  /** http://127.0.0.1:<port> */
  url: string;
  received: Received[];
  /** Resolves once `n` requests in all were closed by the client before they got an answer. */
  abandoned(n: number): Promise<void>;
  /** Makes the next `n` requests fail the given way. */
  failNext(n: number, how?: 'status' | 'hang'): void;
  close(): Promise<void>;
}

/**
 * A real HTTP receiver on an ephemeral port: the first `failFirst` requests get a 500 (or, with
 * `how: 'hang'`, no answer at all), later ones 200. Every request is recorded, failed ones included;
 * `onRequest` sees each one as it arrives; the request is answered once it has returned (or resolved).
 */
export async function startReceiver(
  options: {
    failFirst?: number;
    how?: 'status' | 'hang';
    onRequest?: (r: Received) => void | Promise<void>;
  } = {},
): Promise<Receiver> {
  let failing = options.failFirst ?? 0;
  let how = options.how ?? 'status';
  const received: Received[] = [];
  let abandoned = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    res.on('close', () => {
      if (res.writableFinished) return;
      abandoned++;
      for (const w of waiters.filter((x) => x.n <= abandoned)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const request = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      received.push(request);
      // The answer is decided on arrival, in arrival order, even when onRequest takes a while.
      const answer = failing > 0 ? how : 'ok';
      if (failing > 0) failing--;
      await options.onRequest?.(request);
      if (answer === 'hang') return;
      if (answer === 'status') {
        res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver is\n  down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    abandoned: (n) =>
      n <= abandoned ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    failNext: (n, h = 'status') => {
      failing = n;
      how = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on which nothing listens: a port that was just bound and released. */
export async function deadUrl(): Promise<string> {
  const r = await startReceiver();
  await r.close();
  return r.url;
}

export const T0 = Date.parse('2026-11-24T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

export function alertView(over: Partial<AlertView> = {}): AlertView {
  return {
    id: 7,
    model: 'iris',
    model_version: 'v2',
    feature: 'petal_length',
    kind: 'drift',
    severity: 'critical',
    status: 'open',
    assignee: null,
    version: 1,
    recovered: false,
    recovered_at: null,
    snoozed_until: null,
    decision: null,
    decision_note: null,
    evidence_count: 3,
    first_seen: iso(T0 - 3 * 3_600_000),
    last_seen: iso(T0 - 3_600_000),
    latest: { psi: 0.312, ks_pvalue: 0.0004, pvalue_adjusted: 0.0012, n: 950 },
    peak: { psi: 0.41 },
    created_at: iso(T0 - 3 * 3_600_000),
    updated_at: iso(T0 - 3_600_000),
    closed_at: null,
    ...over,
  };
}

export function retrainView(over: Partial<RetrainRequestView> = {}): RetrainRequestView {
  return {
    id: 3,
    model: 'iris',
    model_version: 'v2',
    alert_ids: [7, 8],
    requested_by: 'ana',
    reason: 'petal_length shifted after the supplier change',
    status: 'requested',
    produced_version: null,
    version: 1,
    created_at: iso(T0),
    updated_at: iso(T0),
    ...over,
  };
}

export function alertEvent(
  type: NotificationEvent['type'],
  alert: AlertView = alertView(),
): NotificationEvent {
  return { type, at: T0, actor: type === 'alert.closed' ? 'ana' : null, alert };
}

export function deliveryRows(t: TestApp): Promise<DeliveryRow[]> {
  return t.sql<DeliveryRow>('SELECT * FROM deliveries ORDER BY id');
}

export async function deliveryRow(t: TestApp, id: number): Promise<DeliveryRow> {
  const [row] = await t.sql<DeliveryRow>('SELECT * FROM deliveries WHERE id = ?', [id]);
  if (!row) throw new Error(`no delivery ${id}`);
  return row;
}

/** Inserts an alerts row as the alert service would store it (unversioned models as ''). */
export async function insertAlertRow(
  t: TestApp,
  a: {
    model?: string;
    version?: string;
    feature: string;
    severity?: 'warning' | 'critical';
    status?: AlertView['status'];
    closedAt?: number;
  },
): Promise<number> {
  const [row] = await t.sql<{ id: number }>(
    `INSERT INTO alerts (model, model_version, feature, kind, severity, status, evidence_count, first_seen, last_seen,
       peak_psi, latest, peak, created_at, updated_at, closed_at)
     VALUES (?, ?, ?, 'drift', ?, ?, 2, ?, ?, 0.3, ?, ?, ?, ?, ?)
     RETURNING id`,
    [
      a.model ?? 'iris',
      a.version ?? 'v2',
      a.feature,
      a.severity ?? 'warning',
      a.status ?? 'open',
      T0 - 7_200_000,
      T0 - 3_600_000,
      JSON.stringify({ psi: 0.3, ks_pvalue: 0.01 }),
      JSON.stringify({ psi: 0.35 }),
      T0 - 7_200_000,
      T0 - 3_600_000,
      a.closedAt ?? null,
    ],
  );
  if (!row) throw new Error('the alert insert returned no id');
  return Number(row.id);
}
