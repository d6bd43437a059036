import { afterEach, describe, expect, it } from 'vitest';
import { resendFiring } from '../../src/alerts/raise.js';
import type { AlertView } from '../../src/alerts/types.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { syntheticTraining } from '../drift/helpers.js';
import { deliveryRows } from '../notifications/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';
import {
  Client,
  type ErrorBody,
  HOUR,
  hour,
  iso,
  type MApp,
  MIN,
  mBatch,
  QUEUE_ONLY,
  setupM,
} from './helpers.js';

// Regression tests for the review's alert-policy and workflow fixes: each one fails if its fix is reverted.

let m: MApp | undefined;
let t: TestApp | undefined;
afterEach(() => {
  m?.t.close();
  m = undefined;
  t?.close();
  t = undefined;
});

/** Events queued for one channel, in order. */
const eventsOn = async (app: MApp, channel = 'hook') =>
  (await deliveryRows(app.t)).filter((d) => d.channel === channel).map((d) => d.event);

/** The only alert of `feature` and `kind`; fails unless there is exactly one. */
async function only(app: MApp, feature: string, kind: AlertView['kind']): Promise<AlertView> {
  const all = (await app.reviewer.alerts()).filter((a) => a.feature === feature && a.kind === kind);
  expect(all, `${kind} alerts of ${feature}`).toHaveLength(1);
  return all[0] as AlertView;
}

/** Ingests a batch of model m into `bucket` whose features are rewritten by `f`. */
async function ingestShaped(
  app: MApp,
  prefix: string,
  bucket: number,
  f: (features: Record<string, unknown>, i: number) => Record<string, unknown>,
  clockAt: number,
) {
  app.t.setNow(clockAt);
  const batch = mBatch(prefix, bucket, 0).map((r, i) => ({
    ...r,
    features: f(r.features as Record<string, unknown>, i),
  }));
  await app.admin.ingest(batch);
}

describe('data-quality alerts', () => {
  // A window with no usable value used to give no data-quality verdict at all (n < minSamples).
  it('fires when a feature is missing from every record of a full window', async () => {
    m = await setupM();
    await ingestShaped(m, 'a', hour(8), (f) => ({ color: f.color }), hour(9) + MIN);
    await m.tick(hour(9) + 2 * MIN);
    const a = await only(m, 'x', 'data_quality');
    expect(a.severity).toBe('critical');
    expect(a.latest).toMatchObject({ missing_rate: 1, n: 0 });
  });

  it('fires when a feature has the wrong type in every record of a full window', async () => {
    m = await setupM();
    await ingestShaped(m, 'a', hour(8), (f) => ({ ...f, x: 'oops' }), hour(9) + MIN);
    await m.tick(hour(9) + 2 * MIN);
    const a = await only(m, 'x', 'data_quality');
    expect(a.severity).toBe('critical');
    expect(a.latest).toMatchObject({ type_mismatch_rate: 1, n: 0 });
  });

  it('counts values outside the training range as a data-quality problem', async () => {
    // 10 % of x above the training maximum (0…199): nothing missing, mistyped or unseen.
    m = await setupM();
    await ingestShaped(m, 'a', hour(8), (f, i) => (i % 10 === 0 ? { ...f, x: 500 + i } : f), hour(9) + MIN);
    await m.tick(hour(9) + 2 * MIN);
    const a = await only(m, 'x', 'data_quality');
    expect(a.latest).toMatchObject({ missing_rate: 0, type_mismatch_rate: 0, out_of_range_rate: 0.1 });
    expect(a.severity).toBe('warning');
  });
});

