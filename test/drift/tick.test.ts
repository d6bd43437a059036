import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import { createBaseline, driftSeries, ingestAll, mrec, syntheticTraining } from './helpers.js';

const HOUR = 3_600_000;
let t: TestApp | undefined;
afterEach(() => t?.close());

describe('runDriftTick', () => {
  it('evaluates a bucket that changed while open once it closes, even when no more data arrives', async () => {
    t = makeTestApp({ drift: { bucket: '1h', minSamples: 10 } });
    await createBaseline(t.app, 'm', JSON.stringify(syntheticTraining()), 'application/json');
    // FIXED_NOW is 12:00; the records land in the 12:00–13:00 bucket, which is still open at 12:30.
    const open = FIXED_NOW + HOUR / 2;
    await ingestAll(
      t.app,
      Array.from({ length: 50 }, (_, i) =>
        mrec(`r-${i}`, { x: i, color: 'red' }, { timestamp: FIXED_NOW + i * 1000 }),
      ),
    );
    await runDriftTick(t.deps, open);
    expect(await driftSeries(t.app, 'm', 'kind=bucket')).toEqual([]);
    expect((await driftSeries(t.app, 'm', 'kind=rolling')).length).toBe(1);

    // Nothing new arrives; the next tick after 13:00 still evaluates the closed bucket.
    await runDriftTick(t.deps, FIXED_NOW + HOUR + 60_000);
    const buckets = await driftSeries(t.app, 'm', 'kind=bucket');
    expect(buckets).toHaveLength(1);
    expect(buckets[0]?.window).toEqual({
      from: new Date(FIXED_NOW).toISOString(),
      to: new Date(FIXED_NOW + HOUR).toISOString(),
    });
    expect(buckets[0]?.n).toBe(50);

    // …and only once: a later idle tick does not evaluate it again.
    const again = await runDriftTick(t.deps, FIXED_NOW + 2 * HOUR);
    expect(again.evaluated).toBe(0);
    expect(again.errors).toEqual([]);
  });
});
