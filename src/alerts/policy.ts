import type { ColumnResult } from '../drift/evaluate.js';
import { ladderSeverity } from '../rules/alerts.js';
import type { AlertRow } from '../store/index.js';

// Pure rules: what one window's verdict for one feature means for that feature's alert.

export type AlertKind = AlertRow['kind'];
export type Signal = { firing: true; severity: 'warning' | 'critical' } | { firing: false } | null;

/** Drift signal of a column: null when the window gave no verdict (too few values). */
export function driftSignal(r: ColumnResult): Signal {
  if (r.drifted === null) return null;
  if (!r.drifted) return { firing: false };
  return { firing: true, severity: r.severity === 'critical' ? 'critical' : 'warning' };
}

/**
 * Data-quality signal: missing values beyond the baseline's own share, wrong types, or categories never
 * seen in training, at or above `rate` (the ladder in rules.ts says when it is critical).
 */
export function qualitySignal(r: ColumnResult, rate: number, minSamples: number): Signal {
  if (r.missing_rate === null || r.records < minSamples) return null;
  return ladderSignal('data_quality', qualityRate(r), rate);
}

/** A threshold signal by the kind's severity ladder in the rulebook. */
export function ladderSignal(kind: AlertKind, value: number, threshold: number): Signal {
  const severity = ladderSeverity(kind, value, threshold);
  return severity === null ? { firing: false } : { firing: true, severity };
}

/** The worst data-quality share of a window: missing beyond training's own, mistyped, never seen, or outside the training range. */
export function qualityRate(r: ColumnResult): number {
  return Math.max(
    (r.missing_rate ?? 0) - r.baseline_missing_rate,
    r.type_mismatch_rate ?? 0,
    r.unseen_rate ?? 0,
    r.out_of_range_rate ?? 0,
  );
}

export type PolicyAction =
  | { type: 'none' }
  | { type: 'open'; severity: 'warning' | 'critical' }
  | { type: 'attach'; escalate: boolean; reopen: boolean; quiet: boolean; severity: 'warning' | 'critical' }
  | { type: 'recover' };

/**
 * One open alert per (model, feature, kind). Firing windows open it or attach as evidence (escalating
 * warning → critical, never back); a calm window newer than the last evidence marks it recovered;
 * a snoozed alert collects evidence quietly until its snooze ends, then re-opens.
 */
export function decide(
  existing: AlertRow | undefined,
  signal: Signal,
  windowTo: number,
  lastEvidenceTo: number | null,
  now: number,
): PolicyAction {
  if (signal === null) return { type: 'none' };
  if (!signal.firing) {
    if (!existing || existing.recoveredAt !== null) return { type: 'none' };
    if (lastEvidenceTo !== null && windowTo < lastEvidenceTo) return { type: 'none' };
    return { type: 'recover' };
  }
  if (!existing) return { type: 'open', severity: signal.severity };
  const escalate = existing.severity === 'warning' && signal.severity === 'critical';
  const snoozed =
    existing.status === 'snoozed' && existing.snoozedUntil !== null && existing.snoozedUntil > now;
  const reopen = existing.status === 'snoozed' && !snoozed;
  return {
    type: 'attach',
    escalate,
    reopen,
    quiet: snoozed,
    severity: escalate ? 'critical' : existing.severity,
  };
}

/** Workflow transitions a person can make; anything else is a 409 naming the current state. */
export const TRANSITIONS: Record<string, AlertRow['status'][]> = {
  ack: ['open'],
  decide: ['open', 'acknowledged', 'snoozed'],
  snooze: ['open', 'acknowledged'],
};
