import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ports.js';
import { type CliProcess, killAll, listening, REPO_ROOT, runCli, runToEnd } from '../server/process.js';
import { tempDir } from '../support.js';

// The Python client (clients/python): installed with pip from a clean copy into a venv that sees Debian's
// FastAPI and uvicorn, its unittest suite run against a fake service, and a FastAPI app under uvicorn
// logging to a real driftwatch process that is killed and restarted mid-stream.

const PYTHON = process.env.DW_TEST_PYTHON ?? '/usr/bin/python3';
const PACKAGE = join(REPO_ROOT, 'clients/python');

let dir: string;
let cleanup: () => void;
let venvPython: string;

beforeAll(async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run scripts/setup-test-env.sh as root`);
  ({ dir, cleanup } = tempDir());
  // A clean copy, so pip's build files stay out of the source tree.
  const copy = join(dir, 'package');
  cpSync(PACKAGE, copy, {
    recursive: true,
    filter: (src) => !/(^|\/)(build|__pycache__|[^/]*\.egg-info)$/.test(src),
  });
  const venv = join(dir, 'venv');
  const made = await runToEnd(PYTHON, ['-m', 'venv', '--system-site-packages', '--without-pip', venv], {
    cwd: dir,
  });
  expect(made.stderr).toBe('');
  venvPython = join(venv, 'bin/python');
  // Offline: Debian's setuptools builds it (no build isolation, nothing fetched from an index).
  const pip = await runToEnd(
    venvPython,
    ['-m', 'pip', 'install', '--no-build-isolation', '--no-index', '--disable-pip-version-check', copy],
    { cwd: dir },
  );
  expect(pip.code, pip.stdout + pip.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await killAll();
  cleanup?.();
});

describe('the Python package', () => {
  it('installs with pip and imports only the standard library (FastAPI only for driftwatch.fastapi)', async () => {
    const probe = await runToEnd(
      venvPython,
      [
        '-c',
        [
          'import sys, driftwatch',
          'assert "site-packages" in driftwatch.__file__, driftwatch.__file__',
          'third = sorted(m for m in ("fastapi", "starlette", "pydantic", "httpx", "requests") if m in sys.modules)',
          'print(",".join(third) or "none")',
        ].join('\n'),
      ],
      { cwd: dir },
    );
    expect(probe.stderr).toBe('');
    expect(probe.stdout.trim()).toBe('none');
  });

  it('passes its unittest suite (client against a fake service, decorator on FastAPI apps)', async () => {
    const tests = await runToEnd(
      venvPython,
      ['-m', 'unittest', 'discover', '-v', '-s', join(dir, 'package/tests'), '-p', 'test_*.py'],
      { cwd: dir },
    );
    expect(tests.code, tests.stderr).toBe(0);
    const ran = /Ran (\d+) tests/.exec(tests.stderr);
    expect(Number(ran?.[1])).toBeGreaterThanOrEqual(20);
    expect(tests.stderr).toMatch(/\nOK\n/);
  }, 120_000);
});

describe('a FastAPI app logging to a real driftwatch', () => {
  interface Stats {
    queued: number;
    dropped: number;
    requests: number;
    accepted: number;
    duplicates: number;
    rejected: number;
  }

  const serveOn = (port: number, db: string): Promise<CliProcess> =>
    listening(runCli(['serve', '--port', String(port), '--db', db]));

  async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 600; i++) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('delivers every request exactly once across a driftwatch kill and restart, and never waits on it', async () => {
    const dwPort = await freePort();
    const appPort = await freePort();
    const db = join(dir, 'e2e.db');
    const dwUrl = `http://127.0.0.1:${dwPort}`;
    let driftwatch = await serveOn(dwPort, db);

    const uvicorn: ChildProcess = spawn(
      venvPython,
      ['-m', 'uvicorn', 'e2e_app:app', '--port', String(appPort), '--log-level', 'warning'],
      {
        cwd: join(dir, 'package/tests'),
        env: {
          ...process.env,
          DRIFTWATCH_URL: dwUrl,
          DW_BATCH_SIZE: '20',
          DW_FLUSH_INTERVAL: '0.05',
          DW_BACKOFF_MAX: '0.5',
          // A request to driftwatch may hang for an hour: predictions must not notice.
          DW_TIMEOUT: '3600',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let appLog = '';
    uvicorn.stderr?.setEncoding('utf8').on('data', (d: string) => {
      appLog += d;
    });
    try {
      const app = `http://127.0.0.1:${appPort}`;
      const stats = async () => (await (await fetch(`${app}/stats`)).json()) as Stats;
      await until('uvicorn', async () => stats());

      const predict = async (i: number) => {
        const id = `e2e-${i}`;
        const res = await fetch(`${app}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': id },
          body: JSON.stringify({
            sepal_length: 5 + i / 100,
            sepal_width: 3,
            petal_length: i % 7,
            petal_width: 1,
          }),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toBe(id);
        return (await res.json()) as { prediction: string };
      };
      const burst = async (from: number, to: number, during?: (i: number) => Promise<void>) => {
        const ids = Array.from({ length: to - from }, (_, k) => from + k);
        for (let k = 0; k < ids.length; k += 10) {
          await Promise.all(ids.slice(k, k + 10).map(predict));
          await during?.(from + k);
        }
      };

      // Mid-stream: driftwatch is SIGKILLed while the app is answering and its client sending.
      await burst(0, 100);
      await burst(100, 200, async (i) => {
        if (i === 140) {
          driftwatch.child.kill('SIGKILL');
          await driftwatch.exited;
        }
      });
      // What was logged after the kill is held, not lost.
      expect((await stats()).queued).toBeGreaterThanOrEqual(50);

      // Dead: a listener on driftwatch's port that takes the connection and never answers, so the
      // client's sender hangs in a request. Predictions go on answering, and make no requests of their own.
      const held = new Set<Socket>();
      let closeBlackhole: () => Promise<void> = async () => undefined;
      const stuck = new Promise<void>((resolve) => {
        const blackhole: Server = createServer((socket) => {
          held.add(socket);
          socket.on('data', () => resolve());
        });
        blackhole.listen(dwPort, '127.0.0.1');
        closeBlackhole = () =>
          new Promise<void>((done) => {
            blackhole.close(() => done());
            for (const s of held) s.destroy();
          });
      });
      let guard: NodeJS.Timeout | undefined;
      await Promise.race([
        stuck,
        new Promise((_, reject) => {
          guard = setTimeout(
            () => reject(new Error('the client sent nothing to the dead driftwatch')),
            60_000,
          );
        }),
      ]).finally(() => clearTimeout(guard));
      const before = await stats();
      await burst(200, 300);
      const during = await stats();
      expect(during.requests).toBe(before.requests);
      expect(during.queued).toBeGreaterThanOrEqual(100);
      expect(during.dropped).toBe(0);

      // Back: the hung request fails, the client retries and delivers what it held.
      await closeBlackhole();
      driftwatch = await serveOn(dwPort, db);
      await burst(300, 400);

      const ids = await until('all 400 records', async () => {
        const res = await fetch(`${dwUrl}/v1/models/iris/records?limit=1000`);
        const body = (await res.json()) as { records: { request_id: string }[] };
        return body.records.length >= 400 ? body.records.map((r) => r.request_id) : undefined;
      });
      expect(ids.length).toBe(400);
      expect(new Set(ids).size).toBe(400);
      expect(new Set(ids)).toEqual(new Set(Array.from({ length: 400 }, (_, i) => `e2e-${i}`)));
      const model = (await (await fetch(`${dwUrl}/v1/models/iris`)).json()) as { record_count: number };
      expect(model.record_count).toBe(400);
      const final = await until('the client to drain', async () => {
        const s = await stats();
        return s.queued === 0 ? s : undefined;
      });
      expect(final.dropped).toBe(0);
      expect(final.rejected).toBe(0);
      expect(final.accepted + final.duplicates).toBeGreaterThanOrEqual(400);
    } finally {
      uvicorn.kill('SIGKILL');
      if (appLog.includes('Traceback')) console.error(appLog);
    }
  }, 180_000);
});
