import { and, desc, eq, ne } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { baselineColumns, baselines, modelVersions } from '../db/schema/index.js';
import type { ColumnProfile } from './profile.js';

export type BaselineRow = typeof baselines.$inferSelect;

export function insertBaseline(
  db: Database,
  row: Omit<typeof baselines.$inferInsert, 'id'>,
  columns: { role: 'feature' | 'prediction'; name: string; profile: ColumnProfile }[],
): BaselineRow {
  return db.sqlite.transaction(() => {
    const inserted = db.orm.insert(baselines).values(row).returning().get();
    for (const c of columns) {
      db.orm
        .insert(baselineColumns)
        .values({ baselineId: inserted.id, role: c.role, name: c.name, profile: JSON.stringify(c.profile) })
        .run();
    }
    return inserted;
  })();
}

export function listBaselines(db: Database, model: string): BaselineRow[] {
  return db.orm.select().from(baselines).where(eq(baselines.model, model)).orderBy(desc(baselines.id)).all();
}

export function getBaseline(db: Database, model: string, id: number): BaselineRow | undefined {
  return db.orm
    .select()
    .from(baselines)
    .where(and(eq(baselines.model, model), eq(baselines.id, id)))
    .get();
}

export function baselineColumnsOf(db: Database, id: number) {
  return db.orm
    .select()
    .from(baselineColumns)
    .where(eq(baselineColumns.baselineId, id))
    .all()
    .map((c) => ({ role: c.role, name: c.name, profile: JSON.parse(c.profile) as ColumnProfile }));
}

export function hasActiveBaseline(db: Database, model: string, modelVersion: string): boolean {
  return (
    db.orm
      .select({ id: baselines.id })
      .from(baselines)
      .where(and(eq(baselines.model, model), eq(baselines.modelVersion, modelVersion), eq(baselines.active, true)))
      .get() !== undefined
  );
}

/** Makes `id` the active baseline of its version (deactivating the version's others). */
export function markActive(db: Database, row: BaselineRow, now: number): void {
  db.orm
    .update(baselines)
    .set({ active: false, activatedAt: null })
    .where(and(eq(baselines.model, row.model), eq(baselines.modelVersion, row.modelVersion), ne(baselines.id, row.id)))
    .run();
  db.orm.update(baselines).set({ active: true, activatedAt: now }).where(eq(baselines.id, row.id)).run();
}

export function versionsOf(db: Database, model: string): string[] {
  return db.orm
    .select({ v: modelVersions.modelVersion })
    .from(modelVersions)
    .where(eq(modelVersions.model, model))
    .all()
    .map((r) => r.v);
}

/** Stored raw records of one model version with id ≤ maxId, in id order, a page at a time. */
export function recordPage(db: Database, model: string, modelVersion: string, afterId: number, maxId: number, limit: number) {
  // NOT INDEXED keeps this a walk along the rowid: through the (model, ts) index every page would sort all
  // of the model's records again, making a re-aggregation quadratic.
  return db.sqlite
    .prepare(
      `SELECT id, model, model_version, request_id, ts, features, prediction, label FROM records NOT INDEXED
       WHERE model = ? AND model_version = ? AND id > ? AND id <= ? ORDER BY id LIMIT ?`,
    )
    .all(model, modelVersion, afterId, maxId, limit) as {
    id: number;
    model: string;
    model_version: string;
    request_id: string;
    ts: number;
    features: string;
    prediction: string | null;
    label: string | null;
  }[];
}

export function maxRecordId(db: Database): number {
  return (db.sqlite.prepare('SELECT coalesce(max(id), 0) AS id FROM records').get() as { id: number }).id;
}
