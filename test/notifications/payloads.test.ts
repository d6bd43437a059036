import { afterEach, describe, expect, it } from 'vitest';
import { resendFiring } from '../../src/alerts/raise.js';
import type { AlertView } from '../../src/alerts/types.js';
import type { ChannelConfig, ConfigInput } from '../../src/config.js';
import type { AlertmanagerAlert, SlackPayload } from '../../src/notifications/payloads.js';
import { runDeliveryTick } from '../../src/notifications/service.js';
import { hour, MIN, setupM } from '../alerts/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import {
  alertEvent,
  alertView,
  deliveryRows,
  enqueue,
  insertAlertRow,
  type Receiver,
  retrainView,
  startReceiver,
  T0,
} from './helpers.js';

let t: TestApp | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  t?.close();
  t = undefined;
  await receiver?.close();
  receiver = undefined;
});

function app(
  channels: ChannelConfig[],
  notifications: NonNullable<ConfigInput['notifications']> = {},
): TestApp {
  t = makeTestApp({ notifications: { channels, ...notifications } });
  t.setNow(T0);
  return t;
}

async function payloads<T>(a: TestApp, channel: string): Promise<T[]> {
  return (await deliveryRows(a)).filter((r) => r.channel === channel).map((r) => JSON.parse(r.payload) as T);
}

describe('Slack payload', () => {
  it('is plain incoming-webhook JSON: a one-line text and blocks with the alert fields and a link', async () => {
    receiver = await startReceiver();
    const a = app([{ name: 'chat', type: 'slack', url: `${receiver.url}/services/T0/B0/x` }], {
      externalUrl: 'https://driftwatch.example.com/',
    });
    await enqueue(a.deps, alertEvent('alert.opened'));
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 1, failed: 0, retried: 0 });

    const req = receiver.received[0];
    expect(req?.path).toBe('/services/T0/B0/x');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-driftwatch-event']).toBeUndefined();
    const body = JSON.parse(req?.body ?? '') as SlackPayload;
    const link = 'https://driftwatch.example.com/ui/alerts/7';
    expect(body.text).toBe(`Feature drift on iris v2 · petal_length (critical) opened, PSI 0.312 ${link}`);
    expect(body.text).not.toContain('\n');
    expect(body.blocks).toHaveLength(2);
    const [section, context] = body.blocks;
    expect(section).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: `*<${link}|Feature drift on iris v2 · petal_length (critical) opened, PSI 0.312>*`,
      },
      fields: [
        { type: 'mrkdwn', text: '*Model*\niris' },
        { type: 'mrkdwn', text: '*Version*\nv2' },
        { type: 'mrkdwn', text: '*Feature*\npetal_length' },
        { type: 'mrkdwn', text: '*Severity*\ncritical' },
        { type: 'mrkdwn', text: '*Status*\nopen' },
        { type: 'mrkdwn', text: '*PSI*\n0.312' },
        { type: 'mrkdwn', text: '*p-value*\n0.001' },
      ],
    });
    expect(context?.type).toBe('context');
    expect(JSON.stringify(context)).toContain(`<${link}|Open in driftwatch>`);
  });

  it('escapes mrkdwn control characters and describes retrain requests', async () => {
    const a = app([{ name: 'chat', type: 'slack', url: 'http://127.0.0.1:9/x' }]);
    await enqueue(a.deps, alertEvent('alert.opened', alertView({ feature: 'a<b>&c', latest: {} })));
    await enqueue(a.deps, {
      type: 'retrain.requested',
      at: T0,
      actor: 'ana',
      retrainRequest: retrainView(),
    });
    const [alertMsg, retrainMsg] = await payloads<SlackPayload>(a, 'chat');
    expect(JSON.stringify(alertMsg?.blocks)).toContain('a&lt;b&gt;&amp;c');
    expect(JSON.stringify(alertMsg?.blocks)).toContain('*PSI*\\nn/a');
    expect(retrainMsg?.text).toBe(
      'Retrain request #3 requested by ana for iris v2: requested http://127.0.0.1:8080/v1/retrain-requests/3',
    );
    expect(JSON.stringify(retrainMsg?.blocks)).toContain('*Alerts*\\n#7, #8');
  });
});

