import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { firstAlert, WEATHER_CSV } from '../../examples/first-alert.mjs';
import type { AlertView } from '../../src/alerts/types.js';
import { runDriftTick } from '../../src/jobs/drift-tick.js';
import { postJson, type TestApp } from '../support.js';
import { type MailSink, reportsApp, startSmtp } from './helpers.js';

// The README's first-alert walkthrough, then a report before the hour turns: the rolling window that raised
// the alerts ends with the bucket in progress (after now), and the closed bucket before it holds only the
// first few records. The report must read the rolling window and agree with the open alerts.

const csv = readFileSync(WEATHER_CSV, 'utf8');
const HOUR = 3_600_000;
// 16 minutes before 13:00 UTC: the example's 45 minutes of records start just before 12:00, so the closed
// 11:00–12:00 bucket gets a handful of them and the 12:00 bucket (in progress) the rest.
const NOW = Date.parse('2026-11-24T12:44:00Z');

let t: TestApp | undefined;
let smtp: MailSink | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await smtp?.close();
  smtp = undefined;
});

describe('a report right after the first alert', () => {
  it('reads the rolling window that raised the alerts, not a too-small closed bucket', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    const app = t.app;
    t.setNow(NOW);
    const out = await firstAlert({ request: (path, init) => app.request(path, init), csv, now: NOW });
    // The drift tick as the running service does it a moment later: the rolling window again and the
    // closed bucket before the hour.
    await runDriftTick(t.deps, NOW);
    const alerts = out.alerts as AlertView[];
    const critical = alerts.filter((a) => a.severity === 'critical').length;
    expect(critical).toBeGreaterThan(0);
    const early = out.records.filter((r: { timestamp: number }) => r.timestamp < NOW - (NOW % HOUR)).length;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(200); // the closed bucket has too few records for a verdict

    const preview = await app.request('/v1/reports/preview?schedule=daily');
    expect(preview.status).toBe(200);
    const html = await preview.text();
    expect(html).toContain('1 of 1 model drifting');
    expect(html).not.toContain('all quiet');
    expect(html).toContain(`>seattle-weather <span style="background:#cf222e;`);
    expect(html).toContain(`>drifting</span>`);
    expect(html).toContain(`${out.records.length} records`);

    const sent = await postJson(app, '/v1/reports/daily/send', {});
    expect(sent.status).toBe(200);
    const mail = smtp.mails[0];
    if (!mail) throw new Error('no mail');
    expect(mail.subject).toBe('[driftwatch] 1 of 1 model drifting — daily report, 24 Nov 2026');
    const text = mail.text ?? '';
    expect(text).toContain('== seattle-weather — DRIFTING');
    // The rolling window of the example's run, with all its records, not the closed bucket's handful.
    expect(text).toContain('rolling window 23 Nov 2026, 14:00 CET – 24 Nov 2026, 14:00 CET, 276 records');
    expect(text).toMatch(/temp_max: PSI 4\.\d{3} \(no previous period to compare\) \[critical\]/);
    expect(text).toContain(`Open alerts: ${critical} critical`);

    // After the hour turns the same report says the same.
    const later = NOW + 20 * 60_000;
    t.setNow(later);
    await runDriftTick(t.deps, later);
    const after = await (await app.request('/v1/reports/preview?schedule=daily')).text();
    expect(after).toContain('1 of 1 model drifting');
    expect(after).toContain('276 records');
  });
});
