import { bytewise, insertInto, type Sql, selectList } from '../sql.js';
import type {
  ModelEventRow,
  ServedState,
  ServedVersionRow,
  ServingStore,
  ShadowStatsDelta,
  ShadowStatsRow,
} from '../types.js';
import { modelEvents, servedVersions } from './tables.js';

// Everything but the artifact, which only artifact() reads.
const META = `model, version, state, manifest, sha256, size_bytes AS "sizeBytes", registered_at AS "registeredAt",
  registered_by AS "registeredBy", activated_at AS "activatedAt", baseline_id AS "baselineId"`;

/** Adds shadow comparison counts into their buckets: an additive upsert, written per dialect. */
export type ShadowMerge = (list: readonly ShadowStatsDelta[], now: number) => Promise<void>;

export class Serving implements ServingStore {
  private readonly bytewise: string;

  constructor(
    private readonly db: Sql,
    private readonly mergeShadow: ShadowMerge,
  ) {
    this.bytewise = bytewise(db);
  }

  async register(row: ServedVersionRow & { onnx: Buffer }): Promise<boolean> {
    const ins = insertInto(servedVersions, row);
    return (
      (await this.db.rows(`${ins.text} ON CONFLICT DO NOTHING RETURNING model`, ins.params)).length === 1
    );
  }

  async list(model: string): Promise<ServedVersionRow[]> {
    return this.db.rows(
      `SELECT ${META} FROM served_versions WHERE model = ? ORDER BY registered_at, version`,
      [model],
    );
  }

  async live(): Promise<ServedVersionRow[]> {
    return this.db.rows(
      `SELECT ${META} FROM served_versions WHERE state IN ('active', 'shadow')
       ORDER BY model${this.bytewise}, version${this.bytewise}`,
    );
  }

  async get(model: string, version: string): Promise<ServedVersionRow | undefined> {
    return this.db.one(`SELECT ${META} FROM served_versions WHERE model = ? AND version = ?`, [
      model,
      version,
    ]);
  }

  async artifact(model: string, version: string): Promise<Buffer | undefined> {
    const row = await this.db.one<{ onnx: Buffer }>(
      'SELECT onnx FROM served_versions WHERE model = ? AND version = ?',
      [model, version],
    );
    return row?.onnx;
  }

  async activate(model: string, version: string, now: number): Promise<string | null> {
    // On PostgreSQL the model's rows are locked first, so two activations on two processes run one after
    // the other (SQLite runs one transaction at a time).
    const lock = this.db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const rows = await this.db.rows<{ version: string; state: string }>(
      `SELECT version, state FROM served_versions WHERE model = ? ORDER BY version${this.bytewise}${lock}`,
      [model],
    );
    const previous = rows.find((r) => r.state === 'active')?.version ?? null;
    await this.db.run(
      "UPDATE served_versions SET state = 'registered' WHERE model = ? AND state = 'active'",
      [model],
    );
    await this.db.run(
      "UPDATE served_versions SET state = 'active', activated_at = ? WHERE model = ? AND version = ?",
      [now, model, version],
    );
    return previous;
  }

  async setState(model: string, version: string, state: Exclude<ServedState, 'active'>): Promise<boolean> {
    const changed = await this.db.run(
      "UPDATE served_versions SET state = ? WHERE model = ? AND version = ? AND state <> 'active'",
      [state, model, version],
    );
    return changed === 1;
  }

  async delete(model: string, version: string): Promise<boolean> {
    const changed = await this.db.run(
      "DELETE FROM served_versions WHERE model = ? AND version = ? AND state <> 'active'",
      [model, version],
    );
    return changed === 1;
  }

  async addEvent(row: ModelEventRow): Promise<void> {
    const ins = insertInto(modelEvents, row);
    await this.db.run(ins.text, ins.params);
  }

  async events(model: string, limit: number): Promise<(ModelEventRow & { id: number })[]> {
    return this.db.rows(
      `SELECT ${selectList(modelEvents)} FROM model_events WHERE model = ? ORDER BY id DESC LIMIT ?`,
      [model, limit],
    );
  }

  async stamp(): Promise<string> {
    // count(*) as well as max(id): on PostgreSQL ids are not commit-ordered, so an event committed late can
    // have an id below the maximum — the count still changes.
    const row = await this.db.one<{ n: number; id: number }>(
      'SELECT count(*) AS n, coalesce(max(id), 0) AS id FROM model_events',
    );
    return `${row?.n}:${row?.id}`;
  }

  async addShadowStats(list: readonly ShadowStatsDelta[], now: number): Promise<void> {
    await this.mergeShadow(list, now);
  }

  async shadowStats(
    model: string,
    activeVersion: string,
    shadowVersion: string,
    from: number,
    to: number,
  ): Promise<ShadowStatsRow> {
    const row = await this.db.one<Omit<ShadowStatsRow, 'model' | 'activeVersion' | 'shadowVersion'>>(
      `SELECT coalesce(sum(n), 0) AS n, coalesce(sum(agree), 0) AS agree, coalesce(sum(abs_diff_sum), 0) AS "absDiffSum",
         coalesce(sum(active_latency_sum), 0) AS "activeLatencySum",
         coalesce(sum(shadow_latency_sum), 0) AS "shadowLatencySum", coalesce(sum(errors), 0) AS errors
       FROM shadow_stats WHERE model = ? AND active_version = ? AND shadow_version = ? AND bucket_start >= ?
         AND bucket_start < ?`,
      [model, activeVersion, shadowVersion, from, to],
    );
    if (row === undefined) throw new Error('shadow stats aggregate returned no row');
    return { model, activeVersion, shadowVersion, ...row };
  }
}
