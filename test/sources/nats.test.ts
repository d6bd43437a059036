import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { SourceStatusView } from '../../src/context.js';
import { killAll, type ServerProcess, startServerProcess } from '../server/process.js';
import { tempDir } from '../support.js';
import { type NatsServer, startNatsServer } from './nats-server.js';

// Real processes: Debian's nats-server with JetStream, and driftwatch processes on one SQLite file that
// are killed with SIGKILL while messages keep arriving. Each record must end up stored exactly once.

const RECORDS = 10_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');

interface JobsBody {
  leader: boolean;
  sources: SourceStatusView[];
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

async function getJson<T>(server: ServerProcess, path: string): Promise<T> {
  const res = await fetch(server.url(path));
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const record = (i: number) => ({
  model: 'm',
  request_id: `r-${i}`,
  timestamp: T0 + i * 1000,
  features: { x: i % 97, color: i % 3 === 0 ? 'red' : 'blue' },
});

/**
 * The messages, in order: records in blocks of ten, even blocks one JSON record per message (the first
 * pretty-printed over several lines), odd blocks one NDJSON message of ten lines.
 */
function messages(): string[] {
  const out: string[] = [];
  for (let block = 0; block < RECORDS / 10; block++) {
    const ids = Array.from({ length: 10 }, (_, k) => block * 10 + k);
    if (block % 2 === 0)
      for (const i of ids) out.push(i === 0 ? JSON.stringify(record(i), null, 2) : JSON.stringify(record(i)));
    else out.push(`${ids.map((i) => JSON.stringify(record(i))).join('\n')}\n`);
  }
  return out;
}

/** Bad messages and the reason each rejection must carry. */
const BAD: { text: string; raw: string; reason: RegExp }[] = [
  { text: 'this is not json', raw: 'this is not json', reason: /not valid JSON/ },
  {
    text: '{"request_id":"no-model","features":{"x":1}}',
    raw: '{"request_id":"no-model","features":{"x":1}}',
    reason: /\.model: required/,
  },
  // A stored record again (a duplicate, not a rejection) and a broken line: only the line is refused.
  {
    text: `${JSON.stringify(record(5))}\n{"model": "m", oops`,
    raw: '{"model": "m", oops',
    reason: /not valid JSON/,
  },
];

describe('NATS JetStream source', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });
  afterEach(() => killAll());
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  function configFor(dir: string, stream: string): string {
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        sources: {
          nats: [
            // A short ackWait: what a killed process held is redelivered 2 s later.
            {
              url: nats.url,
              stream,
              subjects: [`${stream}.>`],
              durable: 'driftwatch',
              batch: 200,
              ackWait: '2s',
            },
          ],
        },
      }),
    );
    return file;
  }

  const source = async (server: ServerProcess) =>
    (await getJson<JobsBody>(server, '/v1/jobs')).sources[0] as SourceStatusView;

  it('stores every record exactly once across two kill -9 of the consuming process', async () => {
    const { dir, cleanup } = tempDir();
    onTestFinished(cleanup);
    const db = join(dir, 'dw.db');
    const env = { DRIFTWATCH_CONFIG: configFor(dir, 'LOGS') };
    let server = await startServerProcess(db, env);
    await poll('the source consuming', 20_000, async () =>
      (await source(server)).state === 'consuming' ? true : undefined,
    );

    // A steady stream, published throughout the kills and restarts.
    const js = jetstream(nc);
    const all = messages();
    let published = 0;
    const publishing = (async () => {
      for (let i = 0; i < all.length; i += 25) {
        await Promise.all(all.slice(i, i + 25).map((m) => js.publish('LOGS.records', m)));
        published = Math.min(all.length, i + 25);
        await sleep(40);
      }
      for (const bad of BAD) await js.publish('LOGS.bad', bad.text);
    })();

    for (const kill of [1, 2]) {
      // Killed while consuming: some batches acknowledged, messages still waiting or arriving.
      await poll(`kill ${kill}: the process storing batches`, 60_000, async () => {
        const s = await source(server);
        return s.acked >= 300 && ((s.lag ?? 0) > 0 || published < all.length) ? true : undefined;
      });
      server.child.kill('SIGKILL');
      expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
      server = await startServerProcess(db, env);
    }
    await publishing;

    // The restarted process takes the lease over (at most 15 s) and consumes the rest.
    const done = await poll('lag 0 and every record stored', 90_000, async () => {
      const s = await source(server);
      const models = await getJson<{ models: { record_count: number }[] }>(server, '/v1/models');
      return s.lag === 0 && models.models[0]?.record_count === RECORDS ? s : undefined;
    });
    expect(done.state).toBe('consuming');
    expect(done.errors).toBe(0);

    // Every request id once: the records read back in pages of 1000 seconds of event time.
    const seen = new Map<string, number>();
    for (let page = 0; page < RECORDS / 1000; page++) {
      const from = new Date(T0 + page * 1_000_000).toISOString();
      const to = new Date(T0 + (page + 1) * 1_000_000).toISOString();
      const { records } = await getJson<{ records: { request_id: string }[] }>(
        server,
        `/v1/models/m/records?from=${from}&to=${to}&limit=1000`,
      );
      for (const r of records) seen.set(r.request_id, (seen.get(r.request_id) ?? 0) + 1);
    }
    expect(seen.size).toBe(RECORDS);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);

    // Bad messages: each stored as a rejection with its reason (and acknowledged: the lag is 0).
    const { rejections } = await getJson<{
      rejections: { raw: string; ingest_request_id: string; errors: { path: string; message: string }[] }[];
    }>(server, '/v1/ingest/rejections');
    expect(rejections).toHaveLength(BAD.length);
    for (const bad of BAD) {
      const r = rejections.find((x) => x.raw === bad.raw);
      expect(r, bad.raw).toBeDefined();
      expect(r?.errors.map((e) => `${e.path}: ${e.message}`).join('; ')).toMatch(bad.reason);
      expect(r?.ingest_request_id).toMatch(/^nats:driftwatch:\d+-\d+$/);
    }

    const metrics = await (await fetch(server.url('/metrics'))).text();
    expect(metrics).toMatch(/^driftwatch_source_lag_messages\{source="driftwatch"\} 0$/m);
    expect(metrics).toMatch(/^driftwatch_source_records_total\{source="driftwatch",outcome="rejected"\} 3$/m);
    expect(metrics).toMatch(/^driftwatch_source_messages_total\{source="driftwatch"\} [1-9]\d*$/m);
  }, 240_000);

  it('consumes on the leader only, and hands over on a graceful stop without losing a message', async () => {
    const { dir, cleanup } = tempDir();
    onTestFinished(cleanup);
    const db = join(dir, 'fleet.db');
    const env = { DRIFTWATCH_CONFIG: configFor(dir, 'FLEET') };
    const a = await startServerProcess(db, env);
    const b = await startServerProcess(db, env);
    const [leader, follower] = (await getJson<JobsBody>(a, '/v1/jobs')).leader ? [a, b] : [b, a];
    expect((await getJson<JobsBody>(follower, '/v1/jobs')).leader).toBe(false);

    const js = jetstream(nc);
    const publish = async (from: number, to: number) => {
      for (let i = from; i < to; i += 50)
        await Promise.all(
          Array.from({ length: Math.min(50, to - i) }, (_, k) =>
            js.publish('FLEET.records', JSON.stringify(record(i + k))),
          ),
        );
    };
    await publish(0, 1000);
    const consumed = await poll('the leader storing every message', 30_000, async () => {
      const s = await source(leader);
      return s.acked === 1000 && s.lag === 0 ? s : undefined;
    });
    expect(consumed.records.accepted).toBe(1000);
    const standby = await source(follower);
    expect(standby).toMatchObject({ state: 'standby', lag: null, delivered: 0, acked: 0 });

    // SIGTERM: the leader stops its source, hands the lease back, and the other process consumes at once.
    await publish(1000, 1500);
    leader.child.kill('SIGTERM');
    expect((await leader.exited).code).toBe(0);
    await poll('the other process storing the rest', 60_000, async () => {
      const s = await source(follower);
      const models = await getJson<{ models: { record_count: number }[] }>(follower, '/v1/models');
      return s.lag === 0 && models.models[0]?.record_count === 1500 ? true : undefined;
    });
    expect((await getJson<JobsBody>(follower, '/v1/jobs')).leader).toBe(true);
  }, 120_000);
});
