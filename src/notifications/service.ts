import { createHmac, timingSafeEqual } from 'node:crypto';
import type { NotificationEvent } from '../alerts/types.js';
import type { ChannelConfig } from '../config.js';
import type { AppDeps } from '../context.js';
import type { Database } from '../db/client.js';
import { alertmanagerAlert, renderPayload } from './payloads.js';
import {
  type DeliveryRow,
  deleteDelivery,
  dueDeliveries,
  insertDelivery,
  markAttemptFailed,
  markDelivered,
  pendingResend,
  RESEND_EVENT,
  replacePayload,
  firingAlertViews,
} from './queries.js';

type Deps = Pick<AppDeps, 'db' | 'config' | 'clock'>;

/** Deliveries sent per tick, and how many channels are sent to at once. */
export const DELIVERY_BATCH = 50;
const CONCURRENCY = 4;
const BACKOFF_BASE_MS = 5_000;
const BACKOFF_MAX_MS = 3_600_000;
const ERROR_BODY_CHARS = 200;

/** Delay before the next attempt after `attempts` failed ones: 5 s, 10 s, 20 s, … capped at 1 h. */
export function backoffMs(attempts: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/**
 * Webhook signature scheme, for receivers:
 *   X-Driftwatch-Timestamp: <unix seconds when sent>
 *   X-Driftwatch-Signature: sha256=<hex HMAC-SHA256 keyed with the channel secret over `${timestamp}.${body}`>
 * where body is the raw request body bytes (UTF-8 JSON) exactly as received, before any parsing.
 * Compare in constant time, and reject timestamps far from your clock (e.g. more than 5 minutes) so a
 * captured request cannot be replayed; X-Driftwatch-Delivery is a stable id for de-duplicating retries.
 * Returns the full header value, `sha256=<hex>`.
 */
export function signPayload(secret: string, timestamp: number | string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Checks an X-Driftwatch-Signature header value in constant time (see signPayload for the scheme). */
export function verifySignature(
  secret: string,
  timestamp: number | string,
  body: string,
  header: string | null | undefined,
): boolean {
  if (!header) return false;
  const expected = Buffer.from(signPayload(secret, timestamp, body));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** No filter: every event. Entries are event types, `alert.*`-style prefixes or `*`. */
export function channelWants(channel: ChannelConfig, type: string): boolean {
  if (!channel.events) return true;
  return channel.events.some(
    (e) => e === type || e === '*' || (e.endsWith('.*') && type.startsWith(e.slice(0, -1))),
  );
}

/**
 * Queues the event for every channel that takes it. Synchronous and local only (it runs inside the
 * caller's SQLite transaction, so the notification commits or rolls back with the change it announces).
 */
export function enqueueNotification(deps: Deps, event: NotificationEvent): number {
  const now = deps.clock();
  let inserted = 0;
  for (const channel of deps.config.notifications.channels) {
    if (!channelWants(channel, event.type)) continue;
    const payload = renderPayload(deps.config, channel, event);
    if (payload === null) continue;
    insertDelivery(deps.db, {
      channel: channel.name,
      event: event.type,
      payload: JSON.stringify(payload),
      now,
    });
    inserted++;
  }
  return inserted;
}

/**
 * Re-sends every unclosed alert to each Alertmanager channel, which otherwise resolves alerts not
 * refreshed within its resolve_timeout. A resend still pending (receiver down) gets the current set
 * instead of a second row, so an outage does not pile up keep-alives. Returns deliveries queued or refreshed.
 */
export function runAlertmanagerResendTick(deps: AppDeps, now: number): number {
  const channels = deps.config.notifications.channels.filter(
    (c) =>
      c.type === 'alertmanager' && (channelWants(c, 'alert.opened') || channelWants(c, 'alert.escalated')),
  );
  if (channels.length === 0) return 0;
  let queued = 0;
  deps.db.sqlite.transaction(() => {
    const alerts = firingAlertViews(deps.db, now);
    const payload = JSON.stringify(alerts.map((a) => alertmanagerAlert(deps.config, a)));
    for (const channel of channels) {
      const pending = pendingResend(deps.db, channel.name);
      if (alerts.length === 0) {
        // Nothing is firing: a stale keep-alive would only re-fire alerts closed since it was queued.
        if (pending) deleteDelivery(deps.db, pending.id);
        continue;
      }
      if (pending) replacePayload(deps.db, pending.id, payload);
      else insertDelivery(deps.db, { channel: channel.name, event: RESEND_EVENT, payload, now });
      queued++;
    }
  })();
  return queued;
}

type Outcome = { ok: true } | { ok: false; error: string };

function targetUrl(channel: ChannelConfig): string {
  return channel.type === 'alertmanager' ? `${channel.url.replace(/\/+$/, '')}/api/v2/alerts` : channel.url;
}

function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
    // undici reports "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, …) in cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message;
    return detail ? `${err.message}: ${detail}` : err.message;
  }
  return String(err);
}

async function send(
  channel: ChannelConfig,
  row: DeliveryRow,
  now: number,
  timeoutMs: number,
): Promise<Outcome> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'driftwatch' };
  if (channel.type === 'webhook') {
    const timestamp = Math.floor(now / 1000);
    headers['x-driftwatch-event'] = row.event;
    headers['x-driftwatch-delivery'] = String(row.id);
    headers['x-driftwatch-timestamp'] = String(timestamp);
    if (channel.secret)
      headers['x-driftwatch-signature'] = signPayload(channel.secret, timestamp, row.payload);
  }
  try {
    const res = await fetch(targetUrl(channel), {
      method: 'POST',
      headers,
      body: row.payload,
      // A redirect is a misconfigured URL, not a success; do not re-post the body elsewhere.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel().catch(() => {});
      return { ok: true };
    }
    let text = '';
    try {
      text = (await res.text()).replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
    } catch {
      // The status is the useful part; a body that cannot be read within the timeout adds nothing.
    }
    return { ok: false, error: `HTTP ${res.status}${text ? `: ${text}` : ''}` };
  } catch (err) {
    return { ok: false, error: networkError(err, timeoutMs) };
  }
}

