import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import type { AppDeps } from '../../src/context.js';
import { runDeliveryTick } from '../../src/notifications/service.js';
import { emailProvider } from '../../src/reports/email.js';
import { CLAIM_TTL_MS } from '../../src/store/index.js';
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

function smtpOf(port: number) {
  return { host: '127.0.0.1', port, secure: false, from: 'driftwatch@example.com', timeoutMs: 2_000 };
}

function criticalConfig(port: number, critical: Record<string, unknown> = {}): ConfigInput {
  return {
    notifications: { externalUrl: EXTERNAL },
    reports: {
      smtp: smtpOf(port),
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

function gate(): { wait: Promise<void>; open: () => void } {
  let open = () => {};
  const wait = new Promise<void>((done) => {
    open = done;
  });
  return { wait, open };
}

describe('a critical-alert mail across processes', () => {
  /**
   * A critical alert whose mail is queued, an SMTP relay that holds its first message until released (the
   * send "in flight when its sender died"), and two processes on one store with their own identity and clock.
   */
  async function inFlight() {
    const held = gate();
    const arrived = gate();
    smtp = await startSmtp(0, async (n) => {
      if (n === 1) {
        arrived.open();
        await held.wait;
      }
    });
    // A relay timeout far beyond the test, so the held send stays in flight rather than failing.
    m = await setupM({
      ...criticalConfig(smtp.port),
      reports: { ...criticalConfig(smtp.port).reports, smtp: { ...smtpOf(smtp.port), timeoutMs: 60_000 } },
    } as ConfigInput);
    await m.window('a', hour(8), 0.6);
    await m.tick(FIXED_NOW + 10 * MIN);
    const t0 = FIXED_NOW + 11 * MIN;
    const clocks = { a: t0, b: t0 };
    const deps = (name: 'a' | 'b'): AppDeps => ({
      ...(m as MApp).t.deps,
      instance: name,
      clock: () => clocks[name],
    });
    const a = deps('a');
    const b = deps('b');
    const tick = (d: AppDeps, now: number, asLeader = false) =>
      runDeliveryTick(d, now, { asLeader, email: emailProvider(d) });
    // Process a takes the delivery run and is mid-send; its clock stands still from here on, as a dead
    // process's would, so its renewals never move the lease past t0 + CLAIM_TTL_MS.
    const first = tick(a, t0);
    await arrived.wait;
    return { t0, clocks, a, b, tick, first, release: held.open };
  }

  it('is sent by another process right after the claim TTL when its sender stopped renewing', async () => {
    const p = await inFlight();
    // While a's claim is fresh, b sends nothing.
    p.clocks.b = p.t0 + CLAIM_TTL_MS - 1;
    expect(await p.tick(p.b, p.clocks.b)).toEqual({ sent: 0, failed: 0, retried: 0 });
    // Once it has run out, b sends it at once — not a report backoff (a minute or more) later.
    p.clocks.b = p.t0 + CLAIM_TTL_MS + 1;
    expect(await p.tick(p.b, p.clocks.b)).toEqual({ sent: 1, failed: 0, retried: 0 });
    const mail = smtp?.mails[0];
    const [run] = await runs(m as MApp);
    expect(run).toMatchObject({ status: 'sent', attempts: 2, error: null });
    expect(mail?.subject).toBe(run?.subject);

    p.release();
    await p.first;
    // At least once: the mail in flight at the takeover arrived twice, with the same X-Driftwatch-Report.
    const reports = smtp?.mails.map((x) => x.headers.get('x-driftwatch-report'));
    expect(reports).toEqual([`critical/alert-${run?.alert_id}`, `critical/alert-${run?.alert_id}`]);
    expect(await runs(m as MApp)).toMatchObject([{ status: 'sent', attempts: 2 }]);
  });

  it('is taken over at once by the leader from a sender that is no longer the leader', async () => {
    const p = await inFlight();
    p.clocks.b = p.t0 + 1;
    // Not as the leader, b leaves a's fresh claim alone ...
    expect(await p.tick(p.b, p.clocks.b)).toEqual({ sent: 0, failed: 0, retried: 0 });
    // ... as the leader, it takes the claim over without waiting out CLAIM_TTL_MS.
    expect(await p.tick(p.b, p.clocks.b, true)).toEqual({ sent: 1, failed: 0, retried: 0 });
    expect(smtp?.mails).toHaveLength(1);
    expect(await runs(m as MApp)).toMatchObject([{ status: 'sent', attempts: 2, error: null }]);

    p.release();
    await p.first;
    expect(smtp?.mails).toHaveLength(2);
    expect(await runs(m as MApp)).toMatchObject([{ status: 'sent', attempts: 2 }]);
  });
});
