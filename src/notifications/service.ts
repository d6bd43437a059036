import type { ChannelConfig, Config } from '../config/index.js';
import { type AppDeps, instanceOf } from '../context.js';
import { ApiError } from '../errors.js';
import { CLAIM_TTL_MS, type DeliveryRow, keepClaimed, type Tx } from '../store/index.js';
import type { AlertView, NotificationEvent } from '../views.js';
import { alertmanagerAlert, renderPayload } from './payloads.js';
import { EMAIL_CHANNEL, httpProvider, type Outcome, type Provider } from './providers.js';

export { backoffMs, EMAIL_CHANNEL, type Provider, signPayload, verifySignature } from './providers.js';

/** The event name of Alertmanager keep-alive deliveries (not a NotificationEventType: no one announces it). */
export const RESEND_EVENT = 'alert.resend';

/** Deliveries sent per tick, and how many channels are sent to at once. */
export const DELIVERY_BATCH = 50;
const CONCURRENCY = 4;

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

export interface DeliveryTickResult {
  sent: number;
  failed: number;
  retried: number;
}

const DELIVERY_LEASE = 'deliveries';

type DeliveryDeps = Pick<AppDeps, 'store' | 'config' | 'clock' | 'log' | 'instance' | 'metrics'>;

export interface DeliveryOptions {
  /** Run by the job leader: take the delivery lease over from a holder that is no longer the leader. */
  asLeader?: boolean;
  /** The email provider (src/reports/email.ts) when reports are configured; without it email deliveries wait. */
  email?: Provider | undefined;
}

/**
 * The provider of a delivery: its configured channel's, the email provider for channel "email"; a string
 * (the error) when its channel is no longer configured; null for email when this process sends no email.
 */
function providerFor(
  config: Config,
  row: DeliveryRow,
  email: Provider | undefined,
): Provider | string | null {
  if (row.channel === EMAIL_CHANNEL) return email ?? null;
  const channel = config.notifications.channels.find((c) => c.name === row.channel);
  if (!channel) return `channel "${row.channel}" is no longer configured`;
  const { timeoutMs, maxAttempts } = config.notifications;
  return httpProvider(channel, { timeoutMs, maxAttempts });
}

/**
 * One attempt at a delivery this sender has claimed (`row.attempts` counts it): sends through the provider
 * and records the outcome, compare-and-set on the claim. Returns whether it got through.
 */
