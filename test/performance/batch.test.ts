import { describe, expect, it } from 'vitest';
import type { LoadedBaseline } from '../../src/aggregates/baseline-cache.js';
import { PerformanceBatch } from '../../src/aggregates/performance.js';
import { defaultConfig } from '../../src/config/index.js';
import type { NewRecord } from '../../src/store/index.js';

// The batch works out each model's kind and spec once and reuses the previous record's accumulator; records
// that switch model, version, bucket or baseline from one to the next must still land in their own rows.

const HOUR = 3_600_000;
const record = (model: string, modelVersion: string, ts: number, prediction: unknown): NewRecord => ({
  model,
  modelVersion,
  requestId: `${model}-${modelVersion}-${ts}`,
  ts,
  features: {},
  prediction: prediction as NewRecord['prediction'],
  label: null,
  latencyMs: null,
  status: null,
  error: null,
  tags: null,
});
const baseline = (id: number, threshold: number): LoadedBaseline => ({
  id,
  model: 'a',
  modelVersion: 'v1',
  features: new Map(),
  prediction: null,
  ignored: new Set(),
  performance: { kind: 'binary', threshold } as LoadedBaseline['performance'],
  joint: null,
});

describe('PerformanceBatch', () => {
  it('counts interleaved models, versions, buckets and baselines each in their own row', () => {
    const config = defaultConfig({ models: { c: { performance: { kind: 'multiclass' } } } });
    const batch = new PerformanceBatch(config);
    const b1 = baseline(1, 0.5);
    const b2 = baseline(2, 0.7);
    const add = (r: NewRecord, base: LoadedBaseline | null) =>
      batch.add(r, Math.floor(r.ts / HOUR) * HOUR, HOUR, base);
    for (let i = 0; i < 12; i++) {
      add(record('a', i % 2 ? 'v1' : 'v2', (i % 3) * HOUR, 0.25), i % 4 === 3 ? b2 : b1);
      add(record('b', 'v1', 0, i % 2 ? 0.9 : 3), null); // 3 is no score: not a binary model's row
      add(record('c', 'v1', 0, { x: 0.4, y: 0.6 }), null);
    }
    const rows = batch
      .deltas()
      .map((d) => `${d.model} ${d.modelVersion} ${d.bucketStart / HOUR} ${d.spec} ${d.rows}`)
      .sort();
    const spec = (threshold: number) => JSON.stringify({ kind: 'binary', threshold, bins: 100 });
    expect(rows).toEqual(
      [
        // i = 0..11 on model a: version by parity, bucket i % 3, baseline 2 (threshold 0.7) when i % 4 = 3.
        `a v1 0 ${spec(0.7)} 1`, // i = 3
        `a v1 0 ${spec(0.5)} 1`, // i = 9
        `a v1 1 ${spec(0.5)} 1`, // i = 1
        `a v1 1 ${spec(0.7)} 1`, // i = 7
        `a v1 2 ${spec(0.5)} 1`, // i = 5
        `a v1 2 ${spec(0.7)} 1`, // i = 11
        `a v2 0 ${spec(0.5)} 2`, // i = 0, 6
        `a v2 1 ${spec(0.5)} 2`, // i = 4, 10
        `a v2 2 ${spec(0.5)} 2`, // i = 2, 8
        `b v1 0 ${spec(0.5)} 6`,
        `c v1 0 ${JSON.stringify({ kind: 'multiclass', classes: ['x', 'y'], aucBins: 100 })} 12`,
      ].sort(),
    );
  });
});
