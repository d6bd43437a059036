import { bytewise, insertInto, type Param, type Sql, selectList, whereAll } from '../sql.js';
import type {
  DeliveryRow,
  DeliveryStatus,
  DeliveryStore,
  DriftResultQuery,
  DriftStore,
  StoredDriftResult,
  StoredFeatureCell,
  StoredFeatureResult,
  StoredResultRow,
  ThresholdOverrideRow,
  ThresholdStore,
} from '../types.js';
import { deliveries, thresholdOverrides } from './tables.js';

/** Feature rows per INSERT: 12 parameters each, far below either dialect's limit. */
const FEATURE_ROWS_PER_INSERT = 200;
/** Result ids per `IN (…)` when reading feature cells. */
const CELL_IDS_PER_SELECT = 500;

export class Drift implements DriftStore {
  constructor(private readonly db: Sql) {}

  async upsertResult(r: StoredDriftResult): Promise<number> {
    const row = await this.db.one<{ id: number }>(
      `INSERT INTO drift_results (model, model_version, baseline_id, window_kind, window_from, window_to, n, drifted,
         drifted_share, result, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version, baseline_id, window_kind, window_from, window_to) DO UPDATE SET
         n = excluded.n, drifted = excluded.drifted, drifted_share = excluded.drifted_share, result = excluded.result,
         evaluated_at = excluded.evaluated_at
       RETURNING id`,
      [
        r.model,
        r.modelVersion,
        r.baselineId,
        r.windowKind,
        r.windowFrom,
        r.windowTo,
        r.n,
        r.drifted,
        r.driftedShare,
        r.result,
        r.evaluatedAt,
      ],
    );
    if (row === undefined) throw new Error('drift result upsert returned no id');
    // A re-evaluated window stored whole only must not keep the summary of its previous evaluation.
    if (r.summary === undefined)
      await this.db.run('DELETE FROM drift_result_summaries WHERE drift_result_id = ?', [row.id]);
    else
      await this.db.run(
        `INSERT INTO drift_result_summaries (drift_result_id, summary) VALUES (?, ?)
         ON CONFLICT (drift_result_id) DO UPDATE SET summary = excluded.summary`,
        [row.id, r.summary],
      );
    await this.putFeatures(row.id, r);
    return row.id;
  }

