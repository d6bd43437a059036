import { afterEach, describe, expect, it } from 'vitest';
import { FIRST_START } from '../../src/reports/service.js';
import { postJson, type TestApp } from '../support.js';
import {
  DAILY,
  freePort,
  type MailSink,
  reportsAndDeliveries,
  reportsApp,
  seedAlert,
  seedDrift,
  seedTraffic,
  startSmtp,
} from './helpers.js';

let t: TestApp | undefined;
let smtp: MailSink | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await smtp?.close();
  smtp = undefined;
});

const SLOT = '2026-11-24T07:00:00.000Z'; // 08:00 in Berlin
const at = (s: string) => Date.parse(s);

interface RunBody {
  id: number;
  schedule: string;
  slot: string;
  status: string;
  attempts: number;
  next_attempt_at: string | null;
  message_id: string | null;
  error: string | null;
  subject: string;
}

async function runs(a: TestApp): Promise<RunBody[]> {
  const res = await a.app.request('/v1/reports/runs');
  expect(res.status).toBe(200);
  return ((await res.json()) as { runs: RunBody[] }).runs;
}

async function tick(a: TestApp, now: string) {
  a.setNow(at(now));
  return reportsAndDeliveries(a.deps, at(now));
}

/**
 * The service ran before the slot under test: its first tick saw the schedule (no run yet) and recorded the
 * slot before, unsent, so the slots after it are sent (and caught up after downtime).
 */
async function started(a: TestApp, now = '2026-11-24T06:00:00Z') {
  const r = await tick(a, now);
  expect(r.created).toEqual([]);
  expect(r.started).toHaveLength(1);
}

