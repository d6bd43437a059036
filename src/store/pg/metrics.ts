import type { FeatureLatestRow, FeatureMeasureRow, MetricsStore, WindowKind } from '../types.js';
import type { PgConn } from './client.js';

export class PgMetrics implements MetricsStore {
  constructor(private readonly c: PgConn) {}

  async putFeatureLatest(
    model: string,
    modelVersion: string,
    window: { kind: WindowKind; to: number; evaluatedAt: number },
    rows: readonly FeatureMeasureRow[],
  ): Promise<void> {
    const stored = await this.c.rows<{ window_to: number; evaluated_at: number }>(
      `SELECT window_to, evaluated_at FROM feature_latest WHERE model = $1 AND model_version = $2
       ORDER BY window_to DESC, evaluated_at DESC LIMIT 1`,
      [model, modelVersion],
    );
    const s = stored[0];
    if (s && (s.window_to > window.to || (s.window_to === window.to && s.evaluated_at > window.evaluatedAt)))
      return;
    if (rows.length > 0)
      // One statement for the whole result; a concurrent writer of a newer window keeps its rows (WHERE).
      await this.c.run(
        `INSERT INTO feature_latest (model, model_version, feature, psi, ks_statistic, ks_pvalue, drifted,
           window_kind, window_to, evaluated_at)
         SELECT $1, $2, f, p, k, kp, d, $3, $4, $5
           FROM unnest($6::text[], $7::float8[], $8::float8[], $9::float8[], $10::bool[]) AS t(f, p, k, kp, d)
         ON CONFLICT (model, model_version, feature) DO UPDATE SET psi = excluded.psi,
           ks_statistic = excluded.ks_statistic, ks_pvalue = excluded.ks_pvalue, drifted = excluded.drifted,
           window_kind = excluded.window_kind, window_to = excluded.window_to, evaluated_at = excluded.evaluated_at
         WHERE (excluded.window_to, excluded.evaluated_at) >= (feature_latest.window_to, feature_latest.evaluated_at)`,
        [
          model,
          modelVersion,
          window.kind,
          window.to,
          window.evaluatedAt,
          rows.map((r) => r.feature),
          rows.map((r) => r.psi),
          rows.map((r) => r.ksStatistic),
          rows.map((r) => r.ksPvalue),
          rows.map((r) => r.drifted),
        ],
      );
    await this.c.run(
      `DELETE FROM feature_latest WHERE model = $1 AND model_version = $2
         AND (window_to, evaluated_at) < ($3::int8, $4::int8)`,
      [model, modelVersion, window.to, window.evaluatedAt],
    );
  }

  async featureLatest(): Promise<FeatureLatestRow[]> {
    return this.c.rows<FeatureLatestRow>(
      `SELECT model, model_version AS "modelVersion", feature, psi, ks_statistic AS "ksStatistic",
         ks_pvalue AS "ksPvalue", drifted, window_kind AS "windowKind", window_to AS "windowTo",
         evaluated_at AS "evaluatedAt" FROM feature_latest`,
    );
  }

  async openAlerts(): Promise<{ model: string; kind: string; severity: string; n: number }[]> {
    return this.c.rows(
      `SELECT model, kind, severity, count(*) AS n FROM alerts WHERE status <> 'closed'
       GROUP BY model, kind, severity`,
    );
  }

  async retrainRequests(): Promise<{ status: string; n: number }[]> {
    return this.c.rows('SELECT status, count(*) AS n FROM retrain_requests GROUP BY status');
  }

  async knownModels(limit: number): Promise<string[]> {
    const rows = await this.c.rows<{ model: string }>(
      `SELECT model FROM (
         SELECT model, min(first_received_at) AS since FROM model_versions GROUP BY model
         UNION ALL SELECT model, min(created_at) AS since FROM baselines GROUP BY model) t
       GROUP BY model ORDER BY min(since), model COLLATE "C" LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.model);
  }
}
