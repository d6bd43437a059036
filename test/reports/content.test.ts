import { afterEach, describe, expect, it } from 'vitest';
import { trafficSvg } from '../../src/reports/charts.js';
import { gatherReport } from '../../src/reports/content.js';
import { renderReport } from '../../src/reports/render.js';
import { ingestJson } from '../helpers.js';
import type { TestApp } from '../support.js';
import { DAILY, reportsApp, seedDrift, seedTraffic } from './helpers.js';

// How a report words what it found: models that do not exist, counts, the traffic sparkline, window times.

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const SLOT = Date.parse('2026-11-24T07:00:00.000Z'); // 08:00 in Berlin

async function report(a: TestApp, models?: string[]) {
  const schedule = a.deps.config.reports.schedules[0];
  if (!schedule) throw new Error('no schedule');
  const content = await gatherReport(a.deps, { ...schedule, ...(models ? { models } : {}) }, SLOT);
  return { content, ...(await renderReport(content)) };
}

describe('report content', () => {
  it('names listed models the store does not know instead of counting them as quiet', async () => {
    t = reportsApp(1);
    await seedTraffic(t); // fraud and iris
    const r = await report(t, ['fraud', 'ghost', 'churn']);
    expect(r.content.models.map((m) => m.model)).toEqual(['fraud']);
    expect(r.content.unknownModels).toEqual(['ghost', 'churn']);
    expect(r.subject).toBe('[driftwatch] all quiet: no drift in 1 model — daily report, 24 Nov 2026');
    expect(r.text).toContain('ghost: no such model (no records or baseline)\nchurn: no such model');
    expect(r.html).toContain('ghost: no such model (no records or baseline)');
    const none = await report(t, ['ghost']);
    expect(none.subject).toBe('[driftwatch] no models to report — daily report, 24 Nov 2026');
    expect(none.text).toContain('ghost: no such model (no records or baseline)');
  });

  it('says "1 request", shows the period total beside the requests sparkline', async () => {
    t = reportsApp(1);
    const res = await ingestJson(t.app, [
      {
        model: 'solo',
        request_id: 's-1',
        timestamp: '2026-11-24T03:00:00Z',
        features: { x: 1 },
        latency_ms: 4,
      },
    ]);
    expect(res.status).toBe(200);
    const r = await report(t);
    expect(r.text).toContain('Traffic: 1 request, error rate');
    const [m] = r.content.models;
    if (!m) throw new Error('no model');
    // The last bucket is empty (the record is at 03:00, the period ends at 07:00): its "0" is not the total.
    expect(m.charts.traffic.at(-1)?.requests).toBe(0);
    expect(trafficSvg(m)).toContain('Requests (1 in the period)');
  });

  it("writes drift windows in the schedule's zone and says when there is no previous period", async () => {
    t = reportsApp(1);
    await seedTraffic(t);
    await seedDrift(t, 'fraud', 'v3', '2026-11-24T07:00:00.000Z', [
      { feature: 'amount', psi: 0.42, drifted: true, severity: 'critical' },
    ]);
    const r = await report(t, ['fraud']);
    expect(DAILY.timezone).toBe('Europe/Berlin');
    expect(r.text).toContain('window 23 Nov 2026, 08:00 CET – 24 Nov 2026, 08:00 CET, 500 records');
    expect(r.text).not.toContain('T07:00:00.000Z');
    expect(r.text).toContain('amount: PSI 0.420 (no previous period to compare) [critical]');
    expect(r.html).toContain('window 23 Nov 2026, 08:00 CET – 24 Nov 2026, 08:00 CET');
    expect(r.html).toContain('>no previous period to compare</td>');
    expect(r.html).not.toContain('T07:00:00.000Z');
  });
});
