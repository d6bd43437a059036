import { Readable } from 'node:stream';
import { predictionValue } from '../aggregates/binner.js';
import { type LoadedBaseline, resolveBaseline } from '../aggregates/baseline-cache.js';
import type { ProfileOptions } from '../baselines/profile.js';
import { getBaseline } from '../baselines/queries.js';
import { activateBaseline, createBaseline } from '../baselines/service.js';
import { driftSettingsFor } from '../config.js';
import type { AppDeps } from '../context.js';
import { countWindowRecords, iterateWindowRecords, previousVersion } from '../models/queries.js';
import type { ColumnResult } from '../drift/evaluate.js';
import type { DriftResult } from '../drift/service.js';
import { upsertOverride } from '../drift/queries.js';
import { thresholdsFor } from '../drift/thresholds.js';
import { ApiError } from '../errors.js';
import { enqueueNotification } from '../notifications/service.js';
import { decide, driftSignal, qualitySignal, type Signal, TRANSITIONS } from './policy.js';
import {
  addEvent,
  hasEvidence,
  upsertEvidence,
  type AlertRow,
  alertView,
  evidenceOf,
  getAlert,
  dueSnoozed,
  getRetrain,
  latestEvidenceTo,
  insertAlert,
  insertRetrain,
  openAlertFor,
  type RetrainRow,
  retrainView,
  updateAlert,
  updateRetrain,
} from './queries.js';
import type { AlertView, NotificationEventType, RetrainRequestView } from './types.js';

type Deps = Pick<AppDeps, 'db' | 'config' | 'clock'>;
const SYSTEM = 'driftwatch';

function notify(deps: Deps, type: NotificationEventType, actor: string | null, alert?: AlertRow, retrain?: RetrainRow, note?: string): void {
  enqueueNotification(deps, {
    type,
    at: deps.clock(),
    actor,
    ...(alert ? { alert: alertView(alert) } : {}),
    ...(retrain ? { retrainRequest: retrainView(retrain) } : {}),
    ...(note ? { note } : {}),
  });
}

function measures(r: ColumnResult, result: DriftResult) {
  return {
    window: result.window,
    window_kind: result.window_kind,
    drift_result_id: result.id,
    baseline_id: result.baseline_id,
    n: r.n,
    psi: r.psi,
    psi_warning: r.psi_warning,
    ks_statistic: r.ks_statistic,
    ks_pvalue: r.ks_pvalue,
    chi2_statistic: r.chi2_statistic,
    chi2_pvalue: r.chi2_pvalue,
    pvalue_adjusted: r.pvalue_adjusted,
    wasserstein_normed: r.wasserstein_normed,
    js: r.js,
    missing_rate: r.missing_rate,
    baseline_missing_rate: r.baseline_missing_rate,
    type_mismatch_rate: r.type_mismatch_rate,
    unseen_rate: r.unseen_rate,
    out_of_range_rate: r.out_of_range_rate,
    severity: r.severity,
  };
}

