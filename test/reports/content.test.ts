import { afterEach, describe, expect, it } from 'vitest';
import { trafficSvg } from '../../src/reports/charts.js';
import { gatherReport } from '../../src/reports/content.js';
import { renderReport } from '../../src/reports/render.js';
import { ingestJson } from '../helpers.js';
import type { TestApp } from '../support.js';
import { DAILY, reportsApp, seedAlert, seedDrift, seedTraffic } from './helpers.js';

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
    expect(r.subject).toBe('[driftwatch] no drift verdict for 1 model — daily report, 24 Nov 2026');
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

  it('never shows a model ok, nor the report quiet, while a drift alert of it is open', async () => {
    t = reportsApp(1);
    await seedTraffic(t);
    // fraud's only window this period had too few records for a verdict; its drift alert is still open.
    await seedDrift(
      t,
      'fraud',
      'v3',
      '2026-11-24T06:00:00.000Z',
      [{ feature: 'amount', psi: 3.1, drifted: null }],
      {
        kind: 'bucket',
        hours: 1,
        n: 6,
      },
    );
    await seedAlert(t, 'fraud', 'amount', 'critical');
    const r = await report(t);
    expect(r.content.models.map((m) => [m.model, m.status])).toEqual([
      ['fraud', 'drifting'],
      ['iris', 'no_result'],
    ]);
    expect(r.subject).toBe('[driftwatch] 1 of 2 models drifting — daily report, 24 Nov 2026');
    expect(r.text).toContain('== fraud — DRIFTING\n');
    expect(r.text).toContain(
      'Drift (version v3, bucket window 24 Nov 2026, 06:00 CET – 24 Nov 2026, 07:00 CET, too few records (6 of 200)):',
    );
    expect(r.text).toContain('Open alerts: 1 critical');
    expect(r.html).toMatch(/>fraud <span style="background:#cf222e;[^"]*">drifting<\/span>/);
    expect(r.html).toContain('too few records (6 of 200)');
    expect(r.html).toMatch(/>iris <span style="[^"]*">no drift result<\/span>/);
    expect(r.html).not.toMatch(/>ok<\/span>/);
  });

  it('says "too few records" instead of ok for a window without a verdict', async () => {
    t = reportsApp(1);
    await seedTraffic(t);
    await seedDrift(
      t,
      'iris',
      '',
      '2026-11-24T06:00:00.000Z',
      [{ feature: 'petal_width', psi: 0.9, drifted: null }],
      {
        n: 5,
      },
    );
    const r = await report(t, ['iris']);
    const [iris] = r.content.models;
    expect(iris?.status).toBe('too_few_records');
    expect(iris?.drift).toMatchObject({ n: 5, drifted: null, minSamples: 200 });
    expect(r.text).toContain('too few records (5 of 200)');
    expect(r.html).toMatch(/>iris <span style="[^"]*">too few records<\/span>/);
    expect(r.html).not.toMatch(/>ok<\/span>/);
  });

  it('counts open alerts of other kinds, and recovered drift alerts, in the subject instead of "all quiet"', async () => {
    t = reportsApp(1);
    await seedTraffic(t);
    await seedDrift(t, 'fraud', 'v3', '2026-11-24T07:00:00.000Z', [
      { feature: 'amount', psi: 0.02, drifted: false },
    ]);
    await seedDrift(t, 'iris', '', '2026-11-24T07:00:00.000Z', [
      { feature: 'petal_width', psi: 0.01, drifted: false },
    ]);
    // fraud's drift is back to normal, but the alert is not closed yet; iris has a critical latency alert.
    const recovered = await seedAlert(t, 'fraud', 'amount', 'warning');
    await t.store.tx(async (tx) => {
      const a = await tx.alerts.get(recovered);
      if (!a) throw new Error('no alert');
      await tx.alerts.update(a.id, a.version, { recoveredAt: SLOT - 60_000 }, SLOT - 60_000);
    });
    await seedAlert(t, 'iris', 'latency_p95', 'critical', 'latency');
    const r = await report(t);
    expect(r.content.models.map((m) => [m.model, m.status])).toEqual([
      ['fraud', 'alerts'],
      ['iris', 'alerts'],
    ]);
    expect(r.subject).toBe(
      '[driftwatch] no drift in 2 models, 2 open alerts (1 critical) — daily report, 24 Nov 2026',
    );
    expect(r.text).not.toContain('All quiet');
    expect(r.text).toContain('== fraud — ALERTS OPEN\n');
    expect(r.text).toContain('== iris — CRITICAL ALERTS OPEN\n');
    expect(r.text).toContain(`#${recovered} warning drift on amount (open, recovered)`);
    expect(r.html).toMatch(/>fraud <span style="[^"]*">alerts open<\/span>/);
    expect(r.html).toMatch(/>iris <span style="background:#cf222e;[^"]*">critical alerts open<\/span>/);
    expect(r.html).not.toMatch(/>ok<\/span>/);
  });

  it('says "all quiet" only when every model was judged calm, and names the models without a verdict', async () => {
    t = reportsApp(1);
    await seedTraffic(t);
    await seedDrift(t, 'fraud', 'v3', '2026-11-24T07:00:00.000Z', [
      { feature: 'amount', psi: 0.02, drifted: false },
    ]);
    const partly = await report(t);
    expect(partly.content.models.map((m) => [m.model, m.status])).toEqual([
      ['fraud', 'ok'],
      ['iris', 'no_result'],
    ]);
    expect(partly.subject).toBe(
      '[driftwatch] no drift in 1 of 2 models, 1 without a verdict — daily report, 24 Nov 2026',
    );
    expect(partly.text).not.toContain('All quiet');
    await seedDrift(t, 'iris', '', '2026-11-24T07:00:00.000Z', [
      { feature: 'petal_width', psi: 0.01, drifted: false },
    ]);
    const quiet = await report(t);
    expect(quiet.subject).toBe('[driftwatch] all quiet: no drift in 2 models — daily report, 24 Nov 2026');
    expect(quiet.text).toContain('All quiet: no model is drifting and no alert is open.');
  });

  it('reads the newest judged window: a newer closed bucket of a few records does not replace it', async () => {
    t = reportsApp(1);
    await seedTraffic(t);
    // A clock just before 08:00 Berlin: the rolling window ends with the bucket in progress, after it.
    const now = SLOT - 10 * 60_000;
    await seedDrift(t, 'fraud', 'v3', new Date(SLOT).toISOString(), [
      { feature: 'amount', psi: 0.42, drifted: true, severity: 'critical' },
    ]);
    await seedDrift(
      t,
      'fraud',
      'v3',
      new Date(SLOT - 3_600_000).toISOString(),
      [{ feature: 'amount', psi: 0.05, drifted: null }],
      {
        kind: 'bucket',
        hours: 1,
        n: 6,
      },
    );
    const schedule = t.deps.config.reports.schedules[0];
    if (!schedule) throw new Error('no schedule');
    const c = await gatherReport(t.deps, { ...schedule, models: ['fraud'] }, now);
    const [fraud] = c.models;
    expect(fraud?.drift).toMatchObject({ kind: 'rolling', n: 500, drifted: true });
    expect(fraud?.status).toBe('drifting');
    expect(c.drifting).toBe(1);
  });
});
