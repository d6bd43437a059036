import { afterEach, describe, expect, it } from 'vitest';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { hForArl0 } from '../../src/stats/cusum.js';
import { mulberry32 } from '../../src/stats/index.js';
import type { AlertView } from '../../src/views.js';
import { createBaseline, ingestAll, mrec } from '../drift/helpers.js';
import { getJson } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

// alerts.sequential: a CUSUM per feature over closed buckets, its state in the store.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const HOUR = 3600e3;

function normals(n: number, shift: number, seed: number): number[] {
  const next = mulberry32(seed);
  return Array.from(
    { length: n },
    () => shift + Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()),
  );
}

describe('sequential drift alerts', () => {
  it('raises a drift alert from the CUSUM, with its path in the evidence, and advances once per bucket', async () => {
    t = makeTestApp({ models: { m: { alerts: { sequential: { arl0: 500 } } } } });
    const training = ['x', ...normals(5000, 0, 1).map(String)].join('\n');
    await createBaseline(t.app, 'm', training, 'text/csv');
    const start = FIXED_NOW - 10 * HOUR;
    let alarmAt = -1;
    for (let k = 0; k < 10; k++) {
      const from = start + k * HOUR;
      // A small shift (0.12 sd): too small for the per-window PSI rule, summed up by the CUSUM.
      const xs = normals(1000, 0.12, 100 + k);
      await ingestAll(
        t.app,
        xs.map((x, i) => mrec(`b${k}-${i}`, { x }, { timestamp: from + i * 1000 })),
      );
      const tick = await runDriftTick(t.deps, from + HOUR);
      expect(tick.errors).toEqual([]);
      const alerts = (await getJson<{ alerts: AlertView[] }>(t.app, '/v1/alerts')).body.alerts;
      if (alarmAt < 0 && alerts.length > 0) alarmAt = k;
    }
    expect(alarmAt).toBeGreaterThan(0);
    const [alert] = (await getJson<{ alerts: AlertView[] }>(t.app, '/v1/alerts')).body.alerts;
    expect(alert?.kind).toBe('drift');
    expect(alert?.feature).toBe('x');
    const cusum = (alert?.peak ?? {}) as {
      raised_by?: string;
      cusum?: { h: number; path: { upper: number; alarm: boolean }[] };
    };
    expect(cusum.raised_by).toBe('sequential');
    expect(cusum.cusum?.h).toBeCloseTo(hForArl0(500, 0.5, 'upper'), 9);
    const path = cusum.cusum?.path ?? [];
    expect(path).toHaveLength(alarmAt + 1);
    expect(path[path.length - 1]?.alarm).toBe(true);
    expect(path[path.length - 1]?.upper).toBeGreaterThan(cusum.cusum?.h ?? 0);

    const [state] = await t.sql<{ last_bucket: number; path: string }>(
      'SELECT last_bucket, path FROM cusum_state WHERE model = ? AND feature = ?',
      ['m', 'x'],
    );
    expect(Number(state?.last_bucket)).toBe(start + 9 * HOUR);
    const before = JSON.parse(state?.path ?? '[]') as unknown[];
    expect(before).toHaveLength(10);
    // Late data changes the last bucket: it is evaluated again, and the CUSUM does not advance twice.
    await ingestAll(t.app, [mrec('late', { x: 0 }, { timestamp: start + 9 * HOUR + 5 })]);
    expect((await runDriftTick(t.deps, FIXED_NOW + 60_000)).errors).toEqual([]);
    const [again] = await t.sql<{ last_bucket: number; path: string }>(
      'SELECT last_bucket, path FROM cusum_state WHERE model = ? AND feature = ?',
      ['m', 'x'],
    );
    expect(again?.path).toBe(state?.path);

    const page = await (await t.app.request(`/ui/alerts/${alert?.id}`)).text();
    expect(page).toContain('cusum-path');
    expect(page).toContain('raised sequentially');
  });
});
