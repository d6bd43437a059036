import { afterEach, describe, expect, it } from 'vitest';
import { measureColumn } from '../../src/drift/evaluate.js';
import { type NumericProfile, numericProfile } from '../../src/profiles/profile.js';
import { nextUp } from '../../src/stats/index.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import { createBaseline, ingestAll, runDrift } from './helpers.js';

// A maximum held by many training rows (a clipped feature, a score rounded to 4 decimals) is a heavy value of
// the fine grid, which adds its next-up edge; the profile's own last edge is that same value. Profiles must
// not repeat it, and profiles stored with it repeated must still be judged.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

/** Logistic scores rounded to 4 decimals and capped at 0.95: over 1,000 distinct values, the cap held by many. */
function scores(n: number, seed: number, shift = 0): number[] {
  let s = seed;
  const r = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  return Array.from({ length: n }, () => {
    const x = r() * 4 - 2 + shift;
    return Math.min(0.95, Number((1 / (1 + Math.exp(-2 * x))).toFixed(4)));
  });
}

describe('a training maximum held by many rows', () => {
  it('gets its next-up edge once, and a drift run over such a baseline answers', async () => {
    const training = scores(2000, 1);
    const profile = numericProfile(Float64Array.from(training), 0);
    const edges = profile.gridEdges;
    expect(profile.max).toBe(0.95);
    expect(edges.filter((e) => e === nextUp(0.95))).toHaveLength(1);
    for (let i = 1; i < edges.length; i++) expect(edges[i]).toBeGreaterThan(edges[i - 1] as number);

    t = makeTestApp({ drift: { minSamples: 50 } });
    const csv = ['x,score', ...training.map((v, i) => `${i % 7},${v}`)].join('\n');
    await createBaseline(t.app, 'clf', csv, 'text/csv', { prediction: 'score' });
    await ingestAll(
      t.app,
      scores(400, 2, 1).map((v, i) => ({
        model: 'clf',
        request_id: `r${i}`,
        timestamp: FIXED_NOW - 60_000,
        features: { x: i % 7 },
        prediction: v,
      })),
    );
    const [result] = await runDrift(t.app, 'clf');
    expect(result?.prediction?.n).toBe(400);
    expect(result?.prediction?.ks_pvalue).toBeLessThan(1e-6);
  });

  it('stored with the edge repeated (older profiles), is judged as without the empty cell between them', () => {
    const profile = numericProfile(Float64Array.from(scores(2000, 3)), 0);
    const window = scores(500, 4, 0.5);
    const cells = profile.gridEdges.length + 1;
    // The window's count vector as the binner keeps it: cells, then per-cell position sums (left as 0 here).
    const counts = new Float64Array(2 * cells);
    for (const v of window) {
      let cell = 0;
      while (cell < profile.gridEdges.length && (profile.gridEdges[cell] as number) <= v) cell++;
      counts[cell] = (counts[cell] as number) + 1;
    }
    const tallies = {
      n: 500,
      missing: 0,
      typeMismatch: 0,
      outOfRange: 0,
      unseen: 0,
      offEdge: 500,
      vmin: Math.min(...window),
      vmax: Math.max(...window),
    };
    const clean = measureColumn('score', profile, { ...tallies, counts });

    // The same profile as stored before the fix: the top edge twice, an empty cell [top, top) between.
    const at = profile.gridEdges.indexOf(nextUp(profile.max));
    const insert = <T>(a: readonly T[], i: number, v: T) => [...a.slice(0, i), v, ...a.slice(i)];
    const old: NumericProfile = {
      ...profile,
      gridEdges: insert(profile.gridEdges, at, nextUp(profile.max)),
      gridCounts: insert(profile.gridCounts, at + 1, 0),
      ...(profile.gridSums ? { gridSums: insert(profile.gridSums, at + 1, 0) } : {}),
    };
    const oldCounts = Float64Array.from([
      ...insert([...counts.subarray(0, cells)], at + 1, 0),
      ...insert([...counts.subarray(cells)], at + 1, 0),
    ]);
    expect(measureColumn('score', old, { ...tallies, counts: oldCounts })).toEqual(clean);
  });
});