export interface DeliveryTickResult {
  sent: number;
  failed: number;
  retried: number;
}

// One tick at a time per database: a tick can outlast the schedule when receivers hang until the timeout.
const running = new WeakSet<Database>();

/**
 * Sends due deliveries (a bounded batch, in queue order per channel, channels in parallel) and records each outcome.
 * Never rejects: receiver problems become retries with backoff, then `failed` after maxAttempts.
 */
export async function runDeliveryTick(deps: AppDeps, now: number): Promise<DeliveryTickResult> {
  const result: DeliveryTickResult = { sent: 0, failed: 0, retried: 0 };
  if (running.has(deps.db)) return result;
  running.add(deps.db);
  try {
    const { channels: configured, maxAttempts, timeoutMs } = deps.config.notifications;
    const channels = new Map(configured.map((c) => [c.name, c]));
    // Channels are sent to in parallel, each channel's deliveries one after another in queue order; a
    // failure ends that channel's turn so nothing of it overtakes the delivery now waiting for a retry.
    const queues = new Map<string, DeliveryRow[]>();
    for (const row of dueDeliveries(deps.db, now, DELIVERY_BATCH)) {
      const queue = queues.get(row.channel);
      if (queue) queue.push(row);
      else queues.set(row.channel, [row]);
    }
    const pending = [...queues.values()];
    let nextQueue = 0;
    const worker = async () => {
      for (let queue = pending[nextQueue++]; queue !== undefined; queue = pending[nextQueue++]) {
        for (const row of queue) if (!(await deliver(row))) break;
      }
    };
    /** Sends one delivery and records the outcome; false when it did not get through. */
    const deliver = async (row: DeliveryRow): Promise<boolean> => {
      const channel = channels.get(row.channel);
      const attempts = row.attempts + 1;
      const outcome: Outcome = channel
        ? await send(channel, row, now, timeoutMs)
        : { ok: false, error: `channel "${row.channel}" is no longer configured` };
      try {
        if (outcome.ok) {
          markDelivered(deps.db, row.id, attempts, now);
          result.sent++;
          return true;
        }
        const failed = !channel || attempts >= maxAttempts;
        markAttemptFailed(deps.db, row.id, {
          status: failed ? 'failed' : 'pending',
          attempts,
          lastError: outcome.error,
          nextAttemptAt: failed ? now : now + backoffMs(attempts),
        });
        if (failed) result.failed++;
        else result.retried++;
        deps.log.warn(
          {
            delivery: row.id,
            channel: row.channel,
            event: row.event,
            attempts,
            error: outcome.error,
            gave_up: failed,
          },
          'notification delivery failed',
        );
      } catch (err) {
        deps.log.error({ err, delivery: row.id }, 'recording a delivery outcome failed');
      }
      return false;
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, pending.length) }, worker));
  } catch (err) {
    // The scheduler does not await ticks, so a rejection here would be unhandled.
    deps.log.error({ err }, 'delivery tick failed');
  } finally {
    running.delete(deps.db);
  }
  return result;
}
