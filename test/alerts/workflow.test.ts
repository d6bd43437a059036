import { afterEach, describe, expect, it } from 'vitest';
import type { AlertView, RetrainRequestView } from '../../src/alerts/types.js';
import { FIXED_NOW } from '../support.js';
import {
  type AlertDetail,
  type ErrorBody,
  hour,
  iso,
  type MApp,
  MIN,
  mBatch,
  QUEUE_ONLY,
  setupM,
} from './helpers.js';

// The review workflow through HTTP with auth on: every change names its actor, needs the version the
// reviewer saw, and each decision leaves its effect behind.

let m: MApp | undefined;
afterEach(() => {
  m?.t.close();
  m = undefined;
});

/** Model m with one open, critical drift alert on x (from the closed bucket at 08:00). */
async function withAlert(config = {}): Promise<{ app: MApp; alert: AlertView }> {
  m = await setupM(config, true);
  await m.window('a', hour(8), 0.6, FIXED_NOW + MIN);
  await m.tick(FIXED_NOW + 2 * MIN);
  return { app: m, alert: await m.reviewer.alertOf('x') };
}

interface Outcome {
  alert: AlertView;
  retrain_request?: RetrainRequestView;
  baseline?: { id: number; reaggregated_records: number };
  thresholds?: { psi_warning: number; psi_critical: number };
  rollback?: { status: string; from_version: string | null; to_version: string | null };
}

type Event = AlertDetail['events'][number];

