import type { AppDeps } from '../context.js';
import { type FeatureHistogram, featureHistogram } from '../drift/service.js';
import { ApiError } from '../errors.js';
import { isDriftKind } from '../rules/alerts.js';
import type { AlertChange, AlertCount, AlertFilter, AlertRow, Tx } from '../store/index.js';
import type { AlertView, RetrainRequestView } from '../views.js';
import { checkLength } from './limits.js';
import { TRANSITIONS } from './policy.js';
import { notify } from './raise.js';
import { alertView, retrainView } from './views.js';

// The review state machine: people assign, acknowledge, comment on and close alerts. Every change is a
// compare-and-set on the version the reviewer saw, so of two reviewers racing, one wins and one gets 409.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

export interface ChangeInput {
  id: number;
  actor: string;
  version: number | undefined;
}

function staleError(id: number, expected: number, current: AlertRow | undefined): ApiError {
  return new ApiError(
    'stale_version',
    `alert ${id} changed since version ${expected}${current ? `; it is at version ${current.version}` : ''} — reload and retry`,
    current ? { current_version: current.version, status: current.status } : undefined,
  );
}

/** The alert a reviewer wants to change, checked against the version they saw (If-Match). */
export async function loadForChange(
  tx: Tx,
  id: number,
  expectedVersion: number | undefined,
  required = true,
): Promise<AlertRow> {
  const alert = await tx.alerts.get(id);
  if (!alert) throw new ApiError('not_found', `alert ${id} does not exist`);
  if (expectedVersion === undefined) {
    if (required) {
      throw new ApiError(
        'precondition_required',
        `send If-Match: "${alert.version}" (the version you reviewed) to change alert ${id}`,
        {
          current_version: alert.version,
        },
      );
    }
  } else if (expectedVersion !== alert.version) throw staleError(id, expectedVersion, alert);
  return alert;
}

/** Applies a reviewer's change if the alert is still at the version read; 409 otherwise. */
export async function changeAlert(
  tx: Tx,
  current: AlertRow,
  change: AlertChange,
  now: number,
): Promise<AlertRow> {
  const updated = await tx.alerts.update(current.id, current.version, change, now);
  if (!updated) throw staleError(current.id, current.version, await tx.alerts.get(current.id));
  return updated;
}

export function requireStatus(alert: AlertRow, allowed: readonly AlertRow['status'][], what: string): void {
  if (!allowed.includes(alert.status)) {
    throw new ApiError(
      'invalid_transition',
      `cannot ${what} alert ${alert.id}: it is ${alert.status} (allowed from ${allowed.join(', ')})`,
      {
        current_status: alert.status,
        version: alert.version,
      },
    );
  }
}

export async function assignAlert(
  deps: Deps,
  input: ChangeInput & { assignee: string | null; note?: string | undefined },
): Promise<AlertView> {
  checkLength('assignee', input.assignee);
  checkLength('note', input.note);
  const now = deps.clock();
  return deps.store.tx(async (tx) => {
    const current = await loadForChange(tx, input.id, input.version);
    requireStatus(current, ['open', 'acknowledged', 'decided', 'snoozed'], 'assign');
    const updated = await changeAlert(tx, current, { assignee: input.assignee }, now);
    await tx.alerts.addEvent({
      alertId: current.id,
      at: now,
      actor: input.actor,
      action: 'assigned',
      fromStatus: current.status,
      toStatus: current.status,
      note: input.note ?? null,
      data: JSON.stringify({ from: current.assignee, to: input.assignee }),
    });
    return alertView(updated);
  });
}

export async function ackAlert(
  deps: Deps,
  input: ChangeInput & { note?: string | undefined },
): Promise<AlertView> {
  checkLength('note', input.note);
  const now = deps.clock();
  return deps.store.tx(async (tx) => {
    const current = await loadForChange(tx, input.id, input.version);
    requireStatus(current, TRANSITIONS.ack ?? [], 'acknowledge');
    const updated = await changeAlert(
      tx,
      current,
      { status: 'acknowledged', assignee: current.assignee ?? input.actor },
      now,
    );
    await tx.alerts.addEvent({
      alertId: current.id,
      at: now,
      actor: input.actor,
      action: 'acknowledged',
      fromStatus: current.status,
      toStatus: 'acknowledged',
      note: input.note ?? null,
      data: null,
    });
    return alertView(updated);
  });
}

export async function commentAlert(deps: Deps, input: { id: number; actor: string; text: string }) {
  checkLength('text', input.text);
  const now = deps.clock();
  await deps.store.tx(async (tx) => {
    const current = await tx.alerts.get(input.id);
    if (!current) throw new ApiError('not_found', `alert ${input.id} does not exist`);
    await tx.alerts.addEvent({
      alertId: current.id,
      at: now,
      actor: input.actor,
      action: 'comment',
      fromStatus: current.status,
      toStatus: current.status,
      note: input.text,
      data: null,
    });
  });
  return { alert_id: input.id, actor: input.actor, at: new Date(now).toISOString(), text: input.text };
}

