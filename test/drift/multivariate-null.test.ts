import { describe, expect, it } from 'vitest';
import { simulateNull } from '../../scripts/sim-multivariate.js';

// False alarms of joint shifts through the real path (upload, ingest, drift tick), as `npm run
// sim:multivariate` measures them over 100 buckets; a reduced run here.

describe('multivariate_drift over null buckets', () => {
  it('raises no alert on heavy-tailed and skewed features (t₃, lognormal and its square, Pareto 2.5, skewed count; reduced run: 10 buckets of 2,000)', async () => {
    const run = await simulateNull({ scenario: 'heavy', buckets: 10, perBucket: 2000 });
    // Not vacuous: every bucket was judged jointly on all 28 pairs and the reconstruction error.
    expect(run.judged).toBe(10);
    expect(run.pairsTested).toBe(28);
    expect(run.fired).toEqual([]);
    expect(run.flaggedBuckets).toBe(0);
    expect(run.alerts).toBe(0);
  }, 180_000);
});
