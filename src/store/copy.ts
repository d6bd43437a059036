import { getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core';
import type pg from 'pg';
import type { PgStore } from './pg/index.js';
import * as pgSchema from './pg/schema/index.js';
import type { SqliteStore } from './sqlite/index.js';
import * as sqliteSchema from './sqlite/schema/index.js';

const DAY_MS = 86_400_000;
const PAGE = 2_000;

/**
 * Tables in the order they are copied (referenced before referencing). Leases are left out: they belong
 * to the processes that held them. job_state's change counter is SQLite's own (PostgreSQL uses a sequence).
 */
const TABLES = [
  'model_versions',
  'records',
  'rejections',
  'baselines',
  'baseline_columns',
  'baseline_comoments',
  'aggregates',
  'bucket_stats',
  'performance',
  'realized_performance',
  'comoments',
  'traffic',
  'changed_buckets',
  'activations',
  'drift_results',
  'drift_result_summaries',
  'drift_feature_results',
  'feature_latest',
  'cusum_state',
  'alerts',
  'alert_evidence',
  'alert_events',
  'retrain_requests',
  'threshold_overrides',
  'deliveries',
  'job_state',
  'served_versions',
  'model_events',
  'shadow_stats',
  'pending_events',
  'report_runs',
] as const;

export type CopiedTable = (typeof TABLES)[number];

interface ColumnPlan {
  name: string;
  boolean: boolean;
}

function tablesByName<T>(schema: Record<string, unknown>, config: (t: never) => { name: string }) {
  const out = new Map<string, T>();
  for (const value of Object.values(schema)) {
    try {
      const c = config(value as never);
      if (c?.name) out.set(c.name, value as T);
    } catch {
      // not a table
    }
  }
  return out;
}

/** Column lists of both dialects per table: what the copy moves, and what a parity test compares. */
export function schemaColumns(): Map<string, { sqlite: string[]; pg: { name: string; type: string }[] }> {
  const sqliteTables = tablesByName<never>(sqliteSchema, sqliteTableConfig as never);
  const pgTables = tablesByName<never>(pgSchema, pgTableConfig as never);
  const out = new Map<string, { sqlite: string[]; pg: { name: string; type: string }[] }>();
  for (const name of new Set([...sqliteTables.keys(), ...pgTables.keys()])) {
    const s = sqliteTables.get(name);
    const p = pgTables.get(name);
    out.set(name, {
      sqlite: s ? sqliteTableConfig(s).columns.map((c) => c.name) : [],
      pg: p ? pgTableConfig(p).columns.map((c) => ({ name: c.name, type: c.getSQLType() })) : [],
    });
  }
  return out;
}

export interface CopyResult {
  tables: { table: CopiedTable; rows: number }[];
}

export class CopyRefused extends Error {}

/**
 * Copies a SQLite store's whole state into an empty PostgreSQL database, in one target transaction (all
 * or nothing) from one source snapshot: baselines, aggregates, drift results, alerts with their evidence
 * and audit trails, retrain requests, deliveries, and the raw records still retained. Ids are kept, so
 * links (/ui/alerts/:id, delivery ids receivers de-duplicate on) stay valid; sequences continue after them.
 */
export async function copySqliteToPg(
  from: SqliteStore,
  to: PgStore,
  onProgress: (table: CopiedTable, rows: number) => void = () => undefined,
): Promise<CopyResult> {
  const plan = schemaColumns();
  const db = from.connection.sqlite;
  const client: pg.PoolClient = await to.pool.connect();
  const result: CopyResult = { tables: [] };
  try {
    const busy = await client.query<{ t: string }>(
      `SELECT t FROM (VALUES ('baselines'), ('alerts'), ('records'), ('drift_results'), ('model_versions')) v(t)
       WHERE EXISTS (SELECT 1 FROM baselines) AND t = 'baselines'
          OR EXISTS (SELECT 1 FROM alerts) AND t = 'alerts'
          OR EXISTS (SELECT 1 FROM records) AND t = 'records'
          OR EXISTS (SELECT 1 FROM drift_results) AND t = 'drift_results'
          OR EXISTS (SELECT 1 FROM model_versions) AND t = 'model_versions'`,
    );
    if (busy.rows.length > 0) {
      throw new CopyRefused(
        `the target database already holds data (${busy.rows.map((r) => r.t).join(', ')}); copy into an empty database`,
      );
    }
    // One snapshot of the source: a read transaction holds it while the pages are read.
    db.exec('BEGIN');
    // Partitions are created on a connection of their own, which would wait for this copy's transaction
    // once it has written to records: create every receipt day's partition first.
    const days = (
      db.prepare(`SELECT DISTINCT received_at / ${DAY_MS} AS day FROM records`).all() as { day: number }[]
    ).map((r) => r.day);
    await to.ensurePartitions(days);
    await client.query('BEGIN');
    try {
      for (const table of TABLES) {
        const cols = plan.get(table);
        if (!cols) throw new Error(`no schema for ${table}`);
        const pgCols = new Map(cols.pg.map((c) => [c.name, c.type]));
        const missing = cols.sqlite.filter((c) => !pgCols.has(c));
        if (missing.length > 0) throw new Error(`${table}: PostgreSQL schema lacks ${missing.join(', ')}`);
        const columns: ColumnPlan[] = cols.sqlite.map((name) => ({
          name,
          boolean: pgCols.get(name) === 'boolean',
        }));
        const extra = table === 'records' ? ['received_day'] : [];
        const names = [...columns.map((c) => c.name), ...extra];
        const select = db.prepare(
          `SELECT rowid AS _rowid, ${columns.map((c) => `"${c.name}"`).join(', ')} FROM ${table}
           WHERE rowid > ? ${table === 'job_state' ? "AND key <> 'changes.seq'" : ''} ORDER BY rowid LIMIT ${PAGE}`,
        );
        let after = Number.MIN_SAFE_INTEGER;
        let rows = 0;
        for (;;) {
          const page = select.all(after) as Record<string, unknown>[];
          if (page.length === 0) break;
          after = page[page.length - 1]?._rowid as number;
          const values: unknown[] = [];
          const tuples: string[] = [];
          for (const row of page) {
            const start = values.length;
            for (const c of columns) {
              const v = row[c.name];
              values.push(c.boolean && v !== null ? v === 1 || v === true : v);
            }
            if (table === 'records') {
              values.push(Math.floor((row.received_at as number) / DAY_MS));
            }
            tuples.push(`(${names.map((_, i) => `$${start + i + 1}`).join(', ')})`);
          }
          await client.query(
            `INSERT INTO ${table} (${names.map((n) => `"${n}"`).join(', ')}) VALUES ${tuples.join(', ')}`,
            values,
          );
          rows += page.length;
          onProgress(table, rows);
        }
        result.tables.push({ table, rows });
      }
      // Serial columns continue after the copied ids; changed rows keep growing their seq.
      for (const table of TABLES) {
        const hasId = plan.get(table)?.pg.some((c) => c.name === 'id');
        if (!hasId) continue;
        await client.query(
          `SELECT setval(pg_get_serial_sequence('${table}', 'id'), coalesce((SELECT max(id) FROM ${table}), 0) + 1, false)`,
        );
      }
      await client.query(
        "SELECT setval('changes_seq', coalesce((SELECT max(seq) FROM changed_buckets), 0) + 1, false)",
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
    }
  } finally {
    client.release();
  }
  return result;
}
