import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runReport } from '../../src/cli/report.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startServer } from '../../src/server.js';
import { openStore } from '../../src/store/index.js';
import { configFile, makeTestApp, postJson, type TestApp, tempDir } from '../support.js';

// An SMTP password given by pass_env whose variable is not set: rendering works, sending and serve refuse.

const UNSET = 'DW_TEST_SMTP_PASS_NOT_SET';
const PROBLEM = `reports.smtp.auth.pass_env: environment variable ${UNSET} is not set`;

let cleanup: (() => void) | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  cleanup?.();
  cleanup = undefined;
});

function yaml(db: string): string {
  return `
database: { path: ${db} }
server: { host: 127.0.0.1, port: 0 }
log: { level: silent }
reports:
  smtp: { host: 127.0.0.1, port: 2525, auth: { user: dw, pass_env: ${UNSET} }, from: driftwatch@example.com }
  schedules:
    - { name: daily, cron: "0 8 * * *", timezone: Europe/Berlin, to: [ml-team@example.com] }
`;
}

async function setup() {
  expect(process.env[UNSET]).toBeUndefined();
  const d = tempDir();
  cleanup = d.cleanup;
  const db = join(d.dir, 'driftwatch.db');
  const config = loadConfig({ file: configFile(d.dir, yaml(db)), env: {} });
  // The database the CLI reads (created and migrated as serve or migrate would).
  await (await openStore(config.database)).close();
  return { config, dir: d.dir };
}

describe('an SMTP password that cannot be read', () => {
  it('does not stop `report --out` or printing the HTML; --send names the variable', async () => {
    const { config, dir } = await setup();
    const out = join(dir, 'report.html');
    const said = await runReport(config, { schedule: 'daily', out });
    expect(said).toContain(`written to ${out}`);
    expect(readFileSync(out, 'utf8')).toContain('<!DOCTYPE html>');
    expect(await runReport(config, { schedule: 'daily' })).toContain('daily report');

    const refused = await runReport(config, { schedule: 'daily', send: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems).toEqual([expect.stringContaining(PROBLEM)]);
  });

  it('still fails serve at start-up, naming the field', async () => {
    const { config } = await setup();
    const refused = await startServer(config).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).message).toContain(PROBLEM);
  });

  it('previews over HTTP, and refuses to send (409) without storing a run', async () => {
    t = makeTestApp({
      reports: {
        smtp: {
          host: '127.0.0.1',
          port: 2525,
          auth: { user: 'dw', pass_env: UNSET },
          from: 'dw@example.com',
        },
        schedules: [{ name: 'daily', cron: '0 8 * * *', to: ['ml-team@example.com'] }],
      },
    });
    const preview = await t.app.request('/v1/reports/preview?schedule=daily');
    expect(preview.status).toBe(200);
    const sent = await postJson(t.app, '/v1/reports/daily/send', {});
    expect(sent.status).toBe(409);
    expect(JSON.stringify(await sent.json())).toContain(PROBLEM);
    const runs = (await (await t.app.request('/v1/reports/runs')).json()) as { runs: unknown[] };
    expect(runs.runs).toEqual([]);
  });
});
