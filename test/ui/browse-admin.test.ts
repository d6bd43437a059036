import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { registerVersion } from '../../src/serving/versions.js';
import { REPO_ROOT } from '../server/process.js';
import { makeTestApp, type TestApp } from '../support.js';
import { AUTH_CONFIG, FIXED_NOW_PLUS, hour, type MApp, setupM, TOKENS } from './browse-fixtures.js';
import { browser, textOf } from './browser-helper.js';

// The pages that change things: versions (activate, roll back, shadow) and baselines for admins only,
// each confirmed after its effect is stated; retrain requests moved along by reviewers. Checked in the store.

const MODELS = join(REPO_ROOT, 'models', 'weather');
/** Registers the bundled weather model's version through the serving service (as POST …/versions does). */
const register = (t: TestApp, v: string) =>
  registerVersion(t.deps, {
    model: 'weather',
    manifest: JSON.parse(readFileSync(join(MODELS, v, 'manifest.json'), 'utf8')) as unknown,
    onnx: readFileSync(join(MODELS, v, 'model.onnx')),
    baselineCsv: readFileSync(join(MODELS, v, 'baseline.csv')),
    actor: 'root',
  });

let t: TestApp | undefined;
let m: MApp | undefined;
afterEach(async () => {
  await t?.close();
  await m?.t.close();
  t = undefined;
  m = undefined;
});

async function servedWeather() {
  t = makeTestApp(AUTH_CONFIG);
  for (const v of ['1', '2']) await register(t, v);
  const state = async () =>
    Object.fromEntries(
      (await (t as TestApp).store.read((tx) => tx.serving.list('weather'))).map((v) => [v.version, v.state]),
    );
  expect(await state()).toEqual({ '1': 'active', '2': 'registered' });
  return { t, state };
}

