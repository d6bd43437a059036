// GET /metrics on a large store: 50 models × 200 features with 30 days of hourly drift results each, their
// latest measures in feature_latest, and open alerts; against an empty store in the same run. Rows are
// written straight through the store's repositories in a few big transactions, not through ingest.
//
//   npx tsx bench/metrics.ts            (BENCH_MODELS, BENCH_FEATURES, BENCH_DAYS to change the shape)

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../src/app.js';
import type { AppDeps } from '../src/context.js';
import type { NewRecord } from '../src/store/index.js';
import { benchDeps, removeDatabase, timeAsync } from './common.js';

const MODELS = Number(process.env.BENCH_MODELS ?? 50);
const FEATURES = Number(process.env.BENCH_FEATURES ?? 200);
const DAYS = Number(process.env.BENCH_DAYS ?? 30);
const RUNS = 20;
const HOUR = 3_600_000;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

async function seed(
  deps: AppDeps,
  now: number,
): Promise<{ results: number; features: number; alerts: number }> {
  const hours = DAYS * 24;
  const end = Math.floor(now / HOUR) * HOUR;
  let results = 0;
  let alerts = 0;
  for (let m = 0; m < MODELS; m++) {
    const model = `model-${String(m).padStart(2, '0')}`;
    const features = Array.from({ length: FEATURES }, (_, f) => ({
      feature: `f${String(f).padStart(3, '0')}`,
      psi: ((m * 31 + f * 17) % 100) / 250,
      ksStatistic: ((m * 7 + f * 13) % 100) / 200,
      ksPvalue: ((m + f) % 100) / 100,
      drifted: (m + f) % 10 === 0,
    }));
    // One JSON body per model (what evaluateAndStore stores, in short): scrapes never read it.
    const body = JSON.stringify({
      model,
      model_version: '1',
      features: features.map((f) => ({
        feature: f.feature,
        type: 'numeric',
        psi: f.psi,
        ks_statistic: f.ksStatistic,
        ks_pvalue: f.ksPvalue,
        drifted: f.drifted,
      })),
    });
    await deps.store.tx(async (tx) => {
      const record: NewRecord = {
        model,
        modelVersion: '1',
        requestId: 'seed',
        ts: end - hours * HOUR,
        features: {},
        prediction: null,
        label: null,
        latencyMs: null,
        status: null,
        error: null,
        tags: null,
      };
      await tx.models.bump([record], end - hours * HOUR);
      for (let h = hours; h > 0; h--) {
        await tx.drift.upsertResult({
          model,
          modelVersion: '1',
          baselineId: m + 1,
          windowKind: 'bucket',
          windowFrom: end - h * HOUR,
          windowTo: end - (h - 1) * HOUR,
          n: 1000,
          drifted: true,
          driftedShare: 0.1,
          result: body,
          evaluatedAt: end - (h - 1) * HOUR + 60_000,
        });
        results++;
      }
      await tx.metrics.putFeatureLatest(
        model,
        '1',
        { kind: 'bucket', to: end, evaluatedAt: end + 60_000 },
        features,
      );
      for (const f of features.filter((x) => x.drifted).slice(0, 3)) {
        await tx.alerts.insert({
          model,
          modelVersion: '1',
          feature: f.feature,
          kind: 'drift',
          severity: f.psi > 0.25 ? 'critical' : 'warning',
          status: 'open',
          evidenceCount: 1,
          firstSeen: end - HOUR,
          lastSeen: end,
          peakPsi: f.psi,
          latest: '{}',
          peak: '{}',
          createdAt: end,
          updatedAt: end,
        });
        alerts++;
      }
    });
  }
  return { results, features: MODELS * FEATURES, alerts };
}

async function timeScrapes(deps: AppDeps): Promise<{ ms: number; bytes: number; samples: number }> {
  const app = createApp(deps);
  const scrape = async () => {
    const res = await app.request('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    return res.text();
  };
  let text = await scrape(); // warm-up: prepared statements, JIT
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await timeAsync(scrape);
    times.push(r.ms);
    text = r.value;
  }
  return {
    ms: median(times),
    bytes: Buffer.byteLength(text),
    samples: text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length,
  };
}

async function main(): Promise<void> {
  const dir = tmpdir();
  const emptyPath = join(dir, `driftwatch-bench-metrics-empty-${process.pid}.db`);
  const fullPath = join(dir, `driftwatch-bench-metrics-${process.pid}.db`);
  const empty = benchDeps(emptyPath, { database: { synchronous: 'normal' } });
  const full = benchDeps(fullPath, { database: { synchronous: 'normal' } });
  try {
    const seeded = await timeAsync(() => seed(full, Date.now()));
    console.log(
      `seeded ${MODELS} models × ${FEATURES} features: ${seeded.value.results} drift results (${DAYS} days hourly), ` +
        `${seeded.value.features} feature_latest rows, ${seeded.value.alerts} open alerts in ${(seeded.ms / 1000).toFixed(1)} s`,
    );
    const e = await timeScrapes(empty);
    const f = await timeScrapes(full);
    console.log(`GET /metrics, median of ${RUNS} (in-process app, SQLite file):`);
    console.log(
      `  empty store   ${e.ms.toFixed(1)} ms  (${e.samples} samples, ${(e.bytes / 1024).toFixed(0)} KiB)`,
    );
    console.log(
      `  seeded store  ${f.ms.toFixed(1)} ms  (${f.samples} samples, ${(f.bytes / 1024).toFixed(0)} KiB)`,
    );
    console.log(`  ratio seeded/empty: ${(f.ms / e.ms).toFixed(1)}×; target ≤ 100 ms seeded`);
  } finally {
    await empty.store.close();
    await full.store.close();
    removeDatabase(emptyPath);
    removeDatabase(fullPath);
  }
}

await main();
