import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ChannelConfig, Config } from '../config.js';
import { type AppDeps, instanceOf } from '../context.js';
import { ApiError } from '../errors.js';
import { CLAIM_TTL_MS, type DeliveryRow, keepClaimed, type Tx } from '../store/index.js';
import type { AlertView, NotificationEvent } from '../views.js';
import { alertmanagerAlert, renderPayload } from './payloads.js';

/** The event name of Alertmanager keep-alive deliveries (not a NotificationEventType: no one announces it). */
export const RESEND_EVENT = 'alert.resend';

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
 * Queues the event for every channel that takes it, in the caller's transaction, so the notification
 * commits or rolls back with the change it announces.
 */
export async function enqueueNotification(tx: Tx, config: Config, event: NotificationEvent): Promise<number> {
  let inserted = 0;
  for (const channel of config.notifications.channels) {
    if (!channelWants(channel, event.type)) continue;
    const payload = renderPayload(config, channel, event);
    if (payload === null) continue;
    await tx.deliveries.insert({
      channel: channel.name,
      event: event.type,
      payload: JSON.stringify(payload),
      now: event.at,
    });
    inserted++;
  }
  return inserted;
}

/** Alertmanager channels that take firing alerts. */
export function alertmanagerChannels(config: Config): ChannelConfig[] {
  return config.notifications.channels.filter(
    (c) =>
      c.type === 'alertmanager' && (channelWants(c, 'alert.opened') || channelWants(c, 'alert.escalated')),
  );
}

/**
 * Queues the current set of firing alerts to each Alertmanager channel, which otherwise resolves alerts
 * not refreshed within its resolve_timeout. A keep-alive still pending (receiver down) gets the current
 * set instead of a second row, so an outage does not pile them up. Returns deliveries queued or refreshed.
 */