/** Applies the alert policy to one feature signal of a drift result. Runs inside the caller's transaction. */
function applySignal(deps: Deps, result: DriftResult, r: ColumnResult, kind: AlertRow['kind'], signal: Signal): void {
  const now = deps.clock();
  const windowFrom = Date.parse(result.window.from);
  const windowTo = Date.parse(result.window.to);
  const existing = openAlertFor(deps.db, result.model, r.feature, kind);
  // Recovery is judged on the rolling window only: one calm hour inside a drifting day is not a recovery,
  // and letting both window kinds decide made the flag (and the alert's version) flip every hour.
  if (signal && !signal.firing && result.window_kind !== 'rolling') return;
  const action = decide(existing, signal, windowTo, existing ? latestEvidenceTo(deps.db, existing.id) : null, now);
  if (action.type === 'none') return;
  const m = measures(r, result);
  if (action.type === 'recover' && existing) {
    const updated = updateAlert(deps.db, existing.id, { recoveredAt: now }, now);
    addEvent(deps.db, { alertId: existing.id, at: now, actor: SYSTEM, action: 'recovered', fromStatus: existing.status, toStatus: existing.status, note: `window ending ${result.window.to} is back to normal`, data: JSON.stringify(m) });
    // A snoozed alert stays quiet until its time, recovery included.
    if (!isSnoozed(existing, now)) notify(deps, 'alert.recovered', null, updated);
    return;
  }
  if (action.type === 'recover') return;
  const severity = action.severity;
  let alert: AlertRow;
  if (action.type === 'open') {
    alert = insertAlert(deps.db, {
      model: result.model,
      modelVersion: result.model_version ?? '',
      feature: r.feature,
      kind,
      severity,
      status: 'open',
      evidenceCount: 1,
      firstSeen: windowFrom,
      lastSeen: windowTo,
      peakPsi: r.psi,
      latest: JSON.stringify(m),
      peak: JSON.stringify(m),
      createdAt: now,
      updatedAt: now,
    });
    addEvent(deps.db, { alertId: alert.id, at: now, actor: SYSTEM, action: 'opened', fromStatus: null, toStatus: 'open', note: null, data: JSON.stringify(m) });
    notify(deps, 'alert.opened', null, alert);
  } else if (action.type === 'attach' && existing) {
    // A window re-evaluated (late data, or the rolling window between bucket boundaries) is the same evidence.
    const known = hasEvidence(deps.db, existing.id, result.id);
    const newPeak = r.psi !== null && (existing.peakPsi === null || r.psi > existing.peakPsi);
    // Evidence alone does not bump the version a reviewer holds; a change of severity, status or
    // recovery does, since those are what a reviewer acts on.
    const visible = action.escalate || action.reopen || existing.recoveredAt !== null;
    alert = updateAlert(
      deps.db,
      existing.id,
      {
        severity,
        modelVersion: result.model_version ?? '',
        evidenceCount: existing.evidenceCount + (known ? 0 : 1),
        firstSeen: Math.min(existing.firstSeen, windowFrom),
        lastSeen: Math.max(existing.lastSeen, windowTo),
        latest: JSON.stringify(m),
        recoveredAt: null,
        ...(newPeak ? { peakPsi: r.psi, peak: JSON.stringify(m) } : {}),
        ...(action.reopen ? { status: 'open' as const, snoozedUntil: null } : {}),
      },
      now,
      { bumpVersion: visible },
    );
    if (action.reopen) {
      addEvent(deps.db, { alertId: alert.id, at: now, actor: SYSTEM, action: 'snooze_ended', fromStatus: 'snoozed', toStatus: 'open', note: 'still drifting after the snooze', data: null });
      notify(deps, 'alert.opened', null, alert);
    }
    if (action.escalate) {
      addEvent(deps.db, { alertId: alert.id, at: now, actor: SYSTEM, action: 'escalated', fromStatus: alert.status, toStatus: alert.status, note: 'warning → critical', data: JSON.stringify(m) });
      if (!action.quiet) notify(deps, 'alert.escalated', null, alert);
    }
  } else return;
  upsertEvidence(deps.db, {
    alertId: alert.id,
    driftResultId: result.id,
    windowKind: result.window_kind,
    windowFrom,
    windowTo,
    severity,
    measures: JSON.stringify(m),
    at: now,
  });
}

/** Raises, extends and recovers alerts from a stored drift result (bucket and rolling windows). */
export function processDriftResult(deps: Deps, result: DriftResult): void {
  if (result.window_kind === 'range') return;
  const settings = driftSettingsFor(deps.config, result.model);
  deps.db.sqlite.transaction(() => {
    for (const r of result.features) {
      applySignal(deps, result, r, 'drift', driftSignal(r));
      applySignal(deps, result, r, 'data_quality', qualitySignal(r, settings.qualityRate, settings.minSamples));
    }
    if (result.prediction) applySignal(deps, result, result.prediction, 'prediction_drift', driftSignal(result.prediction));
  })();
}

function isSnoozed(alert: AlertRow, now: number): boolean {
  return alert.status === 'snoozed' && alert.snoozedUntil !== null && alert.snoozedUntil > now;
}