describe('triage flow', () => {
  it('drift → alert → assign → ack → comment → retrain → close, with an append-only audit trail', async () => {
    const { app, alert } = await withAlert(QUEUE_ONLY);
    const r = app.reviewer;
    const trails: Event[][] = [(await r.alert(alert.id)).events];
    const step = async () => {
      const events = (await r.alert(alert.id)).events;
      // Append-only: what was recorded before is unchanged after every later change.
      for (const earlier of trails) expect(events.slice(0, earlier.length)).toEqual(earlier);
      trails.push(events);
      return events;
    };

    const assigned = await r.act(
      alert.id,
      'assign',
      { assignee: 'bob', note: 'feature owner' },
      alert.version,
    );
    expect(assigned.status).toBe(200);
    expect(assigned.body).toMatchObject({ assignee: 'bob', status: 'open', version: alert.version + 1 });
    expect(assigned.headers.get('etag')).toBe(`"${alert.version + 1}"`);
    await step();

    app.t.setNow(FIXED_NOW + 5 * MIN);
    const acked = await r.act(alert.id, 'ack', { note: 'looking' }, assigned.body.version);
    expect(acked.status).toBe(200);
    // An existing assignee is kept by the acknowledgement.
    expect(acked.body).toMatchObject({ status: 'acknowledged', assignee: 'bob', version: alert.version + 2 });
    await step();

    const comment = await r.post(`/v1/alerts/${alert.id}/comments`, {
      text: 'upstream changed the unit of x',
    });
    expect(comment.status).toBe(201);
    expect(comment.body).toMatchObject({
      alert_id: alert.id,
      actor: 'ana',
      text: 'upstream changed the unit of x',
    });
    // Comments do not change the alert, so the version the reviewer holds stays valid.
    expect((await r.alert(alert.id)).version).toBe(acked.body.version);
    await step();

    app.t.setNow(FIXED_NOW + 10 * MIN);
    const decided = await r.act<Outcome>(
      alert.id,
      'decision',
      { decision: 'retrain', note: 'retrain on last month' },
      acked.body.version,
    );
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    expect(decided.body.alert).toMatchObject({
      status: 'decided',
      decision: 'retrain',
      decision_note: 'retrain on last month',
    });
    const request = decided.body.retrain_request as RetrainRequestView;
    expect(request).toMatchObject({
      model: 'm',
      alert_ids: [alert.id],
      requested_by: 'ana',
      reason: 'retrain on last month',
      status: 'requested',
      produced_version: null,
    });
    await step();

    const closed = await r.act(alert.id, 'close', { note: 'retrain requested' }, decided.body.alert.version);
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'closed', closed_at: iso(FIXED_NOW + 10 * MIN) });
    const events = await step();

    expect(events.map((e) => [e.action, e.actor, e.from, e.to, e.note])).toEqual([
      ['opened', 'driftwatch', null, 'open', null],
      ['assigned', 'ana', 'open', 'open', 'feature owner'],
      ['acknowledged', 'ana', 'open', 'acknowledged', 'looking'],
      ['comment', 'ana', 'acknowledged', 'acknowledged', 'upstream changed the unit of x'],
      ['decision:retrain', 'ana', 'acknowledged', 'decided', 'retrain on last month'],
      ['closed', 'ana', 'decided', 'closed', 'retrain requested'],
    ]);
    expect(events[1]?.data).toEqual({ from: null, to: 'bob' });
    expect(events[4]?.data).toMatchObject({ decision: 'retrain', retrain_request_id: request.id });
    expect(events.map((e) => e.at)).toEqual([...events.map((e) => e.at)].sort());

    const detail = await r.alert(alert.id);
    expect(detail.retrain_requests.map((q) => q.id)).toEqual([request.id]);
    expect((await app.deliveries()).map((d) => d.event)).toEqual([
      'alert.opened',
      'retrain.requested',
      'alert.closed',
    ]);
    const closedPayload = JSON.parse((await app.deliveries())[2]?.payload ?? '{}') as { actor: string };
    expect(closedPayload.actor).toBe('ana');
  });

  it('moves a retrain request requested → accepted → in_progress → done and refuses other moves', async () => {
    const { app, alert } = await withAlert();
    const r = app.reviewer;
    const decided = await r.act<Outcome>(
      alert.id,
      'decision',
      { decision: 'retrain', note: 'new data' },
      alert.version,
    );
    const id = (decided.body.retrain_request as RetrainRequestView).id;
    const list = await r.get<{ retrain_requests: RetrainRequestView[] }>(
      '/v1/retrain-requests?model=m&status=requested',
    );
    expect(list.body.retrain_requests.map((q) => q.id)).toEqual([id]);

    const move = (body: Record<string, unknown>) =>
      r.post<RetrainRequestView & ErrorBody>(`/v1/retrain-requests/${id}/status`, body);
    const skip = await move({ status: 'done', produced_version: 'v2' });
    expect(skip.status).toBe(409);
    expect(skip.body.error).toMatchObject({
      code: 'invalid_transition',
      details: { current_status: 'requested' },
    });

    expect((await move({ status: 'accepted' })).body).toMatchObject({ status: 'accepted', version: 2 });
    const stale = await move({ status: 'in_progress', version: 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'stale_version', details: { current_version: 2 } });
    expect((await move({ status: 'in_progress', version: 2 })).body).toMatchObject({ status: 'in_progress' });

    const missing = await move({ status: 'done' });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body.error.details)).toContain('produced_version');
    const done = await move({ status: 'done', produced_version: 'v2', note: 'shipped' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'done', produced_version: 'v2' });

    const after = await move({ status: 'accepted' });
    expect(after.status).toBe(409);
    expect(after.body.error.details?.current_status).toBe('done');
    expect((await r.post<ErrorBody>('/v1/retrain-requests/999/status', { status: 'accepted' })).status).toBe(
      404,
    );

    const trail = (await r.alert(alert.id)).events.map((e) => [e.action, e.actor]);
    expect(trail.slice(-3)).toEqual([
      ['retrain_accepted', 'ana'],
      ['retrain_in_progress', 'ana'],
      ['retrain_done', 'ana'],
    ]);
    const [listed] = (await r.get<{ retrain_requests: RetrainRequestView[] }>('/v1/retrain-requests')).body
      .retrain_requests;
    expect(listed).toMatchObject({ id, status: 'done', produced_version: 'v2' });
  });

  it('creates a retrain request directly for alerts of the same model', async () => {
    const { app, alert } = await withAlert();
    const r = app.reviewer;
    const created = await r.post<RetrainRequestView>('/v1/retrain-requests', {
      model: 'm',
      alert_ids: [alert.id],
      reason: 'quarterly refresh',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      model: 'm',
      model_version: null,
      alert_ids: [alert.id],
      requested_by: 'ana',
      status: 'requested',
    });
    const detail = await r.alert(alert.id);
    expect(detail.retrain_requests.map((q) => q.id)).toEqual([created.body.id]);
    expect(detail.events.at(-1)).toMatchObject({
      action: 'retrain_requested',
      actor: 'ana',
      note: 'quarterly refresh',
    });
    // Linking a request is not a decision: the alert keeps its status and version.
    expect(detail).toMatchObject({ status: 'open', version: alert.version });

    const unknown = await r.post<ErrorBody>('/v1/retrain-requests', {
      model: 'm',
      alert_ids: [999],
      reason: 'x',
    });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body.error.details)).toContain('alert_ids');
    expect(
      (
        await r.post<ErrorBody>('/v1/retrain-requests', {
          model: 'other',
          alert_ids: [alert.id],
          reason: 'x',
        })
      ).status,
    ).toBe(400);
    const noReason = await r.post<ErrorBody>('/v1/retrain-requests', { model: 'm' });
    expect(noReason.status).toBe(400);
    expect(JSON.stringify(noReason.body.error.details)).toContain('reason');
    const bare = await r.post<RetrainRequestView>('/v1/retrain-requests', {
      model: 'm',
      model_version: 'v9',
      reason: 'new features',
    });
    expect(bare.body).toMatchObject({ alert_ids: [], model_version: 'v9' });
  });
});

