import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../ports.js';
import { killAll, REPO_ROOT, runToEnd, startServerProcess, withoutDriftwatchEnv } from '../server/process.js';
import { tempDir } from '../support.js';

// `npm run demo` end to end: a real server process on a SQLite file (its cwd is the repo root, so it
// registers ./models and serves weather version 2), and examples/demo.mjs run as `node` against it.

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await killAll();
  cleanup();
});

const runDemo = (args: string[]) =>
  runToEnd(process.execPath, [join(REPO_ROOT, 'examples/demo.mjs'), ...args], {
    cwd: REPO_ROOT,
    env: withoutDriftwatchEnv(),
  });

describe('examples/demo.mjs', () => {
  it('drives the served model into a drift alert and rolls back to the previous version', async () => {
    const server = await startServerProcess(join(dir, 'demo.db'));
    const get = async (path: string) => (await fetch(server.url(path))).json();
    const active = async () =>
      (
        (await get('/v1/models/weather/versions')) as { versions: { version: string; state: string }[] }
      ).versions.find((v) => v.state === 'active')?.version;
    expect(await active()).toBe('2');

    const run = await runDemo(['--url', `http://127.0.0.1:${server.port}`]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('monitoring logged 852 of the 852 predictions');
    expect(run.stdout).toMatch(/temp_max +psi \S+ +p_adj \S+ +DRIFT \(critical\)/);
    expect(run.stdout).toContain('rollback activated: version 2 → 1; active version before 2, after 1');
    expect(run.stdout).toContain('predict is now answered by version 1');

    // What the demo printed is what the service holds.
    const open = (await get('/v1/alerts?model=weather&status=open')) as {
      alerts: { kind: string; feature: string }[];
    };
    expect(open.alerts.filter((a) => a.kind === 'drift').length).toBeGreaterThanOrEqual(1);
    const decided = (await get('/v1/alerts?model=weather&status=decided')) as {
      alerts: { decision: string; feature: string }[];
    };
    expect(decided.alerts).toHaveLength(1);
    expect(decided.alerts[0]?.decision).toBe('rollback');
    expect(await active()).toBe('1');
    const answer = (await (
      await fetch(server.url('/v1/models/weather/predict'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ features: { precipitation: 0, temp_max: 30, temp_min: 15, wind: 2 } }),
      })
    ).json()) as { model_version: string };
    expect(answer.model_version).toBe('1');
  }, 90_000);

  it('says so when driftwatch is not running', async () => {
    const port = await freePort();
    const run = await runDemo(['--url', `http://127.0.0.1:${port}`]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(`cannot reach driftwatch at http://127.0.0.1:${port}`);
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stderr).toContain('npm start');
  });
});
