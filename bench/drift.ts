// Drift-run time as the window grows from 10k to 10M records (20 features). Records are folded into
// aggregates with the same aggregateRecords() ingest uses (raw rows are not stored here: a run never reads
// them). Prints each run's time as a ratio to the 10k run measured in the same process.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { aggregateRecords } from '../src/aggregates/service.js';
import { createBaseline } from '../src/baselines/service.js';
import { evaluateModel } from '../src/drift/service.js';

import type { IngestRecord } from '../src/ingest/record.js';
import { benchDeps, featureRow, rng, timeAsync } from './common.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000,10000000').split(',').map(Number);
const WINDOW_FROM = Date.parse('2026-11-23T00:00:00Z');
const DAY = 86_400_000;

async function main() {
  const path = join(tmpdir(), `driftwatch-bench-drift-${process.pid}.db`);
  rmSync(path, { force: true });
  const deps = benchDeps(path, { database: { synchronous: 'normal' } });
  const r = rng(11);
  const rows = Array.from({ length: 20_000 }, () => JSON.stringify(featureRow(r))).join('\n');
  await createBaseline(deps, {
    model: 'm',
    modelVersion: 'v1',
    source: Readable.from([rows]),
    format: 'ndjson',
    profile: {},
  });

  let loaded = 0;
  let baseMs = 0;
  for (const size of SIZES) {
    // Grow the same 24 h window to `size` records, a chunk at a time.
    while (loaded < size) {
      const n = Math.min(50_000, size - loaded);
      const list: IngestRecord[] = [];
      for (let i = 0; i < n; i++) {
        list.push({
          model: 'm',
          modelVersion: 'v1',
          requestId: `r-${loaded + i}`,
          ts: WINDOW_FROM + Math.floor(r() * DAY),
          features: featureRow(r, 0.1),
          prediction: null,
          label: null,
          latencyMs: null,
          status: null,
          error: null,
          tags: null,
        });
      }
      await deps.store.tx((tx) => aggregateRecords(tx, deps, list, Date.now()));
      loaded += n;
    }
    // Median of five runs: the first run also warms statement caches.
    const times: number[] = [];
    for (let k = 0; k < 5; k++) {
      times.push(
        (await timeAsync(() => evaluateModel(deps, 'm', { from: WINDOW_FROM, to: WINDOW_FROM + DAY }))).ms,
      );
    }
    times.sort((a, b) => a - b);
    const ms = times[2] as number;
    if (baseMs === 0) baseMs = ms;
    console.log(
      `${size.toLocaleString().padStart(12)} records: drift run ${ms.toFixed(1)} ms  ratio to 10k: ${(ms / baseMs).toFixed(2)}`,
    );
  }
  await deps.store.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
}

await main();