describe('versions and transitions', () => {
  it('needs If-Match (428), refuses a stale version (409) and accepts the version in the body', async () => {
    const { app, alert } = await withAlert();
    const r = app.reviewer;
    const missing = await r.act<ErrorBody>(alert.id, 'ack', {}, undefined);
    expect(missing.status).toBe(428);
    expect(missing.body.error).toMatchObject({
      code: 'precondition_required',
      details: { current_version: alert.version },
    });

    const assigned = await r.act<AlertView>(alert.id, 'assign', { assignee: 'bob' }, alert.version);
    const stale = await r.act<ErrorBody>(alert.id, 'ack', {}, alert.version);
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({
      code: 'stale_version',
      details: { current_version: assigned.body.version },
    });
    for (const action of ['assign', 'decision', 'close']) {
      const body =
        action === 'assign'
          ? { assignee: 'eve' }
          : action === 'decision'
            ? { decision: 'rollback', note: 'n' }
            : {};
      const res = await r.act<ErrorBody>(alert.id, action, body, alert.version);
      expect(res.status, action).toBe(409);
      expect(res.body.error.details?.current_version, action).toBe(assigned.body.version);
      expect((await r.act<ErrorBody>(alert.id, action, body, undefined)).status, action).toBe(428);
    }
    // W/"n" is accepted as well as "n"; If-Match and a disagreeing body version are refused.
    const disagree = await r.post<ErrorBody>(
      `/v1/alerts/${alert.id}/ack`,
      { version: 1 },
      { 'if-match': `"${assigned.body.version}"` },
    );
    expect(disagree.status).toBe(400);
    const viaBody = await r.post<AlertView>(`/v1/alerts/${alert.id}/ack`, { version: assigned.body.version });
    expect(viaBody.status).toBe(200);
    expect(viaBody.body.status).toBe('acknowledged');
    const weak = await r.post<AlertView>(
      `/v1/alerts/${alert.id}/assign`,
      { assignee: 'eve' },
      { 'if-match': `W/"${viaBody.body.version}"` },
    );
    expect(weak.status).toBe(200);

    const detail = await r.alert(alert.id);
    expect(detail.events.map((e) => e.action)).toEqual(['opened', 'assigned', 'acknowledged', 'assigned']);
  });

  it('answers 409 with the current status for invalid transitions and 400 for a decision without a note', async () => {
    const { app, alert } = await withAlert();
    const r = app.reviewer;
    const acked = await r.act<AlertView>(alert.id, 'ack', {}, alert.version);
    const twice = await r.act<ErrorBody>(alert.id, 'ack', {}, acked.body.version);
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({
      code: 'invalid_transition',
      details: { current_status: 'acknowledged' },
    });

    const close = await r.act<ErrorBody>(alert.id, 'close', {}, acked.body.version);
    expect(close.status).toBe(409);
    expect(close.body.error.details?.current_status).toBe('acknowledged');

    for (const body of [{ decision: 'retrain' }, { decision: 'retrain', note: '   ' }]) {
      const res = await r.act<ErrorBody>(alert.id, 'decision', body, acked.body.version);
      expect(res.status).toBe(400);
      expect(res.body.error.details).toMatchObject({ problems: [{ path: 'note' }] });
    }
    const unknown = await r.act<ErrorBody>(
      alert.id,
      'decision',
      { decision: 'ignore', note: 'n' },
      acked.body.version,
    );
    expect(unknown.status).toBe(400);

    const decided = await r.act<Outcome>(
      alert.id,
      'decision',
      { decision: 'false_positive', note: 'bad release' },
      acked.body.version,
    );
    const closed = await r.act<AlertView>(alert.id, 'close', {}, decided.body.alert.version);
    expect(closed.status).toBe(200);
    for (const [action, body] of [
      ['decision', { decision: 'retrain', note: 'again' }],
      ['ack', {}],
      ['close', {}],
      ['assign', { assignee: 'bob' }],
    ] as const) {
      const res = await r.act<ErrorBody>(alert.id, action, body, closed.body.version);
      expect(res.status, action).toBe(409);
      expect(res.body.error.details?.current_status, action).toBe('closed');
    }
    // Nothing refused above left a trace.
    const detail = await r.alert(alert.id);
    expect(detail.version).toBe(closed.body.version);
    expect(detail.events.map((e) => e.action)).toEqual([
      'opened',
      'acknowledged',
      'decision:false_positive',
      'closed',
    ]);
    expect(detail.retrain_requests).toEqual([]);
    expect((await r.act<ErrorBody>(999, 'ack', {}, 1)).status).toBe(404);
  });

  it('records "anonymous" as the actor when no tokens are configured', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const a = await m.reviewer.alertOf('x');
    const acked = await m.reviewer.act<AlertView>(a.id, 'ack', {}, a.version);
    expect(acked.body.assignee).toBe('anonymous');
    await m.reviewer.post(`/v1/alerts/${a.id}/comments`, { text: 'hi' });
    const events = (await m.reviewer.alert(a.id)).events;
    expect(events.slice(1).map((e) => [e.action, e.actor])).toEqual([
      ['acknowledged', 'anonymous'],
      ['comment', 'anonymous'],
    ]);
  });
});