  /** Replaces a result's feature rows (a re-evaluated window may have other features). */
  private async putFeatures(
    id: number,
    r: Pick<StoredDriftResult, 'model' | 'modelVersion' | 'windowKind' | 'windowTo' | 'features'>,
  ): Promise<void> {
    await this.db.run('DELETE FROM drift_feature_results WHERE drift_result_id = ?', [id]);
    const features = r.features ?? [];
    for (let i = 0; i < features.length; i += FEATURE_ROWS_PER_INSERT) {
      const chunk = features.slice(i, i + FEATURE_ROWS_PER_INSERT);
      await this.db.run(
        `INSERT INTO drift_feature_results (drift_result_id, model, model_version, window_kind, window_to, feature,
           psi, pvalue_adjusted, drifted, severity, n, measures)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap((f) => [
          id,
          r.model,
          r.modelVersion,
          r.windowKind,
          r.windowTo,
          f.feature,
          f.psi,
          f.pvalueAdjusted,
          f.drifted,
          f.severity,
          f.n,
          f.measures,
        ]),
      );
    }
  }

  async listFeature(q: DriftResultQuery, feature: string): Promise<StoredResultRow[]> {
    const where = whereAll([
      ['d.model = ?', q.model],
      q.from != null ? ['d.window_to > ?', q.from] : false,
      q.to != null ? ['d.window_from < ?', q.to] : false,
      q.kind != null ? ['d.window_kind = ?', q.kind] : false,
      q.modelVersion != null ? ['d.model_version = ?', q.modelVersion] : false,
    ]);
    // The whole JSON only of results whose summary the backfill has not written yet (the other columns of
    // drift_results read here come before `result`, so SQLite does not walk its overflow pages).
    return this.db.rows(
      `SELECT d.id, s.summary, CASE WHEN s.summary IS NULL THEN d.result END AS result, f.measures
       FROM drift_results d
       LEFT JOIN drift_result_summaries s ON s.drift_result_id = d.id
       LEFT JOIN drift_feature_results f ON f.drift_result_id = d.id AND f.feature = ?
       ${where.text} ORDER BY d.window_to DESC, d.id DESC LIMIT ?`,
      [feature, ...where.params, q.limit],
    );
  }

  async listSummaries(q: DriftResultQuery): Promise<StoredResultRow[]> {
    const where = whereAll([
      ['d.model = ?', q.model],
      q.from != null ? ['d.window_to > ?', q.from] : false,
      q.to != null ? ['d.window_from < ?', q.to] : false,
      q.kind != null ? ['d.window_kind = ?', q.kind] : false,
      q.modelVersion != null ? ['d.model_version = ?', q.modelVersion] : false,
    ]);
    return this.db.rows<StoredResultRow>(
      `SELECT d.id, s.summary, CASE WHEN s.summary IS NULL THEN d.result END AS result, NULL AS measures
       FROM drift_results d
       LEFT JOIN drift_result_summaries s ON s.drift_result_id = d.id
       ${where.text} ORDER BY d.window_to DESC, d.id DESC LIMIT ?`,
      [...where.params, q.limit],
    );
  }

  async featureMaxima(ids: readonly number[]): Promise<{ feature: string; psi: number | null }[]> {
    const out: { feature: string; psi: number | null }[] = [];
    for (let i = 0; i < ids.length; i += CELL_IDS_PER_SELECT) {
      const chunk = ids.slice(i, i + CELL_IDS_PER_SELECT);
      out.push(
        ...(await this.db.rows<{ feature: string; psi: number | null }>(
          `SELECT feature, max(psi) AS psi FROM drift_feature_results
           WHERE drift_result_id IN (${chunk.map(() => '?').join(', ')}) GROUP BY feature`,
          chunk,
        )),
      );
    }
    return out;
  }

  async cells(ids: readonly number[], features: readonly string[]): Promise<StoredFeatureCell[]> {
    const cells: StoredFeatureCell[] = [];
    if (features.length === 0) return cells;
    for (let i = 0; i < ids.length; i += CELL_IDS_PER_SELECT) {
      const chunk = ids.slice(i, i + CELL_IDS_PER_SELECT);
      const found = await this.db.rows<StoredFeatureCell>(
        `SELECT drift_result_id AS id, feature, psi, drifted FROM drift_feature_results
         WHERE drift_result_id IN (${chunk.map(() => '?').join(', ')})
           AND feature IN (${features.map(() => '?').join(', ')})`,
        [...chunk, ...features],
      );
      // SQLite's 0/1 made booleans in place: a page reads thousands of these.
      for (const c of found) {
        if (c.drifted !== null) c.drifted = Boolean(c.drifted);
        cells.push(c);
      }
    }
    return cells;
  }

  async get(id: number): Promise<{ id: number; result: string } | undefined> {
    return this.db.one('SELECT id, result FROM drift_results WHERE id = ?', [id]);
  }

  async unsplit(limit: number): Promise<{ id: number; result: string }[]> {
    return this.db.rows(
      `SELECT d.id, d.result FROM drift_results d
       WHERE NOT EXISTS (SELECT 1 FROM drift_result_summaries s WHERE s.drift_result_id = d.id)
       ORDER BY d.id LIMIT ?`,
      [limit],
    );
  }

  async split(id: number, r: { summary: string; features: StoredFeatureResult[] }): Promise<void> {
    const added = await this.db.one<{ id: number }>(
      `INSERT INTO drift_result_summaries (drift_result_id, summary) VALUES (?, ?)
       ON CONFLICT (drift_result_id) DO NOTHING RETURNING drift_result_id AS id`,
      [id, r.summary],
    );
    // Already split (a re-evaluation wrote it meanwhile): its rows are the newer ones.
    if (!added) return;
    const row = await this.db.one<{
      model: string;
      modelVersion: string;
      windowKind: StoredDriftResult['windowKind'];
      windowTo: number;
    }>(
      `SELECT model, model_version AS "modelVersion", window_kind AS "windowKind", window_to AS "windowTo"
       FROM drift_results WHERE id = ?`,
      [id],
    );
    if (row) await this.putFeatures(id, { ...row, features: r.features });
  }

  async list(q: DriftResultQuery): Promise<{ id: number; result: string }[]> {
    const where = whereAll([
      ['model = ?', q.model],
      q.from != null ? ['window_to > ?', q.from] : false,
      q.to != null ? ['window_from < ?', q.to] : false,
      q.kind != null ? ['window_kind = ?', q.kind] : false,
      q.modelVersion != null ? ['model_version = ?', q.modelVersion] : false,
    ]);
    return this.db.rows(
      `SELECT id, result FROM drift_results ${where.text} ORDER BY window_to DESC, id DESC LIMIT ?`,
      [...where.params, q.limit],
    );
  }

  async latest(model: string): Promise<{ id: number; result: string }[]> {
    // One row per version: the most recently evaluated; ties (one tick evaluates several windows at the same
    // time) go to the window that ends last, then the newest row. Versions in byte order, as SQLite sorts them.
    return this.db.rows(
      `SELECT id, result FROM (
         SELECT id, result, model_version, row_number() OVER (
           PARTITION BY model_version ORDER BY evaluated_at DESC, window_to DESC, id DESC) AS rn
         FROM drift_results WHERE model = ?) t
       WHERE rn = 1 ORDER BY model_version${bytewise(this.db)}`,
      [model],
    );
  }

  async lastRun(model: string): Promise<{ windowTo: number; evaluatedAt: number } | null> {
    const row = await this.db.one<{ windowTo: number | null; evaluatedAt: number | null }>(
      `SELECT max(window_to) AS "windowTo", max(evaluated_at) AS "evaluatedAt" FROM drift_results
       WHERE model = ? AND window_to = (SELECT max(window_to) FROM drift_results WHERE model = ?)`,
      [model, model],
    );
    return row && row.windowTo !== null && row.evaluatedAt !== null
      ? { windowTo: row.windowTo, evaluatedAt: row.evaluatedAt }
      : null;
  }
}

export class Thresholds implements ThresholdStore {
  constructor(private readonly db: Sql) {}

  async overrides(model: string): Promise<ThresholdOverrideRow[]> {
    return this.db.rows(`SELECT ${selectList(thresholdOverrides)} FROM threshold_overrides WHERE model = ?`, [
      model,
    ]);
  }

  async upsert(row: ThresholdOverrideRow): Promise<void> {
    const ins = insertInto(thresholdOverrides, row);
    await this.db.run(
      `${ins.text} ON CONFLICT (model, feature) DO UPDATE SET psi_warning = excluded.psi_warning,
         psi_critical = excluded.psi_critical, alpha = excluded.alpha, set_by = excluded.set_by,
         reason = excluded.reason, updated_at = excluded.updated_at`,
      ins.params,
    );
  }
}

const DELIVERY = selectList(deliveries);

export class Deliveries implements DeliveryStore {
  constructor(private readonly db: Sql) {}

  async insert(d: {
    channel: string;
    event: string;
    payload: string;
    now: number;
    reportRunId?: number | undefined;
  }): Promise<number> {
    const row = await this.db.one<{ id: number }>(
      `INSERT INTO deliveries (channel, event, payload, status, attempts, next_attempt_at, created_at, report_run_id)
       VALUES (?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING id`,
      [d.channel, d.event, d.payload, d.now, d.now, d.reportRunId ?? null],
    );
    if (row === undefined) throw new Error('delivery insert returned no id');
    return row.id;
  }

  /**
   * Due deliveries in queue order; a channel's delivery waiting for a retry holds back its later ones.
   *
   * No FOR UPDATE SKIP LOCKED here, deliberately. The delivery tick reads this in a read-only transaction
   * (store.read), where PostgreSQL refuses row locks, and it sends after that transaction has ended, so
   * row locks would not cover the sending anyway. And SKIP LOCKED would break the rule above: a second
   * reader skipping a channel's locked earlier delivery would get that channel's later ones and send them
   * out of order. One sender at a time is ensured by the delivery lease (leases table) that the tick takes
   * before calling this; the outcome is then recorded by id (markDelivered / markAttemptFailed).
   */
  async due(now: number, limit: number): Promise<DeliveryRow[]> {
    return this.db.rows(
      `SELECT ${selectList(deliveries, 'd')} FROM deliveries d WHERE status = 'pending' AND next_attempt_at <= ?
         AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel = d.channel AND e.status = 'pending'
                         AND e.id < d.id AND e.next_attempt_at > ?)
       ORDER BY id LIMIT ?`,
      [now, now, limit],
    );
  }

  async claim(id: number, expectAttempts: number, nextAttemptAt: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?
       WHERE id = ? AND status = 'pending' AND attempts = ?`,
      [nextAttemptAt, id, expectAttempts],
    );
    if (changed === 1)
      await this.toRun(id, 'attempts = ?, next_attempt_at = ?', [expectAttempts + 1, nextAttemptAt]);
    return changed === 1;
  }

  async releaseHolds(now: number, until: number): Promise<number> {
    return this.db.run(
      `UPDATE deliveries SET next_attempt_at = ?
       WHERE status = 'pending' AND attempts > 0 AND next_attempt_at > ? AND next_attempt_at <= ?`,
      [now, now, until],
    );
  }

  async adoptReportRuns(channel: string, now: number): Promise<number> {
    // report_runs_due serves the scan; deliveries_report_run (unique) makes a concurrent adoption a no-op.
    return this.db.run(
      `INSERT INTO deliveries (channel, event, payload, status, attempts, next_attempt_at, created_at, report_run_id)
       SELECT ?, 'report.' || r.schedule, '{"report_run":' || r.id || '}', 'pending', r.attempts,
              r.next_attempt_at, ?, r.id
       FROM report_runs r
       WHERE r.status = 'pending' AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.report_run_id = r.id)
       ON CONFLICT (report_run_id) DO NOTHING`,
      [channel, now],
    );
  }

  async hold(id: number, attempts: number, until: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE deliveries SET next_attempt_at = ? WHERE id = ? AND status = 'pending' AND attempts = ?`,
      [until, id, attempts],
    );
    return changed === 1;
  }

  async markDelivered(id: number, attempts: number, now: number, receipt: string | null): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE deliveries SET status = 'delivered', delivered_at = ?
       WHERE id = ? AND status = 'pending' AND attempts = ?`,
      [now, id, attempts],
    );
    if (changed === 1)
      await this.toRun(id, "status = 'sent', message_id = ?, sent_at = ?, error = NULL", [receipt, now]);
    return changed === 1;
  }