describe('recovery is judged on rolling windows only', () => {
  it('one calm closed hour after a drifting day neither recovers the alert nor bumps its version', async () => {
    m = await setupM({ ...QUEUE_ONLY, drift: { rollingWindow: '24h' } });
    for (let h = 0; h < 10; h++) await m.window(`h${h}`, hour(h), 0.6, hour(10) + h * MIN);
    await m.tick(hour(10) + 30 * MIN);
    const before = await only(m, 'x', 'drift');
    expect(before.recovered).toBe(false);

    // Hour 10 is calm; once it closes, its bucket is calm while the 24 h rolling window still drifts.
    await m.window('h10', hour(10), 0, hour(10) + 51 * MIN);
    await m.tick(hour(10) + 55 * MIN);
    await m.tick(hour(11) + 5 * MIN);
    const calmBucket = (await m.reviewer.driftRun('m', { from: iso(hour(10)), to: iso(hour(11)) }))[0];
    expect(calmBucket?.features.find((f) => f.feature === 'x')?.drifted).toBe(false);
    const after = await only(m, 'x', 'drift');
    expect(after.recovered).toBe(false);
    expect(after.version).toBe(before.version);
    expect(await eventsOn(m)).not.toContain('alert.recovered');
  });

  it('a calm rolling window recovers the alert', async () => {
    m = await setupM({ ...QUEUE_ONLY, drift: { rollingWindow: '24h' } });
    for (let h = 0; h < 10; h++) await m.window(`h${h}`, hour(h), 0.6, hour(10) + h * MIN);
    await m.tick(hour(10) + 30 * MIN);
    // A day later the drifted hours have left the rolling window; only calm data is in it.
    const nextDay = hour(10) + 24 * HOUR;
    await m.window('calm', nextDay, 0, nextDay + 50 * MIN);
    await m.tick(nextDay + 55 * MIN);
    const a = await only(m, 'x', 'drift');
    expect(a.recovered).toBe(true);
    expect(await eventsOn(m)).toEqual(['alert.opened', 'alert.recovered']);
  });
});

describe('a snoozed alert stays quiet', () => {
  const CHANNELS = {
    notifications: {
      channels: [
        { name: 'hook', type: 'webhook' as const, url: 'http://127.0.0.1:9/hook' },
        { name: 'am', type: 'alertmanager' as const, url: 'http://127.0.0.1:9' },
      ],
    },
  };

  it('sends no recovery while snoozed, no "opened" when a recovered alert wakes, and no Alertmanager keep-alive for either', async () => {
    m = await setupM(CHANNELS);
    await m.window('hot', hour(9), 0.6, hour(10) + MIN);
    await m.tick(hour(10) + 2 * MIN);
    const a = await only(m, 'x', 'drift');
    expect(await eventsOn(m)).toEqual(['alert.opened']);
    // Positive control: an open, drifting alert is re-sent to Alertmanager.
    expect(await resendFiring(m.t.deps, hour(10) + 2 * MIN)).toBe(1);

    const snoozed = await m.reviewer.act(
      a.id,
      'decision',
      { decision: 'snooze', note: 'after the release', snooze_until: iso(hour(13)) },
      a.version,
    );
    expect(snoozed.status, JSON.stringify(snoozed.body)).toBe(200);
    // A running snooze is not firing: the queued keep-alive is dropped, none is queued.
    expect(await resendFiring(m.t.deps, hour(10) + 3 * MIN)).toBe(0);
    expect(await eventsOn(m, 'am')).not.toContain('alert.resend');

    // Calm data in the current hour: the rolling window recovers the alert while it is snoozed.
    await m.window('calm', hour(10), 0, hour(10) + 50 * MIN);
    await m.tick(hour(10) + 55 * MIN);
    const recovered = await m.reviewer.alert(a.id);
    expect(recovered).toMatchObject({ status: 'snoozed', recovered: true });
    expect(await eventsOn(m)).toEqual(['alert.opened']);

    // The snooze ends on a recovered alert: back in the queue, but nothing pages.
    await m.tick(hour(13) + MIN);
    const woken = await m.reviewer.alert(a.id);
    expect(woken).toMatchObject({ status: 'open', recovered: true });
    expect(woken.events.map((e) => e.action)).toContain('snooze_ended');
    expect(await eventsOn(m)).toEqual(['alert.opened']);
    expect(await eventsOn(m, 'am')).toEqual(['alert.opened']);
    // Recovered alerts are not firing either.
    expect(await resendFiring(m.t.deps, hour(13) + 2 * MIN)).toBe(0);
  });
});