describe('scheduled email reports', () => {
  it('mails the daily report: recipients, subject, text and HTML parts with alert links', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    await seedTraffic(t);
    // fraud drifts at the end of the period; a day before its PSI was lower.
    await seedDrift(t, 'fraud', 'v3', '2026-11-23T07:00:00.000Z', [
      { feature: 'amount', psi: 0.1, drifted: false },
      { feature: 'country', psi: 0.05, drifted: false },
    ]);
    await seedDrift(t, 'fraud', 'v3', '2026-11-24T07:00:00.000Z', [
      { feature: 'amount', psi: 0.42, drifted: true, severity: 'critical' },
      { feature: 'country', psi: 0.02, drifted: false },
    ]);
    await seedDrift(t, 'iris', '', '2026-11-24T06:00:00.000Z', [
      { feature: 'petal_width', psi: 0.01, drifted: false },
    ]);
    const critical = await seedAlert(t, 'fraud', 'amount', 'critical');
    const warning = await seedAlert(t, 'fraud', 'merchant', 'warning');

    await started(t);
    const result = await tick(t, '2026-11-24T07:00:30Z');
    expect(result).toMatchObject({ created: [`daily@${SLOT}`], sent: 1, errors: [] });

    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0];
    if (!mail) throw new Error('no mail');
    expect(mail.envelopeTo).toEqual(['ml-team@example.com', 'oncall@example.com']);
    expect(mail.authUser).toBe('dw');
    expect(mail.from?.text).toBe('driftwatch@example.com');
    expect(mail.subject).toBe('[driftwatch] 1 of 2 models drifting — daily report, 24 Nov 2026');

    const text = mail.text ?? '';
    expect(text).toContain('== fraud — DRIFTING');
    expect(text).toContain('Traffic: 20 requests, error rate 10.0%, latency p50');
    expect(text).toContain('amount: PSI 0.420 (+0.320 since the previous period) [critical]');
    expect(text).toContain('country: PSI 0.020 (−0.030 since the previous period)');
    expect(text).toContain('Open alerts: 1 critical, 1 warning');
    expect(text).toContain(`https://driftwatch.example.com/ui/alerts/${critical}`);
    expect(text).toContain('== iris');
    expect(text).toContain('Traffic: 5 requests');
    // Drifting model first.
    expect(text.indexOf('== fraud')).toBeLessThan(text.indexOf('== iris'));

    const html = typeof mail.html === 'string' ? mail.html : '';
    expect(html).toContain(`href="https://driftwatch.example.com/ui/alerts/${critical}"`);
    expect(html).toContain(`href="https://driftwatch.example.com/ui/alerts/${warning}"`);
    expect(html).toContain('0.420');
    expect(html).not.toMatch(/<script|<style/i);
    expect(html).toContain('style="');
    // Per model a PSI trend (both have drift results) and a traffic sparkline (both have traffic), attached
    // inline as PNG and referenced by cid; no histograms, these results having no stored baseline.
    const images = (mail.attachments ?? []).filter((a) => a.contentType === 'image/png');
    expect(images.map((i) => i.cid).sort()).toEqual([
      'traffic-0@driftwatch',
      'traffic-1@driftwatch',
      'trend-0@driftwatch',
      'trend-1@driftwatch',
    ]);
    expect(html).toMatch(
      /alt="PSI trend of fraud over the period \(rolling windows\); latest: amount 0\.42, country 0\.02/,
    );
    expect(html).toContain('alt="Traffic of fraud over the period: 20 requests');
    for (const img of images) {
      expect([...img.content.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(img.content.readUInt32BE(16)).toBe(640);
      expect(img.contentDisposition).toBe('inline');
      expect(html).toContain(`cid:${img.cid}`);
    }

    const [run] = await runs(t);
    expect(run).toMatchObject({ schedule: 'daily', slot: SLOT, status: 'sent', attempts: 1, error: null });
    expect(run?.message_id).toBe(mail.messageId);
  });

  it('says "no drift verdict", not "all quiet", when traffic came but no model was judged', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    await seedTraffic(t);
    await started(t);
    await tick(t, '2026-11-24T07:00:30Z');
    const mail = smtp.mails[0];
    expect(mail?.subject).toBe('[driftwatch] no drift verdict for 2 models — daily report, 24 Nov 2026');
    expect(mail?.text).not.toContain('All quiet');
    expect(mail?.text).toContain('Drift: no drift result for this period');
  });

  it('retries while SMTP is down (attempts and error recorded), then sends once it is up', async () => {
    const port = await freePort();
    t = reportsApp(port);
    await seedTraffic(t);
    await started(t);

    const first = await tick(t, '2026-11-24T07:00:30Z');
    expect(first).toMatchObject({ sent: 0, retried: 1 });
    let [run] = await runs(t);
    expect(run).toMatchObject({
      status: 'pending',
      attempts: 1,
      next_attempt_at: '2026-11-24T07:01:30.000Z',
    });
    expect(run?.error).toMatch(/ECONNREFUSED/);

    // Not due yet: nothing is tried.
    expect(await tick(t, '2026-11-24T07:01:00Z')).toMatchObject({ sent: 0, retried: 0 });
    expect(await tick(t, '2026-11-24T07:01:30Z')).toMatchObject({ retried: 1 });
    [run] = await runs(t);
    expect(run).toMatchObject({
      status: 'pending',
      attempts: 2,
      next_attempt_at: '2026-11-24T07:03:30.000Z',
    });

    smtp = await startSmtp(port);
    expect(await tick(t, '2026-11-24T07:03:30Z')).toMatchObject({ sent: 1, created: [] });
    [run] = await runs(t);
    expect(run).toMatchObject({ status: 'sent', attempts: 3, error: null });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]?.subject).toContain('daily report, 24 Nov 2026');
  });

  it('marks a run failed after maxAttempts, without throwing', async () => {
    const port = await freePort();
    t = reportsApp(port);
    await started(t);
    await tick(t, '2026-11-24T07:00:30Z');
    await tick(t, '2026-11-24T07:01:30Z');
    const last = await tick(t, '2026-11-24T07:03:30Z');
    expect(last).toMatchObject({ failed: 1 });
    const [run] = await runs(t);
    expect(run).toMatchObject({ status: 'failed', attempts: 3, next_attempt_at: null });
    expect(await tick(t, '2026-11-24T08:00:00Z')).toMatchObject({ sent: 0, retried: 0, failed: 0 });
  });

  it('catches up once after downtime: a 3-day clock jump gives one run, for the latest slot', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    await started(t, '2026-11-21T06:00:00Z');
    await tick(t, '2026-11-21T07:00:10Z');
    expect(smtp.mails).toHaveLength(1);
    const jumped = await tick(t, '2026-11-24T12:00:00Z');
    expect(jumped.created).toEqual([`daily@${SLOT}`]);
    expect(smtp.mails).toHaveLength(2);
    expect((await runs(t)).map((r) => [r.slot, r.status])).toEqual([
      [SLOT, 'sent'],
      ['2026-11-21T07:00:00.000Z', 'sent'],
      // The slot before the schedule was first seen.
      ['2026-11-20T07:00:00.000Z', 'skipped'],
    ]);
    expect(smtp.mails[1]?.subject).toContain('24 Nov 2026');
  });

  it('sends a slot once however often or concurrently the job runs', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    const a = t;
    await started(a);
    await Promise.all([tick(a, '2026-11-24T07:00:30Z'), tick(a, '2026-11-24T07:00:30Z')]);
    await tick(a, '2026-11-24T07:05:00Z');
    await tick(a, '2026-11-24T20:00:00Z');
    expect(smtp.mails).toHaveLength(1);
    expect((await runs(a)).map((r) => [r.slot, r.status])).toEqual([
      [SLOT, 'sent'],
      ['2026-11-23T07:00:00.000Z', 'skipped'],
    ]);
  });

  it('starts a new schedule with its next slot: no report for a slot before it was first seen', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port, {
      reports: {
        smtp: {
          host: '127.0.0.1',
          port: smtp.port,
          secure: false,
          auth: { user: 'dw', pass: 'smtp-secret' },
          from: 'driftwatch@example.com',
          timeoutMs: 2_000,
        },
        schedules: [
          DAILY,
          { ...DAILY, name: 'weekly', cron: '0 9 * * 1', to: ['leads@example.com'], period: '7d' },
        ],
      },
    });
    await seedTraffic(t);
    const a = t;
    // A brand-new install, started just after both schedules' latest slots (Tue 24 Nov 08:00:30 Berlin;
    // the weekly one was Mon 23 Nov 09:00). Two processes ticking at once record each slot once.
    const first = await Promise.all([tick(a, '2026-11-24T07:00:30Z'), tick(a, '2026-11-24T07:00:30Z')]);
    expect(first.flatMap((r) => r.created)).toEqual([]);
    expect(first.flatMap((r) => r.started).sort()).toEqual([
      `daily@${SLOT}`,
      'weekly@2026-11-23T08:00:00.000Z',
    ]);
    expect(smtp.mails).toHaveLength(0);
    expect(await runs(a)).toMatchObject([
      { schedule: 'daily', slot: SLOT, status: 'skipped', attempts: 0, error: FIRST_START },
      { schedule: 'weekly', slot: '2026-11-23T08:00:00.000Z', status: 'skipped', attempts: 0 },
    ]);
    // Later ticks leave the recorded slots alone; the next daily slot is the first report.
    expect(await tick(a, '2026-11-24T12:00:00Z')).toMatchObject({ created: [], started: [], sent: 0 });
    const next = await tick(a, '2026-11-25T07:00:20Z');
    expect(next).toMatchObject({ created: ['daily@2026-11-25T07:00:00.000Z'], started: [], sent: 1 });
    expect(smtp.mails.map((m) => m.subject)).toEqual([
      '[driftwatch] no drift verdict for 2 models — daily report, 25 Nov 2026',
    ]);
  });
});