describe('decision effects', () => {
  it('accept_shift asks for confirmation, then activates a baseline built from the alert window', async () => {
    const { app, alert } = await withAlert();
    const r = app.reviewer;
    const before = await r.alert(alert.id);

    const ask = await r.act<ErrorBody>(
      alert.id,
      'decision',
      { decision: 'accept_shift', note: 'new normal' },
      alert.version,
    );
    expect(ask.status).toBe(409);
    expect(ask.body.error.code).toBe('confirmation_required');
    expect(ask.body.error.details).toEqual({
      records: 200,
      window: { from: iso(hour(8)), to: iso(hour(9)) },
      replaces_baseline_id: app.baselineId,
    });
    // Asking changed nothing: same alert, same baselines.
    expect(await r.alert(alert.id)).toEqual(before);
    const listBaselines = async () =>
      (
        await r.get<{ baselines: { id: number; active: boolean; model_version: string | null }[] }>(
          '/v1/models/m/baselines',
        )
      ).body.baselines;
    expect((await listBaselines()).map((b) => [b.id, b.active])).toEqual([[app.baselineId, true]]);

    const done = await r.act<Outcome>(
      alert.id,
      'decision',
      { decision: 'accept_shift', note: 'new normal', confirm: true },
      alert.version,
    );
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    expect(done.body.alert).toMatchObject({ status: 'decided', decision: 'accept_shift' });
    const newId = done.body.baseline?.id as number;
    expect(newId).toBeGreaterThan(app.baselineId);
    const baselines = await listBaselines();
    expect(baselines.find((b) => b.id === newId)).toMatchObject({ active: true, model_version: null });
    expect(baselines.find((b) => b.id === app.baselineId)?.active).toBe(false);
    const created = await r.get<{ row_count: number; created_by: string; notes: string }>(
      `/v1/models/m/baselines/${newId}`,
    );
    expect(created.body).toMatchObject({ row_count: 200, created_by: 'ana' });
    expect(created.body.notes).toContain('new normal');
    expect((await r.alert(alert.id)).events.at(-1)?.data).toMatchObject({
      decision: 'accept_shift',
      baseline: { id: newId },
    });

    // The same window judged again: against the new baseline, and no longer drifted.
    const [again] = await r.driftRun('m', { from: iso(hour(8)), to: iso(hour(9)) });
    expect(again?.baseline_id).toBe(newId);
    expect(again?.features.find((f) => f.feature === 'x')?.drifted).toBe(false);
    // New production data shaped like the accepted window raises nothing once the alert is closed.
    await r.act(alert.id, 'close', {}, done.body.alert.version);
    await app.window('b', hour(9), 0.6);
    await app.tick(FIXED_NOW + 30 * MIN);
    expect(await r.alerts('status=active')).toEqual([]);
  });

  it('rollback records the previous model version by first timestamp', async () => {
    m = await setupM(QUEUE_ONLY, true);
    // Names sort differently from their release order, so only the timestamps give the answer.
    const versioned = (prefix: string, h: number, hot: number, version: string) =>
      mBatch(prefix, hour(h), hot).map((rec) => ({ ...rec, model_version: version }));
    m.t.setNow(FIXED_NOW + MIN);
    await m.admin.ingest([
      ...versioned('old', 2, 0, 'b-first'),
      ...versioned('mid', 4, 0, 'a-second'),
      ...versioned('new', 8, 0.6, 'c-third'),
    ]);
    await m.tick(FIXED_NOW + 2 * MIN);
    const alerts = await m.reviewer.alerts();
    expect(alerts.map((a) => [a.feature, a.model_version])).toEqual([['x', 'c-third']]);
    const a = alerts[0] as AlertView;
    const res = await m.reviewer.act<Outcome>(
      a.id,
      'decision',
      { decision: 'rollback', note: 'c-third is broken' },
      a.version,
    );
    expect(res.status).toBe(200);
    expect(res.body.rollback).toEqual({
      status: 'recorded',
      from_version: 'c-third',
      to_version: 'a-second',
    });
    expect(res.body.alert).toMatchObject({ status: 'decided', decision: 'rollback' });
    expect((await m.reviewer.alert(a.id)).events.at(-1)?.data).toMatchObject({ rollback: res.body.rollback });
    const last = (await m.deliveries()).at(-1);
    expect(last?.event).toBe('rollback.requested');
    expect(JSON.parse(last?.payload ?? '{}')).toMatchObject({ actor: 'ana', alert: { id: a.id } });
  });

  it('false_positive with raise_thresholds sets an override above the peak PSI, and the same drift no longer fires', async () => {
    const { app, alert } = await withAlert();
    const r = app.reviewer;
    const peak = alert.peak.psi as number;
    const res = await r.act<Outcome>(
      alert.id,
      'decision',
      { decision: 'false_positive', note: 'x is noisy', raise_thresholds: true },
      alert.version,
    );
    expect(res.status).toBe(200);
    expect(res.body.thresholds?.psi_warning).toBeGreaterThan(peak);
    expect(res.body.thresholds?.psi_critical).toBeGreaterThanOrEqual(
      res.body.thresholds?.psi_warning as number,
    );

    const policy = await r.get<{
      features: Record<string, { psi_warning: number; source: string; set_by?: string }>;
    }>('/v1/models/m/alert-policy');
    expect(policy.status).toBe(200);
    expect(policy.body.features.x).toMatchObject({
      source: 'override',
      set_by: 'ana',
      psi_warning: res.body.thresholds?.psi_warning,
    });
    expect(policy.body.features.x?.psi_warning).toBeGreaterThan(peak);
    expect(policy.body.features.color).toMatchObject({ source: 'model', psi_warning: 0.1 });

    const [again] = await r.driftRun('m', { from: iso(hour(8)), to: iso(hour(9)) });
    const x = again?.features.find((f) => f.feature === 'x');
    expect(x?.psi).toBe(peak);
    expect(x?.drifted).toBe(false);

    await r.act(alert.id, 'close', {}, res.body.alert.version);
    await app.window('b', hour(9), 0.6);
    await app.tick(FIXED_NOW + 30 * MIN);
    expect(await r.alerts('status=active')).toEqual([]);
  });

  it('false_positive without raise_thresholds leaves the thresholds alone', async () => {
    const { app, alert } = await withAlert();
    const res = await app.reviewer.act<Outcome>(
      alert.id,
      'decision',
      { decision: 'false_positive', note: 'one-off' },
      alert.version,
    );
    expect(res.status).toBe(200);
    expect(res.body.thresholds).toBeUndefined();
    const policy = await app.reviewer.get<{ features: Record<string, { source: string }> }>(
      '/v1/models/m/alert-policy',
    );
    expect(policy.body.features.x?.source).toBe('model');
  });
});

