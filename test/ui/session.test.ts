import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../support.js';
import { browser } from './browser-helper.js';

// Sign-in, sessions, CSRF and roles of the web UI, through app.request (no browser).

const ADMIN = 'admin-token-0123456789';
const REVIEWER = 'reviewer-token-0123456789';
const INGEST = 'ingest-token-0123456789';
const tokens = [
  { name: 'ada', role: 'admin' as const, token: ADMIN },
  { name: 'rita', role: 'reviewer' as const, token: REVIEWER },
  { name: 'ingester', role: 'ingest' as const, token: INGEST },
];

let t: TestApp;
afterEach(async () => {
  await t?.close();
});

describe('web UI sign-in', () => {
  it('sends a browser without a session to sign in, and back where it was going afterwards', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    const first = await b.request('/ui/alerts?severity=critical');
    expect(first.status).toBe(303);
    // HEAD too (a link checker, a preview fetcher).
    expect((await t.app.request('/ui/alerts', { method: 'HEAD' })).status).toBe(303);
    expect(first.headers.get('location')).toBe('/ui/login?next=%2Fui%2Falerts%3Fseverity%3Dcritical');
    const csrf = await b.csrfFrom('/ui/login');
    const res = await b.post('/ui/login', {
      _csrf: csrf,
      token: REVIEWER,
      next: '/ui/alerts?severity=critical',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/alerts?severity=critical');
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('dw_session='));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const overview = await b.request('/ui');
    expect(overview.status).toBe(200);
    const html = await overview.text();
    expect(html).toContain('rita · reviewer');
    // The token itself never appears in a page, and the stored session is only a hash of the cookie.
    expect(html).not.toContain(REVIEWER);
    const sessionId = b.jar.get('dw_session') as string;
    const rows = await t.sql<{ id_hash: string }>('SELECT id_hash FROM ui_sessions');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.id_hash).not.toContain(sessionId);
  });

  it('reloads a cross-site navigation once from the same site, where the Strict cookie is sent', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    await b.signIn(REVIEWER);
    // What a mail client's link looks like: no cookie (SameSite=Strict), Sec-Fetch-Site cross-site.
    const res = await t.app.request('/ui/alerts?model=m&x=%22%3E', {
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<meta http-equiv="refresh" content="0">');
    expect(html).toContain('href="/ui/alerts?model=m&amp;x=%22%3E"');
    // The reload is same-origin: with the cookie it is the page, without it the sign-in page.
    expect(
      (await b.request('/ui/alerts?model=m', { headers: { 'sec-fetch-site': 'same-origin' } })).status,
    ).toBe(200);
    const anonymous = await t.app.request('/ui/alerts', { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(anonymous.status).toBe(303);
  });

  it('refuses a wrong token, and tokens whose role cannot use the UI', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    const wrong = await b.signIn('not-a-token-at-all-xx');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain('That token is not valid.');
    const ingest = await b.signIn(INGEST);
    expect(ingest.status).toBe(401);
    expect(await ingest.text()).toContain('needs a reviewer or admin token');
    expect(b.jar.has('dw_session')).toBe(false);
  });

  it('signs out: the session row is deleted, and the old cookie no longer works', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    await b.signIn(ADMIN);
    const old = b.jar.get('dw_session') as string;
    const csrf = await b.csrfFrom('/ui');
    const out = await b.post('/ui/logout', { _csrf: csrf });
    expect(out.status).toBe(303);
    expect(await t.sql('SELECT id_hash FROM ui_sessions')).toHaveLength(0);
    const again = await t.app.request('http://localhost/ui', { headers: { cookie: `dw_session=${old}` } });
    expect(again.status).toBe(303);
  });

  it('ends a session whose token was rotated in the config', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    await b.signIn(REVIEWER);
    const cookie = `dw_session=${b.jar.get('dw_session')}`;
    const rotated = makeTestAppOnSameStore(t, {
      auth: { tokens: [{ name: 'rita', role: 'reviewer', token: 'a-brand-new-token-xyz' }] },
    });
    expect((await rotated.request('http://localhost/ui', { headers: { cookie } })).status).toBe(303);
    // With the original config the same cookie still works (nothing else changed).
    expect((await t.app.request('http://localhost/ui', { headers: { cookie } })).status).toBe(200);
  });

  it('is served by any process of a fleet: the session lives in the shared store', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    await b.signIn(REVIEWER);
    const cookie = `dw_session=${b.jar.get('dw_session')}`;
    const other = makeTestAppOnSameStore(t, { auth: { tokens } });
    const res = await other.request('http://localhost/ui', { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('rita · reviewer');
  });

  it('writes no token or session cookie to the logs', async () => {
    const lines: string[] = [];
    t = makeTestApp({ auth: { tokens } });
    const logged = createApp({
      ...t.deps,
      log: pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) }),
    });
    const b = browser(logged);
    await b.signIn(REVIEWER);
    await b.request('/ui');
    await browser(logged).signIn('a-wrong-token-typed-in-here');
    expect(lines.length).toBeGreaterThan(2);
    const all = lines.join('\n');
    expect(all).toContain('ui sign-in');
    expect(all).not.toContain(REVIEWER);
    expect(all).not.toContain('a-wrong-token-typed-in-here');
    expect(all).not.toContain(b.jar.get('dw_session') as string);
  });

  it('expires sessions after auth.sessionTtl', async () => {
    t = makeTestApp({ auth: { tokens, sessionTtl: '1h' } });
    const b = browser(t.app);
    await b.signIn(REVIEWER);
    expect((await b.request('/ui')).status).toBe(200);
    t.setNow(Date.parse('2026-11-24T13:00:01Z'));
    expect((await b.request('/ui')).status).toBe(303);
  });
});