describe('report routes', () => {
  it('lists schedules, previews the HTML and sends now', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    await seedTraffic(t);

    const schedules = await t.app.request('/v1/reports/schedules');
    expect(schedules.status).toBe(200);
    expect(await schedules.json()).toMatchObject({
      schedules: [
        {
          name: 'daily',
          cron: '0 8 * * *',
          timezone: 'Europe/Berlin',
          period_ms: 86_400_000,
          last_slot: SLOT,
        },
      ],
    });

    const preview = await t.app.request('/v1/reports/preview?schedule=daily');
    expect(preview.status).toBe(200);
    expect(preview.headers.get('content-type')).toMatch(/text\/html/);
    const previewHtml = await preview.text();
    expect(previewHtml).toContain('no drift verdict for 2 models');
    // The charts are inline for a browser (the traffic sparkline), no cid: left unresolved.
    expect(previewHtml).toMatch(/src="data:image\/png;base64,/);
    expect(previewHtml).not.toContain('src="cid:');
    expect((await t.app.request('/v1/reports/preview?schedule=nope')).status).toBe(404);

    const sent = await postJson(t.app, '/v1/reports/daily/send', {});
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ schedule: 'daily', status: 'sent', attempts: 1 });
    expect(smtp.mails).toHaveLength(1);
    expect((await postJson(t.app, '/v1/reports/nope/send', {})).status).toBe(404);
  });
});
