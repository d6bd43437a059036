import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { addEncoded } from '../counts.js';
import { addF64, fromF64Blob } from '../repos/performance.js';
import type { Param, Sql } from '../sql.js';
import type { MigrationStatus } from '../types.js';
import { addCoMoments } from '../vectors.js';
import * as schema from './schema/index.js';

// src/store/sqlite/client.ts and dist/store/sqlite/client.js are both three levels below the package root.
export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../drizzle/sqlite');

/** One SQLite connection: the typed builder, the raw handle, and a cache of prepared statements. */
export interface Connection extends Sql {
  readonly dialect: 'sqlite';
  orm: BetterSQLite3Database<typeof schema>;
  sqlite: BetterSqlite3.Database;
  /** A prepared statement, compiled once per connection (hot paths call this per batch). */
  prepared(sql: string): BetterSqlite3.Statement;
}

export interface OpenOptions {
  synchronous?: 'full' | 'normal';
  /** Apply pending migrations (the default); `false` only opens, for tools that inspect state. */
  migrate?: boolean;
}

/** Element-wise sum of two little-endian float64 vectors (the longer one's tail kept). */
function addF64Blobs(a: Buffer | null, b: Buffer | null): Buffer | null {
  if (a === null) return b;
  if (b === null) return a;
  const sum = addF64(fromF64Blob(a), fromF64Blob(b));
  return Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength);
}

/** Opens (creating if needed) the SQLite file in WAL mode and applies migrations. */
export function openConnection(path: string, options: OpenOptions = {}): Connection {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  sqlite.pragma('foreign_keys = ON');
  // Another process on the same file (the CLI, a second server) must wait for the lock, not fail.
  sqlite.pragma('busy_timeout = 5000');
  // Aggregate upserts add count vectors inside the database, so no writer reads, adds and writes back.
  sqlite.function('dw_add_counts', { deterministic: true }, (a: unknown, b: unknown) =>
    addEncoded(a as Buffer | null, b as Buffer | null),
  );
  // Performance sums (little-endian float64) add the same way.
  sqlite.function('dw_add_f64', { deterministic: true }, (a: unknown, b: unknown) =>
    addF64Blobs(a as Buffer | null, b as Buffer | null),
  );
  // Co-moment vectors (float64, src/stats/comoments.ts: the dimension kept, the sums added); the copies
  // align the bytes.
  sqlite.function('dw_add_comoments', { deterministic: true }, (a: unknown, b: unknown) => {
    if (a === null || b === null) return (a ?? b) as Buffer | null;
    const x = a as Buffer;
    const y = b as Buffer;
    const sum = addCoMoments(
      new Float64Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)),
      new Float64Array(y.buffer.slice(y.byteOffset, y.byteOffset + y.byteLength)),
    );
    return Buffer.from(sum.buffer, sum.byteOffset, sum.byteLength);
  });
  const orm = drizzle({ client: sqlite, schema });
  if (options.migrate !== false) migrate(orm, { migrationsFolder: MIGRATIONS_DIR });
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepared = (sql: string) => {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = sqlite.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  return {
    dialect: 'sqlite',
    orm,
    sqlite,
    prepared,
    // Synchronous underneath; async so repositories are written once for both stores.
    rows: async <T>(text: string, params: readonly Param[] = []) =>
      prepared(text).all(...bindable(params)) as T[],
    one: async <T>(text: string, params: readonly Param[] = []) =>
      prepared(text).get(...bindable(params)) as T | undefined,
    run: async (text: string, params: readonly Param[] = []) =>
      prepared(text).run(...bindable(params)).changes,
  };
}

/** better-sqlite3 binds neither booleans nor undefined. */
function bindable(params: readonly Param[]): unknown[] {
  return params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/** Compares the migrations recorded in the database with the committed journal. */
export function migrationStatus(conn: Connection): MigrationStatus {
  const journal = JSON.parse(readFileSync(resolve(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  const hasTable = conn.sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
    .get();
  const applied = hasTable
    ? (conn.sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
    : 0;
  return { applied, expected: journal.entries.length };
}