async function attemptClaimed(
  deps: DeliveryDeps,
  row: DeliveryRow,
  provider: Provider | string,
  now: number,
  result: DeliveryTickResult,
): Promise<boolean> {
  const { attempts } = row;
  const outcome: Outcome =
    typeof provider === 'string'
      ? { ok: false, error: provider, permanent: true }
      : await provider.send(row, now).catch((err: unknown) => ({ ok: false, error: String(err) }) as const);
  if (!outcome.ok) deps.metrics?.notificationFailed(row.channel);
  try {
    if (outcome.ok) {
      await deps.store.tx((tx) =>
        tx.deliveries.markDelivered(row.id, attempts, now, outcome.receipt ?? null),
      );
      result.sent++;
      return true;
    }
    const failed =
      typeof provider === 'string' || outcome.permanent === true || attempts >= provider.maxAttempts;
    await deps.store.tx((tx) =>
      tx.deliveries.markAttemptFailed(row.id, {
        status: failed ? 'failed' : 'pending',
        attempts,
        lastError: outcome.error,
        nextAttemptAt: failed || typeof provider === 'string' ? now : now + provider.backoffMs(attempts),
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
}

/**
 * Sends due deliveries of every channel, email included (a bounded batch, in queue order per channel, channels
 * in parallel) and records each outcome. Never rejects: receiver problems become retries with the provider's
 * backoff, then `failed` after its maxAttempts.
 */
const adoptionDone = new WeakSet<object>();

export async function runDeliveryTick(
  deps: DeliveryDeps,
  now: number,
  options: DeliveryOptions = {},
): Promise<DeliveryTickResult> {
  const result: DeliveryTickResult = { sent: 0, failed: 0, retried: 0 };
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
  // the same X-Driftwatch-Delivery id (or X-Driftwatch-Report for a mail).
  const takeOver = () =>
    deps.store.tx(async (tx) => {
      const current = await tx.leases.get(DELIVERY_LEASE);
      if (current && current.holder !== holder) await tx.leases.release(DELIVERY_LEASE, current.holder);
      const taken = await tx.leases.acquire(DELIVERY_LEASE, holder, CLAIM_TTL_MS, now);
      // What the previous holder had in flight is due again at once (same delivery ids, at least once).
      if (taken && current && current.holder !== holder)
        await tx.deliveries.releaseHolds(now, now + CLAIM_TTL_MS);
      return taken;
    });
  if (!(await acquire(now)) && !(options.asLeader && (await takeOver()))) return result;
  // Report runs left pending by a version that mailed them outside the outbox are mailed from it now;
  // once per process and store (new runs get their delivery when created).
  if (!adoptionDone.has(deps.store)) {
    const adopted = await deps.store.tx((tx) => tx.deliveries.adoptReportRuns(EMAIL_CHANNEL, now));
    adoptionDone.add(deps.store);
    if (adopted > 0) deps.log.info({ report_runs: adopted }, 'pending report runs queued for mailing');
  }
  const heartbeat = keepClaimed(
    () => acquire(deps.clock()),
    (err) => deps.log.warn({ err }, 'delivery lease lost: sending no more in this run'),
  );
  try {
    // Channels are sent to in parallel, each channel's deliveries one after another in queue order; a
    // failure ends that channel's turn so nothing of it overtakes the delivery now waiting for a retry.
    const queues = new Map<string, { provider: Provider | string; rows: DeliveryRow[] }>();
    for (const row of await deps.store.read((tx) => tx.deliveries.due(now, DELIVERY_BATCH))) {
      const queue = queues.get(row.channel);
      if (queue) queue.rows.push(row);
      else {
        const provider = providerFor(deps.config, row, options.email);
        if (provider !== null) queues.set(row.channel, { provider, rows: [row] });
      }
    }
    const pending = [...queues.values()];
    let nextQueue = 0;
    const worker = async () => {
      for (let queue = pending[nextQueue++]; queue !== undefined; queue = pending[nextQueue++]) {
        // Once the lease is lost another process may be sending: what is in flight finishes, nothing new starts.
        for (const row of queue.rows) if (heartbeat.lost() || !(await deliver(row, queue.provider))) break;
      }
    };
    /** Claims, sends and records one delivery; false when it did not get through. */
    const deliver = async (row: DeliveryRow, provider: Provider | string): Promise<boolean> => {
      // Compare-and-set on the attempts, and held for CLAIM_TTL_MS: a process that stalled past its lease,
      // or a second run, finds the row claimed and not due, and leaves it to its sender; if that sender
      // dies, the row is due again within CLAIM_TTL_MS (the rest of the queue goes on at once).
      const claimed = await deps.store.tx((tx) =>
        tx.deliveries.claim(row.id, row.attempts, now + CLAIM_TTL_MS),
      );
      if (!claimed) return false;
      return attemptClaimed(deps, { ...row, attempts: row.attempts + 1 }, provider, now, result);
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

/**
 * Sends one delivery now, outside the delivery run (POST /v1/reports/:name/send answers with the outcome).
 * The caller queued and claimed it in one transaction with `claim(id, 0, now + CLAIM_TTL_MS)`, so no run
 * takes it; the hold is renewed while this sends, and if this process dies the delivery is due, and sent
 * by the delivery run, within CLAIM_TTL_MS. Never rejects.
 */
export async function sendClaimedNow(
  deps: DeliveryDeps,
  id: number,
  provider: Provider,
  now: number,
): Promise<DeliveryTickResult> {
  const result: DeliveryTickResult = { sent: 0, failed: 0, retried: 0 };
  const row = await deps.store.read((tx) => tx.deliveries.get(id));
  if (row?.status !== 'pending') return result;
  const heartbeat = keepClaimed(
    () => deps.store.tx((tx) => tx.deliveries.hold(id, row.attempts, deps.clock() + CLAIM_TTL_MS)),
    (err) => deps.log.warn({ err, delivery: id }, 'delivery hold lost while sending'),
  );
  try {
    await attemptClaimed(deps, row, provider, now, result);
  } finally {
    await heartbeat.stop();
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
