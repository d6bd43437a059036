import type { FeatureLatestRow, FeatureMeasureRow, MetricsStore, WindowKind } from '../types.js';
import type { Connection } from './client.js';

// Newer = a later window end, then a later evaluation (a re-evaluated window replaces its measures).
const NEWER =
  '(excluded.window_to, excluded.evaluated_at) >= (feature_latest.window_to, feature_latest.evaluated_at)';

export class SqliteMetrics implements MetricsStore {
  constructor(private readonly c: Connection) {}

  async putFeatureLatest(
    model: string,
    modelVersion: string,
    window: { kind: WindowKind; to: number; evaluatedAt: number },
    rows: readonly FeatureMeasureRow[],
  ): Promise<void> {
    const stored = this.c
      .prepared(
        `SELECT window_to AS windowTo, evaluated_at AS evaluatedAt FROM feature_latest
         WHERE model = ? AND model_version = ? ORDER BY window_to DESC, evaluated_at DESC LIMIT 1`,
      )
      .get(model, modelVersion) as { windowTo: number; evaluatedAt: number } | undefined;
    if (
      stored &&
      (stored.windowTo > window.to ||
        (stored.windowTo === window.to && stored.evaluatedAt > window.evaluatedAt))
    )
      return;
    const upsert = this.c.prepared(
      `INSERT INTO feature_latest (model, model_version, feature, psi, ks_statistic, ks_pvalue, drifted,
         window_kind, window_to, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, feature) DO UPDATE SET psi = excluded.psi,
         ks_statistic = excluded.ks_statistic, ks_pvalue = excluded.ks_pvalue, drifted = excluded.drifted,
         window_kind = excluded.window_kind, window_to = excluded.window_to, evaluated_at = excluded.evaluated_at
       WHERE ${NEWER}`,
    );
    for (const r of rows)
      upsert.run(
        model,
        modelVersion,
        r.feature,
        r.psi,
        r.ksStatistic,
        r.ksPvalue,
        r.drifted === null ? null : r.drifted ? 1 : 0,
        window.kind,
        window.to,
        window.evaluatedAt,
      );
    // Features of an older result that this one does not have (the baseline changed).
    this.c
      .prepared(
        `DELETE FROM feature_latest WHERE model = ? AND model_version = ?
           AND (window_to, evaluated_at) < (?, ?)`,
      )
      .run(model, modelVersion, window.to, window.evaluatedAt);
  }

  async featureLatest(): Promise<FeatureLatestRow[]> {
    const rows = this.c
      .prepared(
        `SELECT model, model_version AS modelVersion, feature, psi, ks_statistic AS ksStatistic,
           ks_pvalue AS ksPvalue, drifted, window_kind AS windowKind, window_to AS windowTo,
           evaluated_at AS evaluatedAt FROM feature_latest`,
      )
      .all() as (Omit<FeatureLatestRow, 'drifted'> & { drifted: number | null })[];
    return rows.map((r) => ({ ...r, drifted: r.drifted === null ? null : r.drifted === 1 }));
  }

  async openAlerts(): Promise<{ model: string; kind: string; severity: string; n: number }[]> {
    return this.c
      .prepared(
        `SELECT model, kind, severity, count(*) AS n FROM alerts WHERE status <> 'closed'
         GROUP BY model, kind, severity`,
      )
      .all() as { model: string; kind: string; severity: string; n: number }[];
  }

  async retrainRequests(): Promise<{ status: string; n: number }[]> {
    return this.c.prepared('SELECT status, count(*) AS n FROM retrain_requests GROUP BY status').all() as {
      status: string;
      n: number;
    }[];
  }

  async knownModels(limit: number): Promise<string[]> {
    const rows = this.c
      .prepared(
        `SELECT model FROM (
           SELECT model, min(first_received_at) AS since FROM model_versions GROUP BY model
           UNION ALL SELECT model, min(created_at) AS since FROM baselines GROUP BY model)
         GROUP BY model ORDER BY min(since), model LIMIT ?`,
      )
      .all(limit) as { model: string }[];
    return rows.map((r) => r.model);
  }
}
