import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelConfig } from '../../src/config/index.js';
import type { AppDeps } from '../../src/context.js';
import { notificationRoutes } from '../../src/notifications/routes.js';
import {
  backoffMs,
  DELIVERY_BATCH,
  enqueueNotification,
  runDeliveryTick,
  signPayload,
  verifySignature,
} from '../../src/notifications/service.js';
import { CLAIM_TTL_MS } from '../../src/store/index.js';
import { makeTestApp, postJson, type TestApp } from '../support.js';
import {
  alertEvent,
  alertView,
  deadUrl,
  deliveryRow,
  deliveryRows,
  enqueue,
  type Receiver,
  retrainView,
  startReceiver,
  T0,
} from './helpers.js';

const SECRET = 'whsec-test-0123456789';

let t: TestApp | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  t?.close();
  t = undefined;
  await receiver?.close();
  receiver = undefined;
});

function app(channels: ChannelConfig[], extra: { timeoutMs?: number; maxAttempts?: number } = {}): TestApp {
  t = makeTestApp({ notifications: { channels, ...extra } });
  t.setNow(T0);
  t.app.route('/', notificationRoutes());
  return t;
}

interface DeliveryBody {
  id: number;
  channel: string;
  event: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

async function listDeliveries(a: TestApp, query = ''): Promise<DeliveryBody[]> {
  const res = await a.app.request(`/v1/notifications/deliveries${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { deliveries: DeliveryBody[] }).deliveries;
}

describe('webhook signature', () => {
  it('is sha256=HMAC-SHA256(secret, "<timestamp>.<body>") in hex', async () => {
    // Reference value computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac k
    expect(signPayload('k', 1700000000, '{"a":1}')).toBe(
      'sha256=1b6ad1bc9bf48c52ce01939866d5877c6cc4e87ddad27e16673cb8c4964394a3',
    );
    const header = signPayload(SECRET, 1700000000, '{"a":1}');
    expect(header).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature(SECRET, 1700000000, '{"a":1}', header)).toBe(true);
    expect(verifySignature(SECRET, '1700000000', '{"a":1}', header)).toBe(true);
    expect(verifySignature('another-secret', 1700000000, '{"a":1}', header)).toBe(false);
    expect(verifySignature(SECRET, 1700000000, '{"a":2}', header)).toBe(false);
    expect(verifySignature(SECRET, 1700000001, '{"a":1}', header)).toBe(false);
    expect(verifySignature(SECRET, 1700000000, '{"a":1}', header.slice(0, -1))).toBe(false);
    expect(verifySignature(SECRET, 1700000000, '{"a":1}', undefined)).toBe(false);
  });
});

describe('delivery to a real receiver that fails first', () => {
  it('retries with exponential backoff, then delivers a signed webhook with its headers', async () => {
    receiver = await startReceiver({ failFirst: 2 });
    const a = app([{ name: 'hooks', type: 'webhook', url: `${receiver.url}/hook`, secret: SECRET }], {
      maxAttempts: 5,
    });

    expect(await enqueue(a.deps, alertEvent('alert.opened'))).toBe(1);
    const [queued] = await deliveryRows(a);
    expect(queued).toMatchObject({
      channel: 'hooks',
      event: 'alert.opened',
      status: 'pending',
      attempts: 0,
      next_attempt_at: T0,
    });
    const id = queued?.id ?? 0;

    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 0, failed: 0, retried: 1 });
    expect(await deliveryRow(a, id)).toMatchObject({
      status: 'pending',
      attempts: 1,
      next_attempt_at: T0 + 5_000,
      last_error: 'HTTP 500: receiver is down',
    });

    // Not due yet: nothing is sent.
    expect(await runDeliveryTick(a.deps, T0 + 4_999)).toEqual({ sent: 0, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(1);

    expect(await runDeliveryTick(a.deps, T0 + 5_000)).toEqual({ sent: 0, failed: 0, retried: 1 });
    expect(await deliveryRow(a, id)).toMatchObject({ attempts: 2, next_attempt_at: T0 + 5_000 + 10_000 });

    const sentAt = T0 + 15_000;
    expect(await runDeliveryTick(a.deps, sentAt)).toEqual({ sent: 1, failed: 0, retried: 0 });
    expect(await deliveryRow(a, id)).toMatchObject({
      status: 'delivered',
      attempts: 3,
      delivered_at: sentAt,
    });
    expect(await runDeliveryTick(a.deps, sentAt + 3_600_000)).toEqual({ sent: 0, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(3);

    const last = receiver.received[2];
    if (!last) throw new Error('no request');
    expect(last.method).toBe('POST');
    expect(last.path).toBe('/hook');
    expect(last.headers['content-type']).toBe('application/json');
    expect(last.headers['x-driftwatch-event']).toBe('alert.opened');
    expect(last.headers['x-driftwatch-delivery']).toBe(String(id));
    const timestamp = last.headers['x-driftwatch-timestamp'];
    expect(timestamp).toBe(String(Math.floor(sentAt / 1000)));
    const signature = last.headers['x-driftwatch-signature'] as string;
    expect(verifySignature(SECRET, String(timestamp), last.body, signature)).toBe(true);
    expect(verifySignature('wrong-secret-000', String(timestamp), last.body, signature)).toBe(false);
    expect(
      verifySignature(
        SECRET,
        String(timestamp),
        last.body.replace('petal_length', 'sepal_length'),
        signature,
      ),
    ).toBe(false);

    expect(JSON.parse(last.body)).toEqual({
      event: 'alert.opened',
      at: new Date(T0).toISOString(),
      actor: null,
      alert: alertView(),
      link: 'http://127.0.0.1:8080/v1/alerts/7',
    });
  });

  it('treats a receiver that hangs past timeoutMs as a failed attempt without holding up the tick', async () => {
    receiver = await startReceiver({ failFirst: 1, how: 'hang' });
    // What the hung "hooks" delivery looked like each time the healthy channel received a request.
    const hooksSeenByChat: { status: string; last_error: string | null }[] = [];
    const chat = await startReceiver({
      onRequest: async () => {
        const { status, last_error } = await deliveryRow(a, 1);
        hooksSeenByChat.push({ status, last_error });
      },
    });
    const a = app(
      [
        { name: 'hooks', type: 'webhook', url: receiver.url },
        { name: 'chat', type: 'slack', url: chat.url },
      ],
      { timeoutMs: 200 },
    );
    try {
      await enqueue(a.deps, alertEvent('alert.escalated'));
      await enqueue(a.deps, alertEvent('alert.closed'));
      expect((await deliveryRows(a)).map((r) => [r.id, r.channel])).toEqual([
        [1, 'hooks'],
        [2, 'chat'],
        [3, 'hooks'],
        [4, 'chat'],
      ]);

      // The receiver never answers, yet the tick settles: the attempt ends at the timeout, not the receiver.
      expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 2, failed: 0, retried: 1 });
      // The client gave up on the request: the receiver saw the connection close with no answer sent.
      await receiver.abandoned(1);
      expect(await deliveryRow(a, 1)).toMatchObject({
        status: 'pending',
        attempts: 1,
        last_error: 'timed out after 200 ms',
        next_attempt_at: T0 + 5_000,
      });
      // The hung channel's later delivery waited behind it instead of being sent out of order…
      expect(receiver.received.map((r) => r.headers['x-driftwatch-event'])).toEqual(['alert.escalated']);
      expect(await deliveryRow(a, 3)).toMatchObject({ status: 'pending', attempts: 0 });
      // …while the other channel was served during the hang: its first request arrived before the hung
      // attempt was recorded. (Both start together, and chat has the same 200 ms budget, which sent: 2
      // above already shows it kept; a tick that sent one channel after another would see the timeout
      // recorded. The attempt itself is counted when it is claimed, before the request.)
      expect(hooksSeenByChat).toHaveLength(2);
      expect(hooksSeenByChat[0]).toEqual({ status: 'pending', last_error: null });
      expect(await deliveryRow(a, 4)).toMatchObject({ status: 'delivered', attempts: 1 });

      expect(await runDeliveryTick(a.deps, T0 + 5_000)).toEqual({ sent: 2, failed: 0, retried: 0 });
      expect((await deliveryRows(a)).map((r) => [r.status, r.attempts])).toEqual([
        ['delivered', 2],
        ['delivered', 1],
        ['delivered', 1],
        ['delivered', 1],
      ]);
      expect(receiver.received.map((r) => r.headers['x-driftwatch-event'])).toEqual([
        'alert.escalated',
        'alert.escalated',
        'alert.closed',
      ]);
      // No secret configured: the other headers are sent, the signature is not.
      expect(receiver.received[1]?.headers['x-driftwatch-signature']).toBeUndefined();
    } finally {
      await chat.close();
    }
  });

  it('sends each delivery once per tick, a bounded batch at a time, oldest first', async () => {
    receiver = await startReceiver();
    const a = app([{ name: 'hooks', type: 'webhook', url: receiver.url }]);
    for (let i = 1; i <= DELIVERY_BATCH + 5; i++) {
      await enqueue(a.deps, {
        type: 'rollback.requested',
        at: T0,
        actor: 'ana',
        note: `rollback ${i}`,
      });
    }
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: DELIVERY_BATCH, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(DELIVERY_BATCH);
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 5, failed: 0, retried: 0 });
    const notes = receiver.received.map((r) => (JSON.parse(r.body) as { note: string }).note);
    expect(new Set(notes).size).toBe(DELIVERY_BATCH + 5);
    expect(notes.slice(DELIVERY_BATCH)).toEqual([
      'rollback 51',
      'rollback 52',
      'rollback 53',
      'rollback 54',
      'rollback 55',
    ]);
  });
});

describe('ordering', () => {
  it("keeps a channel's deliveries in queue order while one waits for a retry; other channels go on", async () => {
    receiver = await startReceiver({ failFirst: 1 });
    const other = await startReceiver();
    try {
      const a = app([
        { name: 'hooks', type: 'webhook', url: receiver.url },
        { name: 'chat', type: 'slack', url: other.url },
      ]);
      await enqueue(a.deps, alertEvent('alert.opened'));
      await enqueue(a.deps, alertEvent('alert.closed'));

      // "opened" fails on hooks: its "closed" must not overtake it; chat gets both at once.
      expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 2, failed: 0, retried: 1 });
      expect(receiver.received.map((r) => r.headers['x-driftwatch-event'])).toEqual(['alert.opened']);
      expect(other.received).toHaveLength(2);

      // Still inside the backoff: nothing of hooks is due, not even the later "closed".
      expect(await runDeliveryTick(a.deps, T0 + 4_000)).toEqual({ sent: 0, failed: 0, retried: 0 });

      expect(await runDeliveryTick(a.deps, T0 + backoffMs(1))).toEqual({ sent: 2, failed: 0, retried: 0 });
      expect(receiver.received.map((r) => r.headers['x-driftwatch-event'])).toEqual([
        'alert.opened',
        'alert.opened',
        'alert.closed',
      ]);
    } finally {
      await other.close();
    }
  });
});

/** A gate the receiver waits on before answering, opened by the test. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((done) => {
    open = done;
  });
  return { wait, open };
}

describe('the delivery lease across processes', () => {
  /** Two processes on one store, each with its own identity and clock. */
  function twoProcesses(a: TestApp) {
    const clocks = { a: T0, b: T0 };
    const deps = (name: 'a' | 'b'): AppDeps => ({ ...a.deps, instance: name, clock: () => clocks[name] });
    return { clocks, a: deps('a'), b: deps('b') };
  }

  async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((done) => setTimeout(done, 20));
    }
  }

  it('lets another process resume the deliveries of a sender that stopped renewing once CLAIM_TTL_MS has passed', async () => {
    const held = gate();
    const arrived = gate();
    receiver = await startReceiver({
      onRequest: async () => {
        // The first request is the one "in flight when its sender died": it is answered only at the end.
        if (receiver?.received.length === 1) {
          arrived.open();
          await held.wait;
        }
      },
    });
    const t = app([{ name: 'hooks', type: 'webhook', url: receiver.url }], { timeoutMs: 20_000 });
    const p = twoProcesses(t);
    await enqueue(t.deps, alertEvent('alert.opened'));
    await enqueue(t.deps, alertEvent('alert.closed'));

    // Process a takes the run and is mid-send; its clock stands still from here on, as a dead process's
    // would, so its renewals never move the lease past T0 + CLAIM_TTL_MS.
    const first = runDeliveryTick(p.a, T0);
    await arrived.wait;
    // While a's lease is fresh, b sends nothing (no double send while the holder is alive and renewing).
    p.clocks.b = T0 + CLAIM_TTL_MS - 1;
    expect(await runDeliveryTick(p.b, p.clocks.b)).toEqual({ sent: 0, failed: 0, retried: 0 });
    // Once it has run out, b resumes at once — not after a lease sized by the batch and the timeout.
    p.clocks.b = T0 + CLAIM_TTL_MS + 1;
    expect(await runDeliveryTick(p.b, p.clocks.b)).toEqual({ sent: 2, failed: 0, retried: 0 });
    expect((await deliveryRows(t)).map((r) => r.status)).toEqual(['delivered', 'delivered']);

    held.open();
    await first;
    // At least once: the delivery in flight at the takeover arrived twice, under the same delivery id.
    const ids = receiver.received.map((r) => r.headers['x-driftwatch-delivery']);
    expect(ids).toEqual(['1', '1', '2']);
  });

  it('lets a new leader take the deliveries over at once from a holder that is no longer the leader', async () => {
    const held = gate();
    const arrived = gate();
    receiver = await startReceiver({
      onRequest: async () => {
        if (receiver?.received.length === 1) {
          arrived.open();
          await held.wait;
        }
      },
    });
    const t = app([{ name: 'hooks', type: 'webhook', url: receiver.url }], { timeoutMs: 20_000 });
    const p = twoProcesses(t);
    await enqueue(t.deps, alertEvent('alert.opened'));
    await enqueue(t.deps, alertEvent('alert.closed'));

    // a, the old leader, is mid-send with a fresh lease; b became the leader a moment later.
    const first = runDeliveryTick(p.a, T0);
    await arrived.wait;
    p.clocks.b = T0 + 1;
    // Not as the leader (a direct call), b leaves a fresh lease alone ...
    expect(await runDeliveryTick(p.b, p.clocks.b)).toEqual({ sent: 0, failed: 0, retried: 0 });
    // ... as the leader, it takes it over without waiting out CLAIM_TTL_MS.
    expect(await runDeliveryTick(p.b, p.clocks.b, { asLeader: true })).toEqual({
      sent: 2,
      failed: 0,
      retried: 0,
    });
    const [lease] = await t.sql<{ holder: string }>("SELECT holder FROM leases WHERE name = 'deliveries'");
    expect(lease).toBeUndefined(); // b released it at the end of its run

    held.open();
    await first;
    // a starts nothing after the takeover: its second delivery was sent once, by b.
    const ids = receiver.received.map((r) => r.headers['x-driftwatch-delivery']);
    expect(ids).toEqual(['1', '1', '2']);
    expect((await deliveryRows(t)).map((r) => r.status)).toEqual(['delivered', 'delivered']);
  });

  it('keeps the lease of a live sender renewed, however long its run takes', async () => {
    const held = gate();
    const arrived = gate();
    receiver = await startReceiver({
      onRequest: async () => {
        if (receiver?.received.length === 1) {
          arrived.open();
          await held.wait;
        }
      },
    });
    const t = app([{ name: 'hooks', type: 'webhook', url: receiver.url }], { timeoutMs: 20_000 });
    const p = twoProcesses(t);
    await enqueue(t.deps, alertEvent('alert.opened'));
    await enqueue(t.deps, alertEvent('alert.closed'));

    const first = runDeliveryTick(p.a, T0);
    await arrived.wait;
    // Time passes for both beyond the first lease; a, alive, renews it while its request is in flight.
    p.clocks.a = T0 + CLAIM_TTL_MS + 1;
    p.clocks.b = T0 + CLAIM_TTL_MS + 1;
    await until('a renewal of the delivery lease', async () => {
      const [lease] = await t.sql<{ holder: string; expires_at: number }>(
        "SELECT holder, expires_at FROM leases WHERE name = 'deliveries'",
      );
      return lease && Number(lease.expires_at) > p.clocks.a ? lease : undefined;
    });
    expect(await runDeliveryTick(p.b, p.clocks.b)).toEqual({ sent: 0, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(1);

    held.open();
    expect(await first).toEqual({ sent: 2, failed: 0, retried: 0 });
    expect(receiver.received.map((r) => r.headers['x-driftwatch-delivery'])).toEqual(['1', '2']);
    // The run handed the lease back: the next run of any process starts at once.
    expect(await t.sql("SELECT holder FROM leases WHERE name = 'deliveries'")).toEqual([]);
  });
});

describe('backoff', () => {
  it('doubles from 5 s and is capped at an hour', async () => {
    expect([1, 2, 3, 4, 5].map(backoffMs)).toEqual([5_000, 10_000, 20_000, 40_000, 80_000]);
    expect(backoffMs(10)).toBe(2_560_000);
    expect(backoffMs(11)).toBe(3_600_000);
    expect(backoffMs(40)).toBe(3_600_000);
  });
});

describe('failed deliveries and the API', () => {
  it('marks a delivery failed after maxAttempts, lists it, and retries it on request', async () => {
    receiver = await startReceiver({ failFirst: 3 });
    const a = app(
      [
        { name: 'hooks', type: 'webhook', url: receiver.url },
        { name: 'chat', type: 'slack', url: `${receiver.url}/slack`, events: ['retrain.requested'] },
      ],
      { maxAttempts: 3 },
    );
    await enqueue(a.deps, alertEvent('alert.opened'));
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 0, failed: 0, retried: 1 });
    expect(await runDeliveryTick(a.deps, T0 + 5_000)).toEqual({ sent: 0, failed: 0, retried: 1 });
    expect(await runDeliveryTick(a.deps, T0 + 15_000)).toEqual({ sent: 0, failed: 1, retried: 0 });
    expect(await runDeliveryTick(a.deps, T0 + 86_400_000)).toEqual({ sent: 0, failed: 0, retried: 0 });
    expect(receiver.received).toHaveLength(3);

    a.setNow(T0 + 60_000);
    await enqueue(a.deps, {
      type: 'retrain.requested',
      at: T0 + 60_000,
      actor: 'ana',
      retrainRequest: retrainView(),
    });

    const failed = await listDeliveries(a, '?status=failed');
    expect(failed).toEqual([
      {
        id: 1,
        channel: 'hooks',
        event: 'alert.opened',
        status: 'failed',
        attempts: 3,
        next_attempt_at: null,
        last_error: 'HTTP 500: receiver is down',
        created_at: new Date(T0).toISOString(),
        delivered_at: null,
      },
    ]);
    // Newest first; filters by channel.
    expect((await listDeliveries(a)).map((d) => [d.id, d.channel, d.event])).toEqual([
      [3, 'chat', 'retrain.requested'],
      [2, 'hooks', 'retrain.requested'],
      [1, 'hooks', 'alert.opened'],
    ]);
    expect((await listDeliveries(a, '?channel=chat&limit=5')).map((d) => d.id)).toEqual([3]);
    expect((await listDeliveries(a, '?status=pending&limit=1')).map((d) => d.id)).toEqual([3]);
    expect((await a.app.request('/v1/notifications/deliveries?status=lost')).status).toBe(400);

    const retried = await postJson(a.app, '/v1/notifications/deliveries/1/retry', '');
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({
      id: 1,
      status: 'pending',
      attempts: 0,
      next_attempt_at: new Date(T0 + 60_000).toISOString(),
      last_error: 'HTTP 500: receiver is down',
    });
    expect((await postJson(a.app, '/v1/notifications/deliveries/1/retry', '')).status).toBe(409);
    expect((await postJson(a.app, '/v1/notifications/deliveries/99/retry', '')).status).toBe(404);
    expect((await postJson(a.app, '/v1/notifications/deliveries/abc/retry', '')).status).toBe(404);

    expect(await runDeliveryTick(a.deps, T0 + 60_000)).toEqual({ sent: 3, failed: 0, retried: 0 });
    expect((await listDeliveries(a, '?status=delivered')).map((d) => d.id)).toEqual([3, 2, 1]);
    expect((await listDeliveries(a, '?status=delivered'))[2]).toMatchObject({
      delivered_at: new Date(T0 + 60_000).toISOString(),
      next_attempt_at: null,
    });
  });

  it('fails a delivery whose channel was removed from the config', async () => {
    const a = app([{ name: 'old', type: 'webhook', url: 'http://127.0.0.1:9/x' }]);
    await enqueue(a.deps, alertEvent('alert.opened'));
    a.deps.config.notifications.channels = [];
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 0, failed: 1, retried: 0 });
    expect((await deliveryRows(a))[0]).toMatchObject({
      status: 'failed',
      last_error: 'channel "old" is no longer configured',
    });
  });
});

describe('enqueueNotification', () => {
  it('does no network I/O: a dead receiver costs nothing until the tick, which records the refusal', async () => {
    const url = await deadUrl();
    const a = app([
      { name: 'hooks', type: 'webhook', url, secret: SECRET },
      { name: 'chat', type: 'slack', url },
      { name: 'am', type: 'alertmanager', url },
    ]);
    // Inside a store transaction, as the alert services call it.
    const inserted = await enqueue(a.deps, alertEvent('alert.opened'));
    expect(inserted).toBe(3);
    // Nothing was attempted yet: the rows wait, untouched, for the delivery tick.
    for (const row of await deliveryRows(a))
      expect(row).toMatchObject({ status: 'pending', attempts: 0, last_error: null });

    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 0, failed: 0, retried: 3 });
    for (const row of await deliveryRows(a)) expect(row.last_error).toMatch(/ECONNREFUSED/);
  });

  it('rolls back with the transaction it was called in', async () => {
    const a = app([{ name: 'hooks', type: 'webhook', url: 'http://127.0.0.1:9/x' }]);
    await expect(
      a.deps.store.tx(async (tx) => {
        await enqueueNotification(tx, a.deps.config, alertEvent('alert.opened'));
        throw new Error('the alert change failed');
      }),
    ).rejects.toThrow('the alert change failed');
    expect(await deliveryRows(a)).toEqual([]);
  });
});