describe('accept_shift', () => {
  it('does not re-judge old buckets against the new baseline', async () => {
    m = await setupM(QUEUE_ONLY);
    for (let h = 0; h < 9; h++) await m.window(`h${h}`, hour(h), h >= 6 ? 0.6 : 0, hour(9) + h * MIN);
    await m.tick(hour(9) + 20 * MIN);
    const a = await only(m, 'x', 'drift');

    const decided = await m.reviewer.act<{ alert: AlertView; baseline: { id: number } }>(
      a.id,
      'decision',
      { decision: 'accept_shift', note: 'new normal', confirm: true },
      a.version,
    );
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    const closed = await m.reviewer.act(a.id, 'close', { note: 'done' }, decided.body.alert.version);
    expect(closed.status, JSON.stringify(closed.body)).toBe(200);

    // The rebuilt aggregates of hours 0…5 differ from the new baseline, but they are history, not news.
    const tick = await runDriftTick(m.t.deps, hour(9) + 25 * MIN);
    expect(tick.evaluated).toBe(0);
    const alerts = await m.reviewer.alerts();
    expect(alerts.map((x) => [x.id, x.status])).toEqual([[a.id, 'closed']]);
    expect(await eventsOn(m)).toEqual(['alert.opened', 'alert.closed']);
  });

  it("keeps the active baseline's options: an excluded id column stays excluded", async () => {
    t = makeTestApp({ drift: { bucket: '1h', rollingWindow: '1h', minSamples: 100 } });
    const client = new Client(t.app);
    const training = syntheticTraining().map((r, i) => ({ ...r, cid: `c${i}` }));
    await client.baseline('m', JSON.stringify(training), 'application/json', { exclude: 'cid' });
    const withCid = (batch: Record<string, unknown>[], p: string) =>
      batch.map((r, i) => ({
        ...r,
        features: { ...(r.features as Record<string, unknown>), cid: `${p}-${i}` },
      }));

    t.setNow(hour(9) + 5 * MIN);
    await client.ingest(withCid(mBatch('a', hour(8), 0.6), 'a'));
    await runDriftTick(t.deps, hour(9) + 10 * MIN);
    const a = (await client.alerts()).find((x) => x.feature === 'x' && x.kind === 'drift');
    if (!a) throw new Error('no drift alert on x');
    const decided = await client.act<{ baseline: { id: number } }>(
      a.id,
      'decision',
      { decision: 'accept_shift', note: 'ok', confirm: true },
      a.version,
    );
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    const detail = await client.get<{ columns: { name: string }[] }>(
      `/v1/models/m/baselines/${decided.body.baseline.id}`,
    );
    expect(detail.body.columns.map((c) => c.name).sort()).toEqual(['color', 'x']);

    // Every record's cid is new: as a baseline column it would be 100 % unseen and raise a data-quality alert.
    t.setNow(hour(10) + 5 * MIN);
    await client.ingest(withCid(mBatch('b', hour(9), 0.6), 'b'));
    await runDriftTick(t.deps, hour(10) + 10 * MIN);
    expect((await client.alerts()).filter((x) => x.feature === 'cid')).toEqual([]);
  });
});

describe('decisions rejected without a change', () => {
  it('raise_thresholds on a data-quality false positive is a 400 and changes nothing', async () => {
    m = await setupM(QUEUE_ONLY);
    // Unseen colours in 30 % of the records: a data-quality alert on colour.
    await ingestShaped(
      m,
      'a',
      hour(8),
      (f, i) => ({ ...f, color: i % 10 < 3 ? 'purple' : f.color }),
      hour(9) + MIN,
    );
    await m.tick(hour(9) + 5 * MIN);
    const dq = await only(m, 'color', 'data_quality');
    const policyBefore = await m.reviewer.get('/v1/models/m/alert-policy');

    const res = await m.reviewer.act<ErrorBody>(
      dq.id,
      'decision',
      { decision: 'false_positive', note: 'purple is a new colour', raise_thresholds: true },
      dq.version,
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error)).toContain('raise_thresholds');
    const after = await m.reviewer.alert(dq.id);
    expect(after).toMatchObject({ version: dq.version, status: dq.status, decision: null });
    expect(after.events.map((e) => e.action)).toEqual(['opened']);
    expect((await m.reviewer.get('/v1/models/m/alert-policy')).body).toEqual(policyBefore.body);
  });

  it('a snooze_until past year 9999 is a 400 naming the field, and the alert list still answers', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6, hour(9) + MIN);
    await m.tick(hour(9) + 2 * MIN);
    const a = await only(m, 'x', 'drift');

    const res = await m.reviewer.act<ErrorBody>(
      a.id,
      'decision',
      { decision: 'snooze', note: 'later', snooze_until: 1e20 },
      a.version,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('snooze_until');
    // A stored time that cannot be printed used to break every listing that included the alert.
    const list = await m.reviewer.get<{ alerts: AlertView[] }>('/v1/alerts');
    expect(list.status).toBe(200);
    expect(list.body.alerts.map((x) => [x.id, x.status, x.snoozed_until])).toEqual([[a.id, 'open', null]]);
    expect((await m.reviewer.get(`/v1/alerts/${a.id}`)).status).toBe(200);
  });
});