  async markAttemptFailed(
    id: number,
    f: { status: 'pending' | 'failed'; attempts: number; lastError: string; nextAttemptAt: number },
  ): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE deliveries SET status = ?, last_error = ?, next_attempt_at = ?
       WHERE id = ? AND status = 'pending' AND attempts = ?`,
      [f.status, f.lastError, f.nextAttemptAt, id, f.attempts],
    );
    if (changed === 1)
      await this.toRun(id, 'status = ?, error = ?, next_attempt_at = ?', [
        f.status,
        f.lastError,
        f.nextAttemptAt,
      ]);
    return changed === 1;
  }

  /** Writes a change of an email delivery to its report run (a no-op for the other channels). */
  private async toRun(id: number, set: string, params: Param[]): Promise<void> {
    await this.db.run(
      `UPDATE report_runs SET ${set} WHERE id = (SELECT report_run_id FROM deliveries WHERE id = ?)`,
      [...params, id],
    );
  }

  async get(id: number): Promise<DeliveryRow | undefined> {
    return this.db.one(`SELECT ${DELIVERY} FROM deliveries WHERE id = ?`, [id]);
  }

  async list(q: {
    status?: DeliveryStatus | undefined;
    channel?: string | undefined;
    limit: number;
  }): Promise<DeliveryRow[]> {
    const where = whereAll([
      q.status != null ? ['status = ?', q.status] : false,
      q.channel != null ? ['channel = ?', q.channel] : false,
    ]);
    return this.db.rows(`SELECT ${DELIVERY} FROM deliveries ${where.text} ORDER BY id DESC LIMIT ?`, [
      ...where.params,
      q.limit,
    ]);
  }

  async requeueFailed(id: number, now: number): Promise<boolean> {
    const changed = await this.db.run(
      `UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE id = ? AND status = 'failed'`,
      [now, id],
    );
    if (changed === 1) await this.toRun(id, "status = 'pending', attempts = 0, next_attempt_at = ?", [now]);
    return changed === 1;
  }

  async pendingOf(channel: string, event: string): Promise<{ id: number } | undefined> {
    return this.db.one(
      `SELECT id FROM deliveries WHERE channel = ? AND event = ? AND status = 'pending' ORDER BY id DESC LIMIT 1`,
      [channel, event],
    );
  }

  async replacePayload(id: number, payload: string): Promise<void> {
    await this.db.run('UPDATE deliveries SET payload = ? WHERE id = ?', [payload, id]);
  }

  async delete(id: number): Promise<void> {
    await this.db.run('DELETE FROM deliveries WHERE id = ?', [id]);
  }
}
