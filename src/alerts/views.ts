import type { AlertRow, RetrainRow } from '../store/index.js';
import type { AlertView, RetrainRequestView } from '../views.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function alertView(r: AlertRow): AlertView {
  return {
    id: r.id,
    model: r.model,
    model_version: r.modelVersion === '' ? null : r.modelVersion,
    feature: r.feature,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    assignee: r.assignee,
    version: r.version,
    recovered: r.recoveredAt !== null,
    recovered_at: iso(r.recoveredAt),
    snoozed_until: iso(r.snoozedUntil),
    decision: r.decision,
    decision_note: r.decisionNote,
    evidence_count: r.evidenceCount,
    first_seen: iso(r.firstSeen) as string,
    last_seen: iso(r.lastSeen) as string,
    latest: JSON.parse(r.latest) as Record<string, unknown>,
    peak: JSON.parse(r.peak) as Record<string, unknown>,
    created_at: iso(r.createdAt) as string,
    updated_at: iso(r.updatedAt) as string,
    closed_at: iso(r.closedAt),
  };
}

export function retrainView(r: RetrainRow): RetrainRequestView {
  return {
    id: r.id,
    model: r.model,
    model_version: r.modelVersion === '' ? null : r.modelVersion,
    alert_ids: JSON.parse(r.alertIds) as number[],
    requested_by: r.requestedBy,
    reason: r.reason,
    status: r.status,
    produced_version: r.producedVersion,
    version: r.version,
    created_at: iso(r.createdAt) as string,
    updated_at: iso(r.updatedAt) as string,
  };
}

/** Alerts that should be paging now: not closed, not recovered, and not in a running snooze. */
export function isFiring(a: AlertRow, now: number): boolean {
  return (
    a.status !== 'closed' &&
    a.recoveredAt === null &&
    !(a.status === 'snoozed' && a.snoozedUntil !== null && a.snoozedUntil > now)
  );
}
