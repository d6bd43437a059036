import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import type { AppDeps } from '../src/context.js';
import { PG_MIGRATIONS_DIR } from '../src/store/pg/client.js';
import { MIGRATIONS_DIR } from '../src/store/sqlite/client.js';
import { getJson } from './helpers.js';
import { makeTestApp, TEST_DIALECT, type TestApp } from './support.js';

interface ReadyBody {
  status: 'ready' | 'not_ready';
  checks: Record<string, string>;
}

// The migrations of the suite's dialect (a SQLite database without them: test/store/sqlite.test.ts).
const migrationsDir = TEST_DIALECT === 'postgres' ? PG_MIGRATIONS_DIR : MIGRATIONS_DIR;
const expectedMigrations = (
  JSON.parse(readFileSync(join(migrationsDir, 'meta/_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length;

let t: TestApp | undefined;
afterEach(() => t?.close());

/** An app over `deps` whose readiness follows the returned flag, as startServer wires it. */
function withReadiness(deps: AppDeps) {
  const flag = { accepting: true };
  return { flag, app: createApp(deps, { readiness: { accepting: () => flag.accepting } }) };
}

describe('/healthz', () => {
  it('answers 200 while the process runs, whatever the database', async () => {
    t = makeTestApp();
    expect(await getJson(t.app, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    t.close();
    expect((await getJson(t.app, '/healthz')).status).toBe(200);
  });
});

describe('/readyz', () => {
  it('answers 200 when the database is open and fully migrated', async () => {
    t = makeTestApp();
    const { status, body } = await getJson<ReadyBody>(t.app, '/readyz');
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ready',
      checks: {
        database: `${TEST_DIALECT} open`,
        migrations: `${expectedMigrations}/${expectedMigrations} applied`,
      },
    });
  });

  it('answers 503 once the database is closed', async () => {
    t = makeTestApp();
    await t.close();
    const { status, body } = await getJson<ReadyBody>(t.app, '/readyz');
    expect(status).toBe(503);
    expect(body).toEqual({ status: 'not_ready', checks: { database: 'closed' } });
  });

  it('answers 503 once shutdown has started, and says so', async () => {
    t = makeTestApp();
    const { flag, app } = withReadiness(t.deps);
    expect((await getJson(app, '/readyz')).status).toBe(200);
    flag.accepting = false;
    const { status, body } = await getJson<ReadyBody>(app, '/readyz');
    expect(status).toBe(503);
    expect(body.status).toBe('not_ready');
    expect(body.checks.shutdown).toBe('shutting down');
    expect(body.checks.database).toBe(`${TEST_DIALECT} open`);
  });
});
