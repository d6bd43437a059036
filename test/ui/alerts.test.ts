import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_CONFIG, hour, type MApp, MIN, setupM, TOKENS } from '../alerts/helpers.js';
import { FIXED_NOW } from '../support.js';
import { browser, type FakeBrowser } from './browser-helper.js';

// The review queue and alert pages through app.request: what they show and what their forms do, checked
// against the API's view of the same alert.

let m: MApp | undefined;
afterEach(async () => {
  await m?.t.close();
  m = undefined;
});

/** Model m with a critical drift alert on x (hour 8) and a warning one on x's neighbour window. */
async function withAlerts(): Promise<{ m: MApp; b: FakeBrowser; id: number }> {
  m = await setupM({}, true);
  await m.window('a', hour(8), 0.6, FIXED_NOW + MIN);
  await m.tick(FIXED_NOW + 2 * MIN);
  const alert = await m.reviewer.alertOf('x');
  const b = browser(m.t.app);
  const res = await b.signIn(TOKENS.reviewer);
  expect(res.status).toBe(303);
  return { m, b, id: alert.id };
}

const text = async (res: Response) => {
  const html = await res.text();
  return { html, plain: html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ') };
};

describe('alert queue', () => {
  it('lists alerts with counts, filters, and links to each alert', async () => {
    const { b, id } = await withAlerts();
    const res = await b.request('/ui/alerts');
    expect(res.status).toBe(200);
    const { html, plain } = await text(res);
    expect(html).toContain(`href="/ui/alerts/${id}"`);
    expect(plain).toMatch(/critical, awaiting decision 1/);
    expect(plain).toContain('feature drift · x');
    // Labelled filters.
    for (const f of ['f-status', 'f-severity', 'f-model', 'f-kind', 'f-assignee']) {
      expect(html).toContain(`<label for="${f}">`);
    }
    const none = await text(await b.request('/ui/alerts?severity=warning'));
    expect(none.plain).toContain('No alerts match.');
    const byModel = await text(await b.request('/ui/alerts?model=nope'));
    expect(byModel.html).not.toContain(`href="/ui/alerts/${id}"`);
  });

  it('orders critical before warning, then the longest waiting first', async () => {
    m = await setupM({}, true);
    // One warning alert from the data, then a newer critical one next to it.
    await m.window('a', hour(6), 0.2, FIXED_NOW + MIN);
    await m.tick(FIXED_NOW + 2 * MIN);
    const rows = await m.t.sql<{ id: number; severity: string }>(
      'SELECT id, severity FROM alerts ORDER BY id',
    );
    expect(rows.map((r) => r.severity)).toEqual(['warning']);
    await m.t.exec(
      `INSERT INTO alerts (model, model_version, feature, kind, severity, status, version, evidence_count, first_seen, last_seen, latest, peak, created_at, updated_at)
       SELECT model, model_version, 'color', kind, 'critical', 'open', 1, 0, first_seen + 3600000, last_seen, latest, peak, created_at, updated_at FROM alerts WHERE id = ?`,
      [rows[0]?.id],
    );
    const b = browser(m.t.app);
    await b.signIn(TOKENS.reviewer);
    const { html } = await text(await b.request('/ui/alerts'));
    const order = [...html.matchAll(/href="\/ui\/alerts\/(\d+)" data-open/g)].map((x) => Number(x[1]));
    const critical = await m.t.sql<{ id: number }>("SELECT id FROM alerts WHERE severity = 'critical'");
    expect(order[0]).toBe(critical[0]?.id);
  });
});

describe('alert detail', () => {
  it('says why the alert fired, with thresholds and their source, charts and evidence', async () => {
    const { m, b, id } = await withAlerts();
    const api = await m.reviewer.alert(id);
    const { html, plain } = await text(await b.request(`/ui/alerts/${id}`));
    expect(plain).toContain('Why it fired');
    const psi = (api.latest as { psi: number }).psi;
    expect(plain).toContain(`PSI ${psi.toFixed(3)}`);
    expect(plain).toMatch(/drift at ≥ 0\.100/);
    expect(plain).toContain('the model’s defaults');
    expect(plain).toMatch(/significant below α = 0\.05/);
    // The histogram of the latest window and the evidence table.
    expect(html).toContain('id="chart-histogram"');
    expect(html).toMatch(/<svg[^>]*role="img"/);
    expect(plain).toContain('Evidence windows');
    // One evaluated window: no trend line yet. A second one (quiet) adds the PSI trend around the alert.
    expect(html).not.toContain('id="chart-trend"');
    await m.window('b', hour(9), 0, FIXED_NOW + 3 * MIN);
    await m.tick(FIXED_NOW + 4 * MIN);
    const again = await text(await b.request(`/ui/alerts/${id}`));
    expect(again.html).toContain('id="chart-trend"');
    expect(again.plain).toContain('PSI of x in every evaluated bucket window');
    // The audit trail starts with the opening, by driftwatch itself.
    expect(plain).toMatch(/Audit trail .*opened/);
  });

  it('assigns, acknowledges and comments through forms, each in the audit trail', async () => {
    const { m, b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    const assigned = await b.submitForm(page, `${page}/assign`, { assignee: '', assign_me: 'yes' });
    expect(assigned.status).toBe(303);
    expect(assigned.headers.get('location')).toBe(`${page}?done=assigned`);
    expect((await m.reviewer.alert(id)).assignee).toBe('ana');
    expect((await b.submitForm(page, `${page}/ack`)).status).toBe(303);
    expect((await m.reviewer.alert(id)).status).toBe('acknowledged');
    expect(
      (await b.submitForm(page, `${page}/comment`, { text: 'looking at the upstream job' })).status,
    ).toBe(303);
    const detail = await m.reviewer.alert(id);
    expect(detail.events.map((e) => [e.action, e.actor])).toEqual(
      expect.arrayContaining([
        ['assigned', 'ana'],
        ['acknowledged', 'ana'],
        ['comment', 'ana'],
      ]),
    );
    const { plain } = await text(await b.request(page));
    expect(plain).toContain('looking at the upstream job');
  });

  it('states a decision’s effect before recording it, then records it on confirm', async () => {
    const { m, b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    const preview = await b.submitForm(page, `${page}/decide`, {
      decision: 'accept_shift',
      note: 'new sensor',
    });
    expect(preview.status).toBe(200);
    const { html, plain } = await text(preview);
    expect(plain).toMatch(/Builds a new baseline for m \(unversioned\) from the 200 records of/);
    expect(plain).toContain(`in place of baseline ${m.baselineId}`);
    // Nothing happened yet.
    expect((await m.reviewer.alert(id)).status).toBe('open');
    expect(html).toContain('name="confirm" value="yes"');
    const confirm = await b.submitForm(`${page}`, `${page}/decide`, {
      decision: 'retrain',
      note: 'needs retraining',
      confirm: 'yes',
    });
    expect(confirm.status).toBe(303);
    const after = await m.reviewer.alert(id);
    expect(after.status).toBe('decided');
    expect(after.decision).toBe('retrain');
    expect(after.retrain_requests).toHaveLength(1);
    expect(after.retrain_requests[0]?.requested_by).toBe('ana');
  });

  it('explains a stale form (409) on the alert page and keeps what was typed', async () => {
    const { m, b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    const html = await (await b.request(page)).text();
    const version = /name="version" value="(\d+)"/.exec(html)?.[1] as string;
    // Someone else acknowledges through the API meanwhile.
    expect((await m.admin.act(id, 'ack', {}, Number(version))).status).toBe(200);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] as string;
    const res = await b.post(`${page}/decide`, {
      _csrf: csrf,
      version,
      decision: 'retrain',
      note: 'my careful reasoning',
      confirm: 'yes',
    });
    expect(res.status).toBe(409);
    const { plain, html: again } = await text(res);
    expect(plain).toContain('Someone else changed this alert while you had it open.');
    expect(again).toContain('my careful reasoning');
    expect((await m.reviewer.alert(id)).status).toBe('acknowledged');
    // The page's forms carry the new version, so sending again works.
    expect(again).toMatch(new RegExp(`name="version" value="${Number(version) + 1}"`));
  });

  it('waits for decisions by default: a decided alert leaves the default queue but stays under "not closed"', async () => {
    const { m, b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    // An open, still-firing alert cannot be closed yet: no close form, a hint instead.
    const before = await text(await b.request(page));
    expect(before.html).not.toContain(`action="${page}/close"`);
    expect(before.plain).toContain('Closing comes after a decision');
    const decided = await b.submitForm(page, `${page}/decide`, {
      decision: 'retrain',
      note: 'retrain it',
      confirm: 'yes',
    });
    expect(decided.status).toBe(303);
    expect((await m.reviewer.alert(id)).status).toBe('decided');
    expect((await text(await b.request('/ui/alerts'))).html).not.toContain(`href="${page}" data-open`);
    expect((await text(await b.request('/ui/alerts?status=active'))).html).toContain(
      `href="${page}" data-open`,
    );
    // Now it can be closed.
    expect((await text(await b.request(page))).html).toContain(`action="${page}/close"`);
  });

  it('goes back from a confirmation to the form with the decision and note as typed', async () => {
    const { b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    const confirm = await text(
      await b.submitForm(page, `${page}/decide`, { decision: 'false_positive', note: 'sensor recalibrated' }),
    );
    const back = /href="([^"]+)"[^>]*>\s*Back to the form/.exec(confirm.html)?.[1]?.replaceAll('&amp;', '&');
    expect(back).toBeDefined();
    const form = await text(await b.request(back as string));
    expect(form.html).toMatch(/id="decision-false_positive" value="false_positive" checked/);
    expect(form.html).toContain('sensor recalibrated</textarea>');
  });

  it('keeps the API’s length limits on what is typed into a form', async () => {
    const { m, b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    const long = await b.submitForm(page, `${page}/comment`, { text: 'x'.repeat(10_001) });
    expect(long.status).toBe(400);
    expect((await text(long)).plain).toContain('text: at most 10000 characters');
    const name = await b.submitForm(page, `${page}/assign`, { assignee: 'n'.repeat(101) });
    expect(name.status).toBe(400);
    const after = await m.reviewer.alert(id);
    expect(after.assignee).toBeNull();
    expect(after.events.some((e) => e.action === 'comment')).toBe(false);
  });

  it('refuses a decision without a note, naming what is missing', async () => {
    const { b, id } = await withAlerts();
    const page = `/ui/alerts/${id}`;
    const res = await b.submitForm(page, `${page}/decide`, { decision: 'retrain', note: '' });
    expect(res.status).toBe(400);
    expect((await text(res)).plain).toContain('a note is required');
  });

  it('sends a browser opening a notification link to sign in, then to the alert', async () => {
    const { m, id } = await withAlerts();
    const fresh = browser(m.t.app);
    const first = await fresh.request(`/ui/alerts/${id}`);
    expect(first.headers.get('location')).toBe(`/ui/login?next=%2Fui%2Falerts%2F${id}`);
    const csrf = await fresh.csrfFrom(first.headers.get('location') as string);
    const signed = await fresh.post('/ui/login', {
      _csrf: csrf,
      token: AUTH_CONFIG.auth.tokens[1]?.token as string,
      next: `/ui/alerts/${id}`,
    });
    expect(signed.headers.get('location')).toBe(`/ui/alerts/${id}`);
    expect((await fresh.request(`/ui/alerts/${id}`)).status).toBe(200);
  });
});