describe('versions page', () => {
  it('shows a reviewer the versions without admin buttons, and refuses their form posts', async () => {
    const { t, state } = await servedWeather();
    const b = browser(t.app);
    await b.signIn(TOKENS.reviewer);
    const html = await b.html('/ui/models/weather/versions');
    expect(html).toContain('data-version="2"');
    expect(html).not.toContain('/activate"');
    expect(html).not.toContain('/rollback"');
    expect(textOf(html)).toContain('needs the admin role');
    const res = await b.submit('/ui/models/weather/versions/2/activate', { confirm: 'yes' });
    expect(res.status).toBe(403);
    expect(textOf(await res.text())).toContain('You are signed in as ana with the reviewer role');
    expect((await b.submit('/ui/models/weather/rollback', { confirm: 'yes' })).status).toBe(403);
    expect(
      (await b.submit('/ui/models/weather/versions/2/shadow', { confirm: 'yes', enabled: 'true' })).status,
    ).toBe(403);
    expect(await state()).toEqual({ '1': 'active', '2': 'registered' });
  });

  it('lets an admin activate a version after stating the effect, then roll back', async () => {
    const { t, state } = await servedWeather();
    const b = browser(t.app);
    await b.signIn(TOKENS.admin);
    const list = await b.html('/ui/models/weather/versions');
    expect(list).toContain('action="/ui/models/weather/versions/2/activate"');
    // first step: what it will do, nothing done yet
    const ask = await b.submit('/ui/models/weather/versions/2/activate', {});
    expect(ask.status).toBe(200);
    const askText = textOf(await ask.text());
    expect(askText).toContain(
      'make version 2 (registered) the one that answers predict requests for weather, instead of 1',
    );
    expect(await state()).toEqual({ '1': 'active', '2': 'registered' });
    // second step: confirmed
    const done = await b.submit('/ui/models/weather/versions/2/activate', { confirm: 'yes' });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/ui/models/weather/versions?done=activated&what=2');
    expect(await state()).toEqual({ '1': 'registered', '2': 'active' });
    expect(textOf(await b.html(done.headers.get('location') as string))).toContain(
      'Version 2 is now the active version.',
    );
    const events = await t.store.read((tx) => tx.serving.events('weather', 1));
    expect(events[0]).toMatchObject({ action: 'activate', actor: 'root', fromVersion: '1', toVersion: '2' });

    const rollback = await b.submit('/ui/models/weather/rollback', {});
    expect(textOf(await rollback.text())).toContain('activate version 1, the one active before 2');
    const rolled = await b.submit('/ui/models/weather/rollback', { confirm: 'yes', expect: '1' });
    expect(rolled.status).toBe(303);
    expect(await state()).toEqual({ '1': 'active', '2': 'registered' });
  });

  it('runs a version in shadow, promotes it, and shows a refusal as a notice on the page', async () => {
    const { t, state } = await servedWeather();
    const b = browser(t.app);
    await b.signIn(TOKENS.admin);
    const ask = await b.submit('/ui/models/weather/versions/2/shadow', { enabled: 'true' });
    expect(textOf(await ask.text())).toContain('score every predict request of weather with 2 too');
    expect(
      (await b.submit('/ui/models/weather/versions/2/shadow', { enabled: 'true', confirm: 'yes' })).status,
    ).toBe(303);
    expect(await state()).toEqual({ '1': 'active', '2': 'shadow' });
    const list = await b.html('/ui/models/weather/versions');
    expect(list).toContain('Promote…');
    // the active version cannot shadow itself: the API's 409, explained on the versions page
    const refused = await b.submit('/ui/models/weather/versions/1/shadow', {
      enabled: 'true',
      confirm: 'yes',
    });
    expect(refused.status).toBe(409);
    const text = textOf(await refused.text());
    expect(text).toContain('That cannot be done now.');
    expect(text).toContain('version 1 is the active one; it cannot shadow itself');
    expect(text).toContain('Versions of weather');
    // promote the shadow
    const promote = await b.submit('/ui/models/weather/versions/2/activate', {});
    expect(textOf(await promote.text())).toContain('end its shadow run (it is promoted)');
    expect((await b.submit('/ui/models/weather/versions/2/activate', { confirm: 'yes' })).status).toBe(303);
    expect(await state()).toEqual({ '1': 'registered', '2': 'active' });
    // the model page lists the history with both activations
    const model = await b.html('/ui/models/weather');
    expect(model).toContain('Version history');
  });

  it('refuses a rollback whose target changed since it was confirmed', async () => {
    const { t, state } = await servedWeather();
    const b = browser(t.app);
    await b.signIn(TOKENS.admin);
    // the page offered no rollback (1 is the first version); a stale form naming 2 changes nothing
    const res = await b.submit('/ui/models/weather/rollback', { confirm: 'yes', expect: '2' });
    expect(res.status).toBe(409);
    expect(textOf(await res.text())).toContain('model weather has no previous version to roll back to');
    expect(await state()).toEqual({ '1': 'active', '2': 'registered' });
  });
});

describe('baselines page', () => {
  it('activates a baseline for an admin after stating the effect; a reviewer cannot', async () => {
    m = await setupM({}, true);
    const second = await m.admin.baseline(
      'm',
      JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ x: i % 100, color: 'red' }))),
      'application/json',
      { activate: 'false' },
    );
    const active = async () =>
      (await (m as MApp).t.store.read((tx) => tx.baselines.list('m')))
        .filter((x) => x.active)
        .map((x) => x.id);
    expect(await active()).toEqual([m.baselineId]);

    const reviewer = browser(m.t.app);
    await reviewer.signIn(TOKENS.reviewer);
    const seen = await reviewer.html('/ui/models/m/baselines');
    expect(seen).toContain(`data-baseline="${second.id}"`);
    expect(seen).not.toContain('/activate"');
    const refused = await reviewer.submit(`/ui/models/m/baselines/${second.id}/activate`, { confirm: 'yes' });
    expect(refused.status).toBe(403);
    expect(await active()).toEqual([m.baselineId]);

    const admin = browser(m.t.app);
    await admin.signIn(TOKENS.admin);
    const ask = await admin.submit(`/ui/models/m/baselines/${second.id}/activate`, {});
    const askText = textOf(await ask.text());
    expect(askText).toContain(
      `make baseline #${second.id} the reference of records without a version of their own, replacing #${m.baselineId}`,
    );
    expect(askText).toContain('rebuild the aggregates');
    expect(await active()).toEqual([m.baselineId]);
    const done = await admin.submit(`/ui/models/m/baselines/${second.id}/activate`, { confirm: 'yes' });
    expect(done.status).toBe(303);
    expect(await active()).toEqual([second.id]);
    expect(textOf(await admin.html(done.headers.get('location') as string))).toContain(
      `Baseline #${second.id} is now active.`,
    );
  });

  it('refuses a form post without the CSRF token', async () => {
    m = await setupM({}, true);
    const admin = browser(m.t.app);
    await admin.signIn(TOKENS.admin);
    const res = await admin.post(`/ui/models/m/baselines/${m.baselineId}/activate`, { confirm: 'yes' });
    expect(res.status).toBe(403);
    expect(textOf(await res.text())).toContain('no valid CSRF token');
  });
});