/** Snoozed alerts whose time has come go back to open. */
export function wakeSnoozed(deps: Deps, now: number): number {
  const due = dueSnoozed(deps.db, now);
  deps.db.sqlite.transaction(() => {
    for (const id of due) {
      const alert = updateAlert(deps.db, id, { status: 'open', snoozedUntil: null }, now);
      addEvent(deps.db, { alertId: id, at: now, actor: SYSTEM, action: 'snooze_ended', fromStatus: 'snoozed', toStatus: 'open', note: null, data: null });
      // Back in the queue either way; it only pages again if it is still drifting.
      if (alert.recoveredAt === null) notify(deps, 'alert.opened', null, alert);
    }
  })();
  return due.length;
}

// ---- review workflow ----

function loadForChange(deps: Deps, id: number, expectedVersion: number | undefined, required = true): AlertRow {
  const alert = getAlert(deps.db, id);
  if (!alert) throw new ApiError('not_found', `alert ${id} does not exist`);
  if (expectedVersion === undefined) {
    if (required) {
      throw new ApiError('precondition_required', `send If-Match: "${alert.version}" (the version you reviewed) to change alert ${id}`, {
        current_version: alert.version,
      });
    }
  } else if (expectedVersion !== alert.version) {
    throw new ApiError('stale_version', `alert ${id} changed since version ${expectedVersion}; it is at version ${alert.version} — reload and retry`, {
      current_version: alert.version,
      status: alert.status,
    });
  }
  return alert;
}

function requireStatus(alert: AlertRow, allowed: AlertRow['status'][], what: string): void {
  if (!allowed.includes(alert.status)) {
    throw new ApiError('invalid_transition', `cannot ${what} alert ${alert.id}: it is ${alert.status} (allowed from ${allowed.join(', ')})`, {
      current_status: alert.status,
      version: alert.version,
    });
  }
}

export interface ChangeInput {
  id: number;
  actor: string;
  version: number | undefined;
}

export function assignAlert(deps: Deps, input: ChangeInput & { assignee: string | null; note?: string | undefined }): AlertView {
  const now = deps.clock();
  const alert = deps.db.sqlite.transaction(() => {
    const current = loadForChange(deps, input.id, input.version);
    requireStatus(current, ['open', 'acknowledged', 'decided', 'snoozed'], 'assign');
    const updated = updateAlert(deps.db, current.id, { assignee: input.assignee }, now);
    addEvent(deps.db, { alertId: current.id, at: now, actor: input.actor, action: 'assigned', fromStatus: current.status, toStatus: current.status, note: input.note ?? null, data: JSON.stringify({ from: current.assignee, to: input.assignee }) });
    return updated;
  })();
  return alertView(alert);
}

export function ackAlert(deps: Deps, input: ChangeInput & { note?: string | undefined }): AlertView {
  const now = deps.clock();
  const alert = deps.db.sqlite.transaction(() => {
    const current = loadForChange(deps, input.id, input.version);
    requireStatus(current, TRANSITIONS.ack ?? [], 'acknowledge');
    const updated = updateAlert(deps.db, current.id, { status: 'acknowledged', assignee: current.assignee ?? input.actor }, now);
    addEvent(deps.db, { alertId: current.id, at: now, actor: input.actor, action: 'acknowledged', fromStatus: current.status, toStatus: 'acknowledged', note: input.note ?? null, data: null });
    return updated;
  })();
  return alertView(alert);
}

export function commentAlert(deps: Deps, input: { id: number; actor: string; text: string }) {
  const now = deps.clock();
  deps.db.sqlite.transaction(() => {
    const current = getAlert(deps.db, input.id);
    if (!current) throw new ApiError('not_found', `alert ${input.id} does not exist`);
    addEvent(deps.db, { alertId: current.id, at: now, actor: input.actor, action: 'comment', fromStatus: current.status, toStatus: current.status, note: input.text, data: null });
  })();
  return { alert_id: input.id, actor: input.actor, at: new Date(now).toISOString(), text: input.text };
}

