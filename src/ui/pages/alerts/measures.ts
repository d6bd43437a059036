import { ALERT_RULES } from '../../../rules/alerts.js';
import type { AlertKind } from '../../../store/index.js';

// Small readings of an alert shared by the queue, "why it fired" and the charts.

/** The alert kind's title, from the rules table (as the emails and docs name it). */
export const kindLabel = (kind: AlertKind) => ALERT_RULES[kind].title;

/** A data-quality window's worst rate: missing beyond training, wrong type, unseen, out of range, unknown. */
export function qualityOf(m: Record<string, number | null | undefined>): number | null {
  const rates = [
    (m.missing_rate ?? 0) - (m.baseline_missing_rate ?? 0),
    m.type_mismatch_rate ?? 0,
    m.unseen_rate ?? 0,
    m.out_of_range_rate ?? 0,
    m.unknown_feature_rate ?? 0,
  ];
  return Math.max(...rates);
}