describe('web UI forms', () => {
  it('refuses a form without the CSRF token, or with another session’s', async () => {
    t = makeTestApp({ auth: { tokens } });
    const a = browser(t.app);
    await a.signIn(ADMIN);
    const none = await a.post('/ui/logout', {});
    expect(none.status).toBe(403);
    expect(await none.text()).toContain('no valid CSRF token');
    const other = browser(t.app);
    await other.signIn(REVIEWER);
    const foreign = await other.csrfFrom('/ui');
    expect((await a.post('/ui/logout', { _csrf: foreign })).status).toBe(403);
    // Still signed in: the refused forms did nothing.
    expect((await a.request('/ui')).status).toBe(200);
  });

  it('answers a form from an ended session with "sign in again", and lets its sign-out complete', async () => {
    t = makeTestApp({ auth: { tokens, sessionTtl: '1h' } });
    const b = browser(t.app);
    await b.signIn(REVIEWER);
    const csrf = await b.csrfFrom('/ui');
    t.setNow(Date.parse('2026-11-24T13:00:01Z'));
    const res = await b.request('/ui/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', referer: 'http://localhost/ui/alerts' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/login');
    // Any other form: a 401 page that sends the reviewer to sign in and back, nothing changed.
    await b.signIn(REVIEWER);
    const csrf2 = await b.csrfFrom('/ui');
    t.setNow(Date.parse('2026-11-24T14:30:00Z'));
    const form = await b.request('/ui/alerts/1/comment', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        referer: 'http://localhost/ui/alerts/1',
      },
      body: new URLSearchParams({ _csrf: csrf2, text: 'late' }).toString(),
    });
    expect(form.status).toBe(401);
    const html = await form.text();
    expect(html).toContain('Your session has ended, so nothing was changed.');
    expect(html).toContain('href="/ui/login?next=%2Fui%2Falerts%2F1"');
    // Signing in again works with the dead cookie still in the browser.
    expect(b.jar.has('dw_session')).toBe(true);
    expect((await b.signIn(REVIEWER)).status).toBe(303);
    expect((await b.request('/ui')).status).toBe(200);
  });

  it('refuses a form whose Origin is opaque ("null")', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    await b.signIn(ADMIN);
    const csrf = await b.csrfFrom('/ui');
    const res = await b.request('/ui/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'null' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(res.status).toBe(403);
  });

  it('sends a retrain request link from a notification to its row on the retrain page', async () => {
    t = makeTestApp();
    const res = await t.app.request('/ui/retrain-requests/7');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/retrain#retrain-7');
    expect((await t.app.request('/ui/retrain-requests/abc')).status).toBe(404);
  });

  it('refuses a form posted from another origin even with a valid token', async () => {
    t = makeTestApp({ auth: { tokens } });
    const b = browser(t.app);
    await b.signIn(ADMIN);
    const csrf = await b.csrfFrom('/ui');
    const res = await b.request('/ui/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('https://evil.example');
  });

  it('is open in open mode, still with CSRF on forms', async () => {
    t = makeTestApp();
    const b = browser(t.app);
    const res = await b.request('/ui');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('open mode');
    expect((await b.request('/ui/login')).status).toBe(303);
    expect((await b.post('/ui/login', {})).status).toBe(403);
    // Open mode double-submits the browser's CSRF cookie.
    const csrf = b.jar.get('dw_csrf') as string;
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await b.post('/ui/login', { _csrf: csrf })).status).toBe(303);
  });

  it('sets the security headers on pages and serves the assets', async () => {
    t = makeTestApp();
    const res = await t.app.request('/ui');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    const css = /href="(\/ui\/assets\/ui\.css\?v=[0-9a-f]+)"/.exec(html)?.[1] as string;
    const asset = await t.app.request(css);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await asset.text()).toContain(':focus-visible');
    expect((await t.app.request('/ui/assets/nope.css')).status).toBe(404);
  });

  it('answers an unknown page with a 404 page, not JSON', async () => {
    t = makeTestApp();
    const res = await t.app.request('/ui/no/such/page');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('text/html');
  });
});

import pino from 'pino';
import { createApp } from '../../src/app.js';
import { type ConfigInput, defaultConfig } from '../../src/config/index.js';

/** A second app on the same store with another config (another process of a fleet, or a restart). */
function makeTestAppOnSameStore(t: TestApp, config: ConfigInput) {
  return createApp({ ...t.deps, config: defaultConfig({ ...config, database: { path: ':memory:' } }) });
}
