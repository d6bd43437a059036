import { bytewise, type Param, type Sql, selectList } from '../sql.js';
import type { ModelStore, ModelVersionRow, NewRecord } from '../types.js';
import { modelVersions } from './tables.js';

// Versions per INSERT: 7 parameters each, well below SQLite's limit on a statement's parameters.
const CHUNK = 1000;

export class Models implements ModelStore {
  constructor(private readonly db: Sql) {}

  /**
   * Adds to the per-version counters. Concurrent writers add up: ON CONFLICT DO UPDATE reads the current row
   * under its row lock. The rows go in (model, version) order, so two transactions bumping the same versions
   * lock them in the same order and cannot deadlock on them.
   */
  async bump(inserted: readonly NewRecord[], receivedAt: number): Promise<void> {
    const groups = new Map<
      string,
      { model: string; version: string; n: number; first: number; last: number }
    >();
    for (const r of inserted) {
      const key = `${r.model}\u0000${r.modelVersion}`;
      const g = groups.get(key);
      if (g) {
        g.n++;
        if (r.ts < g.first) g.first = r.ts;
        if (r.ts > g.last) g.last = r.ts;
      } else groups.set(key, { model: r.model, version: r.modelVersion, n: 1, first: r.ts, last: r.ts });
    }
    const list = [...groups.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([, g]) => g);
    for (let i = 0; i < list.length; i += CHUNK) {
      const chunk = list.slice(i, i + CHUNK);
      const params: Param[] = chunk.flatMap((g) => [
        g.model,
        g.version,
        g.n,
        g.first,
        g.last,
        receivedAt,
        receivedAt,
      ]);
      await this.db.run(
        `INSERT INTO model_versions (model, model_version, record_count, first_ts, last_ts, first_received_at,
           last_received_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (model, model_version) DO UPDATE SET
           record_count = model_versions.record_count + excluded.record_count,
           first_ts = CASE WHEN excluded.first_ts < model_versions.first_ts THEN excluded.first_ts ELSE model_versions.first_ts END,
           last_ts = CASE WHEN excluded.last_ts > model_versions.last_ts THEN excluded.last_ts ELSE model_versions.last_ts END,
           last_received_at = CASE WHEN excluded.last_received_at > model_versions.last_received_at
             THEN excluded.last_received_at ELSE model_versions.last_received_at END`,
        params,
      );
    }
  }

  async list(model?: string): Promise<ModelVersionRow[]> {
    // Byte order of names, as SQLite sorts text, whatever the database's collation.
    const order = `ORDER BY model${bytewise(this.db)}, first_ts`;
    const cols = selectList(modelVersions);
    return model === undefined
      ? this.db.rows(`SELECT ${cols} FROM model_versions ${order}`)
      : this.db.rows(`SELECT ${cols} FROM model_versions WHERE model = ? ${order}`, [model]);
  }

  async versions(model: string): Promise<string[]> {
    const rows = await this.db.rows<{ v: string }>(
      'SELECT model_version AS v FROM model_versions WHERE model = ?',
      [model],
    );
    return rows.map((r) => r.v);
  }

  async previousVersion(model: string, version: string): Promise<string | null> {
    const row = await this.db.one<{ v: string }>(
      `SELECT model_version AS v FROM model_versions WHERE model = ? AND model_version <> ? AND model_version <> ''
         AND first_ts < coalesce((SELECT first_ts FROM model_versions WHERE model = ? AND model_version = ?), 9e15)
       ORDER BY first_ts DESC LIMIT 1`,
      [model, version, model, version],
    );
    return row?.v ?? null;
  }

  async latestVersion(model: string): Promise<string> {
    const row = await this.db.one<{ v: string }>(
      'SELECT model_version AS v FROM model_versions WHERE model = ? ORDER BY last_received_at DESC, last_ts DESC LIMIT 1',
      [model],
    );
    return row?.v ?? '';
  }
}