export async function queueAlertmanagerResend(
  tx: Tx,
  config: Config,
  firing: readonly AlertView[],
  now: number,
): Promise<number> {
  let queued = 0;
  const payload = JSON.stringify(firing.map((a) => alertmanagerAlert(config, a)));
  for (const channel of alertmanagerChannels(config)) {
    const pending = await tx.deliveries.pendingOf(channel.name, RESEND_EVENT);
    if (firing.length === 0) {
      // Nothing is firing: a stale keep-alive would only re-fire alerts closed since it was queued.
      if (pending) await tx.deliveries.delete(pending.id);
      continue;
    }
    if (pending) await tx.deliveries.replacePayload(pending.id, payload);
    else await tx.deliveries.insert({ channel: channel.name, event: RESEND_EVENT, payload, now });
    queued++;
  }
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

const DELIVERY_LEASE = 'deliveries';

/**
 * Sends due deliveries (a bounded batch, in queue order per channel, channels in parallel) and records each outcome.
 * Never rejects: receiver problems become retries with backoff, then `failed` after maxAttempts.
 */
export async function runDeliveryTick(
  deps: Pick<AppDeps, 'store' | 'config' | 'clock' | 'log' | 'instance' | 'metrics'>,
  now: number,
  options: { asLeader?: boolean } = {},
): Promise<DeliveryTickResult> {
  const result: DeliveryTickResult = { sent: 0, failed: 0, retried: 0 };
  const { channels: configured, maxAttempts, timeoutMs } = deps.config.notifications;
  // One delivery run at a time, across processes too: a run can outlast the schedule when receivers hang
  // until the timeout. The lease is short and renewed while this run sends, so a live sender is never
  // overtaken, and a new leader resumes what a crashed one left within CLAIM_TTL_MS.
  const holder = instanceOf(deps);
  const acquire = (at: number) =>
    deps.store.tx((tx) => tx.leases.acquire(DELIVERY_LEASE, holder, CLAIM_TTL_MS, at));
  // The job registry runs this tick on the leader only (asLeader): a run another process holds belongs to a
  // leader that died or was deposed, and its claim ends with its leadership, so failover of deliveries takes
  // the leader's failover time, not the claim's TTL. A deposed leader that is still alive finds its claim
  // gone at its next renewal and starts no further send; at most the one in flight may arrive twice, with
  // the same X-Driftwatch-Delivery id.
  const takeOver = () =>
    deps.store.tx(async (tx) => {
      const current = await tx.leases.get(DELIVERY_LEASE);
      if (current && current.holder !== holder) await tx.leases.release(DELIVERY_LEASE, current.holder);
      return tx.leases.acquire(DELIVERY_LEASE, holder, CLAIM_TTL_MS, now);
    });
  if (!(await acquire(now)) && !(options.asLeader && (await takeOver()))) return result;
  const heartbeat = keepClaimed(
    () => acquire(deps.clock()),
    (err) => deps.log.warn({ err }, 'delivery lease lost: sending no more in this run'),
  );
  try {
    const channels = new Map(configured.map((c) => [c.name, c]));
    // Channels are sent to in parallel, each channel's deliveries one after another in queue order; a
    // failure ends that channel's turn so nothing of it overtakes the delivery now waiting for a retry.
    const queues = new Map<string, DeliveryRow[]>();
    for (const row of await deps.store.read((tx) => tx.deliveries.due(now, DELIVERY_BATCH))) {
      const queue = queues.get(row.channel);
      if (queue) queue.push(row);
      else queues.set(row.channel, [row]);
    }
    const pending = [...queues.values()];
    let nextQueue = 0;
    const worker = async () => {
      for (let queue = pending[nextQueue++]; queue !== undefined; queue = pending[nextQueue++]) {
        // Once the lease is lost another process may be sending: what is in flight finishes, nothing new starts.
        for (const row of queue) if (heartbeat.lost() || !(await deliver(row))) break;
      }
    };
    /** Sends one delivery and records the outcome; false when it did not get through. */
    const deliver = async (row: DeliveryRow): Promise<boolean> => {
      // A process that stalled past its lease finds what another sent meanwhile, and leaves the rest to it.
      const current = await deps.store.read((tx) => tx.deliveries.get(row.id));
      if (current?.status !== 'pending' || current.attempts !== row.attempts) return false;
      const channel = channels.get(row.channel);
      const attempts = row.attempts + 1;
      const outcome: Outcome = channel
        ? await send(channel, row, now, timeoutMs)
        : { ok: false, error: `channel "${row.channel}" is no longer configured` };
      if (!outcome.ok) deps.metrics?.notificationFailed(row.channel);
      try {
        if (outcome.ok) {
          await deps.store.tx((tx) => tx.deliveries.markDelivered(row.id, attempts, now));
          result.sent++;
          return true;
        }
        const failed = !channel || attempts >= maxAttempts;
        await deps.store.tx((tx) =>
          tx.deliveries.markAttemptFailed(row.id, {
            status: failed ? 'failed' : 'pending',
            attempts,
            lastError: outcome.error,
            nextAttemptAt: failed ? now : now + backoffMs(attempts),
          }),
        );
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
    // Never rejects: a failure here is logged, and what was not recorded is sent again by a later tick.
    deps.log.error({ err }, 'delivery tick failed');
  } finally {
    await heartbeat.stop();
    await deps.store
      .tx((tx) => tx.leases.release(DELIVERY_LEASE, holder))
      .catch((err: unknown) => {
        deps.log.error({ err }, 'releasing the delivery lease failed');
      });
  }
  return result;
}

export interface DeliveryView {
  id: number;
  channel: string;
  event: string;
  status: DeliveryRow['status'];
  attempts: number;
  /** Only while pending. */
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export function deliveryView(r: DeliveryRow): DeliveryView {
  return {
    id: r.id,
    channel: r.channel,
    event: r.event,
    status: r.status,
    attempts: r.attempts,
    next_attempt_at: r.status === 'pending' ? new Date(r.nextAttemptAt).toISOString() : null,
    last_error: r.lastError,
    created_at: new Date(r.createdAt).toISOString(),
    delivered_at: r.deliveredAt === null ? null : new Date(r.deliveredAt).toISOString(),
  };
}

export async function listDeliveries(
  deps: Pick<AppDeps, 'store'>,
  q: { status?: DeliveryRow['status'] | undefined; channel?: string | undefined; limit: number },
) {
  return (await deps.store.read((tx) => tx.deliveries.list(q))).map(deliveryView);
}

export async function retryDelivery(
  deps: Pick<AppDeps, 'store' | 'clock'>,
  raw: string,
): Promise<DeliveryView> {
  const id = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  return deps.store.tx(async (tx) => {
    const row = Number.isNaN(id) ? undefined : await tx.deliveries.get(id);
    if (!row) throw new ApiError('not_found', `delivery ${raw} does not exist`);
    if (!(await tx.deliveries.requeueFailed(row.id, deps.clock()))) {
      throw new ApiError(
        'conflict',
        `delivery ${row.id} is ${row.status}; only failed deliveries can be retried`,
      );
    }
    const updated = await tx.deliveries.get(row.id);
    if (!updated) throw new ApiError('not_found', `delivery ${raw} does not exist`);
    return deliveryView(updated);
  });
}
