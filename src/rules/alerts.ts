import { ALERT_KINDS, type AlertKind } from '../views.js';

// The alert rulebook: every kind of alert, what makes it fire, its severity ladder, how it recovers, and
// the words that explain each. Raising (alerts/raise.ts, alerts/policy.ts), the API's validation
// (alerts/routes.ts), the UI, notifications, reports and the README's alert table read this one table, so
// the explanation a reviewer reads cannot drift from the rule that raised the alert (test/rules checks the
// README). It imports nothing but views.ts, so every capability may read it.

export { ALERT_KINDS, type AlertKind };
export type Severity = 'warning' | 'critical';

/** How a threshold signal escalates: critical at `factor` × the threshold, but never above `cap`. */
export interface Ladder {
  factor: number;
  cap: number;
}

export interface AlertRule {
  kind: AlertKind;
  /** A few words for lists and subjects: "feature drift". */
  title: string;
  /** The measure that made the alert, as the UI's headline and chart axis call it. */
  measure: string;
  /** The configuration key of the threshold. */
  setting: string;
  /** The threshold ladder; drift kinds take their severity from the window's verdict instead (PSI thresholds). */
  ladder: Ladder | null;
  /** When it fires, one sentence (the README's alert table says the same). */
  fires: string;
  /** When it counts as recovered. */
  recovers: string;
}

const RECOVERS_WINDOW =
  'a calm rolling window newer than the last evidence, or a calm closed bucket wholly after every window that fired';

export const ALERT_RULES: Record<AlertKind, AlertRule> = {
  drift: {
    kind: 'drift',
    title: 'feature drift',
    measure: 'PSI',
    setting: 'psiWarning, psiCritical, alpha',
    ladder: null,
    fires:
      "the feature's verdict is drifted (PSI ≥ `psiWarning` and BH-adjusted KS/χ² p < `alpha`); `critical` when PSI ≥ `psiCritical`",
    recovers: RECOVERS_WINDOW,
  },
  prediction_drift: {
    kind: 'prediction_drift',
    title: 'prediction drift',
    measure: 'PSI',
    setting: 'psiWarning, psiCritical, alpha',
    ladder: null,
    fires: 'the same for the prediction',
    recovers: RECOVERS_WINDOW,
  },
  latency: {
    kind: 'latency',
    title: 'latency',
    measure: 'p95 latency, ms',
    setting: 'latencyP95Ms',
    ladder: { factor: 2, cap: Number.POSITIVE_INFINITY },
    fires:
      "the window's latency p95 ≥ `latencyP95Ms` (off unless set); `critical` at 2× — see [Traffic](#traffic)",
    recovers: RECOVERS_WINDOW,
  },
  error_rate: {
    kind: 'error_rate',
    title: 'error rate',
    measure: 'error rate',
    setting: 'errorRate',
    // A rate cannot exceed 1: with errorRate above 0.5, critical is every request failing.
    ladder: { factor: 2, cap: 1 },
    fires:
      "the window's share of failed requests ≥ `errorRate` (off unless set); `critical` at 2×, and at 100% when 2× would exceed it",
    recovers: RECOVERS_WINDOW,
  },
  performance_drop: {
    kind: 'performance_drop',
    title: 'performance drop',
    measure: 'accuracy drop',
    setting: 'performanceDrop',
    // A drop cannot exceed 1.
    ladder: { factor: 2, cap: 1 },
    fires:
      "the estimated accuracy (from the logged probabilities, or the realized accuracy once `minSamples` labels arrived) is below the baseline's labelled accuracy by ≥ `performanceDrop` (default 0.05); `critical` at 2× — see [Performance without labels](docs/statistics.md#performance-without-labels)",
    recovers: RECOVERS_WINDOW,
  },
  data_quality: {
    kind: 'data_quality',
    title: 'data quality',
    measure: 'worst rate',
    setting: 'qualityRate',
    ladder: { factor: 4, cap: Number.POSITIVE_INFINITY },
    fires:
      "missing share above the baseline's own, type-mismatch share, unseen-category share or share outside the training range ≥ `qualityRate` (default 0.05); `critical` at 4×; judged once the window holds `minSamples` records of the feature (a feature missing from every record fires too)",
    recovers: RECOVERS_WINDOW,
  },
  multivariate_drift: {
    kind: 'multivariate_drift',
    title: 'joint drift',
    measure: 'correlation change or reconstruction error',
    setting: 'alpha, multivariate',
    // Δr against 0.2 for a pair, the error against its threshold for `reconstruction`.
    ladder: { factor: 2, cap: Number.POSITIVE_INFINITY },
    fires:
      "a pair `a × b` of numeric features changed correlation (BH-adjusted Fisher p < `alpha`, in one step with the features' tests, and a change of at least 0.2 either way), or the window's reconstruction error from the baseline's principal components passed its threshold at 1e-4 (feature `reconstruction`); `critical` at a change of 0.4 or twice the threshold; judged from `minSamples` records — see [Joint shifts](docs/statistics.md#joint-shifts)",
    recovers: RECOVERS_WINDOW,
  },
};

/** The value at which a threshold signal turns critical. */
export function criticalAt(ladder: Ladder, threshold: number): number {
  return Math.min(ladder.cap, ladder.factor * threshold);
}

/** Severity of a value against a threshold by the kind's ladder; null when it does not fire. */
export function ladderSeverity(kind: AlertKind, value: number, threshold: number): Severity | null {
  const ladder = ALERT_RULES[kind].ladder;
  if (ladder === null) throw new Error(`${kind} alerts take their severity from the drift verdict`);
  if (value < threshold) return null;
  return value >= criticalAt(ladder, threshold) ? 'critical' : 'warning';
}

/**
 * The rule in words for a configured threshold, as the UI's "why it fired" table writes it:
 * "fires at ≥ 5.0%, critical at ≥ 10.0%". `format` writes a value in the measure's unit.
 */
export function ladderText(kind: AlertKind, threshold: number, format: (v: number) => string): string {
  const ladder = ALERT_RULES[kind].ladder;
  if (ladder === null) return ALERT_RULES[kind].fires;
  return `fires at ≥ ${format(threshold)}, critical at ≥ ${format(criticalAt(ladder, threshold))}`;
}

/** Drift kinds: judged by the drift tests on a feature's or the prediction's distribution. */
export function isDriftKind(kind: AlertKind): boolean {
  return ALERT_RULES[kind].ladder === null;
}

/** Joint kinds: judged on the co-moments of the numeric features, keyed on a pair or `reconstruction`. */
export function isJointKind(kind: AlertKind): boolean {
  return kind === 'multivariate_drift';
}

/** Traffic kinds: judged on the model's request log, keyed on no feature. */
export function isTrafficKind(kind: AlertKind): boolean {
  return kind === 'latency' || kind === 'error_rate';
}