export function closeAlert(deps: Deps, input: ChangeInput & { note?: string | undefined }): AlertView {
  const now = deps.clock();
  const alert = deps.db.sqlite.transaction(() => {
    const current = loadForChange(deps, input.id, input.version);
    // A decided alert is closed once the decision is carried out; an undecided one only after it recovered.
    const allowed: AlertRow['status'][] = current.recoveredAt !== null ? ['open', 'acknowledged', 'decided', 'snoozed'] : ['decided'];
    requireStatus(current, allowed, current.recoveredAt === null ? 'close (record a decision first, or wait for recovery)' : 'close');
    const updated = updateAlert(deps.db, current.id, { status: 'closed', closedAt: now }, now);
    addEvent(deps.db, { alertId: current.id, at: now, actor: input.actor, action: 'closed', fromStatus: current.status, toStatus: 'closed', note: input.note ?? null, data: null });
    notify(deps, 'alert.closed', input.actor, updated);
    return updated;
  })();
  return alertView(alert);
}

export type Decision = 'retrain' | 'accept_shift' | 'rollback' | 'false_positive' | 'snooze';

export interface DecisionInput extends ChangeInput {
  decision: Decision;
  note: string;
  snoozeUntil?: number | undefined;
  confirm?: boolean | undefined;
  raiseThresholds?: boolean | undefined;
}

export interface DecisionOutcome {
  alert: AlertView;
  retrain_request?: RetrainRequestView;
  baseline?: { id: number; reaggregated_records: number };
  thresholds?: { psi_warning: number; psi_critical: number };
  rollback?: { status: 'recorded'; from_version: string | null; to_version: string | null };
}

function windowOfLatestEvidence(deps: Deps, alert: AlertRow): { from: number; to: number } {
  const [latest] = evidenceOf(deps.db, alert.id, 1);
  return latest ? { from: latest.windowFrom, to: latest.windowTo } : { from: alert.firstSeen, to: alert.lastSeen };
}

/** Rows of the window's raw records as training rows, streamed as NDJSON for the baseline builder. */
function windowRows(deps: Deps, alert: AlertRow, w: { from: number; to: number }, withPrediction: boolean): Readable {
  const rows = iterateWindowRecords(deps.db, alert.model, alert.modelVersion, w.from, w.to);
  return Readable.from(
    (function* () {
      for (const r of rows) {
        const row = JSON.parse(r.features) as Record<string, unknown>;
        if (withPrediction) row.prediction = predictionValue(r.prediction === null ? null : JSON.parse(r.prediction));
        yield `${JSON.stringify(row)}\n`;
      }
    })(),
  );
}

/**
 * Profile options for a baseline built from production records: the active baseline's own options
 * (excluded columns, forced types, top-K, grid size), with each column's current type kept and the
 * prediction under the name the window rows give it.
 */
function shiftProfileOptions(deps: Deps, model: string, active: LoadedBaseline | null): ProfileOptions {
  if (!active) return {};
  const stored = getBaseline(deps.db, model, active.id);
  const own = stored ? (JSON.parse(stored.options) as ProfileOptions) : {};
  const typed = (type: 'numeric' | 'categorical') => [...active.features].filter(([, b]) => b.profile.type === type).map(([k]) => k);
  return {
    ...(own.exclude ? { exclude: own.exclude } : {}),
    ...(own.topK === undefined ? {} : { topK: own.topK }),
    ...(own.gridCells === undefined ? {} : { gridCells: own.gridCells }),
    categorical: typed('categorical'),
    numeric: typed('numeric'),
    ...(active.prediction ? { prediction: 'prediction' } : {}),
    allowAbsentColumns: true,
  };
}

