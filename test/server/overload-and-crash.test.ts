import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BaselineBody, DriftResultBody } from '../drift/helpers.js';
import type { IngestBody } from '../helpers.js';
import { tempDir } from '../support.js';
import { killAll, logLines, type ServerProcess, startServerProcess } from './process.js';

// Real processes on a real SQLite file: a crash in the middle of a re-aggregation, two servers on one
// file, and liveness while large ingests are in flight.

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await killAll();
  cleanup();
});

const HOUR = 3600e3;

async function call<T>(
  server: ServerProcess,
  method: string,
  path: string,
  body?: string,
  contentType = 'application/json',
) {
  const res = await fetch(server.url(path), {
    method,
    ...(body === undefined ? {} : { body, headers: { 'content-type': contentType } }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}

const training = (shift: number) =>
  JSON.stringify(
    Array.from({ length: 400 }, (_, i) => ({ x: (i % 200) + shift, color: ['red', 'green', 'blue'][i % 3] })),
  );

function ndjson(prefix: string, from: number, count: number, t0: number): string {
  let out = '';
  for (let i = from; i < from + count; i++) {
    out += `{"model":"m","request_id":"${prefix}-${i}","timestamp":${t0 + i * 100},"features":{"x":${i % 200},"color":"${['red', 'green', 'blue'][i % 3]}"}}\n`;
  }
  return out;
}

async function kill9(server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL');
  expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('kill -9 during re-aggregation', () => {
  it('resumes the rebuild after a restart, and the drift numbers count every record exactly once', {
    timeout: 120_000,
  }, async () => {
    const db = join(dir, 'driftwatch.db');
    const first = await startServerProcess(db);
    const a = await call<BaselineBody>(first, 'POST', '/v1/models/m/baselines', training(0));
    expect(a.status).toBe(201);
    expect(a.body.active).toBe(true);

    const TOTAL = 60_000;
    const BATCH = 10_000;
    const t0 = Date.now() - 3 * HOUR;
    for (let from = 0; from < TOTAL; from += BATCH) {
      const res = await call<IngestBody>(
        first,
        'POST',
        '/v1/ingest',
        ndjson('r', from, BATCH, t0),
        'application/x-ndjson',
      );
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(BATCH);
    }
    const b = await call<BaselineBody>(first, 'POST', '/v1/models/m/baselines?activate=false', training(3));
    expect(b.status).toBe(201);
    expect(b.body.active).toBe(false);

    // The activation request re-aggregates before it answers; watch its progress and kill mid-way.
    let answered = false;
    const activation = fetch(first.url(`/v1/models/m/baselines/${b.body.id}/activate`), {
      method: 'POST',
    }).then(
      () => {
        answered = true;
      },
      () => undefined,
    );
    let seen: BaselineBody['rebuild'] = null;
    for (let i = 0; i < 2_000 && !answered; i++) {
      const list = await call<{ baselines: BaselineBody[] }>(first, 'GET', '/v1/models/m/baselines').catch(
        () => null,
      );
      seen = list?.body.baselines.find((x) => x.rebuild !== null)?.rebuild ?? null;
      if (seen && seen.records_done > 0) break;
      await sleep(5);
    }
    if (!answered && !(seen && seen.records_done > 0))
      throw new Error('the activation neither progressed nor answered');
    await kill9(first);
    await activation;

    const second = await startServerProcess(db);
    // Which case occurred is read from the restarted server: a rebuild left over means the kill interrupted it.
    const after = await call<{ baselines: BaselineBody[] }>(second, 'GET', '/v1/models/m/baselines');
    const pending = after.body.baselines.find((x) => x.rebuild !== null)?.rebuild ?? null;
    if (pending) {
      console.info(
        `killed mid-rebuild: ${pending.records_done} of ${pending.records_total} records rebuilt before the kill`,
      );
      expect(pending).toMatchObject({ baseline_id: b.body.id, records_total: TOTAL });
      expect(pending.records_done).toBeLessThan(TOTAL);
      // Progress the first server reported was committed: it survives the kill.
      expect(pending.records_done).toBeGreaterThanOrEqual(seen?.records_done ?? 0);
      // The durable activation row is still the model's one activation.
      const again = await call<{ error: { code: string } }>(
        second,
        'POST',
        `/v1/models/m/baselines/${a.body.id}/activate`,
      );
      expect(again.status).toBe(409);
      expect(again.body.error.code).toBe('conflict');
    } else {
      console.info('the activation finished before the kill; checking completeness anyway');
    }

    // The restarted server takes over the job lease (the dead one's expires) and its rebuild job resumes.
    let baselines: BaselineBody[] = [];
    for (let i = 0; i < 300; i++) {
      baselines = (await call<{ baselines: BaselineBody[] }>(second, 'GET', '/v1/models/m/baselines')).body
        .baselines;
      if (baselines.every((x) => x.rebuild === null)) break;
      await sleep(200);
    }
    expect(baselines.map((x) => x.rebuild)).toEqual([null, null]);
    expect(baselines.find((x) => x.id === b.body.id)?.active).toBe(true);

    const run = await call<{ results: DriftResultBody[] }>(
      second,
      'POST',
      '/v1/models/m/drift/run',
      JSON.stringify({
        from: new Date(t0 - HOUR).toISOString(),
        to: new Date(t0 + TOTAL * 100 + HOUR).toISOString(),
      }),
    );
    expect(run.status).toBe(200);
    expect(run.body.results).toHaveLength(1);
    const result = run.body.results[0] as DriftResultBody;
    expect(result).toMatchObject({ baseline_id: b.body.id, n: TOTAL, rebuilding: null });
    for (const name of ['x', 'color']) expect(result.features.find((f) => f.feature === name)?.n).toBe(TOTAL);
  });
});

describe('two servers on one SQLite file', () => {
  it('both serve the API; exactly one is the job leader, and /readyz agrees', async () => {
    const db = join(dir, 'driftwatch.db');
    const first = await startServerProcess(db);
    const second = await startServerProcess(db);
    const jobs = await Promise.all(
      [first, second].map((s) => call<{ leader: boolean; jobs: { name: string }[] }>(s, 'GET', '/v1/jobs')),
    );
    expect(jobs.map((j) => j.status)).toEqual([200, 200]);
    expect(jobs.map((j) => j.body.leader)).toEqual([true, false]);
    expect(jobs[1]?.body.jobs.map((j) => j.name)).toEqual(expect.arrayContaining(['drift', 'rebuild']));

    const ready = await Promise.all(
      [first, second].map((s) => call<{ status: string; checks: { leader: boolean } }>(s, 'GET', '/readyz')),
    );
    expect(ready.map((r) => [r.status, r.body.status, r.body.checks.leader])).toEqual([
      [200, 'ready', true],
      [200, 'ready', false],
    ]);
    expect(logLines(second.stdout()).find((l) => l.msg === 'driftwatch listening')?.leader).toBe(false);

    // The follower serves writes too: what it stores the leader reads.
    const res = await call<IngestBody>(
      second,
      'POST',
      '/v1/ingest',
      ndjson('two', 0, 10, Date.now() - HOUR),
      'application/x-ndjson',
    );
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(10);
    const model = await call<{ record_count: number }>(first, 'GET', '/v1/models/m');
    expect(model.status).toBe(200);
    expect(model.body.record_count).toBe(10);
  });
});

describe('liveness under a large ingest', () => {
  it('answers /healthz and /readyz while 8 MiB ingests fill the in-flight bound that refuses other requests', {
    timeout: 90_000,
  }, async () => {
    const db = join(dir, 'driftwatch.db');
    const REQUESTS = 4;
    // The ingests alone fill the bound on requests in flight: anything else but health checks is refused.
    const configFile = join(dir, 'driftwatch.json');
    writeFileSync(
      configFile,
      JSON.stringify({ server: { maxInFlight: REQUESTS, maxIngestInFlight: REQUESTS } }),
    );
    const server = await startServerProcess(db, { DRIFTWATCH_CONFIG: configFile });
    const bodies: { text: string; count: number }[] = [];
    const t0 = Date.now() - 3 * HOUR;
    for (let r = 0; r < REQUESTS; r++) {
      let text = '';
      let count = 0;
      while (text.length < 8 * 1024 * 1024 - 200) {
        text += ndjson(`big${r}`, count, 1, t0);
        count++;
      }
      bodies.push({ text, count });
    }

    let finished = 0;
    const ingests = bodies.map(async ({ text }) => {
      const res = await call<IngestBody>(server, 'POST', '/v1/ingest', text, 'application/x-ndjson');
      finished++;
      return res;
    });
    const health: { status: number; duringIngest: boolean }[] = [];
    const ready: number[] = [];
    const busy: { status: number; retryAfter: string | null; code: string | undefined }[] = [];
    while (finished < REQUESTS) {
      const h = await fetch(server.url('/healthz'));
      await h.text();
      health.push({ status: h.status, duringIngest: finished < REQUESTS });
      const r = await fetch(server.url('/readyz'));
      await r.text();
      ready.push(r.status);
      const other = await call<{ error?: { code: string } }>(server, 'GET', '/v1/models');
      if (finished < REQUESTS)
        busy.push({
          status: other.status,
          retryAfter: other.headers.get('retry-after'),
          code: other.body?.error?.code,
        });
      await sleep(20);
    }
    const results = await Promise.all(ingests);

    expect(health.length).toBeGreaterThan(0);
    expect(health.every((h) => h.status === 200)).toBe(true);
    expect(ready.every((s) => s === 200)).toBe(true);
    // At least one liveness answer came back before the last ingest did.
    expect(health.some((h) => h.duringIngest)).toBe(true);
    // Meanwhile an ordinary request was pushed back rather than queued.
    expect(busy).toContainEqual({ status: 503, retryAfter: '1', code: 'unavailable' });
    expect(results.map((r) => r.status)).toEqual(bodies.map(() => 200));
    expect(results.map((r) => r.body.accepted)).toEqual(bodies.map((b) => b.count));
    const model = await call<{ record_count: number }>(server, 'GET', '/v1/models/m');
    expect(model.status).toBe(200);
    expect(model.body.record_count).toBe(bodies.reduce((s, b) => s + b.count, 0));
  });
});
