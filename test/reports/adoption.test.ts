import { afterEach, describe, expect, it } from 'vitest';
import { runDeliveryTick } from '../../src/notifications/service.js';
import { emailProvider } from '../../src/reports/email.js';
import type { TestApp } from '../support.js';
import { type MailSink, reportsApp, startSmtp } from './helpers.js';

let t: TestApp | undefined;
let smtp: MailSink | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
  await smtp?.close();
  smtp = undefined;
});

const NOW = Date.parse('2026-11-24T07:00:30Z');

describe('report runs queued by an older version', () => {
  it('are mailed through the outbox once: a pending run without a delivery gets one, other runs are left', async () => {
    smtp = await startSmtp();
    t = reportsApp(smtp.port);
    const store = t.deps.store;
    // Runs written as a version that mailed outside the outbox left them: pending, no delivery row.
    const run = (slot: string) =>
      store.tx((tx) =>
        tx.reportRuns.insert({
          schedule: 'daily',
          slot: Date.parse(slot),
          periodFrom: Date.parse(slot) - 86_400_000,
          periodTo: Date.parse(slot),
          createdAt: NOW - 60_000,
          subject: `[driftwatch] daily report ${slot}`,
          html: '<p>report</p>',
          text: 'report',
          images: '[]',
        }),
      );
    const orphan = await run('2026-11-23T07:00:00Z');
    const queued = await run('2026-11-24T07:00:00Z');
    const skipped = await run('2026-11-22T07:00:00Z');
    if (!orphan || !queued || !skipped) throw new Error('report runs not inserted');
    // One run already has its delivery (mailed through the outbox); one was settled before the upgrade.
    await store.tx(async (tx) => {
      await tx.deliveries.insert({
        channel: 'email',
        event: 'report.daily',
        payload: JSON.stringify({ report_run: queued.id }),
        now: NOW,
        reportRunId: queued.id,
      });
      await tx.reportRuns.markSkipped(skipped.id, 'no traffic', NOW);
    });
    const deliveries = async () => store.read((tx) => tx.deliveries.list({ limit: 10 }));
    expect(await deliveries()).toHaveLength(1);

    const email = emailProvider(t.deps);
    const first = await runDeliveryTick(t.deps, NOW, { email });
    expect(first.sent).toBe(2);
    expect(smtp.mails.map((m) => m.subject).sort()).toEqual([
      '[driftwatch] daily report 2026-11-23T07:00:00Z',
      '[driftwatch] daily report 2026-11-24T07:00:00Z',
    ]);
    const rows = await deliveries();
    expect(rows.map((d) => [d.channel, d.event, d.reportRunId, d.status])).toEqual([
      ['email', 'report.daily', orphan.id, 'delivered'],
      ['email', 'report.daily', queued.id, 'delivered'],
    ]);
    // Later ticks (and a second adoption) neither queue nor send anything again.
    expect(await store.tx((tx) => tx.deliveries.adoptReportRuns('email', NOW))).toBe(0);
    expect((await runDeliveryTick(t.deps, NOW + 60_000, { email })).sent).toBe(0);
    expect(smtp.mails).toHaveLength(2);
    const runs = await store.read((tx) => tx.reportRuns.list({ limit: 10 }));
    expect(runs.map((r) => [r.id, r.status])).toEqual([
      [queued.id, 'sent'],
      [orphan.id, 'sent'],
      [skipped.id, 'skipped'],
    ]);
  });
});