/** Records a reviewer's decision and carries out its effect. */
export async function decideAlert(deps: Deps, input: DecisionInput): Promise<DecisionOutcome> {
  const now = deps.clock();
  const current = loadForChange(deps, input.id, input.version);
  if (input.decision === 'snooze') {
    requireStatus(current, TRANSITIONS.snooze ?? [], 'snooze');
    if (input.snoozeUntil === undefined || input.snoozeUntil <= now) {
      throw new ApiError('bad_request', 'snooze_until must be a time in the future', { problems: [{ path: 'snooze_until', message: 'must be in the future' }] });
    }
  } else requireStatus(current, TRANSITIONS.decide ?? [], `record a ${input.decision} decision on`);
  if (input.raiseThresholds && (input.decision !== 'false_positive' || current.kind === 'data_quality')) {
    throw new ApiError(
      'bad_request',
      input.decision !== 'false_positive'
        ? 'raise_thresholds goes with a false_positive decision'
        : 'raise_thresholds applies to drift and prediction_drift alerts; data-quality alerts follow qualityRate in the config',
      { problems: [{ path: 'raise_thresholds', message: 'not applicable here' }] },
    );
  }

  const outcome: Omit<DecisionOutcome, 'alert'> = {};
  if (input.decision === 'accept_shift') {
    // Replacing the baseline changes every later verdict: show what would happen until the reviewer confirms.
    const w = windowOfLatestEvidence(deps, current);
    const n = countWindowRecords(deps.db, current.model, current.modelVersion, w.from, w.to);
    const active = resolveBaseline(deps.db, current.model, current.modelVersion);
    if (!input.confirm) {
      throw new ApiError('confirmation_required', `accept_shift builds a new baseline for ${current.model} ${current.modelVersion || '(unversioned)'} from ${n} stored records of ${new Date(w.from).toISOString()} – ${new Date(w.to).toISOString()} and activates it in place of baseline ${active?.id ?? 'none'}; resend with "confirm": true`, {
        records: n,
        window: { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() },
        replaces_baseline_id: active?.id ?? null,
      });
    }
    if (n === 0) throw new ApiError('conflict', 'the raw records of the alert window are no longer stored (retention); upload a baseline instead');
    const created = await createBaseline(deps as AppDeps, {
      model: current.model,
      modelVersion: current.modelVersion,
      source: windowRows(deps, current, w, active?.prediction !== null && active !== null),
      format: 'ndjson',
      profile: shiftProfileOptions(deps, current.model, active),
      notes: `accept_shift of alert ${current.id}: ${input.note}`,
      createdBy: input.actor,
      activate: false,
    });
    // The reviewer's version must still hold before the switch, not only when the decision is recorded.
    loadForChange(deps, input.id, input.version);
    const activated = await activateBaseline(deps as AppDeps, current.model, created.baseline.id);
    outcome.baseline = { id: activated.baseline.id, reaggregated_records: activated.reaggregated };
  }

  const alert = deps.db.sqlite.transaction(() => {
    // Re-check inside the transaction: the accept_shift work above awaited.
    const fresh = loadForChange(deps, input.id, input.version);
    const snooze = input.decision === 'snooze';
    const updated = updateAlert(
      deps.db,
      fresh.id,
      {
        status: snooze ? 'snoozed' : 'decided',
        decision: input.decision,
        decisionNote: input.note,
        snoozedUntil: snooze ? (input.snoozeUntil ?? null) : null,
      },
      now,
    );
    const data: Record<string, unknown> = { decision: input.decision };
    if (input.decision === 'retrain') {
      const request = insertRetrain(deps.db, {
        model: fresh.model,
        modelVersion: fresh.modelVersion,
        alertIds: JSON.stringify([fresh.id]),
        requestedBy: input.actor,
        reason: input.note,
        status: 'requested',
        createdAt: now,
        updatedAt: now,
      });
      outcome.retrain_request = retrainView(request);
      data.retrain_request_id = request.id;
      notify(deps, 'retrain.requested', input.actor, updated, request);
    }
    if (input.decision === 'rollback') {
      const to = previousVersion(deps.db, fresh.model, fresh.modelVersion);
      outcome.rollback = { status: 'recorded', from_version: fresh.modelVersion || null, to_version: to };
      data.rollback = outcome.rollback;
      notify(deps, 'rollback.requested', input.actor, updated, undefined, `roll ${fresh.model} back from ${fresh.modelVersion || '(unversioned)'} to ${to ?? 'the previous version'}`);
    }
    if (input.decision === 'false_positive' && input.raiseThresholds) {
      const t = thresholdsFor(deps.db, deps.config, fresh.model)(fresh.feature);
      const psiWarning = Math.max(t.psiWarning, Math.round((fresh.peakPsi ?? t.psiWarning) * 1.2 * 1e4) / 1e4);
      const psiCritical = Math.max(t.psiCritical, psiWarning * 2.5);
      upsertOverride(deps.db, { model: fresh.model, feature: fresh.feature, psiWarning, psiCritical, alpha: null, setBy: input.actor, reason: `false positive on alert ${fresh.id}: ${input.note}`, updatedAt: now });
      outcome.thresholds = { psi_warning: psiWarning, psi_critical: psiCritical };
      data.thresholds = outcome.thresholds;
    }
    if (outcome.baseline) data.baseline = outcome.baseline;
    addEvent(deps.db, { alertId: fresh.id, at: now, actor: input.actor, action: `decision:${input.decision}`, fromStatus: fresh.status, toStatus: updated.status, note: input.note, data: JSON.stringify(data) });
    return updated;
  })();
  return { alert: alertView(alert), ...outcome };
}

