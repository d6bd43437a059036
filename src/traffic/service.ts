import { driftSettingsFor } from '../config/index.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import type { TrafficRow, Tx } from '../store/index.js';
import { merge, quantile } from './histogram.js';

// Traffic of a model: requests, errors and latency quantiles per bucket and over a range, read from the
// per-bucket traffic rows ingest writes (src/aggregates/service.ts). Independent of baselines.

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock'>;

/** Latency of a window in ms; quantiles from the histogram (within ALPHA, see histogram.ts), mean exact. */
export interface LatencySummary {
  /** Records that carried latency_ms. */
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
}

export interface TrafficSummary {
  requests: number;
  errors: number;
  /** errors / requests; null without requests. */
  error_rate: number | null;
  latency: LatencySummary;
}

export interface TrafficBucket extends TrafficSummary {
  from: string;
  to: string;
}

export interface TrafficView {
  model: string;
  /** Null: every version of the model, merged. */
  model_version: string | null;
  bucket_ms: number;
  window: { from: string; to: string };
  /** Buckets with traffic, oldest first. */
  buckets: TrafficBucket[];
  /** The whole window, merged. */
  total: TrafficSummary;
}

/** A running sum of traffic rows: everything adds, histograms merge. */
export class TrafficSum {
  requests = 0;
  errors = 0;
  latencyCount = 0;
  latencySum = 0;
  counts: Uint32Array = new Uint32Array(0);

  add(r: Pick<TrafficRow, 'requests' | 'errors' | 'latencyCount' | 'latencySum' | 'latencyCounts'>): this {
    this.requests += r.requests;
    this.errors += r.errors;
    this.latencyCount += r.latencyCount;
    this.latencySum += r.latencySum;
    this.counts = merge(this.counts, r.latencyCounts);
    return this;
  }

  summary(): TrafficSummary {
    return {
      requests: this.requests,
      errors: this.errors,
      error_rate: this.requests === 0 ? null : this.errors / this.requests,
      latency: {
        count: this.latencyCount,
        p50: quantile(this.counts, 0.5),
        p95: quantile(this.counts, 0.95),
        p99: quantile(this.counts, 0.99),
        mean: this.latencyCount === 0 ? null : this.latencySum / this.latencyCount,
      },
    };
  }
}

const floorTo = (t: number, step: number) => Math.floor(t / step) * step;

/** The merged traffic of one version (or of all: modelVersion undefined) over [from, to), in the caller's transaction. */
export async function windowTraffic(
  tx: Tx,
  q: { model: string; modelVersion?: string | undefined; bucketMs: number; from: number; to: number },
): Promise<TrafficSummary> {
  const sum = new TrafficSum();
  for (const r of await tx.aggregates.traffic(q)) sum.add(r);
  return sum.summary();
}

/**
 * GET /v1/models/:model/traffic. The range is widened to whole buckets (default: the rolling window);
 * `bucket` groups the stored buckets into longer ones (a multiple of the model's bucket size).
 */
export async function trafficSeries(
  deps: Deps,
  model: string,
  q: {
    from?: number | undefined;
    to?: number | undefined;
    modelVersion?: string | undefined;
    bucket?: number | undefined;
  },
): Promise<TrafficView> {
  const s = driftSettingsFor(deps.config, model);
  const step = q.bucket ?? s.bucket;
  if (step % s.bucket !== 0)
    throw new ApiError(
      'bad_request',
      `bucket: must be a multiple of the model's bucket size (${s.bucket} ms)`,
      {
        problems: [
          { path: 'bucket', message: `must be a multiple of the model's bucket size (${s.bucket} ms)` },
        ],
      },
    );
  const end = floorTo(deps.clock(), s.bucket) + s.bucket;
  const to = q.to === undefined ? end : Math.ceil(q.to / s.bucket) * s.bucket;
  const from =
    q.from === undefined
      ? to - Math.max(s.bucket, Math.ceil(s.rollingWindow / s.bucket) * s.bucket)
      : floorTo(q.from, s.bucket);
  if (from >= to)
    throw new ApiError('bad_request', 'from: must be before to', {
      problems: [{ path: 'from', message: 'must be before to' }],
    });
  const rows = await deps.store.read(async (tx) => {
    if ((await tx.models.list(model)).length === 0)
      throw new ApiError('not_found', `model ${model} has sent no records`);
    return tx.aggregates.traffic({ model, modelVersion: q.modelVersion, bucketMs: s.bucket, from, to });
  });
  const total = new TrafficSum();
  const groups = new Map<number, TrafficSum>();
  for (const r of rows) {
    total.add(r);
    const g = floorTo(r.bucketStart, step);
    let sum = groups.get(g);
    if (!sum) {
      sum = new TrafficSum();
      groups.set(g, sum);
    }
    sum.add(r);
  }
  return {
    model,
    model_version: q.modelVersion ?? null,
    bucket_ms: step,
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    buckets: [...groups.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([start, sum]) => ({
        from: new Date(start).toISOString(),
        to: new Date(start + step).toISOString(),
        ...sum.summary(),
      })),
    total: total.summary(),
  };
}
