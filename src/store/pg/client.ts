import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { type Sql, toNumberedPlaceholders } from '../sql.js';
import type { MigrationStatus } from '../types.js';
import * as schema from './schema/index.js';

// src/store/pg/client.ts and dist/store/pg/client.js are both three levels below the package root.
export const PG_MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../drizzle/pg');

/** Advisory-lock keys (one 64-bit space per database): fixed numbers so every process agrees. */
export const LOCK_KEYS = {
  migrate: 0x64770001,
  leader: 0x64770002,
  partitions: 0x64770003,
} as const;

// int8 (counts, ids, ms timestamps) and numeric (sums of them) come back as JS numbers: every value the
// store keeps is below 2^53. Set per pool, not on pg's process-global parser table.
const INT8 = 20;
const NUMERIC = 1700;
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

/** What a repository runs its SQL on: one connection inside one transaction. */
export interface PgConn extends Sql {
  readonly dialect: 'postgres';
  client: pg.PoolClient;
  orm: NodePgDatabase<typeof schema>;
  // PostgreSQL-only statements also bind arrays (unnest, ANY).
  rows<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
  one<T>(text: string, params?: readonly unknown[]): Promise<T | undefined>;
  run(text: string, params?: readonly unknown[]): Promise<number>;
  /** Partitions of `records` this process knows exist (shared by every transaction of the store). */
  partitions: PartitionBook;
}

/** Keeps track of the receipt-day partitions of `records`, creating missing ones on a connection of its own. */
export interface PartitionBook {
  ensure(days: Iterable<number>): Promise<void>;
  forget(day: number): void;
}

export interface PgOptions {
  url: string;
  /** Pool size; `pool_size` in the URL wins. */
  poolSize?: number;
  /** Identifies the process in pg_stat_activity (and the leader lock's holder). */
  applicationName?: string;
}

/** The URL without credentials, for logs and /readyz. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

/** pg client settings from a postgres:// URL; `pool_size` is driftwatch's own parameter and is taken out. */
export function connectionSettings(options: PgOptions): {
  config: pg.ClientConfig;
  poolSize: number;
} {
  const u = new URL(options.url);
  const fromUrl = u.searchParams.get('pool_size');
  u.searchParams.delete('pool_size');
  const poolSize = fromUrl !== null ? Number(fromUrl) : (options.poolSize ?? 10);
  if (!Number.isInteger(poolSize) || poolSize < 1)
    throw new Error(`pool_size must be a positive integer, got ${fromUrl}`);
  return {
    config: {
      connectionString: u.toString(),
      application_name: options.applicationName ?? 'driftwatch',
      types,
      // A dead peer is noticed by TCP keepalive instead of hanging forever.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5_000,
    },
    poolSize,
  };
}

export function wrapConn(client: pg.PoolClient, partitions: PartitionBook): PgConn {
  // `$n` statements pass through unchanged; `?` ones (the repositories written once) are numbered.
  const query = (text: string, params?: readonly unknown[]) =>
    client.query(toNumberedPlaceholders(text), params as unknown[] | undefined);
  return {
    dialect: 'postgres',
    client,
    orm: drizzle({ client, schema }),
    rows: async <T>(text: string, params?: readonly unknown[]) => (await query(text, params)).rows as T[],
    one: async <T>(text: string, params?: readonly unknown[]) =>
      (await query(text, params)).rows[0] as T | undefined,
    run: async (text: string, params?: readonly unknown[]) => (await query(text, params)).rowCount ?? 0,
    partitions,
  };
}

/**
 * Applies pending migrations while holding a session advisory lock, so when several processes start at once
 * one migrates and the others wait, then find nothing left to do.
 */
export async function migrateDatabase(config: pg.ClientConfig): Promise<void> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEYS.migrate]);
    try {
      await migrate(drizzle({ client, schema }), { migrationsFolder: PG_MIGRATIONS_DIR });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEYS.migrate]);
    }
  } finally {
    await client.end();
  }
}

export async function pgMigrationStatus(pool: pg.Pool): Promise<MigrationStatus> {
  const journal = JSON.parse(readFileSync(resolve(PG_MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as {
    entries: unknown[];
  };
  const exists = await pool.query("SELECT to_regclass('drizzle.__drizzle_migrations') IS NOT NULL AS ok");
  const applied = exists.rows[0]?.ok
    ? Number((await pool.query('SELECT count(*) AS n FROM drizzle.__drizzle_migrations')).rows[0]?.n ?? 0)
    : 0;
  return { applied, expected: journal.entries.length };
}
