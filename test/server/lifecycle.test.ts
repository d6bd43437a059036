import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/store/sqlite/client.js';
import { rec } from '../helpers.js';
import { tempDir } from '../support.js';
import { killAll, logLines, runCli, startServerProcess } from './process.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await killAll();
  cleanup();
});

const expectedMigrations = (
  JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

function tables(db: string): string[] {
  const sqlite = new BetterSqlite3(db, { readonly: true });
  try {
    return (
      sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
  } finally {
    sqlite.close();
  }
}

describe('graceful shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'exits 0 on %s while idle and closes the database',
    async (signal) => {
      const db = join(dir, 'driftwatch.db');
      const server = await startServerProcess(db);
      // Leaves an idle keep-alive connection open, which must not hold the shutdown up.
      const res = await fetch(server.url('/v1/ingest'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([rec('a')]),
      });
      expect(res.status).toBe(200);
      await res.text();

      server.child.kill(signal);
      expect(await server.exited).toEqual({ code: 0, signal: null });

      const messages = logLines(server.stdout()).map((l) => l.msg);
      const shuttingDown = messages.findIndex((m) => m?.startsWith('shutting down'));
      const closed = messages.findIndex((m) => m?.includes('database closed'));
      expect(shuttingDown).toBeGreaterThan(-1);
      expect(closed).toBeGreaterThan(shuttingDown);
      expect(logLines(server.stdout()).find((l) => l.msg?.startsWith('shutting down'))?.reason).toBe(signal);

      // A clean close checkpoints the WAL into the main file and removes it.
      expect(existsSync(`${db}-wal`)).toBe(false);
      const sqlite = new BetterSqlite3(db, { readonly: true });
      try {
        expect(sqlite.prepare('SELECT request_id FROM records').all()).toEqual([{ request_id: 'a' }]);
      } finally {
        sqlite.close();
      }
    },
  );
});

describe('driftwatch migrate', () => {
  it('creates the database, with missing directories, and applies every migration', async () => {
    const db = join(dir, 'nested', 'deeper', 'driftwatch.db');
    const cli = runCli(['migrate', '--db', db]);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(cli.stdout().trim()).toBe(`${db}: ${expectedMigrations}/${expectedMigrations} migrations applied`);
    expect(tables(db)).toEqual(
      expect.arrayContaining(['__drizzle_migrations', 'model_versions', 'records', 'rejections']),
    );
    const sqlite = new BetterSqlite3(db, { readonly: true });
    try {
      expect(
        (sqlite.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() as { n: number }).n,
      ).toBe(expectedMigrations);
    } finally {
      sqlite.close();
    }
  });

  it('is idempotent on an already migrated database', async () => {
    const db = join(dir, 'driftwatch.db');
    expect((await runCli(['migrate', '--db', db]).exited).code).toBe(0);
    const again = runCli(['migrate', '--db', db]);
    expect((await again.exited).code).toBe(0);
    expect(again.stdout()).toContain(`${expectedMigrations}/${expectedMigrations} migrations applied`);
  });

  it('takes the database path from DRIFTWATCH_DB', async () => {
    const db = join(dir, 'from-env.db');
    const cli = runCli(['migrate'], { DRIFTWATCH_DB: db });
    expect((await cli.exited).code).toBe(0);
    expect(existsSync(db)).toBe(true);
  });
});

describe('driftwatch serve with a bad configuration', () => {
  it('exits non-zero listing every problem on stderr, without listening', async () => {
    const config = join(dir, 'driftwatch.yaml');
    writeFileSync(config, 'retention:\n  pruneSchedule: "not cron"\nserver:\n  colour: blue\n');
    const cli = runCli(['serve', '--config', config, '--db', join(dir, 'x.db')], { DRIFTWATCH_PORT: 'abc' });
    const exit = await cli.exited;
    expect(exit.code).toBe(2);
    const stderr = cli.stderr();
    expect(stderr).toMatch(/^invalid configuration:$/m);
    expect(stderr).toMatch(/^ {2}- server\.port: .*\[from DRIFTWATCH_PORT\]$/m);
    expect(stderr).toMatch(/^ {2}- retention\.pruneSchedule: not a valid cron expression/m);
    expect(stderr).toMatch(/^ {2}- server\.colour: unknown key /m);
    expect(cli.stdout()).not.toContain('driftwatch listening');
    expect(existsSync(join(dir, 'x.db'))).toBe(false);
  });

  it('exits non-zero for a config file that does not parse', async () => {
    const config = join(dir, 'driftwatch.json');
    writeFileSync(config, '{"server": ');
    const cli = runCli(['serve', '--config', config, '--db', join(dir, 'x.db')]);
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr()).toContain(`config file ${config}: `);
  });

  it('exits non-zero for a port flag that is not a number', async () => {
    const cli = runCli(['serve', '--port', 'eighty', '--db', join(dir, 'x.db')]);
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr()).toMatch(/server\.port: .*\[from --port\]/);
  });

  it('exits 1 with the reason when the port is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    try {
      const port = (blocker.address() as { port: number }).port;
      const cli = runCli(['serve', '--port', String(port), '--db', join(dir, 'x.db')]);
      expect((await cli.exited).code).toBe(1);
      expect(cli.stderr()).toMatch(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      // Refused before the store is opened: no database file (nor -wal/-shm) is left behind.
      for (const suffix of ['', '-wal', '-shm']) expect(existsSync(join(dir, `x.db${suffix}`))).toBe(false);
    } finally {
      await new Promise((done) => blocker.close(done));
    }
  });
});

describe('the running server', () => {
  it('answers /readyz 200 and refuses a chunked body past the limit over a real socket', async () => {
    const server = await startServerProcess(join(dir, 'driftwatch.db'), { DRIFTWATCH_BODY_LIMIT: '1000' });
    expect((await fetch(server.url('/readyz'))).status).toBe(200);

    const chunks = [JSON.stringify([rec('a', { features: { pad: 'x'.repeat(3000) } })])];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    // duplex is required by fetch for a streamed request body but missing from the DOM RequestInit type.
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' };
    const res = await fetch(server.url('/v1/ingest'), init as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /limit of 1000 bytes/,
    );

    const records = await fetch(server.url('/v1/models/iris/records'));
    expect(((await records.json()) as { records: unknown[] }).records).toEqual([]);
  });
});