describe('retrain requests page', () => {
  async function withRequest() {
    m = await setupM({}, true);
    await m.window('a', hour(8), 0.6, FIXED_NOW_PLUS(1));
    await m.tick(FIXED_NOW_PLUS(10));
    const [alert] = await m.admin.alerts();
    expect(alert).toBeDefined();
    const created = await m.reviewer.post<{ id: number; version: number }>('/v1/retrain-requests', {
      model: 'm',
      alert_ids: [alert?.id],
      reason: 'x shifted upwards',
    });
    expect(created.status).toBe(201);
    const b = browser(m.t.app);
    await b.signIn(TOKENS.reviewer);
    return { b, id: created.body.id, alertId: alert?.id as number };
  }

  it('lists requests with their alerts and filters by status', async () => {
    const { b, id, alertId } = await withRequest();
    const html = await b.html('/ui/retrain');
    const row = /<tr data-retrain="\d+"[^>]*>([\s\S]*?)<\/tr>/.exec(html)?.[1] ?? '';
    expect(row).toContain(`href="/ui/alerts/${alertId}"`);
    expect(textOf(row)).toContain('requested');
    expect(textOf(row)).toContain('x shifted upwards');
    expect(html).toContain(`<label for="s-${id}">New status</label>`);
    expect(await b.html('/ui/retrain?status=done')).toContain('No retrain request matches these filters');
  });

  it('lets a reviewer move a request along, and explains a refusal', async () => {
    const { b, id } = await withRequest();
    const moved = await b.submit(
      `/ui/retrain/${id}/status`,
      { status: 'accepted', version: '1', note: 'on it' },
      '/ui/retrain',
    );
    expect(moved.status).toBe(303);
    const after = await b.html(moved.headers.get('location') as string);
    expect(textOf(after)).toContain(`Retrain request #${id} is now accepted.`);
    const stored = await (m as MApp).t.store.read((tx) => tx.alerts.getRetrain(id));
    expect(stored?.status).toBe('accepted');
    // the same form again: its version is stale
    const stale = await b.submit(
      `/ui/retrain/${id}/status`,
      { status: 'in_progress', version: '1' },
      '/ui/retrain',
    );
    expect(stale.status).toBe(409);
    expect(textOf(await stale.text())).toContain(`Someone else changed retrain request #${id}`);
    // done needs a produced version
    await b.submit(`/ui/retrain/${id}/status`, { status: 'in_progress', version: '2' }, '/ui/retrain');
    const noVersion = await b.submit(
      `/ui/retrain/${id}/status`,
      { status: 'done', version: '3' },
      '/ui/retrain',
    );
    expect(noVersion.status).toBe(400);
    expect(textOf(await noVersion.text())).toContain('produced_version is required when a retrain is done');
    const done = await b.submit(
      `/ui/retrain/${id}/status`,
      { status: 'done', version: '3', produced_version: 'v7' },
      '/ui/retrain',
    );
    expect(done.status).toBe(303);
    expect((await (m as MApp).t.store.read((tx) => tx.alerts.getRetrain(id)))?.producedVersion).toBe('v7');
  });
});
