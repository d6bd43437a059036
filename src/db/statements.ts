import type { Statement } from 'better-sqlite3';
import type { Database } from './client.js';

const caches = new WeakMap<Database, Map<string, Statement>>();

/** A prepared statement, compiled once per database handle and reused (hot paths call this per batch). */
export function prepared(db: Database, sql: string): Statement {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  let stmt = cache.get(sql);
  if (!stmt) {
    stmt = db.sqlite.prepare(sql);
    cache.set(sql, stmt);
  }
  return stmt;
}
