import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import { hour, type MApp, MIN, setupM } from '../alerts/helpers.js';
import { FIXED_NOW } from '../support.js';
import { freePort, type MailSink, reportsAndDeliveries, startSmtp } from './helpers.js';

// The immediate mail on critical alerts (reports.critical), end to end: the drift tick raises a critical
// alert from real ingested records, the reports job renders and mails it through a real SMTP server.

let m: MApp | undefined;
let smtp: MailSink | undefined;
afterEach(async () => {
  await m?.t.close();
  m = undefined;
  await smtp?.close();
  smtp = undefined;
});

const EXTERNAL = 'https://driftwatch.example.com';

function criticalConfig(port: number, critical: Record<string, unknown> = {}): ConfigInput {
  return {
    notifications: { externalUrl: EXTERNAL },
    reports: {
      smtp: { host: '127.0.0.1', port, secure: false, from: 'driftwatch@example.com', timeoutMs: 2_000 },
      critical: { to: ['oncall@example.com'], ...critical },
      maxAttempts: 3,
    },
  } as ConfigInput;
}

interface RunBody {
  id: number;
  schedule: string;
  alert_id: number | null;
  status: string;
  attempts: number;
  error: string | null;
  subject: string;
}

async function runs(app: MApp): Promise<RunBody[]> {
  const res = await app.t.app.request('/v1/reports/runs?schedule=critical');
  expect(res.status).toBe(200);
  return ((await res.json()) as { runs: RunBody[] }).runs;
}

async function reportsTick(app: MApp, now: number) {
  app.t.setNow(now);
  return reportsAndDeliveries(app.t.deps, now);
}

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe('the immediate mail on critical alerts', () => {
  it('mails a critical alert once, with its link and charts, however often the jobs run', async () => {
    smtp = await startSmtp();
    m = await setupM(criticalConfig(smtp.port));
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const [alert] = await m.reviewer.alerts();
    expect(alert).toMatchObject({ feature: 'x', kind: 'drift', severity: 'critical' });
    const id = alert?.id as number;
    // Queued with the alert, not sent by the drift tick.
    expect(smtp.mails).toHaveLength(0);
    expect(await runs(m)).toMatchObject([
      { schedule: 'critical', alert_id: id, status: 'pending', attempts: 0 },
    ]);

    // Two ticks at once (two processes that both think they lead): one mail.
    const now = FIXED_NOW + 11 * MIN;
    await Promise.all([reportsTick(m, now), reportsTick(m, now)]);
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0];
    if (!mail) throw new Error('no mail');
    expect(mail.envelopeTo).toEqual(['oncall@example.com']);
    expect(mail.subject).toBe(`[driftwatch] critical alert #${id}: feature drift on x of m`);
    const link = `${EXTERNAL}/ui/alerts/${id}`;
    expect(mail.text).toContain(`Review it: ${link}`);
    expect(mail.text).toContain('== m — DRIFTING');
    expect(mail.text).toMatch(/x, largest shift: ≥ 1\d\d: \d+\.\d% in the baseline, \d+\.\d% now/);
    const html = typeof mail.html === 'string' ? mail.html : '';
    expect(html).toContain(`href="${link}"`);
    expect(html).not.toMatch(/<script|<style/i);
    const images = (mail.attachments ?? []).filter((a) => a.contentType === 'image/png');
    // The model section's charts: PSI trend, traffic, and the histogram of the drifted feature x.
    expect(images.map((i) => i.cid).sort()).toEqual([
      'hist-0-0@driftwatch',
      'traffic-0@driftwatch',
      'trend-0@driftwatch',
    ]);
    for (const img of images) {
      expect([...img.content.subarray(0, 8)]).toEqual(PNG);
      expect(img.contentDisposition).toBe('inline');
      expect(html).toContain(`src="cid:${img.cid}"`);
    }
    expect(html).toMatch(/alt="Distribution of x \(m\), baseline vs current window; largest shift: /);
    expect(await runs(m)).toMatchObject([{ alert_id: id, status: 'sent', attempts: 1, error: null }]);

    // More critical windows attach to the same alert: no second mail, now or later.
    await m.window('b', hour(9), 0.6);
    await m.tick(FIXED_NOW + 20 * MIN);
    expect((await m.reviewer.alerts()).map((a) => a.id)).toEqual([id]);
    await reportsTick(m, FIXED_NOW + 21 * MIN);
    await reportsTick(m, FIXED_NOW + 90 * MIN);
    expect(smtp.mails).toHaveLength(1);
    expect(await runs(m)).toHaveLength(1);
  });

  it('retries while SMTP is down, with the attempts and error recorded, then mails once', async () => {
    const port = await freePort();
    m = await setupM(criticalConfig(port));
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const first = await reportsTick(m, FIXED_NOW + 11 * MIN);
    expect(first).toMatchObject({ sent: 0, retried: 1 });
    let [run] = await runs(m);
    expect(run).toMatchObject({ status: 'pending', attempts: 1 });
    expect(run?.error).toMatch(/ECONNREFUSED/);
    // Rendered before the first attempt and kept: the retry sends the same message.
    expect(run?.subject).toMatch(/^\[driftwatch\] critical alert #\d+: feature drift on x of m$/);

    smtp = await startSmtp(port);
    expect(await reportsTick(m, FIXED_NOW + 12 * MIN)).toMatchObject({ sent: 1 });
    [run] = await runs(m);
    expect(run).toMatchObject({ status: 'sent', attempts: 2, error: null });
    expect(smtp.mails.map((x) => x.subject)).toEqual([run?.subject]);
  });

  it('mails a warning once it escalates to critical, and only for the models listed', async () => {
    smtp = await startSmtp();
    m = await setupM(criticalConfig(smtp.port));
    await m.window('a', hour(8), 0.2);
    await m.tick(FIXED_NOW + 10 * MIN);
    expect((await m.reviewer.alerts()).map((a) => a.severity)).toEqual(['warning']);
    await reportsTick(m, FIXED_NOW + 11 * MIN);
    expect(smtp.mails).toHaveLength(0);
    expect(await runs(m)).toEqual([]);

    await m.window('b', hour(9), 0.6);
    await m.tick(FIXED_NOW + 20 * MIN);
    expect((await m.reviewer.alerts()).map((a) => a.severity)).toEqual(['critical']);
    await reportsTick(m, FIXED_NOW + 21 * MIN);
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]?.text).toContain('escalated from warning');

    await m.t.close();
    m = await setupM(criticalConfig(smtp.port, { models: ['fraud'] }));
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    expect((await m.reviewer.alerts()).map((a) => a.severity)).toEqual(['critical']);
    await reportsTick(m, FIXED_NOW + 11 * MIN);
    expect(smtp.mails).toHaveLength(1);
    expect(await runs(m)).toEqual([]);
  });
});
