// False alarms of joint-shift alerts (multivariate_drift) over null buckets, through the real code path:
// a baseline upload, production records ingested bucket by bucket into a fresh SQLite store, and the drift
// tick as each hour closes. Production is drawn from the baseline's own distribution, so every alert is false.
//
//   npm run sim:multivariate             (npx tsx scripts/sim-multivariate.ts [--buckets 100] [--per-bucket 2000])
//
// Two data sets: `normal` (a × b correlated 0.8, c independent) and `heavy` (Student t₃, lognormal and its
// square, exponential, a skewed count, Pareto with tail index 2.5 — no finite fourth moment — and a
// normal mixed with it), the kind of features the Fisher test's normal-theory variance misjudges.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { defaultConfig } from '../src/config/index.js';
import type { AppDeps } from '../src/context.js';
import type { DriftResult } from '../src/drift/service.js';
import { runDriftTick } from '../src/jobs/drift-tick.js';
import { mulberry32 } from '../src/stats/index.js';
import { openStore } from '../src/store/index.js';
import type { AlertView } from '../src/views.js';

const HOUR = 3_600_000;
const START = Date.parse('2026-10-01T00:00:00Z');

export type Scenario = 'normal' | 'heavy';
type Row = Record<string, number>;

/** A seeded row generator for a scenario. */
export function generator(scenario: Scenario, seed: number): () => Row {
  const next = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  if (scenario === 'normal') {
    return () => {
      const u = normal();
      return { a: r6(u), b: r6(0.8 * u + 0.6 * normal()), c: r6(normal()) };
    };
  }
  return () => {
    const u = normal();
    const v = normal();
    const w = normal();
    const chi3 = normal() ** 2 + normal() ** 2 + normal() ** 2;
    const logn = Math.exp(0.7 * u + 0.7 * v);
    const expo = -Math.log(1 - next());
    const pareto = (1 - next()) ** (-1 / 2.5) - 1;
    return {
      t3: r6(u / Math.sqrt(chi3 / 3)),
      logn: r6(logn),
      logn_sq: r6(logn * logn),
      expo: r6(expo * (1 + 0.3 * Math.abs(w))),
      count: Math.floor(3 * expo),
      pareto: r6(pareto),
      pareto_mix: r6(pareto + w),
      w: r6(w),
    };
  };
}

export interface NullRun {
  scenario: Scenario;
  buckets: number;
  perBucket: number;
  /** Bucket results that carried joint measures (all of them, unless something is off). */
  judged: number;
  pairsTested: number;
  /** Bucket results whose joint measures were flagged, and multivariate_drift alerts raised (bucket or rolling). */
  flaggedBuckets: number;
  alerts: number;
  /** The flagged pairs / reconstruction, for a report. */
  fired: string[];
  /** Largest |z| of any pair over all buckets, and the largest (error − expected)/(threshold − expected). */
  maxAbsZ: number;
  maxErrorRatio: number;
}

/** Uploads `baselineRows` rows, then streams `buckets` null buckets of `perBucket` records through ingest and the tick. */
export async function simulateNull(options: {
  scenario: Scenario;
  buckets: number;
  perBucket: number;
  baselineRows?: number;
  seed?: number;
}): Promise<NullRun> {
  const { scenario, buckets, perBucket } = options;
  const baselineRows = options.baselineRows ?? 10_000;
  const seed = options.seed ?? 1;
  let now = START;
  const config = defaultConfig({
    database: { path: ':memory:' },
    drift: { bucket: '1h', rollingWindow: '3h', minSamples: 200 },
  });
  const store = await openStore(config.database);
  const deps: AppDeps = { config, store, log: pino({ level: 'silent' }), clock: () => now };
  const app = createApp(deps);
  const call = async <T>(method: string, path: string, body?: string, type = 'application/json') => {
    const res = await app.request(path, {
      method,
      headers: { 'content-type': type },
      ...(body === undefined ? {} : { body }),
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  try {
    const train = generator(scenario, seed);
    await call('POST', '/v1/models/m/baselines', JSON.stringify(Array.from({ length: baselineRows }, train)));
    const live = generator(scenario, seed + 1_000_003);
    for (let b = 0; b < buckets; b++) {
      const start = START + b * HOUR;
      const records = Array.from({ length: perBucket }, (_, i) => ({
        model: 'm',
        request_id: `n${b}-${i}`,
        timestamp: start + Math.floor((i * HOUR) / perBucket),
        features: live(),
      }));
      now = start + HOUR;
      await call('POST', '/v1/ingest', JSON.stringify(records));
      const tick = await runDriftTick(deps, now);
      if (tick.errors.length > 0) throw new Error(`drift tick: ${JSON.stringify(tick.errors)}`);
    }
    const { results } = await call<{ results: DriftResult[] }>(
      'GET',
      '/v1/models/m/drift?kind=bucket&limit=1000',
    );
    const { alerts } = await call<{ alerts: AlertView[] }>('GET', '/v1/alerts?limit=1000');
    const joint = alerts.filter((a) => a.kind === 'multivariate_drift');
    let maxAbsZ = 0;
    let maxErrorRatio = 0;
    const fired = new Set<string>();
    for (const r of results) {
      const mv = r.multivariate;
      if (!mv) continue;
      for (const p of mv.pairs) {
        maxAbsZ = Math.max(maxAbsZ, Math.abs(p.z));
        if (p.flagged) fired.add(p.pair);
      }
      if (mv.reconstruction) {
        const rec = mv.reconstruction;
        maxErrorRatio = Math.max(maxErrorRatio, (rec.error - rec.expected) / (rec.threshold - rec.expected));
        if (mv.reconstruction.flagged) fired.add('reconstruction');
      }
    }
    return {
      scenario,
      buckets,
      perBucket,
      judged: results.filter((r) => r.multivariate !== null).length,
      pairsTested: results[0]?.multivariate?.pairs_tested ?? 0,
      flaggedBuckets: results.filter((r) => r.multivariate?.flagged === true).length,
      alerts: joint.length,
      fired: [...fired, ...joint.map((a) => `alert ${a.feature}`)],
      maxAbsZ,
      maxErrorRatio,
    };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      buckets: { type: 'string', default: '100' },
      'per-bucket': { type: 'string', default: '2000' },
      scenario: { type: 'string' },
    },
  });
  const buckets = Number(values.buckets);
  const perBucket = Number(values['per-bucket']);
  const scenarios: Scenario[] = values.scenario ? [values.scenario as Scenario] : ['normal', 'heavy'];
  for (const scenario of scenarios) {
    const r = await simulateNull({ scenario, buckets, perBucket });
    console.log(
      `${scenario}: ${r.buckets} null buckets of ${r.perBucket} (${r.judged} judged jointly, ${r.pairsTested} pairs each): ` +
        `${r.flaggedBuckets} flagged, ${r.alerts} multivariate_drift alerts; max |z| ${r.maxAbsZ.toFixed(2)}, ` +
        `max (error − expected)/(threshold − expected) ${r.maxErrorRatio.toFixed(3)}${r.fired.length ? `; fired: ${r.fired.join(', ')}` : ''}`,
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
