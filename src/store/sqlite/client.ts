import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import type { Param, Sql } from '../sql.js';
import type { MigrationStatus } from '../types.js';
import { addF64 } from '../vectors.js';
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

/** Element-wise sum of two little-endian uint32 count vectors (the longer one's tail kept). */
function addCounts(a: Buffer | null, b: Buffer | null): Buffer | null {
  if (a === null) return b;
  if (b === null) return a;
  const long = a.byteLength >= b.byteLength ? a : b;
  const short = long === a ? b : a;
  // Copies into aligned arrays (SQLite's buffers need not be 4-byte aligned); the platform is little-endian,
  // as the vectors are written.
  const out = new Uint32Array(long.byteLength >>> 2);
  new Uint8Array(out.buffer).set(long.subarray(0, out.length * 4));
  const add = new Uint32Array(short.byteLength >>> 2);
  new Uint8Array(add.buffer).set(short.subarray(0, add.length * 4));
  for (let i = 0; i < add.length; i++) out[i] = ((out[i] as number) + (add[i] as number)) >>> 0;
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
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
    addCounts(a as Buffer | null, b as Buffer | null),
  );
  // Co-moment vectors (float64, src/stats/comoments.ts) add the same way; the copies align the bytes.
  sqlite.function('dw_add_f64', { deterministic: true }, (a: unknown, b: unknown) => {
    if (a === null || b === null) return (a ?? b) as Buffer | null;
    const x = a as Buffer;
    const y = b as Buffer;
    const sum = addF64(
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
