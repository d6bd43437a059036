import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView } from '../../src/alerts/types.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { FIXED_NOW } from '../support.js';
import { type ErrorBody, HOUR, hour, iso, type MApp, MIN, QUEUE_ONLY, setupM } from './helpers.js';

// How drift results become alerts: which windows raise them, one alert per feature, escalation,
// recovery and snooze, seen through the API and the notification queue.

let m: MApp | undefined;
afterEach(() => {
  m?.t.close();
  m = undefined;
});

/** Ingests a batch into hour `h` with the clock at the end of that hour, then runs drift without a range. */
async function rollingRun(app: MApp, h: number, hot: number) {
  await app.window(`r${h}-${hot}`, hour(h), hot, hour(h) + 59 * MIN);
  const results = await app.reviewer.driftRun('m');
  expect(results).toHaveLength(1);
  const r = results[0];
  if (!r) throw new Error('no result');
  expect(r.window_kind).toBe('rolling');
  expect(r.window).toEqual({ from: iso(hour(h)), to: iso(hour(h) + HOUR) });
  const x = r.features.find((f) => f.feature === 'x');
  if (!x) throw new Error('no x');
  return { result: r, x };
}

const events = async (app: MApp) => (await app.deliveries()).map((d) => d.event);

describe('which drift results raise alerts', () => {
  it('a range run never raises one; the tick raises one from a drifted closed bucket', async () => {
    m = await setupM(QUEUE_ONLY);
    await m.window('a', hour(8), 0.6);
    const [range] = await m.reviewer.driftRun('m', { from: iso(hour(8)), to: iso(hour(9)) });
    expect(range?.window_kind).toBe('range');
    expect(range?.drifted).toBe(true);
    expect(await m.reviewer.alerts()).toEqual([]);
    expect(await m.deliveries()).toEqual([]);

    await m.tick(FIXED_NOW + 10 * MIN);
    const alerts = await m.reviewer.alerts();
    // Only x moved: colour keeps its training mix and nothing is missing, so no other alert.
    expect(alerts.map((a) => [a.feature, a.kind, a.severity, a.status])).toEqual([
      ['x', 'drift', 'critical', 'open'],
    ]);
    const a = alerts[0] as AlertView;
    expect(a).toMatchObject({
      model: 'm',
      model_version: null,
      evidence_count: 1,
      first_seen: iso(hour(8)),
      last_seen: iso(hour(9)),
      recovered: false,
      assignee: null,
      decision: null,
      version: 1,
    });
    expect(a.latest).toMatchObject({
      window_kind: 'bucket',
      baseline_id: m.baselineId,
      severity: 'critical',
    });
    expect(a.latest.psi as number).toBeGreaterThan(0.25);
    expect(a.peak).toEqual(a.latest);
    expect(await events(m)).toEqual(['alert.opened']);
    const payload = JSON.parse((await m.deliveries())[0]?.payload ?? '{}') as { alert: AlertView };
    expect(payload.alert.id).toBe(a.id);
  });

  it('POST drift/run without a range evaluates the rolling window and raises from it', async () => {
    m = await setupM();
    const { x } = await rollingRun(m, 12, 0.6);
    expect(x.drifted).toBe(true);
    const a = await m.reviewer.alertOf('x');
    expect(a.latest.window_kind).toBe('rolling');
    const detail = await m.reviewer.alert(a.id);
    expect(detail.evidence.map((e) => [e.window_kind, e.window.from, e.window.to])).toEqual([
      ['rolling', iso(hour(12)), iso(hour(13))],
    ]);
  });

  it('a tick judges each changed bucket once: later ticks without new data leave the alert alone', async () => {
    m = await setupM(QUEUE_ONLY);
    await m.window('a', hour(8), 0.6, FIXED_NOW + MIN);
    expect((await runDriftTick(m.t.deps, FIXED_NOW + 2 * MIN)).evaluated).toBe(1);
    const a = await m.reviewer.alert(1);
    for (const at of [3, 4]) {
      m.t.setNow(FIXED_NOW + at * MIN);
      expect((await runDriftTick(m.t.deps, FIXED_NOW + at * MIN)).evaluated).toBe(0);
    }
    expect(await m.reviewer.alert(1)).toEqual(a);

    await m.window('b', hour(9), 0.6, FIXED_NOW + 5 * MIN);
    expect((await runDriftTick(m.t.deps, FIXED_NOW + 6 * MIN)).evaluated).toBe(1);
    const after = await m.reviewer.alert(1);
    expect(after.evidence.map((e) => e.window.from)).toEqual([iso(hour(9)), iso(hour(8))]);
    expect(after.evidence_count).toBe(2);
    expect(await events(m)).toEqual(['alert.opened']);
  });

  it('a window with fewer than minSamples values gives no verdict and no alert', async () => {
    m = await setupM();
    await m.window('few', hour(8), 0.6, undefined, 60);
    await m.tick(FIXED_NOW + 10 * MIN);
    expect(await m.reviewer.alerts()).toEqual([]);
  });
});

