import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import {
  ConfigError,
  type ConfigInput,
  defaultConfig,
  type LoadConfigOptions,
  loadConfig,
} from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import type { LeaderLock, Store, Tx, TxOptions } from '../src/store/index.js';
import type { PgStore } from '../src/store/pg/index.js';
import { openSqliteStore, SqliteStore } from '../src/store/sqlite/index.js';
import { createTestDatabase } from './pg/databases.js';

export const FIXED_NOW = Date.parse('2026-11-24T12:00:00Z');

/**
 * The store the suite runs on: SQLite (the default), or PostgreSQL when the vitest project "postgres" sets
 * DW_TEST_STORE=postgres — then every makeTestApp gets a database of its own on the run's cluster.
 */
export const TEST_DIALECT: 'sqlite' | 'postgres' =
  process.env.DW_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/**
 * A store whose opening is still under way: makeTestApp stays synchronous on PostgreSQL (creating the
 * test's database is async); every call waits for the store first.
 */
class DeferredStore implements Store {
  readonly dialect = 'postgres' as const;
  location = 'postgres (test database)';
  private closed = false;
  private store: PgStore | undefined;

  constructor(
    private readonly opening: Promise<PgStore>,
    private readonly dropDatabase: Promise<() => Promise<void>>,
  ) {
    opening.then(
      (s) => {
        this.store = s;
        this.location = s.location;
      },
      () => undefined,
    );
  }

  async tx<T>(fn: (tx: Tx) => Promise<T>, options?: TxOptions): Promise<T> {
    return (await this.opening).tx(fn, options);
  }

  async read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return (await this.opening).read(fn);
  }

  async migrationStatus() {
    return (await this.opening).migrationStatus();
  }

  leaderLock(holder: string, ttlMs: number): LeaderLock {
    const lock = this.opening.then((s): LeaderLock => (s as Store).leaderLock(holder, ttlMs));
    return {
      mechanism: 'advisory-lock',
      hold: async (now) => (await lock).hold(now),
      release: async () => (await lock).release(),
      holder: async () => (await lock).holder(),
    };
  }

  /** The opened store (pool and all), for checks that need it. */
  async opened(): Promise<PgStore> {
    return this.opening;
  }

  isOpen(): boolean {
    return !this.closed && (this.store?.isOpen() ?? true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const store = await this.opening.catch(() => undefined);
    await store?.close();
    await (await this.dropDatabase.catch(() => async () => undefined))();
  }
}

/** Opens the suite's store kind: an in-memory SQLite, or a fresh PostgreSQL database. */
export function openTestStore(): Store {
  if (TEST_DIALECT === 'sqlite') return openSqliteStore(':memory:');
  const db = createTestDatabase();
  return new DeferredStore(
    db.then(async (d) => {
      const { openPgStore } = await import('../src/store/pg/index.js');
      return openPgStore({ url: d.url, poolSize: 4 }, { migrate: false });
    }),
    db.then((d) => d.drop),
  );
}

/** Rows of a query on a test store, either dialect: `?` placeholders, snake_case columns as stored. */
export async function sqlRows<T = Record<string, unknown>>(
  store: Store,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  if (store instanceof SqliteStore) return store.connection.sqlite.prepare(text).all(...params) as T[];
  if (store instanceof DeferredStore || 'pool' in store) {
    const pgStore = store instanceof DeferredStore ? await store.opened() : (store as PgStore);
    let i = 0;
    const res = await pgStore.pool.query(
      text.replace(/\?/g, () => `$${++i}`),
      params,
    );
    return res.rows as T[];
  }
  throw new Error(`sqlRows: unsupported store ${store.dialect}`);
}

/** A statement on a test store, either dialect; returns the number of rows it changed. */
export async function sqlRun(store: Store, text: string, params: unknown[] = []): Promise<number> {
  if (store instanceof SqliteStore) return store.connection.sqlite.prepare(text).run(...params).changes;
  const pgStore = store instanceof DeferredStore ? await store.opened() : (store as PgStore);
  let i = 0;
  const res = await pgStore.pool.query(
    text.replace(/\?/g, () => `$${++i}`),
    params,
  );
  return res.rowCount ?? 0;
}

export interface TestApp {
  deps: AppDeps;
  /** The store behind deps.store (SQLite or PostgreSQL, see TEST_DIALECT). */
  store: Store;
  /** Rows of a query on the test's database, for checks the API cannot express (`?` placeholders). */
  sql<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** A statement on the test's database; the number of rows it changed. */
  exec(text: string, params?: unknown[]): Promise<number>;
  /** The SQLite store, for tests of SQLite itself; throws on PostgreSQL. */
  sqlite: SqliteStore;
  app: ReturnType<typeof createApp>;
  /** Moves the fixed clock. */
  setNow(ms: number): void;
  close(): Promise<void>;
}

/** A fresh migrated database (see TEST_DIALECT), with a fixed clock and a silent logger: one per test. */
export function makeTestApp(config: ConfigInput = {}): TestApp {
  const cfg = defaultConfig({ ...config, database: { path: ':memory:', ...config.database } });
  const store =
    config.database?.path !== undefined && config.database.path !== ':memory:'
      ? openSqliteStore(cfg.database.path)
      : openTestStore();
  return makeTestAppOn(store, config);
}

/** A test app on a store the test opened itself (closed by the app's close()). */
export function makeTestAppOn(store: Store, config: ConfigInput = {}): TestApp {
  let now = FIXED_NOW;
  const cfg = defaultConfig({ ...config, database: { path: ':memory:', ...config.database } });
  const deps: AppDeps = {
    config: cfg,
    store,
    log: pino({ level: process.env.DW_TEST_LOG ?? 'silent' }),
    clock: () => now,
  };
  return {
    deps,
    store,
    sql: (text, params) => sqlRows(store, text, params),
    exec: (text, params) => sqlRun(store, text, params),
    get sqlite(): SqliteStore {
      if (!(store instanceof SqliteStore)) throw new Error('this test needs the SQLite store');
      return store;
    },
    app: createApp(deps),
    setNow: (ms) => {
      now = ms;
    },
    close: () => store.close(),
  };
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function postJson(
  app: TestApp['app'],
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Writes a YAML config file into `dir` and returns its path. */
export function configFile(dir: string, text: string): string {
  const path = join(dir, 'driftwatch.yaml');
  writeFileSync(path, text);
  return path;
}

/** The problems loadConfig reports; fails the test when it does not throw a ConfigError. */
export function configProblems(options: LoadConfigOptions): string[] {
  try {
    loadConfig(options);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}
