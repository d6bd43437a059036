import { and, desc, eq } from 'drizzle-orm';
import type {
  ModelEventRow,
  ServedState,
  ServedVersionRow,
  ServingStore,
  ShadowStatsDelta,
  ShadowStatsRow,
} from '../types.js';
import type { PgConn } from './client.js';
import { modelEvents, servedVersions } from './schema/index.js';

const META = {
  model: servedVersions.model,
  version: servedVersions.version,
  state: servedVersions.state,
  manifest: servedVersions.manifest,
  sha256: servedVersions.sha256,
  sizeBytes: servedVersions.sizeBytes,
  registeredAt: servedVersions.registeredAt,
  registeredBy: servedVersions.registeredBy,
  activatedAt: servedVersions.activatedAt,
  baselineId: servedVersions.baselineId,
};

const META_SQL = `model, version, state, manifest, sha256, size_bytes AS "sizeBytes", registered_at AS "registeredAt",
  registered_by AS "registeredBy", activated_at AS "activatedAt", baseline_id AS "baselineId"`;

export class PgServing implements ServingStore {
  constructor(private readonly c: PgConn) {}

  async register(row: ServedVersionRow & { onnx: Buffer }): Promise<boolean> {
    const rows = await this.c.orm
      .insert(servedVersions)
      .values(row)
      .onConflictDoNothing()
      .returning({ model: servedVersions.model });
    return rows.length === 1;
  }

  async list(model: string): Promise<ServedVersionRow[]> {
    return this.c.orm
      .select(META)
      .from(servedVersions)
      .where(eq(servedVersions.model, model))
      .orderBy(servedVersions.registeredAt, servedVersions.version);
  }

  async live(): Promise<ServedVersionRow[]> {
    return this.c.rows<ServedVersionRow>(
      `SELECT ${META_SQL} FROM served_versions WHERE state IN ('active', 'shadow')
       ORDER BY model COLLATE "C", version COLLATE "C"`,
    );
  }

  async get(model: string, version: string): Promise<ServedVersionRow | undefined> {
    const [row] = await this.c.orm
      .select(META)
      .from(servedVersions)
      .where(and(eq(servedVersions.model, model), eq(servedVersions.version, version)));
    return row;
  }

  async artifact(model: string, version: string): Promise<Buffer | undefined> {
    const [row] = await this.c.rows<{ onnx: Buffer }>(
      'SELECT onnx FROM served_versions WHERE model = $1 AND version = $2',
      [model, version],
    );
    return row?.onnx;
  }

  async activate(model: string, version: string, now: number): Promise<string | null> {
    // The model's rows are locked first, so two activations on two processes run one after the other.
    const rows = await this.c.rows<{ version: string; state: string }>(
      'SELECT version, state FROM served_versions WHERE model = $1 ORDER BY version COLLATE "C" FOR UPDATE',
      [model],
    );
    const previous = rows.find((r) => r.state === 'active')?.version ?? null;
    await this.c.run(
      "UPDATE served_versions SET state = 'registered' WHERE model = $1 AND state = 'active'",
      [model],
    );
    await this.c.run(
      "UPDATE served_versions SET state = 'active', activated_at = $1 WHERE model = $2 AND version = $3",
      [now, model, version],
    );
    return previous;
  }

  async setState(model: string, version: string, state: Exclude<ServedState, 'active'>): Promise<boolean> {
    return (
      (await this.c.run(
        "UPDATE served_versions SET state = $1 WHERE model = $2 AND version = $3 AND state <> 'active'",
        [state, model, version],
      )) === 1
    );
  }

  async delete(model: string, version: string): Promise<boolean> {
    return (
      (await this.c.run(
        "DELETE FROM served_versions WHERE model = $1 AND version = $2 AND state <> 'active'",
        [model, version],
      )) === 1
    );
  }

  async addEvent(row: ModelEventRow): Promise<void> {
    await this.c.orm.insert(modelEvents).values(row);
  }

  async events(model: string, limit: number): Promise<(ModelEventRow & { id: number })[]> {
    return this.c.orm
      .select()
      .from(modelEvents)
      .where(eq(modelEvents.model, model))
      .orderBy(desc(modelEvents.id))
      .limit(limit);
  }

  async stamp(): Promise<string> {
    // count(*) as well as max(id): ids are not commit-ordered, so an event committed late can have an id
    // below the maximum — the count still changes.
    const [row] = await this.c.rows<{ n: number; id: number }>(
      'SELECT count(*) AS n, coalesce(max(id), 0) AS id FROM model_events',
    );
    return `${row?.n}:${row?.id}`;
  }

  async addShadowStats(list: readonly ShadowStatsDelta[], now: number): Promise<void> {
    if (list.length === 0) return;
    const rows = [...list].sort((a, b) =>
      `${a.model}\u0000${a.activeVersion}\u0000${a.shadowVersion}\u0000${a.bucketStart}` <
      `${b.model}\u0000${b.activeVersion}\u0000${b.shadowVersion}\u0000${b.bucketStart}`
        ? -1
        : 1,
    );
    await this.c.run(
      `INSERT INTO shadow_stats (model, active_version, shadow_version, bucket_start, bucket_ms, n, agree, abs_diff_sum,
         active_latency_sum, shadow_latency_sum, errors, updated_at)
       SELECT *, $12::int8 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[],
         $8::float8[], $9::float8[], $10::float8[], $11::int8[])
       ON CONFLICT (model, active_version, shadow_version, bucket_start, bucket_ms) DO UPDATE SET
         n = shadow_stats.n + excluded.n, agree = shadow_stats.agree + excluded.agree,
         abs_diff_sum = shadow_stats.abs_diff_sum + excluded.abs_diff_sum,
         active_latency_sum = shadow_stats.active_latency_sum + excluded.active_latency_sum,
         shadow_latency_sum = shadow_stats.shadow_latency_sum + excluded.shadow_latency_sum,
         errors = shadow_stats.errors + excluded.errors, updated_at = excluded.updated_at`,
      [
        rows.map((s) => s.model),
        rows.map((s) => s.activeVersion),
        rows.map((s) => s.shadowVersion),
        rows.map((s) => s.bucketStart),
        rows.map((s) => s.bucketMs),
        rows.map((s) => s.n),
        rows.map((s) => s.agree),
        rows.map((s) => s.absDiffSum),
        rows.map((s) => s.activeLatencySum),
        rows.map((s) => s.shadowLatencySum),
        rows.map((s) => s.errors),
        now,
      ],
    );
  }

  async shadowStats(
    model: string,
    activeVersion: string,
    shadowVersion: string,
    from: number,
    to: number,
  ): Promise<ShadowStatsRow> {
    const [row] = await this.c.rows<Omit<ShadowStatsRow, 'model' | 'activeVersion' | 'shadowVersion'>>(
      `SELECT coalesce(sum(n), 0) AS n, coalesce(sum(agree), 0) AS agree, coalesce(sum(abs_diff_sum), 0) AS "absDiffSum",
         coalesce(sum(active_latency_sum), 0) AS "activeLatencySum",
         coalesce(sum(shadow_latency_sum), 0) AS "shadowLatencySum", coalesce(sum(errors), 0) AS errors
       FROM shadow_stats WHERE model = $1 AND active_version = $2 AND shadow_version = $3 AND bucket_start >= $4
         AND bucket_start < $5`,
      [model, activeVersion, shadowVersion, from, to],
    );
    return {
      model,
      activeVersion,
      shadowVersion,
      ...(row as Omit<ShadowStatsRow, 'model' | 'activeVersion' | 'shadowVersion'>),
    };
  }
}
