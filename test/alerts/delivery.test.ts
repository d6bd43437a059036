import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/types.js';
import { backoffMs, runDeliveryTick, verifySignature } from '../../src/notifications/service.js';
import { type Receiver, startReceiver } from '../notifications/helpers.js';
import { FIXED_NOW } from '../support.js';
import { hour, iso, type MApp, MIN, setupM } from './helpers.js';

// End to end: a drift found by the server reaches a real webhook receiver, signed, after the receiver
// recovers from a failure.

const SECRET = 'whsec-alerts-0123456789';

let m: MApp | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  m?.t.close();
  m = undefined;
  await receiver?.close();
  receiver = undefined;
});

interface WebhookBody {
  event: string;
  at: string;
  actor: string | null;
  alert?: AlertView;
  link?: string;
}

describe('alert notifications to a webhook', () => {
  it('delivers alert.opened for a drift run through HTTP, signed, after one failed attempt', async () => {
    receiver = await startReceiver({ failFirst: 1 });
    m = await setupM({
      notifications: {
        channels: [{ name: 'ops', type: 'webhook', url: `${receiver.url}/hooks/drift`, secret: SECRET }],
      },
    });
    await m.window('a', hour(12), 0.6, FIXED_NOW + 30 * MIN);
    const [result] = await m.reviewer.driftRun('m');
    expect(result?.window_kind).toBe('rolling');
    const alert = await m.reviewer.alertOf('x');

    const now = FIXED_NOW + 31 * MIN;
    expect(await runDeliveryTick(m.t.deps, now)).toEqual({ sent: 0, failed: 0, retried: 1 });
    // Not due again before the backoff has passed.
    expect(await runDeliveryTick(m.t.deps, now + backoffMs(1) - 1)).toEqual({
      sent: 0,
      failed: 0,
      retried: 0,
    });
    const later = now + backoffMs(1);
    expect(await runDeliveryTick(m.t.deps, later)).toEqual({ sent: 1, failed: 0, retried: 0 });
    expect((await m.deliveries()).map((d) => [d.event, d.status])).toEqual([['alert.opened', 'delivered']]);

    expect(receiver.received).toHaveLength(2);
    const [failed, ok] = receiver.received as [(typeof receiver.received)[0], (typeof receiver.received)[0]];
    expect(ok.method).toBe('POST');
    expect(ok.path).toBe('/hooks/drift');
    // A retry is the same delivery: same id and body, so receivers can de-duplicate.
    expect(ok.body).toBe(failed.body);
    expect(ok.headers['x-driftwatch-delivery']).toBe(failed.headers['x-driftwatch-delivery']);
    expect(ok.headers['x-driftwatch-event']).toBe('alert.opened');
    const timestamp = ok.headers['x-driftwatch-timestamp'] as string;
    expect(Number(timestamp)).toBe(Math.floor(later / 1000));
    const signature = ok.headers['x-driftwatch-signature'] as string;
    expect(verifySignature(SECRET, timestamp, ok.body, signature)).toBe(true);
    expect(verifySignature('another-secret', timestamp, ok.body, signature)).toBe(false);
    expect(verifySignature(SECRET, timestamp, ok.body.replace('"x"', '"y"'), signature)).toBe(false);

    const body = JSON.parse(ok.body) as WebhookBody;
    expect(body).toMatchObject({ event: 'alert.opened', actor: null, at: iso(FIXED_NOW + 30 * MIN) });
    expect(body.alert).toMatchObject({
      id: alert.id,
      model: 'm',
      feature: 'x',
      kind: 'drift',
      severity: 'critical',
      status: 'open',
      evidence_count: 1,
      first_seen: iso(hour(12)),
    });
    expect(body.alert?.latest.psi).toBe(alert.latest.psi);
    expect(body.link).toMatch(new RegExp(`/v1/alerts/${alert.id}$`));
  });
});
