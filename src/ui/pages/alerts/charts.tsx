import type { AlertDetail } from '../../../alerts/review.js';
import { histogramOverlay, lineChart } from '../../../charts/index.js';
import type { AppDeps } from '../../../context.js';
import { driftSeries } from '../../../drift/service.js';
import { ApiError } from '../../../errors.js';
import { binLabel } from '../../../reports/render.js';
import { ALERT_RULES, isDriftKind } from '../../../rules/alerts.js';
import { utc } from '../../components.js';
import { qualityOf } from './measures.js';

// One alert's charts: the latest window's histogram against the baseline, and the alert's measure per
// window around it (PSI with the thresholds in force, or the traffic and quality measure of its evidence).

/** The alert's figures: its histogram against the baseline, and its measure over time. */
export function alertCharts(
  a: AlertDetail,
  settings: { psiWarning: number; psiCritical: number },
  trend: { x: number; y: number }[],
  trendKind: string,
) {
  const out: { svg: string; caption: string; id: string }[] = [];
  if (a.histogram && a.histogram.bins.length > 0) {
    out.push({
      id: 'chart-histogram',
      svg: histogramOverlay({
        width: 640,
        height: 260,
        title: `${a.histogram.feature}: baseline ${a.histogram.baseline_id} against the latest alert window`,
        // edges rounded as the critical-alert email writes them ("[1, 2.65)", not 2.6500000000000083)
        bins: a.histogram.bins.map((b) => ({ label: binLabel(b), baseline: b.baseline, current: b.window })),
        names: { baseline: `Baseline ${a.histogram.baseline_id}`, current: 'Alert window' },
      }),
      caption: `Share of values per bin: the baseline against ${utc(a.histogram.window.from)} – ${utc(a.histogram.window.to)} (${a.histogram.n} values).`,
    });
  }
  if (trend.length >= 2) {
    const isDrift = isDriftKind(a.kind);
    const label = ALERT_RULES[a.kind].measure;
    out.push({
      id: 'chart-trend',
      svg: lineChart({
        width: 640,
        height: 220,
        yLabel: label,
        title: `${a.feature}: ${label} per window around this alert`,
        series: [{ name: label, points: trend }],
        thresholds: isDrift
          ? [
              { y: settings.psiWarning, label: 'warning' },
              { y: settings.psiCritical, label: 'critical' },
            ]
          : [],
      }),
      caption: isDrift
        ? `PSI of ${a.feature} in every evaluated ${trendKind} window from two days before the alert to two days after it was last seen, with the thresholds in force.`
        : 'The measure in each window that attached evidence to this alert.',
    });
  }
  return out;
}

const TREND_WINDOWS = 240;

/**
 * The alert's measure over time: for drift, the feature's PSI in every stored result of the evidence's
 * window kind from two days before the alert on (bounded); for the others, the evidence windows.
 */
export async function trendOf(
  deps: Pick<AppDeps, 'store'>,
  a: AlertDetail,
): Promise<{ points: { x: number; y: number }[]; kind: string }> {
  const kind = a.evidence[0]?.window_kind ?? 'bucket';
  if (isDriftKind(a.kind)) {
    // Newest first within the limit: bounded to two days either side of the alert, so the windows shown
    // are the alert's own even when the feature has been evaluated for long since.
    const results = await driftSeries(deps, a.model, {
      from: Date.parse(a.first_seen) - 2 * 86_400_000,
      to: Date.parse(a.last_seen) + 2 * 86_400_000,
      kind: kind === 'rolling' || kind === 'bucket' ? kind : undefined,
      modelVersion: a.model_version ?? undefined,
      // the one column the trend plots, read narrow ('prediction' keeps the prediction and no feature)
      feature: a.kind === 'prediction_drift' ? 'prediction' : (a.feature ?? undefined),
      limit: TREND_WINDOWS,
    }).catch((err) => {
      if (err instanceof ApiError) return [];
      throw err;
    });
    const points = results
      .map((r) => {
        const col =
          a.kind === 'prediction_drift' ? r.prediction : r.features.find((f) => f.feature === a.feature);
        return { x: Date.parse(r.window.to), y: col?.psi ?? null };
      })
      .filter((p): p is { x: number; y: number } => p.y !== null)
      .sort((p, q) => p.x - q.x);
    return { points, kind };
  }
  // Joint alerts: the pair's window correlation, or the reconstruction error, per evidence window.
  const joint =
    a.kind === 'multivariate_drift'
      ? typeof (a.latest as Record<string, unknown>).reconstruction_error === 'number'
        ? 'reconstruction_error'
        : 'correlation_window'
      : null;
  const key = a.kind === 'latency' ? 'latency_p95_ms' : a.kind === 'error_rate' ? 'error_rate' : joint;
  const points = a.evidence
    .map((e) => {
      const m = e.measures as Record<string, number | null | undefined>;
      return { x: Date.parse(e.window.to), y: key ? (m[key] ?? null) : qualityOf(m) };
    })
    .filter((p): p is { x: number; y: number } => typeof p.y === 'number')
    .sort((p, q) => p.x - q.x);
  return { points, kind };
}
