// Response shapes shared by routes, notifications, tests and the coming UI. Imports nothing of the project.

/** Every kind of alert (src/alerts/rules.ts says what each means); the store's schemas take their enum from here. */
export const ALERT_KINDS = [
  'drift',
  'data_quality',
  'prediction_drift',
  'latency',
  'error_rate',
  'performance_drop',
  'multivariate_drift',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** An alert as the API, notifications and the UI show it. */
export interface AlertView {
  id: number;
  model: string;
  model_version: string | null;
  feature: string;
  kind: AlertKind;
  severity: 'warning' | 'critical';
  status: 'open' | 'acknowledged' | 'decided' | 'snoozed' | 'closed';
  assignee: string | null;
  version: number;
  recovered: boolean;
  recovered_at: string | null;
  snoozed_until: string | null;
  decision: string | null;
  decision_note: string | null;
  evidence_count: number;
  first_seen: string;
  last_seen: string;
  /** Measures of the latest drifted window for this feature (psi, ks_pvalue, … as in drift results). */
  latest: Record<string, unknown>;
  /** Measures of the window with the highest PSI so far. */
  peak: Record<string, unknown>;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
}

export interface RetrainRequestView {
  id: number;
  model: string;
  model_version: string | null;
  alert_ids: number[];
  requested_by: string;
  reason: string;
  status: 'requested' | 'accepted' | 'in_progress' | 'done' | 'rejected';
  produced_version: string | null;
  version: number;
  created_at: string;
  updated_at: string;
}

export type NotificationEventType =
  | 'alert.opened'
  | 'alert.escalated'
  | 'alert.recovered'
  | 'alert.closed'
  | 'retrain.requested'
  | 'retrain.updated'
  | 'rollback.requested';

export interface NotificationEvent {
  type: NotificationEventType;
  /** ms since epoch */
  at: number;
  actor: string | null;
  alert?: AlertView;
  retrainRequest?: RetrainRequestView;
  /** Free text for events without an alert or request body (e.g. the version a rollback asks for). */
  note?: string;
}
