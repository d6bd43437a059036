import { bytewise, type Param, type Sql } from '../sql.js';
import type { FeatureLatestRow, FeatureMeasureRow, MetricsStore, WindowKind } from '../types.js';

// Rows per INSERT: 10 parameters each, well below SQLite's limit on a statement's parameters.
const CHUNK = 500;

export class Metrics implements MetricsStore {
  constructor(private readonly db: Sql) {}

  async putFeatureLatest(
    model: string,
    modelVersion: string,
    window: { kind: WindowKind; to: number; evaluatedAt: number },
    rows: readonly FeatureMeasureRow[],
  ): Promise<void> {
    const s = await this.db.one<{ windowTo: number; evaluatedAt: number }>(
      `SELECT window_to AS "windowTo", evaluated_at AS "evaluatedAt" FROM feature_latest
       WHERE model = ? AND model_version = ? ORDER BY window_to DESC, evaluated_at DESC LIMIT 1`,
      [model, modelVersion],
    );
    if (s && (s.windowTo > window.to || (s.windowTo === window.to && s.evaluatedAt > window.evaluatedAt)))
      return;
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      const params: Param[] = chunk.flatMap((r) => [
        model,
        modelVersion,
        r.feature,
        r.psi,
        r.ksStatistic,
        r.ksPvalue,
        r.drifted,
        window.kind,
        window.to,
        window.evaluatedAt,
      ]);
      // Newer = a later window end, then a later evaluation (a re-evaluated window replaces its measures); a
      // concurrent writer of a newer window keeps its rows.
      await this.db.run(
        `INSERT INTO feature_latest (model, model_version, feature, psi, ks_statistic, ks_pvalue, drifted,
           window_kind, window_to, evaluated_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (model, model_version, feature) DO UPDATE SET psi = excluded.psi,
           ks_statistic = excluded.ks_statistic, ks_pvalue = excluded.ks_pvalue, drifted = excluded.drifted,
           window_kind = excluded.window_kind, window_to = excluded.window_to, evaluated_at = excluded.evaluated_at
         WHERE (excluded.window_to, excluded.evaluated_at) >= (feature_latest.window_to, feature_latest.evaluated_at)`,
        params,
      );
    }
    // Features of an older result that this one does not have (the baseline changed).
    await this.db.run(
      `DELETE FROM feature_latest WHERE model = ? AND model_version = ?
         AND (window_to, evaluated_at) < (CAST(? AS bigint), CAST(? AS bigint))`,
      [model, modelVersion, window.to, window.evaluatedAt],
    );
  }

  async featureLatest(): Promise<FeatureLatestRow[]> {
    const rows = await this.db.rows<Omit<FeatureLatestRow, 'drifted'> & { drifted: number | boolean | null }>(
      `SELECT model, model_version AS "modelVersion", feature, psi, ks_statistic AS "ksStatistic",
         ks_pvalue AS "ksPvalue", drifted, window_kind AS "windowKind", window_to AS "windowTo",
         evaluated_at AS "evaluatedAt" FROM feature_latest`,
    );
    // SQLite keeps booleans as 0/1.
    return rows.map((r) => ({ ...r, drifted: r.drifted === null ? null : Boolean(r.drifted) }));
  }

  async openAlerts(): Promise<{ model: string; kind: string; severity: string; n: number }[]> {
    return this.db.rows(
      `SELECT model, kind, severity, count(*) AS n FROM alerts WHERE status <> 'closed'
       GROUP BY model, kind, severity`,
    );
  }

  async retrainRequests(): Promise<{ status: string; n: number }[]> {
    return this.db.rows('SELECT status, count(*) AS n FROM retrain_requests GROUP BY status');
  }

  async knownModels(limit: number): Promise<string[]> {
    const rows = await this.db.rows<{ model: string }>(
      `SELECT model FROM (
         SELECT model, min(first_received_at) AS since FROM model_versions GROUP BY model
         UNION ALL SELECT model, min(created_at) AS since FROM baselines GROUP BY model) t
       GROUP BY model ORDER BY min(since), model${bytewise(this.db)} LIMIT ?`,
      [limit],
    );
    return rows.map((r) => r.model);
  }
}
