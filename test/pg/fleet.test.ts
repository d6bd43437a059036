import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DriftResultBody } from '../drift/helpers.js';
import type { IngestBody } from '../helpers.js';
import { killAll, logLines, type ServerProcess, startServerProcess } from '../server/process.js';
import { configFile, tempDir } from '../support.js';

// A fleet: three real driftwatch processes on one PostgreSQL database that none of them has migrated yet,
// a webhook receiver in this process, and one SQLite process fed the same records as the reference for
// the drift numbers. One long test, because each step builds on the state the previous one left.

const HOUR = 3600e3;
const MODEL = 'm';
const COLORS = ['red', 'green', 'blue'] as const;

interface AlertBody {
  id: number;
  model: string;
  feature: string;
  kind: string;
  status: string;
  version: number;
}
interface JobsBody {
  leader: boolean;
  instance: string;
  mechanism: string;
  jobs: { name: string; running: boolean; last_start: string | null; last_success: string | null }[];
}
interface Delivery {
  id: string;
  event: string;
  alertId: number | undefined;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function call<T>(
  server: ServerProcess,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
) {
  const res = await fetch(server.url(path), {
    method,
    ...(body === undefined
      ? { headers }
      : { body, headers: { 'content-type': 'application/json', ...headers } }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}

function ingest(server: ServerProcess, text: string) {
  return call<IngestBody>(server, 'POST', '/v1/ingest', text, { 'content-type': 'application/x-ndjson' });
}

/** Training rows: x uniform on 0..199, colors evenly. */
const training = JSON.stringify(
  Array.from({ length: 600 }, (_, i) => ({ x: i % 200, color: COLORS[i % 3] })),
);

/**
 * Shifted production records: x moved up by 60 (PSI, KS and the out-of-range share all fire), colors
 * mostly red. Timestamps one second apart, starting `t0`, so the last 24 h rolling window covers them.
 */
function shifted(prefix: string, from: number, count: number, t0: number): string {
  let out = '';
  for (let i = from; i < from + count; i++) {
    const color = i % 5 === 0 ? 'blue' : i % 7 === 0 ? 'green' : 'red';
    out += `{"model":"${MODEL}","request_id":"${prefix}-${i}","timestamp":${t0 + i * 1000},"features":{"x":${(i % 200) + 60},"color":"${color}"}}\n`;
  }
  return out;
}

async function poll<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined>,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Waits until a delivery run that started after `since` has finished on the leader and no process is in
 * the middle of one: any duplicate send would have reached the receiver by then. (Waiting for that event
 * instead of a fixed time.)
 */
async function deliveriesSettled(servers: ServerProcess[], since: number): Promise<void> {
  await poll('a full delivery run after the queue drained', 20_000, async () => {
    const all = await Promise.all(servers.map((s) => call<JobsBody>(s, 'GET', '/v1/jobs')));
    const runs = all.map((j) => j.body.jobs.find((job) => job.name === 'deliveries'));
    if (runs.some((r) => r === undefined || r.running)) return undefined;
    const leader = all.findIndex((j) => j.body.leader);
    const done = runs[leader]?.last_start;
    return done && Date.parse(done) > since ? true : undefined;
  });
}

const featureNumbers = (r: DriftResultBody) =>
  Object.fromEntries(
    r.features.map((f) => [
      f.feature,
      { n: f.n, records: f.records, psi: f.psi, ks: f.ks_statistic, chi2: f.chi2_statistic },
    ]),
  );

let admin: pg.Client;
let dbName: string;
let receiver: Server;
let receiverUrl: string;
const deliveries: Delivery[] = [];
let dir: string;
let cleanup: () => void;

beforeAll(async () => {
  ({ dir, cleanup } = tempDir());
  admin = new pg.Client({ connectionString: inject('pgUrl') });
  await admin.connect();
  dbName = `fleet_${process.pid}`;
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  // Empty on purpose (not from the migrated template): the processes migrate it themselves.
  await admin.query(`CREATE DATABASE ${dbName}`);
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
    });
    req.on('end', () => {
      const parsed = JSON.parse(body) as { alert?: { id: number } };
      deliveries.push({
        id: String(req.headers['x-driftwatch-delivery']),
        event: String(req.headers['x-driftwatch-event']),
        alertId: parsed.alert?.id,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
});

afterAll(async () => {
  await killAll();
  await new Promise<void>((done) => receiver?.close(() => done()));
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  cleanup?.();
});

describe('three driftwatch processes on one PostgreSQL database', () => {
  it('migrate once, agree on alerts and drift numbers, deliver once, fail over, and race transitions safely', {
    timeout: 120_000,
  }, async () => {
    const u = new URL(inject('pgUrl'));
    u.pathname = `/${dbName}`;
    const dbUrl = u.toString();
    const env = {
      DRIFTWATCH_CONFIG: configFile(
        dir,
        [
          'drift:',
          // Frequent ticks, so "the jobs keep running" is visible within seconds.
          `  schedule: "*/2 * * * * *"`,
          'notifications:',
          '  channels:',
          `    - { name: hooks, type: webhook, url: "${receiverUrl}" }`,
          '',
        ].join('\n'),
      ),
    };

    // --- start: three at once on the empty database; one migrates, the others wait for it.
    const fleet = await Promise.all([0, 1, 2].map(() => startServerProcess(dbUrl, env)));
    {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      const applied = await c.query<{ hash: string }>('SELECT hash FROM drizzle.__drizzle_migrations');
      // Each migration recorded once, not once per process.
      expect(new Set(applied.rows.map((r) => r.hash)).size).toBe(applied.rows.length);
      expect(applied.rows.length).toBeGreaterThan(0);
      await c.end();
    }
    // The reference has no channels: only the fleet's deliveries reach the receiver.
    const sqliteRef = await startServerProcess(join(dir, 'reference.db'));

    // --- baseline through one process; the reference gets the same training bytes.
    for (const s of [fleet[1] as ServerProcess, sqliteRef]) {
      const b = await call<{ id: number; active: boolean }>(
        s,
        'POST',
        `/v1/models/${MODEL}/baselines`,
        training,
      );
      expect(b.status).toBe(201);
      expect(b.body.active).toBe(true);
    }

    // --- a shifted stream, round-robin across the three, batches in flight concurrently.
    const BATCH = 500;
    const BATCHES = 12;
    const t0 = Date.now() - 3 * HOUR;
    const batches = Array.from({ length: BATCHES }, (_, b) => shifted('s', b * BATCH, BATCH, t0));
    // One client per process (each process admits only 2 ingests at a time, see server.maxIngestInFlight),
    // the three running concurrently: batch b goes to process b % 3.
    const acks: [number, number][] = [];
    await Promise.all(
      fleet.map(async (s, i) => {
        for (let b = i; b < BATCHES; b += 3) {
          const r = await ingest(s, batches[b] as string);
          acks[b] = [r.status, r.body.accepted];
        }
      }),
    );
    expect(acks).toEqual(batches.map(() => [200, BATCH]));
    for (const text of batches) {
      const r = await ingest(sqliteRef, text);
      expect([r.status, r.body.accepted]).toEqual([200, BATCH]);
    }
    const TOTAL = BATCH * BATCHES;

    // --- drift runs of the rolling window on all three at once: they race to raise the same alerts.
    const runs = await Promise.all(
      fleet.map((s) => call<{ results: DriftResultBody[] }>(s, 'POST', `/v1/models/${MODEL}/drift/run`)),
    );
    expect(runs.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const r of runs) expect(r.body.results[0]?.drifted).toBe(true);

    const key = (a: AlertBody) => `${a.model}/${a.feature}/${a.kind}`;
    const alertLists = await Promise.all(
      fleet.map((s) => call<{ alerts: AlertBody[] }>(s, 'GET', `/v1/alerts?model=${MODEL}&status=active`)),
    );
    const first = alertLists[0]?.body.alerts ?? [];
    const keys = first.map(key).sort();
    // x drifts and leaves the training range; color drifts.
    expect(keys).toEqual(expect.arrayContaining(['m/x/drift', 'm/x/data_quality', 'm/color/drift']));
    // Exactly one open alert per (model, feature, kind), and every process sees the same ones.
    expect(new Set(keys).size).toBe(keys.length);
    for (const l of alertLists) {
      expect(l.status).toBe(200);
      expect(l.body.alerts.map((a) => [a.id, key(a), a.status]).sort()).toEqual(
        first.map((a) => [a.id, key(a), a.status]).sort(),
      );
    }

    // --- drift numbers: each process's range run equals the single SQLite process's.
    const range = JSON.stringify({
      from: new Date(t0 - HOUR).toISOString(),
      to: new Date(t0 + TOTAL * 1000 + HOUR).toISOString(),
    });
    const ref = await call<{ results: DriftResultBody[] }>(
      sqliteRef,
      'POST',
      `/v1/models/${MODEL}/drift/run`,
      range,
    );
    expect(ref.status).toBe(200);
    const refResult = ref.body.results[0] as DriftResultBody;
    expect(refResult.n).toBe(TOTAL);
    const refNumbers = featureNumbers(refResult);
    for (const s of fleet) {
      const r = await call<{ results: DriftResultBody[] }>(s, 'POST', `/v1/models/${MODEL}/drift/run`, range);
      expect(r.status).toBe(200);
      expect(r.body.results).toHaveLength(1);
      const result = r.body.results[0] as DriftResultBody;
      expect(result.n).toBe(TOTAL);
      const numbers = featureNumbers(result);
      expect(Object.keys(numbers).sort()).toEqual(Object.keys(refNumbers).sort());
      for (const [feature, v] of Object.entries(numbers)) {
        const want = refNumbers[feature] as typeof v;
        expect([feature, v.n, v.records]).toEqual([feature, want.n, want.records]);
        for (const m of ['psi', 'ks', 'chi2'] as const) {
          if (want[m] === null) expect(v[m]).toBeNull();
          else expect(Math.abs((v[m] as number) - (want[m] as number))).toBeLessThanOrEqual(1e-12);
        }
      }
    }

    // --- deliveries: every alert.opened reaches the receiver, each delivery id exactly once.
    const opened = await poll('an alert.opened delivery per alert', 30_000, async () => {
      const got = deliveries.filter((d) => d.event === 'alert.opened');
      const alertIds = new Set(got.map((d) => d.alertId));
      return first.every((a) => alertIds.has(a.id)) ? got : undefined;
    });
    await poll('the delivery queue to drain', 15_000, async () => {
      const q = await call<{ deliveries: { status: string }[] }>(
        fleet[2] as ServerProcess,
        'GET',
        '/v1/notifications/deliveries?status=pending',
      );
      return q.body.deliveries.length === 0 ? true : undefined;
    });
    await deliveriesSettled(fleet, Date.now());
    const ids = deliveries.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(opened.length).toBe(first.length);
    // What the store marked delivered is exactly what arrived.
    const delivered = await call<{ deliveries: { id: number }[] }>(
      fleet[0] as ServerProcess,
      'GET',
      '/v1/notifications/deliveries?status=delivered&limit=1000',
    );
    expect(new Set(delivered.body.deliveries.map((d) => String(d.id)))).toEqual(new Set(ids));

    // --- two processes race the same transition on the same version: one wins, the other gets 409.
    const target = first.find((a) => a.feature === 'x' && a.kind === 'drift') as AlertBody;
    const detail = await call<AlertBody>(fleet[0] as ServerProcess, 'GET', `/v1/alerts/${target.id}`);
    const etag = detail.headers.get('etag') as string;
    expect(etag).toBe(`"${detail.body.version}"`);
    const race = await Promise.all(
      [fleet[1], fleet[2]].map((s) =>
        call<{ version?: number; error?: { code: string } }>(
          s as ServerProcess,
          'POST',
          `/v1/alerts/${target.id}/ack`,
          '{}',
          { 'if-match': etag },
        ),
      ),
    );
    expect(race.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(race.find((r) => r.status === 409)?.body.error?.code).toBe('stale_version');
    const acked = race.find((r) => r.status === 200)?.body.version as number;
    expect(acked).toBe(detail.body.version + 1);

    // --- exactly one leader; kill -9 it in the middle of an ingest stream.
    const jobs = await Promise.all(fleet.map((s) => call<JobsBody>(s, 'GET', '/v1/jobs')));
    expect(jobs.map((j) => j.body.mechanism)).toEqual(['advisory-lock', 'advisory-lock', 'advisory-lock']);
    expect(jobs.filter((j) => j.body.leader)).toHaveLength(1);
    const leaderIndex = jobs.findIndex((j) => j.body.leader);
    const leader = fleet[leaderIndex] as ServerProcess;
    const survivors = fleet.filter((_, i) => i !== leaderIndex);

    const LATE_BATCH = 200;
    const LATE_BATCHES = 30;
    const late = Array.from({ length: LATE_BATCHES }, (_, b) =>
      shifted('late', b * LATE_BATCH, LATE_BATCH, t0 + TOTAL * 1000),
    );
    let acknowledged = 0;
    const lost: string[] = [];
    // Three clients, one per process, each sending its share in order; the leader dies part-way.
    const clients = fleet.map(async (s, i) => {
      for (let b = i; b < LATE_BATCHES; b += 3) {
        const text = late[b] as string;
        try {
          const r = await ingest(s, text);
          if (r.status === 200) acknowledged += r.body.accepted;
          else lost.push(text);
        } catch {
          lost.push(text); // the connection died with the process: no answer, nothing promised
        }
      }
    });
    // Part-way: once the first batch has been acknowledged.
    await poll('the first acknowledged batch', 15_000, async () => (acknowledged > 0 ? true : undefined), 10);
    const killedAt = Date.now();
    leader.child.kill('SIGKILL');
    expect(await leader.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await Promise.all(clients);

    // Another process takes the lead within 15 s, and only one does.
    // (The 15 s count from the kill, not from the end of the ingest stream.)
    const newLeader = await poll('a new leader', killedAt + 15_000 - Date.now(), async () => {
      const js = await Promise.all(survivors.map((s) => call<JobsBody>(s, 'GET', '/v1/jobs')));
      const leaders = survivors.filter((_, i) => js[i]?.body.leader);
      return leaders.length === 1 ? leaders[0] : undefined;
    });
    const takeoverMs = Date.now() - killedAt;
    console.info(
      `leadership moved ${takeoverMs} ms after kill -9; ${acknowledged} late records acknowledged, ` +
        `${lost.length} batches unanswered`,
    );
    const follower = survivors.find((s) => s !== newLeader) as ServerProcess;
    expect((await call<JobsBody>(follower, 'GET', '/v1/jobs')).body.leader).toBe(false);
    const ready = await call<{ checks: { leader: boolean } }>(newLeader, 'GET', '/readyz');
    expect(ready.body.checks.leader).toBe(true);

    // Nothing acknowledged before (or around) the kill is lost.
    const counted = await call<{ record_count: number }>(follower, 'GET', `/v1/models/${MODEL}`);
    expect(counted.body.record_count).toBeGreaterThanOrEqual(TOTAL + acknowledged);
    expect(counted.body.record_count).toBeLessThanOrEqual(TOTAL + LATE_BATCH * LATE_BATCHES);
    // What the dead process never answered is re-sent to a survivor: stored at most once.
    for (const text of lost) {
      const r = await ingest(newLeader, text);
      expect(r.status).toBe(200);
      expect(r.body.accepted + r.body.duplicates).toBe(LATE_BATCH);
    }
    for (const s of survivors) {
      const m = await call<{ record_count: number }>(s, 'GET', `/v1/models/${MODEL}`);
      expect(m.body.record_count).toBe(TOTAL + LATE_BATCH * LATE_BATCHES);
    }

    // The jobs keep running on the new leader: ticks start after the takeover …
    await poll('drift and deliveries ticks on the new leader', 20_000, async () => {
      const j = (await call<JobsBody>(newLeader, 'GET', '/v1/jobs')).body;
      const ran = (name: string) => {
        const job = j.jobs.find((x) => x.name === name);
        return job?.last_success !== null && Date.parse(job?.last_success ?? '') > killedAt;
      };
      return ran('drift') && ran('deliveries') ? true : undefined;
    });
    // … and a change made now is delivered by it.
    const decided = await call<AlertBody & { alert?: AlertBody }>(
      follower,
      'POST',
      `/v1/alerts/${target.id}/decision`,
      JSON.stringify({ decision: 'false_positive', note: 'fleet test' }),
      { 'if-match': `"${acked}"` },
    );
    expect(decided.status).toBe(200);
    const closed = await call<AlertBody>(follower, 'POST', `/v1/alerts/${target.id}/close`, '{}', {
      'if-match': decided.headers.get('etag') as string,
    });
    expect(closed.status).toBe(200);
    await poll('alert.closed delivered by the new leader', 20_000, async () =>
      deliveries.some((d) => d.event === 'alert.closed' && d.alertId === target.id) ? true : undefined,
    );
    await deliveriesSettled(survivors, Date.now());
    const allIds = deliveries.map((d) => d.id);
    // At-least-once allows a resend of a delivery in flight at the kill; none was (the queue had drained).
    expect(new Set(allIds).size).toBe(allIds.length);

    // No process that stayed up logged an error (a failed tick, a 500) along the way.
    for (const s of survivors) {
      const errors = logLines(s.stdout()).filter((l) => (l.level as number) >= 50);
      expect(errors.map((l) => l.msg)).toEqual([]);
    }
  });
});