describe('one alert per feature', () => {
  it('attaches repeated drift as evidence, escalates warning → critical once, never back, and keeps the peak', async () => {
    m = await setupM(QUEUE_ONLY);
    const w8 = await rollingRun(m, 8, 0.2);
    expect(w8.x.severity).toBe('warning');
    const opened = await m.reviewer.alertOf('x');
    expect(opened).toMatchObject({ severity: 'warning', evidence_count: 1, last_seen: iso(hour(9)) });
    expect(opened.latest.psi).toBe(w8.x.psi);
    // The same window judged again is the same evidence, not a second window.
    await m.reviewer.driftRun('m');
    expect((await m.reviewer.alert(opened.id)).evidence).toHaveLength(1);
    expect((await m.reviewer.alertOf('x')).evidence_count).toBe(1);
    expect((await m.reviewer.alertOf('x')).version).toBe(opened.version);

    await rollingRun(m, 9, 0.2);
    const attached = await m.reviewer.alertOf('x');
    expect(attached.id).toBe(opened.id);
    expect(attached).toMatchObject({
      severity: 'warning',
      evidence_count: 2,
      first_seen: iso(hour(8)),
      last_seen: iso(hour(10)),
    });
    // New evidence alone keeps the version a reviewer holds, so their If-Match stays valid.
    expect(attached.version).toBe(opened.version);
    // A second warning window is evidence, not news.
    expect(await events(m)).toEqual(['alert.opened']);

    const w10 = await rollingRun(m, 10, 0.6);
    expect(w10.x.severity).toBe('critical');
    const escalated = await m.reviewer.alertOf('x');
    expect(escalated).toMatchObject({
      id: opened.id,
      severity: 'critical',
      evidence_count: 3,
      last_seen: iso(hour(11)),
    });
    expect(escalated.peak.psi).toBe(w10.x.psi);
    // Escalation is something a reviewer acts on: it moves the version.
    expect(escalated.version).toBeGreaterThan(attached.version);
    expect(await events(m)).toEqual(['alert.opened', 'alert.escalated']);
    const detail = await m.reviewer.alert(opened.id);
    const esc = detail.events.filter((e) => e.action === 'escalated');
    expect(esc).toHaveLength(1);
    expect(esc[0]).toMatchObject({ actor: 'driftwatch', from: 'open', to: 'open' });

    // A smaller critical shift then a warning-sized one: latest follows, peak and severity stay.
    const w11 = await rollingRun(m, 11, 0.3);
    const w12 = await rollingRun(m, 12, 0.2);
    expect(w11.x.psi as number).toBeLessThan(w10.x.psi as number);
    const after = await m.reviewer.alertOf('x');
    expect(after).toMatchObject({
      id: opened.id,
      severity: 'critical',
      evidence_count: 5,
      last_seen: iso(hour(13)),
    });
    expect(after.latest.psi).toBe(w12.x.psi);
    expect(after.latest.window).toEqual({ from: iso(hour(12)), to: iso(hour(13)) });
    expect(after.peak.psi).toBe(w10.x.psi);
    expect(after.peak.window).toEqual({ from: iso(hour(10)), to: iso(hour(11)) });
    expect(await events(m)).toEqual(['alert.opened', 'alert.escalated']);

    const full = await m.reviewer.alert(opened.id);
    expect(full.evidence.map((e) => [e.window.from, e.severity])).toEqual([
      [iso(hour(12)), 'critical'],
      [iso(hour(11)), 'critical'],
      [iso(hour(10)), 'critical'],
      [iso(hour(9)), 'warning'],
      [iso(hour(8)), 'warning'],
    ]);
    expect(full.evidence.slice(0, 3).map((e) => e.measures.psi)).toEqual([w12, w11, w10].map((w) => w.x.psi));
    expect(await m.reviewer.alerts('kind=drift')).toHaveLength(1);
  });

  it('recovers on a calm newer window without changing status, and un-recovers when drift returns', async () => {
    m = await setupM(QUEUE_ONLY);
    await rollingRun(m, 8, 0.6);
    await rollingRun(m, 9, 0.6);
    const a = await m.reviewer.alertOf('x');

    // A calm window older than the latest evidence says nothing about now.
    await rollingRun(m, 7, 0);
    expect((await m.reviewer.alertOf('x')).recovered).toBe(false);

    await rollingRun(m, 10, 0);
    const recovered = await m.reviewer.alertOf('x');
    expect(recovered).toMatchObject({
      id: a.id,
      status: 'open',
      recovered: true,
      recovered_at: iso(hour(10) + 59 * MIN),
      evidence_count: 2,
    });
    const detail = await m.reviewer.alert(a.id);
    expect(detail.events.at(-1)).toMatchObject({
      action: 'recovered',
      actor: 'driftwatch',
      from: 'open',
      to: 'open',
    });
    expect(await events(m)).toEqual(['alert.opened', 'alert.recovered']);

    // Another calm window does not announce the recovery twice.
    await rollingRun(m, 11, 0);
    expect(await events(m)).toEqual(['alert.opened', 'alert.recovered']);

    await rollingRun(m, 12, 0.6);
    const again = await m.reviewer.alertOf('x');
    expect(again).toMatchObject({ id: a.id, recovered: false, recovered_at: null, evidence_count: 3 });
  });

  it('recovery does not depend on arrival order: a calm later bucket judged first recovers a backfilled drift', async () => {
    m = await setupM(QUEUE_ONLY);
    // The calm hour 10 bucket is judged before anything drifted: no alert to recover yet.
    await m.window('calm', hour(10), 0, FIXED_NOW + MIN);
    await m.tick(FIXED_NOW + 2 * MIN);
    expect(await m.reviewer.alerts()).toEqual([]);

    // Then a drifted hour 8 bucket is backfilled: the alert opens, and hour 10 lies wholly after it.
    await m.window('late', hour(8), 0.6, FIXED_NOW + 3 * MIN);
    await m.tick(FIXED_NOW + 4 * MIN);
    const a = await m.reviewer.alertOf('x');
    expect(a).toMatchObject({ status: 'open', recovered: true, evidence_count: 1, last_seen: iso(hour(9)) });
    const detail = await m.reviewer.alert(a.id);
    expect(detail.events.map((e) => e.action)).toEqual(['opened', 'recovered']);
    expect(await events(m)).toEqual(['alert.opened', 'alert.recovered']);

    // A drifted bucket after the calm one is drift again, whatever the order.
    await m.window('again', hour(11), 0.6, FIXED_NOW + 5 * MIN);
    await m.tick(FIXED_NOW + 6 * MIN);
    expect(await m.reviewer.alertOf('x')).toMatchObject({ id: a.id, recovered: false, evidence_count: 2 });
  });

  it('a calm bucket between two drifted ones does not recover the alert, in any order', async () => {
    m = await setupM(QUEUE_ONLY);
    await m.window('calm', hour(9), 0, FIXED_NOW + MIN);
    await m.window('hot-late', hour(10), 0.6, FIXED_NOW + 2 * MIN);
    await m.tick(FIXED_NOW + 3 * MIN);
    await m.window('hot-early', hour(8), 0.6, FIXED_NOW + 4 * MIN);
    await m.tick(FIXED_NOW + 5 * MIN);
    expect(await m.reviewer.alertOf('x')).toMatchObject({ recovered: false, evidence_count: 2 });
  });

  it('allows closing an undecided alert only once it recovered; later drift opens a new alert', async () => {
    m = await setupM();
    await rollingRun(m, 8, 0.6);
    const a = await m.reviewer.alertOf('x');
    const refused = await m.reviewer.act<ErrorBody>(a.id, 'close', {}, a.version);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('invalid_transition');
    expect(refused.body.error.details?.current_status).toBe('open');

    await rollingRun(m, 9, 0);
    const recovered = await m.reviewer.alertOf('x');
    expect(recovered.recovered).toBe(true);
    const closed = await m.reviewer.act(recovered.id, 'close', { note: 'back to normal' }, recovered.version);
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({
      status: 'closed',
      closed_at: iso(hour(9) + 59 * MIN),
      decision: null,
    });

    await rollingRun(m, 10, 0.6);
    const all = await m.reviewer.alerts();
    expect(all.map((x) => [x.id, x.status])).toEqual([
      [a.id + 1, 'open'],
      [a.id, 'closed'],
    ]);
  });
});