describe('Alertmanager payload', () => {
  it('posts an array of alerts to /api/v2/alerts with the labels, annotations and startsAt', async () => {
    receiver = await startReceiver();
    const a = app([{ name: 'am', type: 'alertmanager', url: `${receiver.url}/` }], {
      externalUrl: 'https://driftwatch.example.com',
    });
    expect(await enqueue(a.deps, alertEvent('alert.opened'))).toBe(1);
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 1, failed: 0, retried: 0 });

    const req = receiver.received[0];
    expect(req?.path).toBe('/api/v2/alerts');
    expect(req?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(req?.body ?? '') as AlertmanagerAlert[];
    const link = 'https://driftwatch.example.com/ui/alerts/7';
    expect(body).toEqual([
      {
        // The version is an annotation: as new versions attach evidence the label set (identity) stays.
        labels: {
          alertname: 'DriftDetected',
          model: 'iris',
          feature: 'petal_length',
          kind: 'drift',
          severity: 'critical',
        },
        annotations: {
          summary: 'Feature drift on iris v2 · petal_length (critical)',
          description: expect.any(String),
          link,
          model_version: 'v2',
        },
        startsAt: alertView().first_seen,
        generatorURL: link,
      },
    ]);
    expect(body[0]?.annotations.description).toContain('PSI 0.312 (peak 0.410)');
    expect(body[0]).not.toHaveProperty('endsAt');
  });

  it('sets endsAt on close, keeps the label set, and skips retrain and rollback events', async () => {
    const a = app([{ name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9' }]);
    const closedAt = new Date(T0 + 60_000).toISOString();
    await enqueue(a.deps, alertEvent('alert.opened'));
    await enqueue(a.deps, alertEvent('alert.escalated', alertView({ severity: 'critical' })));
    await enqueue(a.deps, alertEvent('alert.closed', alertView({ status: 'closed', closed_at: closedAt })));
    expect(
      await enqueue(a.deps, {
        type: 'retrain.requested',
        at: T0,
        actor: 'ana',
        retrainRequest: retrainView(),
      }),
    ).toBe(0);
    expect(
      await enqueue(a.deps, {
        type: 'rollback.requested',
        at: T0,
        actor: 'ana',
        note: 'v1',
        alert: alertView(),
      }),
    ).toBe(0);

    const [opened, escalated, closed] = await payloads<AlertmanagerAlert[]>(a, 'am');
    expect(await payloads(a, 'am')).toHaveLength(3);
    expect(opened?.[0]?.endsAt).toBeUndefined();
    // Severity is part of the identity: escalation resolves the warning alert and fires the critical one.
    expect(escalated).toHaveLength(2);
    expect(escalated?.[0]?.labels.severity).toBe('warning');
    expect(escalated?.[0]?.endsAt).toBe(new Date(T0).toISOString());
    expect(escalated?.[1]?.labels.severity).toBe('critical');
    expect(escalated?.[1]?.endsAt).toBeUndefined();
    expect(closed?.[0]?.endsAt).toBe(closedAt);
    expect(closed?.[0]?.startsAt).toBe(alertView().first_seen);
    expect(closed?.[0]?.labels).toEqual(opened?.[0]?.labels);
    expect(closed?.[0]?.generatorURL).toBe('http://127.0.0.1:8080/v1/alerts/7');
  });

  it('keeps the model version out of the labels, unversioned or not', async () => {
    const a = app([{ name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9' }]);
    await enqueue(a.deps, alertEvent('alert.opened', alertView({ model_version: null })));
    const [[alert] = []] = await payloads<AlertmanagerAlert[]>(a, 'am');
    expect(alert?.labels).not.toHaveProperty('model_version');
    expect(alert?.annotations.model_version).toBe('');
    expect(alert?.annotations.summary).toBe('Feature drift on iris · petal_length (critical)');
  });
});

describe('Alertmanager resend tick', () => {
  it('re-sends every unclosed alert in one delivery per Alertmanager channel', async () => {
    receiver = await startReceiver({ failFirst: 1 });
    const a = app([
      { name: 'am', type: 'alertmanager', url: receiver.url },
      { name: 'am-closed-only', type: 'alertmanager', url: receiver.url, events: ['alert.closed'] },
      { name: 'hooks', type: 'webhook', url: receiver.url },
    ]);
    const open = await insertAlertRow(a, { feature: 'petal_length', severity: 'critical' });
    const acked = await insertAlertRow(a, { feature: 'sepal_width', status: 'acknowledged', version: '' });
    await insertAlertRow(a, { feature: 'petal_width', status: 'closed', closedAt: T0 - 1000 });
    const snoozed = await insertAlertRow(a, { feature: 'sepal_length', status: 'snoozed' });

    expect(await resendFiring(a.deps, T0)).toBe(1);
    const rows = await deliveryRows(a);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      channel: 'am',
      event: 'alert.resend',
      status: 'pending',
      next_attempt_at: T0,
    });
    const [sent] = await payloads<AlertmanagerAlert[]>(a, 'am');
    expect(sent?.map((x) => x.labels.feature)).toEqual(['petal_length', 'sepal_width', 'sepal_length']);
    expect(sent?.map((x) => x.generatorURL)).toEqual(
      [open, acked, snoozed].map((id) => `http://127.0.0.1:8080/v1/alerts/${id}`),
    );
    expect(sent?.[0]).toEqual({
      labels: {
        alertname: 'DriftDetected',
        model: 'iris',
        feature: 'petal_length',
        kind: 'drift',
        severity: 'critical',
      },
      annotations: {
        summary: 'Feature drift on iris v2 · petal_length (critical)',
        description: expect.any(String),
        link: sent?.[0]?.generatorURL,
        model_version: 'v2',
      },
      startsAt: new Date(T0 - 7_200_000).toISOString(),
      generatorURL: sent?.[0]?.generatorURL,
    });
    expect(sent?.[1]?.labels).not.toHaveProperty('model_version');
    expect(sent?.some((x) => 'endsAt' in x)).toBe(false);

    // The receiver is down: the next resend refreshes the pending keep-alive instead of queuing another.
    expect(await runDeliveryTick(a.deps, T0)).toEqual({ sent: 0, failed: 0, retried: 1 });
    await a.exec(`UPDATE alerts SET status = 'closed', closed_at = ? WHERE id = ?`, [T0, snoozed]);
    expect(await resendFiring(a.deps, T0 + 1_000)).toBe(1);
    expect(await deliveryRows(a)).toHaveLength(1);
    expect((await payloads<AlertmanagerAlert[]>(a, 'am'))[0]?.map((x) => x.labels.feature)).toEqual([
      'petal_length',
      'sepal_width',
    ]);

    expect(await runDeliveryTick(a.deps, T0 + 5_000)).toEqual({ sent: 1, failed: 0, retried: 0 });
    expect(receiver.received.at(-1)?.path).toBe('/api/v2/alerts');
    expect((JSON.parse(receiver.received.at(-1)?.body ?? '') as unknown[]).length).toBe(2);

    // Delivered, so the next resend is a new row.
    expect(await resendFiring(a.deps, T0 + 300_000)).toBe(1);
    expect((await deliveryRows(a)).map((r) => r.status)).toEqual(['delivered', 'pending']);
  });

  it('queues nothing when no alert is open, and drops a stale pending keep-alive', async () => {
    const a = app([{ name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9' }]);
    expect(await resendFiring(a.deps, T0)).toBe(0);
    const id = await insertAlertRow(a, { feature: 'petal_length' });
    expect(await resendFiring(a.deps, T0)).toBe(1);
    await a.exec(`UPDATE alerts SET status = 'closed', closed_at = ? WHERE id = ?`, [T0, id]);
    expect(await resendFiring(a.deps, T0 + 1_000)).toBe(0);
    expect(await deliveryRows(a)).toEqual([]);
  });
});

describe('events filter', () => {
  it('sends each channel only the events it lists (exact types or prefix.*)', async () => {
    const a = app([
      { name: 'closes', type: 'webhook', url: 'http://127.0.0.1:9/a', events: ['alert.closed'] },
      { name: 'retrains', type: 'webhook', url: 'http://127.0.0.1:9/b', events: ['retrain.*'] },
      { name: 'chat', type: 'slack', url: 'http://127.0.0.1:9/c' },
      { name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9' },
    ]);
    const retrain = {
      type: 'retrain.requested',
      at: T0,
      actor: 'ana',
      retrainRequest: retrainView(),
    } as const;
    expect(await enqueue(a.deps, alertEvent('alert.opened'))).toBe(2);
    expect(await enqueue(a.deps, retrain)).toBe(2);
    expect(await enqueue(a.deps, alertEvent('alert.closed', alertView({ status: 'closed' })))).toBe(3);
    expect(await enqueue(a.deps, { type: 'rollback.requested', at: T0, actor: 'ana', note: 'to v1' })).toBe(
      1,
    );
    expect((await deliveryRows(a)).map((r) => `${r.event} → ${r.channel}`)).toEqual([
      'alert.opened → chat',
      'alert.opened → am',
      'retrain.requested → retrains',
      'retrain.requested → chat',
      'alert.closed → closes',
      'alert.closed → chat',
      'alert.closed → am',
      'rollback.requested → chat',
    ]);
  });

  it('queues nothing without channels', async () => {
    const a = app([]);
    expect(await enqueue(a.deps, alertEvent('alert.opened'))).toBe(0);
    expect(await resendFiring(a.deps, T0)).toBe(0);
  });
});

describe('webhook payload', () => {
  it('carries the retrain request, actor, note and link', async () => {
    const a = app([{ name: 'hooks', type: 'webhook', url: 'http://127.0.0.1:9/a' }], {
      externalUrl: 'https://dw.example.com',
    });
    await enqueue(a.deps, {
      type: 'retrain.updated',
      at: T0,
      actor: 'bo',
      retrainRequest: retrainView({ status: 'accepted' }),
      note: 'picked up',
    });
    expect(await payloads(a, 'hooks')).toEqual([
      {
        event: 'retrain.updated',
        at: new Date(T0).toISOString(),
        actor: 'bo',
        retrain_request: retrainView({ status: 'accepted' }),
        note: 'picked up',
        link: 'https://dw.example.com/ui/retrain-requests/3',
      },
    ]);
  });
});

describe('data-quality alerts', () => {
  // A window where a fifth of petal_length is missing: PSI barely moves, the missing rate fired.
  const dq = (latest: Record<string, unknown>, over: Partial<Parameters<typeof alertView>[0]> = {}) =>
    alertView({
      kind: 'data_quality',
      latest: {
        psi: 0.026,
        pvalue_adjusted: 0.4,
        n: 740,
        missing_rate: 0.218,
        baseline_missing_rate: 0,
        type_mismatch_rate: 0,
        unseen_rate: null,
        out_of_range_rate: 0.004,
        ...latest,
      },
      peak: { psi: 0.03 },
      ...over,
    });
  const channels: ChannelConfig[] = [
    { name: 'chat', type: 'slack', url: 'http://127.0.0.1:9/s' },
    { name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9' },
    { name: 'hooks', type: 'webhook', url: 'http://127.0.0.1:9/h' },
  ];
  async function sent(alert: AlertView, config: ConfigInput = {}) {
    t = makeTestApp({ ...config, notifications: { channels } });
    await enqueue(t.deps, alertEvent('alert.opened', alert));
    const [slack] = await payloads<SlackPayload>(t, 'chat');
    const [[am] = []] = await payloads<AlertmanagerAlert[]>(t, 'am');
    const [hook] = await payloads<{ alert: AlertView }>(t, 'hooks');
    return { slack, am, hook };
  }
  const fields = (p: SlackPayload | undefined) => {
    const section = p?.blocks[0];
    return section && 'fields' in section ? (section.fields ?? []).map((f) => f.text) : [];
  };

  it('Slack says the missing rate against the baseline, not the PSI', async () => {
    const { slack } = await sent(dq({}));
    expect(slack?.text).toBe(
      'Data quality on iris v2 · petal_length (critical) opened, missing rate 21.8% vs baseline 0.0% ' +
        'http://127.0.0.1:8080/v1/alerts/7',
    );
    expect(JSON.stringify(slack)).not.toContain('PSI');
    expect(fields(slack)).toEqual([
      '*Model*\niris',
      '*Version*\nv2',
      '*Feature*\npetal_length',
      '*Severity*\ncritical',
      '*Status*\nopen',
      '*Missing*\n21.8% (baseline 0.0%)',
      '*Wrong type*\n0.0%',
      '*Outside training range*\n0.4%',
    ]);
  });

  it('Alertmanager describes the rate that fired and the threshold', async () => {
    const { am } = await sent(dq({}));
    expect(am?.annotations.summary).toBe('Data quality on iris v2 · petal_length (critical)');
    expect(am?.annotations.description).toBe(
      `Data quality alert #7 is open: missing rate 21.8% vs baseline 0.0% (alerting at 5.0%), 3 window(s) ` +
        `since ${alertView().first_seen}, last ${alertView().last_seen}.`,
    );
    expect(am?.labels.kind).toBe('data_quality');
  });

  it('the webhook carries every rate of the window for receivers to read', async () => {
    const { hook } = await sent(dq({}));
    expect(hook?.alert.latest).toMatchObject({
      missing_rate: 0.218,
      baseline_missing_rate: 0,
      out_of_range_rate: 0.004,
    });
  });

  it('names whichever rate crossed qualityRate, the missing rate only above the baseline’s own', async () => {
    // 30 % missing where training had 28 %: not what fired; 7 % of strings where numbers were expected is.
    const mistyped = await sent(
      dq({ missing_rate: 0.3, baseline_missing_rate: 0.28, type_mismatch_rate: 0.07 }),
    );
    expect(mistyped.slack?.text).toContain('opened, type-mismatch rate 7.0% http');
    expect(mistyped.am?.annotations.description).toContain(': type-mismatch rate 7.0% (alerting at 5.0%)');

    const unseen = await sent(
      dq(
        { missing_rate: 0, unseen_rate: 0.125, type_mismatch_rate: null, out_of_range_rate: null },
        { feature: 'species' },
      ),
    );
    expect(unseen.slack?.text).toContain('species (critical) opened, unseen-category rate 12.5% http');
    expect(fields(unseen.slack)).toContain('*Unseen categories*\n12.5%');
    expect(fields(unseen.slack)).not.toContain('*Wrong type*\nn/a');

    const range = await sent(dq({ missing_rate: 0.01, out_of_range_rate: 0.061 }, { severity: 'warning' }));
    expect(range.slack?.text).toContain('(warning) opened, out-of-range rate 6.1% http');

    // Several at once: every one that fired, highest first.
    const both = await sent(dq({ type_mismatch_rate: 0.09 }));
    expect(both.slack?.text).toContain(
      'opened, missing rate 21.8% vs baseline 0.0%, type-mismatch rate 9.0% http',
    );
  });

  it("judges against the model's own qualityRate", async () => {
    const strict = await sent(dq({ missing_rate: 0.03, type_mismatch_rate: 0.02 }), {
      models: { iris: { qualityRate: 0.02 } },
    });
    expect(strict.slack?.text).toContain(
      'opened, missing rate 3.0% vs baseline 0.0%, type-mismatch rate 2.0% http',
    );
    expect(strict.am?.annotations.description).toContain('(alerting at 2.0%)');
    // Nothing at the threshold any more (it was raised after the alert): the highest rate still explains it.
    const raised = await sent(dq({ missing_rate: 0.03, type_mismatch_rate: 0.02 }), {
      models: { iris: { qualityRate: 0.5 } },
    });
    expect(raised.slack?.text).toContain('opened, missing rate 3.0% vs baseline 0.0% http');
  });

  it('drift alerts keep quoting PSI', async () => {
    const { slack, am } = await sent(alertView());
    expect(slack?.text).toContain('opened, PSI 0.312 http');
    expect(am?.annotations.description).toContain(
      'PSI 0.312 (peak 0.410), p-value 0.001, 3 drifted window(s)',
    );
  });

  it('end to end: a quarter of a feature missing is what the queued messages say', async () => {
    const m = await setupM({ notifications: { channels } });
    t = m.t;
    const records = Array.from({ length: 200 }, (_, i) => ({
      model: 'm',
      request_id: `q-${i}`,
      timestamp: hour(8) + (i % 50) * MIN,
      features: { x: (i * 7) % 200, ...(i % 4 === 0 ? {} : { color: ['red', 'green', 'blue'][i % 3] }) },
    }));
    m.t.setNow(FIXED_NOW + MIN);
    await m.admin.ingest(records);
    await m.tick(FIXED_NOW + 2 * MIN);
    const [alert] = await m.reviewer.alerts('kind=data_quality');
    expect(alert).toMatchObject({ feature: 'color', severity: 'critical' });

    const slack = (await payloads<SlackPayload>(m.t, 'chat')).filter((p) => p.text.includes('· color'));
    expect(slack.map((p) => p.text.replace(/ http\S+$/, ''))).toEqual([
      'Data quality on m · color (critical) opened, missing rate 25.0% vs baseline 0.0%',
    ]);
    const am = (await payloads<AlertmanagerAlert[]>(m.t, 'am'))
      .flat()
      .filter((a) => a.labels.feature === 'color');
    expect(am[0]?.annotations.description).toMatch(
      /^Data quality alert #\d+ is open: missing rate 25\.0% vs baseline 0\.0% \(alerting at 5\.0%\)/,
    );
  });
});
