import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema/index.js';

// src/db/client.ts and dist/db/client.js are both two levels below the package root.
export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');

export interface Database {
  /** Typed query builder for ordinary queries. */
  orm: BetterSQLite3Database<typeof schema>;
  /** The raw handle, for hot paths that need hand-prepared multi-row statements. */
  sqlite: BetterSqlite3.Database;
  path: string;
  close(): void;
}

export interface OpenOptions {
  synchronous?: 'full' | 'normal';
  /** Apply pending migrations (the default); `false` only opens, for tools that inspect state. */
  migrate?: boolean;
}

/** Opens (creating if needed) the SQLite file in WAL mode and applies migrations synchronously. */
export function openDatabase(path: string, options: OpenOptions = {}): Database {
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  sqlite.pragma('foreign_keys = ON');
  // Readers (drift runs, UI) must not fail while the ingest writer holds the lock.
  sqlite.pragma('busy_timeout = 5000');
  const orm = drizzle({ client: sqlite, schema });
  if (options.migrate !== false) migrate(orm, { migrationsFolder: MIGRATIONS_DIR });
  return {
    orm,
    sqlite,
    path,
    close: () => {
      if (sqlite.open) sqlite.close();
    },
  };
}

export interface MigrationStatus {
  applied: number;
  expected: number;
}

/** Compares the migrations recorded in the database with the committed journal. */
export function migrationStatus(db: Database): MigrationStatus {
  const journal = JSON.parse(readFileSync(resolve(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  const hasTable = db.sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'")
    .get();
  const applied = hasTable
    ? (db.sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n
    : 0;
  return { applied, expected: journal.entries.length };
}