describe('PUT /v1/models/:m/features/:f/thresholds', () => {
  it('is for admins, overrides the config and drives later verdicts', async () => {
    m = await setupM({ models: { m: { features: { x: { psiWarning: 0.15 } } } } }, true);
    const body = { psi_warning: 5, psi_critical: 10, reason: 'x is known to wander' };
    const path = '/v1/models/m/features/x/thresholds';
    expect((await m.reviewer.request<ErrorBody>('PUT', path, body)).status).toBe(403);
    const policy = async () =>
      (
        await m?.reviewer.get<{ features: Record<string, { psi_warning: number; source: string }> }>(
          '/v1/models/m/alert-policy',
        )
      )?.body.features.x;
    expect(await policy()).toMatchObject({ source: 'config', psi_warning: 0.15 });

    const noReason = await m.admin.request<ErrorBody>('PUT', path, { psi_warning: 5 });
    expect(noReason.status).toBe(400);
    const res = await m.admin.request<{
      psi_warning: number;
      psi_critical: number;
      source: string;
      set_by: string;
    }>('PUT', path, body);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ psi_warning: 5, psi_critical: 10, source: 'override', set_by: 'root' });
    expect(await policy()).toMatchObject({ source: 'override', psi_warning: 5 });

    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    expect(await m.reviewer.alerts()).toEqual([]);
    const [r] = await m.reviewer.driftRun('m', { from: iso(hour(8)), to: iso(hour(9)) });
    expect(r?.features.find((f) => f.feature === 'x')).toMatchObject({ drifted: false, psi_warning: 5 });
  });
});