describe('snooze', () => {
  it('collects drift quietly until the snooze ends, then the tick re-opens the alert', async () => {
    m = await setupM(QUEUE_ONLY);
    await m.window('a', hour(8), 0.2, FIXED_NOW + MIN);
    await m.tick(FIXED_NOW + 2 * MIN);
    const a = await m.reviewer.alertOf('x');
    expect(a.severity).toBe('warning');
    const until = FIXED_NOW + 3 * HOUR;
    const snoozed = await m.reviewer.act<{ alert: AlertView }>(
      a.id,
      'decision',
      { decision: 'snooze', note: 'known upstream backfill', snooze_until: iso(until) },
      a.version,
    );
    expect(snoozed.status, JSON.stringify(snoozed.body)).toBe(200);
    expect(snoozed.body.alert).toMatchObject({
      status: 'snoozed',
      snoozed_until: iso(until),
      decision: 'snooze',
    });
    const queued = (await m.deliveries()).length;

    // Critical drift while snoozed: evidence and severity are kept, nobody is paged.
    await m.window('b', hour(9), 0.6, FIXED_NOW + 20 * MIN);
    await m.tick(FIXED_NOW + 21 * MIN);
    const quiet = await m.reviewer.alert(a.id);
    expect(quiet).toMatchObject({ status: 'snoozed', severity: 'critical', last_seen: iso(hour(10)) });
    expect(quiet.evidence.map((e) => e.window.from)).toContain(iso(hour(9)));
    expect(quiet.events.map((e) => e.action)).toContain('escalated');
    expect(await m.deliveries()).toHaveLength(queued);
    expect(await m.reviewer.alerts('status=snoozed')).toHaveLength(1);

    await m.tick(until - MIN);
    expect((await m.reviewer.alert(a.id)).status).toBe('snoozed');
    expect(await m.deliveries()).toHaveLength(queued);

    await m.tick(until + MIN);
    const woken = await m.reviewer.alert(a.id);
    expect(woken).toMatchObject({ status: 'open', snoozed_until: null });
    expect(woken.events.at(-1)).toMatchObject({
      action: 'snooze_ended',
      actor: 'driftwatch',
      from: 'snoozed',
      to: 'open',
    });
    expect((await m.deliveries()).slice(queued).map((d) => d.event)).toEqual(['alert.opened']);
  });

  it('lets a reviewer decide a snoozed alert before the snooze ends, which ends the snooze', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const a = await m.reviewer.alertOf('x');
    const snoozed = await m.reviewer.act<{ alert: AlertView }>(
      a.id,
      'decision',
      { decision: 'snooze', note: 'wait for the backfill', snooze_until: FIXED_NOW + 5 * HOUR },
      a.version,
    );
    const decided = await m.reviewer.act<{ alert: AlertView }>(
      a.id,
      'decision',
      { decision: 'retrain', note: 'it is real' },
      snoozed.body.alert.version,
    );
    expect(decided.status).toBe(200);
    expect(decided.body.alert).toMatchObject({ status: 'decided', decision: 'retrain', snoozed_until: null });
    // A decided alert is not woken by the tick when the old snooze time passes.
    await m.tick(FIXED_NOW + 6 * HOUR);
    expect((await m.reviewer.alert(a.id)).status).toBe('decided');
  });

  it('needs a future snooze_until and an alert that is open or acknowledged', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const a = await m.reviewer.alertOf('x');
    for (const body of [
      { decision: 'snooze', note: 'later' },
      { decision: 'snooze', note: 'later', snooze_until: iso(FIXED_NOW) },
    ]) {
      const res = await m.reviewer.act<ErrorBody>(a.id, 'decision', body, a.version);
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body.error.details)).toContain('snooze_until');
    }
    const bad = await m.reviewer.act<ErrorBody>(
      a.id,
      'decision',
      { decision: 'snooze', note: 'x', snooze_until: 'tomorrow' },
      a.version,
    );
    expect(bad.status).toBe(400);
    expect((await m.reviewer.alert(a.id)).version).toBe(a.version);

    const decided = await m.reviewer.act<{ alert: AlertView }>(
      a.id,
      'decision',
      { decision: 'retrain', note: 'bad release' },
      a.version,
    );
    expect(decided.status).toBe(200);
    const res = await m.reviewer.act<ErrorBody>(
      a.id,
      'decision',
      { decision: 'snooze', note: 'later', snooze_until: FIXED_NOW + HOUR },
      decided.body.alert.version,
    );
    expect(res.status).toBe(409);
    expect(res.body.error.details?.current_status).toBe('decided');
  });
});

