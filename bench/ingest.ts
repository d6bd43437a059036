// Ingest throughput through the HTTP app (parse, validate, store, aggregate), with aggregation off
// (model without a baseline) and on (20-feature baseline). Prints records/s and the on/off ratio.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createApp } from '../src/app.js';
import { createBaseline } from '../src/baselines/service.js';
import { benchDeps, featureRow, rng, timeAsync } from './common.js';

const BATCH = Number(process.env.BENCH_BATCH ?? 5000);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);

async function run(label: string, withBaseline: boolean): Promise<number> {
  const path = join(tmpdir(), `driftwatch-bench-ingest-${process.pid}-${label}.db`);
  rmSync(path, { force: true });
  const deps = benchDeps(path);
  const app = createApp(deps);
  const r = rng(7);
  if (withBaseline) {
    const rows = Array.from({ length: 20_000 }, () => JSON.stringify(featureRow(r))).join('\n');
    await createBaseline(deps, { model: 'm', modelVersion: 'v1', source: Readable.from([rows]), format: 'ndjson', profile: {} });
  }
  const bodies: string[] = [];
  let id = 0;
  const t0 = Date.parse('2026-11-24T00:00:00Z');
  for (let b = 0; b < BATCHES; b++) {
    const records = Array.from({ length: BATCH }, () => ({
      model: 'm',
      model_version: 'v1',
      request_id: `r-${id++}`,
      timestamp: new Date(t0 + id * 1000).toISOString(),
      features: featureRow(r, 0.2),
      prediction: r(),
    }));
    bodies.push(JSON.stringify({ records }));
  }
  const { ms } = await timeAsync(async () => {
    for (const body of bodies) {
      const res = await app.request('/v1/ingest', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`ingest failed: ${res.status} ${await res.text()}`);
    }
  });
  await deps.store.close();
  rmSync(path, { force: true });
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  const rate = (BATCH * BATCHES) / (ms / 1000);
  console.log(`${label.padEnd(16)} ${(BATCH * BATCHES).toLocaleString()} records in ${ms.toFixed(0)} ms = ${Math.round(rate).toLocaleString()} records/s`);
  return rate;
}

const off = await run('aggregation off', false);
const on = await run('aggregation on', true);
console.log(`ratio on/off throughput: ${(on / off).toFixed(3)} (batch ${BATCH}, 20 features, synchronous=FULL)`);
