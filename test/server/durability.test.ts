import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IngestBody, RejectionBody, StoredRecordBody } from '../helpers.js';
import { rec } from '../helpers.js';
import { tempDir } from '../support.js';
import { killAll, type ServerProcess, startServerProcess } from './process.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(async () => {
  await killAll();
  cleanup();
});

async function post(server: ServerProcess, body: string | Uint8Array, headers: Record<string, string>) {
  const res = await fetch(server.url('/v1/ingest'), { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as IngestBody };
}

async function storedIds(server: ServerProcess, model = 'iris'): Promise<string[]> {
  const res = await fetch(server.url(`/v1/models/${model}/records?limit=1000`));
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: StoredRecordBody[] }).records.map((r) => r.request_id).sort();
}

async function modelCount(server: ServerProcess, model = 'iris'): Promise<number> {
  const res = await fetch(server.url(`/v1/models/${model}`));
  expect(res.status).toBe(200);
  return ((await res.json()) as { record_count: number }).record_count;
}

async function kill9(server: ServerProcess): Promise<void> {
  server.child.kill('SIGKILL');
  expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
}

describe('durability across kill -9', () => {
  it('keeps every acknowledged record, in every content type, after SIGKILL and restart', async () => {
    const db = join(dir, 'driftwatch.db');
    const first = await startServerProcess(db);
    const acknowledged: string[] = [];

    for (let batch = 0; batch < 4; batch++) {
      const records = Array.from({ length: 50 }, (_, i) =>
        rec(`json-${batch}-${i}`, { timestamp: 1_795_000_000_000 + i }),
      );
      const res = await post(first, JSON.stringify({ records }), { 'content-type': 'application/json' });
      expect(res.status).toBe(200);
      expect(res.body.accepted).toBe(50);
      acknowledged.push(...records.map((r) => r.request_id as string));
    }

    const ndjson = Array.from({ length: 30 }, (_, i) => JSON.stringify(rec(`nd-${i}`))).join('\n');
    const gz = await post(first, gzipSync(ndjson), {
      'content-type': 'application/x-ndjson',
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(200);
    acknowledged.push(...Array.from({ length: 30 }, (_, i) => `nd-${i}`));

    const mixed = await post(first, JSON.stringify([rec('mixed-ok'), rec('mixed-bad', { status: '?' })]), {
      'content-type': 'application/json',
    });
    expect(mixed.status).toBe(207);
    acknowledged.push('mixed-ok');

    // No pause and no graceful shutdown: the acknowledgement itself must mean "on disk".
    await kill9(first);

    const second = await startServerProcess(db);
    expect(await storedIds(second)).toEqual([...acknowledged].sort());
    expect(await modelCount(second)).toBe(acknowledged.length);
    const rejections = (await (await fetch(second.url('/v1/ingest/rejections'))).json()) as {
      rejections: RejectionBody[];
    };
    expect(rejections.rejections.map((r) => r.request_id)).toEqual(['mixed-bad']);

    // The restarted server still deduplicates against what survived.
    const again = await post(second, JSON.stringify([rec('json-0-0'), rec('after-restart')]), {
      'content-type': 'application/json',
    });
    expect(again.body).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
  });

  it('keeps every acknowledged record when killed with requests still in flight', async () => {
    const db = join(dir, 'driftwatch.db');
    const first = await startServerProcess(db);
    const sent = Array.from({ length: 40 }, (_, n) =>
      Array.from({ length: 25 }, (_, i) => rec(`c${n}-${i}`)),
    );
    const acknowledged: string[] = [];
    const pending = sent.map(async (records) => {
      const res = await post(first, JSON.stringify(records), { 'content-type': 'application/json' });
      if (res.status === 200) acknowledged.push(...records.map((r) => r.request_id as string));
    });
    // Kill as soon as some, but typically not all, requests have been answered.
    await Promise.race(pending);
    await kill9(first);
    await Promise.allSettled(pending);
    expect(acknowledged.length).toBeGreaterThan(0);

    const second = await startServerProcess(db);
    const stored = new Set(await storedIds(second));
    for (const id of acknowledged) expect(stored.has(id), `acknowledged ${id} is missing`).toBe(true);
    // Whatever else survived came whole from a sent batch, never half of one.
    const allSent = new Set(sent.flat().map((r) => r.request_id as string));
    for (const id of stored) expect(allSent.has(id)).toBe(true);
    for (const records of sent) {
      const present = records.filter((r) => stored.has(r.request_id as string)).length;
      expect([0, records.length]).toContain(present);
    }
    expect(await modelCount(second)).toBe(stored.size);
  });
});
