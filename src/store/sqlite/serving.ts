import { and, desc, eq } from 'drizzle-orm';
import type {
  ModelEventRow,
  ServedState,
  ServedVersionRow,
  ServingStore,
  ShadowStatsDelta,
  ShadowStatsRow,
} from '../types.js';
import type { Connection } from './client.js';
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

export class SqliteServing implements ServingStore {
  constructor(private readonly c: Connection) {}

  async register(row: ServedVersionRow & { onnx: Buffer }): Promise<boolean> {
    return (
      this.c.orm
        .insert(servedVersions)
        .values(row)
        .onConflictDoNothing()
        .returning({ model: servedVersions.model })
        .all().length === 1
    );
  }

  async list(model: string): Promise<ServedVersionRow[]> {
    return this.c.orm
      .select(META)
      .from(servedVersions)
      .where(eq(servedVersions.model, model))
      .orderBy(servedVersions.registeredAt, servedVersions.version)
      .all();
  }

  async live(): Promise<ServedVersionRow[]> {
    return this.c
      .prepared(
        `SELECT model, version, state, manifest, sha256, size_bytes AS sizeBytes, registered_at AS registeredAt,
           registered_by AS registeredBy, activated_at AS activatedAt, baseline_id AS baselineId
         FROM served_versions WHERE state IN ('active', 'shadow') ORDER BY model, version`,
      )
      .all() as ServedVersionRow[];
  }

  async get(model: string, version: string): Promise<ServedVersionRow | undefined> {
    return this.c.orm
      .select(META)
      .from(servedVersions)
      .where(and(eq(servedVersions.model, model), eq(servedVersions.version, version)))
      .get();
  }

  async artifact(model: string, version: string): Promise<Buffer | undefined> {
    const row = this.c
      .prepared('SELECT onnx FROM served_versions WHERE model = ? AND version = ?')
      .get(model, version) as { onnx: Buffer } | undefined;
    return row?.onnx;
  }

  async activate(model: string, version: string, now: number): Promise<string | null> {
    const previous = this.c
      .prepared("SELECT version FROM served_versions WHERE model = ? AND state = 'active'")
      .get(model) as { version: string } | undefined;
    this.c
      .prepared("UPDATE served_versions SET state = 'registered' WHERE model = ? AND state = 'active'")
      .run(model);
    this.c
      .prepared(
        "UPDATE served_versions SET state = 'active', activated_at = ? WHERE model = ? AND version = ?",
      )
      .run(now, model, version);
    return previous?.version ?? null;
  }

  async setState(model: string, version: string, state: Exclude<ServedState, 'active'>): Promise<boolean> {
    return (
      this.c
        .prepared(
          "UPDATE served_versions SET state = ? WHERE model = ? AND version = ? AND state <> 'active'",
        )
        .run(state, model, version).changes === 1
    );
  }

  async delete(model: string, version: string): Promise<boolean> {
    return (
      this.c
        .prepared("DELETE FROM served_versions WHERE model = ? AND version = ? AND state <> 'active'")
        .run(model, version).changes === 1
    );
  }

  async addEvent(row: ModelEventRow): Promise<void> {
    this.c.orm.insert(modelEvents).values(row).run();
  }

  async events(model: string, limit: number): Promise<(ModelEventRow & { id: number })[]> {
    return this.c.orm
      .select()
      .from(modelEvents)
      .where(eq(modelEvents.model, model))
      .orderBy(desc(modelEvents.id))
      .limit(limit)
      .all();
  }

  async stamp(): Promise<string> {
    const row = this.c
      .prepared('SELECT count(*) AS n, coalesce(max(id), 0) AS id FROM model_events')
      .get() as { n: number; id: number };
    return `${row.n}:${row.id}`;
  }

  async addShadowStats(list: readonly ShadowStatsDelta[], now: number): Promise<void> {
    const stmt = this.c.prepared(
      `INSERT INTO shadow_stats (model, active_version, shadow_version, bucket_start, bucket_ms, n, agree, abs_diff_sum,
         active_latency_sum, shadow_latency_sum, errors, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, active_version, shadow_version, bucket_start, bucket_ms) DO UPDATE SET
         n = shadow_stats.n + excluded.n, agree = shadow_stats.agree + excluded.agree,
         abs_diff_sum = shadow_stats.abs_diff_sum + excluded.abs_diff_sum,
         active_latency_sum = shadow_stats.active_latency_sum + excluded.active_latency_sum,
         shadow_latency_sum = shadow_stats.shadow_latency_sum + excluded.shadow_latency_sum,
         errors = shadow_stats.errors + excluded.errors, updated_at = excluded.updated_at`,
    );
    for (const s of list) {
      stmt.run(
        s.model,
        s.activeVersion,
        s.shadowVersion,
        s.bucketStart,
        s.bucketMs,
        s.n,
        s.agree,
        s.absDiffSum,
        s.activeLatencySum,
        s.shadowLatencySum,
        s.errors,
        now,
      );
    }
  }

  async shadowStats(
    model: string,
    activeVersion: string,
    shadowVersion: string,
    from: number,
    to: number,
  ): Promise<ShadowStatsRow> {
    const row = this.c
      .prepared(
        `SELECT coalesce(sum(n), 0) AS n, coalesce(sum(agree), 0) AS agree, coalesce(sum(abs_diff_sum), 0) AS absDiffSum,
           coalesce(sum(active_latency_sum), 0) AS activeLatencySum, coalesce(sum(shadow_latency_sum), 0) AS shadowLatencySum,
           coalesce(sum(errors), 0) AS errors
         FROM shadow_stats WHERE model = ? AND active_version = ? AND shadow_version = ? AND bucket_start >= ? AND bucket_start < ?`,
      )
      .get(model, activeVersion, shadowVersion, from, to) as Omit<
      ShadowStatsRow,
      'model' | 'activeVersion' | 'shadowVersion'
    >;
    return { model, activeVersion, shadowVersion, ...row };
  }
}
