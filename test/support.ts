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
} from '../src/config.js';
import type { AppDeps } from '../src/context.js';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/index.js';

export const FIXED_NOW = Date.parse('2026-11-24T12:00:00Z');

export interface TestApp {
  deps: AppDeps;
  /** The SQLite store behind deps.store, for checks the API cannot express. */
  store: SqliteStore;
  app: ReturnType<typeof createApp>;
  /** Moves the fixed clock. */
  setNow(ms: number): void;
  close(): Promise<void>;
}

/** A fresh in-memory database, migrated, with a fixed clock and a silent logger: one per test. */
export function makeTestApp(config: ConfigInput = {}): TestApp {
  let now = FIXED_NOW;
  const cfg = defaultConfig({ ...config, database: { path: ':memory:', ...config.database } });
  const store = openSqliteStore(cfg.database.path);
  const deps: AppDeps = { config: cfg, store, log: pino({ level: 'silent' }), clock: () => now };
  return {
    deps,
    store,
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