export async function closeAlert(
  deps: Deps,
  input: ChangeInput & { note?: string | undefined },
): Promise<AlertView> {
  checkLength('note', input.note);
  const now = deps.clock();
  return deps.store.tx(async (tx) => {
    const current = await loadForChange(tx, input.id, input.version);
    // A decided alert is closed once the decision is carried out; an undecided one only after it recovered.
    const allowed: AlertRow['status'][] =
      current.recoveredAt !== null ? ['open', 'acknowledged', 'decided', 'snoozed'] : ['decided'];
    requireStatus(
      current,
      allowed,
      current.recoveredAt === null ? 'close (record a decision first, or wait for recovery)' : 'close',
    );
    const updated = await changeAlert(tx, current, { status: 'closed', closedAt: now }, now);
    await tx.alerts.addEvent({
      alertId: current.id,
      at: now,
      actor: input.actor,
      action: 'closed',
      fromStatus: current.status,
      toStatus: 'closed',
      note: input.note ?? null,
      data: null,
    });
    await notify(tx, deps, { type: 'alert.closed', at: now, actor: input.actor, alert: updated });
    return alertView(updated);
  });
}

export async function listAlerts(deps: Pick<AppDeps, 'store'>, f: AlertFilter): Promise<AlertView[]> {
  return (await deps.store.read((tx) => tx.alerts.list(f))).map(alertView);
}

/** How many alerts there are per (status, severity) among those the filter keeps: a queue's counts. */
export async function alertCounts(
  deps: Pick<AppDeps, 'store'>,
  f: Pick<AlertFilter, 'model' | 'assignee' | 'kind'>,
): Promise<AlertCount[]> {
  return deps.store.read((tx) => tx.alerts.counts(f));
}

export interface AlertEvidenceView {
  drift_result_id: number | null;
  window_kind: string;
  window: { from: string; to: string };
  severity: string;
  measures: unknown;
}

export interface AlertEventView {
  at: string;
  actor: string;
  action: string;
  from: string | null;
  to: string | null;
  note: string | null;
  data: unknown;
}

/** GET /v1/alerts/:id: the alert with its evidence, the latest window's histogram, audit trail and retrain requests. */
export interface AlertDetail extends AlertView {
  evidence: AlertEvidenceView[];
  histogram: FeatureHistogram | null;
  events: AlertEventView[];
  retrain_requests: RetrainRequestView[];
}

export async function alertDetail(deps: Deps, id: number): Promise<AlertDetail> {
  const { alert, evidence, events, retrain } = await deps.store.read(async (tx) => {
    const alert = await tx.alerts.get(id);
    if (!alert) throw new ApiError('not_found', `alert ${id} does not exist`);
    return {
      alert,
      evidence: await tx.alerts.evidence(alert.id),
      events: await tx.alerts.events(alert.id),
      retrain: await tx.alerts.retrainForAlert(alert.id),
    };
  });
  const latest = evidence[0];
  let histogram: FeatureHistogram | null = null;
  // Schema alerts name a feature the baseline does not have: there is nothing to compare.
  if (latest && isDriftKind(alert.kind)) {
    try {
      histogram = await featureHistogram(
        deps,
        alert.model,
        alert.kind === 'prediction_drift' ? 'prediction' : alert.feature,
        {
          from: latest.windowFrom,
          to: latest.windowTo,
          modelVersion: alert.modelVersion,
        },
      );
    } catch (err) {
      // The baseline may have changed since (accept_shift): the evidence's numbers remain.
      if (!(err instanceof ApiError)) throw err;
    }
  }
  return {
    ...alertView(alert),
    evidence: evidence.map((e) => ({
      // Traffic evidence (latency, error_rate) comes from no stored drift result.
      drift_result_id: e.driftResultId > 0 ? e.driftResultId : null,
      window_kind: e.windowKind,
      window: { from: new Date(e.windowFrom).toISOString(), to: new Date(e.windowTo).toISOString() },
      severity: e.severity,
      measures: JSON.parse(e.measures) as unknown,
    })),
    histogram,
    events: events.map((e) => ({
      at: new Date(e.at).toISOString(),
      actor: e.actor,
      action: e.action,
      from: e.fromStatus,
      to: e.toStatus,
      note: e.note,
      data: e.data === null ? null : (JSON.parse(e.data) as unknown),
    })),
    retrain_requests: retrain.map(retrainView),
  };
}
