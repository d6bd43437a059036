import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import type { AppDeps } from '../../src/context.js';
import { MIGRATIONS_DIR } from '../../src/store/sqlite/client.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, tempDir } from '../support.js';

// The SQLite store itself: its migrations and files. Runs in the "sqlite" project only (SQLITE_ONLY in
// vitest.config.ts); everything a service does through the store is tested on both dialects elsewhere.

const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as {
  entries: { tag: string }[];
};

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('upgrading a database with duplicate open alerts', () => {
  it('closes the older duplicates (with an audit event) so the unique index can be built', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    // Migrations up to 0003: the schema before the store rewrite.
    const old = join(dir, 'migrations');
    mkdirSync(join(old, 'meta'), { recursive: true });
    const kept = journal.entries.slice(0, 4);
    for (const e of kept) copyFileSync(join(MIGRATIONS_DIR, `${e.tag}.sql`), join(old, `${e.tag}.sql`));
    writeFileSync(join(old, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: kept }));
    const path = join(dir, 'old.db');
    const sqlite = new BetterSqlite3(path);
    migrate(drizzle({ client: sqlite }), { migrationsFolder: old });
    const insert = sqlite.prepare(
      `INSERT INTO alerts (model, model_version, feature, kind, severity, status, evidence_count, first_seen, last_seen,
         latest, peak, created_at, updated_at) VALUES ('m', '', 'x', 'drift', 'warning', ?, 1, 0, 0, '{}', '{}', 0, ?)`,
    );
    insert.run('open', 1);
    insert.run('acknowledged', 2);
    insert.run('open', 3);
    sqlite.close();

    const store = openSqliteStore(path);
    try {
      const rows = store.connection.sqlite.prepare('SELECT id, status FROM alerts ORDER BY id').all();
      expect(rows).toEqual([
        { id: 1, status: 'closed' },
        { id: 2, status: 'closed' },
        { id: 3, status: 'open' },
      ]);
      const events = store.connection.sqlite
        .prepare("SELECT alert_id FROM alert_events WHERE action = 'closed' ORDER BY id")
        .all();
      expect(events).toEqual([{ alert_id: 1 }, { alert_id: 2 }]);
      expect(await store.migrationStatus()).toEqual({
        applied: journal.entries.length,
        expected: journal.entries.length,
      });
    } finally {
      await store.close();
    }
  });
});

describe('transactions with deferred durability', () => {
  it('commit with synchronous=NORMAL (no fsync at COMMIT) and leave the connection at FULL, after a rollback too', async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const store = openSqliteStore(join(dir, 'd.db'));
    const db = store.connection.sqlite;
    const synchronous = () => db.pragma('synchronous', { simple: true });
    const seen: unknown[] = [];
    try {
      expect(synchronous()).toBe(2);
      await store.tx(async () => void seen.push(synchronous()), { durability: 'deferred' });
      expect(synchronous()).toBe(2);
      await store.tx(async () => void seen.push(synchronous()));
      const failed = store.tx(
        async () => {
          seen.push(synchronous());
          throw new Error('rolled back');
        },
        { durability: 'deferred' },
      );
      await expect(failed).rejects.toThrow('rolled back');
      expect(synchronous()).toBe(2);
      expect(seen).toEqual([1, 2, 1]);
    } finally {
      await store.close();
    }
  });
});

describe('/readyz on a SQLite database', () => {
  it('answers 503 when migrations are missing', async () => {
    const store = openSqliteStore(':memory:', { migrate: false });
    const deps: AppDeps = {
      config: defaultConfig(),
      store,
      log: pino({ level: 'silent' }),
      clock: () => FIXED_NOW,
    };
    try {
      const { status, body } = await getJson<{ checks: Record<string, string> }>(createApp(deps), '/readyz');
      expect(status).toBe(503);
      expect(body.checks.migrations).toBe(`0/${journal.entries.length} applied`);
    } finally {
      await store.close();
    }
  });
});