// ---- retrain requests ----

const RETRAIN_FLOW: Record<RetrainRow['status'], RetrainRow['status'][]> = {
  requested: ['accepted', 'rejected'],
  accepted: ['in_progress', 'rejected'],
  in_progress: ['done', 'rejected'],
  done: [],
  rejected: [],
};

export function createRetrainRequest(
  deps: Deps,
  input: { model: string; modelVersion: string; alertIds: number[]; actor: string; reason: string },
): RetrainRequestView {
  const now = deps.clock();
  return deps.db.sqlite.transaction(() => {
    for (const id of input.alertIds) {
      const a = getAlert(deps.db, id);
      if (!a) throw new ApiError('bad_request', `alert ${id} does not exist`, { problems: [{ path: 'alert_ids', message: `alert ${id} does not exist` }] });
      if (a.model !== input.model) throw new ApiError('bad_request', `alert ${id} belongs to model ${a.model}, not ${input.model}`);
    }
    const row = insertRetrain(deps.db, {
      model: input.model,
      modelVersion: input.modelVersion,
      alertIds: JSON.stringify(input.alertIds),
      requestedBy: input.actor,
      reason: input.reason,
      status: 'requested',
      createdAt: now,
      updatedAt: now,
    });
    for (const id of input.alertIds) {
      const a = getAlert(deps.db, id);
      addEvent(deps.db, { alertId: id, at: now, actor: input.actor, action: 'retrain_requested', fromStatus: a?.status ?? null, toStatus: a?.status ?? null, note: input.reason, data: JSON.stringify({ retrain_request_id: row.id }) });
    }
    notify(deps, 'retrain.requested', input.actor, undefined, row);
    return retrainView(row);
  })();
}

export function updateRetrainStatus(
  deps: Deps,
  input: { id: number; actor: string; status: RetrainRow['status']; producedVersion?: string | undefined; note?: string | undefined; version?: number | undefined },
): RetrainRequestView {
  const now = deps.clock();
  return deps.db.sqlite.transaction(() => {
    const current = getRetrain(deps.db, input.id);
    if (!current) throw new ApiError('not_found', `retrain request ${input.id} does not exist`);
    if (input.version !== undefined && input.version !== current.version) {
      throw new ApiError('stale_version', `retrain request ${input.id} is at version ${current.version}, not ${input.version}`, { current_version: current.version });
    }
    const allowed = RETRAIN_FLOW[current.status];
    if (!allowed.includes(input.status)) {
      throw new ApiError('invalid_transition', `retrain request ${input.id} is ${current.status}; it can move to ${allowed.join(', ') || 'nothing (final)'}`, {
        current_status: current.status,
      });
    }
    if (input.status === 'done' && !input.producedVersion && !current.producedVersion) {
      throw new ApiError('bad_request', 'produced_version is required when a retrain is done', { problems: [{ path: 'produced_version', message: 'required when status is done' }] });
    }
    const row = updateRetrain(deps.db, current.id, { status: input.status, ...(input.producedVersion ? { producedVersion: input.producedVersion } : {}) }, now);
    for (const id of JSON.parse(current.alertIds) as number[]) {
      addEvent(deps.db, { alertId: id, at: now, actor: input.actor, action: `retrain_${input.status}`, fromStatus: null, toStatus: null, note: input.note ?? null, data: JSON.stringify({ retrain_request_id: row.id, produced_version: row.producedVersion }) });
    }
    notify(deps, 'retrain.updated', input.actor, undefined, row, input.note);
    return retrainView(row);
  })();
}