describe('GET /v1/alerts and /v1/alerts/:id', () => {
  it('filters by status (list and "active"), model, severity, assignee and kind', async () => {
    m = await setupM();
    // x shifts (drift, warning); a quarter of colours are missing (data quality, critical at 4 × 5 %).
    const records = Array.from({ length: 200 }, (_, i) => ({
      model: 'm',
      request_id: `q-${i}`,
      timestamp: hour(8) + (i % 50) * MIN,
      features: {
        x: i % 10 < 2 ? 180 + (i % 20) : (i * 7) % 200,
        ...(i % 4 === 0 ? {} : { color: ['red', 'green', 'blue'][i % 3] }),
      },
    }));
    m.t.setNow(FIXED_NOW + MIN);
    await m.admin.ingest(records);
    await m.tick(FIXED_NOW + 2 * MIN);
    const all = await m.reviewer.alerts();
    const key = (as: AlertView[]) => as.map((a) => `${a.feature}/${a.kind}/${a.severity}`).sort();
    expect(key(all)).toEqual(['color/data_quality/critical', 'x/drift/warning']);
    const x = all.find((a) => a.feature === 'x') as AlertView;
    const color = all.find((a) => a.feature === 'color') as AlertView;

    await m.reviewer.act(x.id, 'assign', { assignee: 'bob' }, x.version);
    const acked = await m.reviewer.act(color.id, 'ack', {}, color.version);
    expect(acked.status).toBe(200);

    expect(key(await m.reviewer.alerts('kind=drift'))).toEqual(['x/drift/warning']);
    expect(key(await m.reviewer.alerts('kind=data_quality'))).toEqual(['color/data_quality/critical']);
    expect(await m.reviewer.alerts('kind=prediction_drift')).toEqual([]);
    expect(key(await m.reviewer.alerts('severity=critical'))).toEqual(['color/data_quality/critical']);
    expect(key(await m.reviewer.alerts('assignee=bob'))).toEqual(['x/drift/warning']);
    // Acknowledging without an assignee makes the acknowledger the assignee.
    expect(key(await m.reviewer.alerts('assignee=anonymous'))).toEqual(['color/data_quality/critical']);
    expect(key(await m.reviewer.alerts('status=open'))).toEqual(['x/drift/warning']);
    expect(key(await m.reviewer.alerts('status=acknowledged'))).toHaveLength(1);
    expect(key(await m.reviewer.alerts('status=open,acknowledged'))).toHaveLength(2);
    expect(key(await m.reviewer.alerts('status=active'))).toHaveLength(2);
    expect(await m.reviewer.alerts('status=closed')).toEqual([]);
    expect(key(await m.reviewer.alerts('model=m&severity=warning&status=active'))).toEqual([
      'x/drift/warning',
    ]);
    expect(await m.reviewer.alerts('model=other')).toEqual([]);

    for (const q of ['status=pending', 'severity=high', 'kind=bogus', 'colour=red']) {
      const res = await m.reviewer.get<ErrorBody>(`/v1/alerts?${q}`);
      expect(res.status, q).toBe(400);
    }
  });

  it('shows evidence, a histogram of the latest window, the audit trail and an ETag of the version', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const a = await m.reviewer.alertOf('x');
    const res = await m.reviewer.get<Awaited<ReturnType<typeof m.reviewer.alert>>>(`/v1/alerts/${a.id}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${a.version}"`);
    const d = res.body;
    expect(d.evidence).toHaveLength(1);
    expect(d.evidence[0]).toMatchObject({
      window_kind: 'bucket',
      window: { from: iso(hour(8)), to: iso(hour(9)) },
      severity: 'critical',
    });
    expect(d.evidence[0]?.measures.psi).toBe(a.latest.psi);
    expect(d.histogram).toMatchObject({ feature: 'x', baseline_id: m.baselineId, n: 200 });
    expect(d.histogram?.bins).toHaveLength(10);
    // The hot share lands in the top decile: the last bin holds far more of the window than of training.
    const last = d.histogram?.bins.at(-1) as { baseline: number; window: number };
    expect(last.window).toBeGreaterThan(3 * last.baseline);
    expect(d.events.map((e) => [e.action, e.actor, e.from, e.to])).toEqual([
      ['opened', 'driftwatch', null, 'open'],
    ]);
    expect(d.retrain_requests).toEqual([]);

    expect((await m.reviewer.get<ErrorBody>('/v1/alerts/999')).status).toBe(404);
    expect((await m.reviewer.get<ErrorBody>('/v1/alerts/abc')).status).toBe(400);
  });
});
