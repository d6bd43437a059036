import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/index.js';
import { AUTH_CONFIG, bearer, TOKENS } from '../alerts/helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

// Every route of the app against every kind of caller. A route missing from the table fails the test,
// so a new endpoint cannot ship without someone deciding who may call it.

type Caller = 'none' | 'bad' | 'ingest' | 'reviewer' | 'admin' | 'metrics';
type Rule = 'open' | 'ingest' | 'reviewer' | 'admin' | 'metrics';

const EXPECTED: Record<string, Rule> = {
  'GET /healthz': 'open',
  'GET /readyz': 'open',
  'POST /v1/ingest': 'ingest',
  'POST /v1/ingest/cloudevents': 'ingest',
  'POST /v1/logs': 'ingest',
  'POST /v1/labels': 'ingest',
  'GET /v1/ingest/rejections': 'reviewer',
  'GET /v1/models': 'reviewer',
  'GET /v1/models/:model': 'reviewer',
  'GET /v1/models/:model/records': 'reviewer',
  'GET /v1/models/:model/baselines': 'reviewer',
  'GET /v1/models/:model/baselines/:id': 'reviewer',
  'POST /v1/models/:model/baselines': 'admin',
  'POST /v1/models/:model/baselines/:id/activate': 'admin',
  'POST /v1/models/:model/drift/run': 'reviewer',
  'GET /v1/models/:model/drift': 'reviewer',
  'GET /v1/models/:model/drift/latest': 'reviewer',
  'GET /v1/models/:model/performance': 'reviewer',
  'GET /v1/models/:model/features/:feature/histogram': 'reviewer',
  'GET /v1/models/:model/traffic': 'reviewer',
  'GET /v1/models/:model/alert-policy': 'reviewer',
  'PUT /v1/models/:model/features/:feature/thresholds': 'admin',
  'GET /v1/alerts': 'reviewer',
  'GET /v1/alerts/:id': 'reviewer',
  'POST /v1/alerts/:id/assign': 'reviewer',
  'POST /v1/alerts/:id/ack': 'reviewer',
  'POST /v1/alerts/:id/comments': 'reviewer',
  'POST /v1/alerts/:id/decision': 'reviewer',
  'POST /v1/alerts/:id/close': 'reviewer',
  'GET /v1/retrain-requests': 'reviewer',
  'POST /v1/retrain-requests': 'reviewer',
  'POST /v1/retrain-requests/:id/status': 'reviewer',
  'GET /v1/notifications/deliveries': 'reviewer',
  'GET /v1/jobs': 'reviewer',
  'POST /v1/notifications/deliveries/:id/retry': 'admin',
  'GET /v1/reports/schedules': 'reviewer',
  'GET /v1/reports/runs': 'reviewer',
  'GET /v1/reports/preview': 'reviewer',
  'POST /v1/reports/:name/send': 'admin',
  // No credential from a loopback peer is let through too (test/metrics): app.request has no peer.
  'GET /metrics': 'metrics',
  // The API reference: open, since it holds only what this version's code accepts (test/openapi).
  'GET /openapi.json': 'open',
  'GET /docs': 'open',
};

const TOKEN_OF: Record<Caller, string | undefined> = {
  none: undefined,
  bad: 'not-a-configured-token-at-all',
  ingest: TOKENS.ingest,
  reviewer: TOKENS.reviewer,
  admin: TOKENS.admin,
  metrics: TOKENS.metrics,
};

function permitted(rule: Rule, caller: Caller): boolean {
  if (rule === 'open') return true;
  if (caller === 'admin') return true;
  return caller === rule;
}

let t: TestApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
});

/**
 * The API's routes as "METHOD /path", without the request-id middleware. The web UI (/ui) is left out: it
 * takes no bearer token but a session cookie and a CSRF token, with the same roles (test/ui/).
 */
function routesOf(app: TestApp['app']): string[] {
  const keys = app.routes
    .filter((r) => !(r.method === 'ALL' && r.path === '/*') && r.method !== 'ALL')
    .filter((r) => r.path !== '/ui' && !r.path.startsWith('/ui/'))
    .map((r) => `${r.method} ${r.path}`);
  return [...new Set(keys)];
}

const concrete = (path: string) => path.replace(':model', 'm').replace(':feature', 'x').replace(':id', '1');

async function call(app: TestApp['app'], route: string, headers: Record<string, string>) {
  const [method, path] = route.split(' ') as [string, string];
  const withBody = method !== 'GET';
  return app.request(concrete(path), {
    method,
    headers: { ...(withBody ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(withBody ? { body: '{}' } : {}),
  });
}

describe('auth matrix', () => {
  it('classifies every route and enforces it for no token, a bad token and each role', async () => {
    t = makeTestApp(AUTH_CONFIG);
    const routes = routesOf(t.app);
    expect(
      routes.filter((r) => !(r in EXPECTED)),
      'routes without an expected permission',
    ).toEqual([]);
    expect(
      Object.keys(EXPECTED).filter((r) => !routes.includes(r)),
      'table entries with no route',
    ).toEqual([]);

    const failures: string[] = [];
    for (const route of routes) {
      const rule = EXPECTED[route] as Rule;
      for (const caller of Object.keys(TOKEN_OF) as Caller[]) {
        const res = await call(t.app, route, bearer(TOKEN_OF[caller]));
        const status = res.status;
        const tag = `${route} as ${caller}: ${status}`;
        if (rule === 'open') {
          if (status !== 200) failures.push(`${tag} (expected 200)`);
        } else if (caller === 'none' || caller === 'bad') {
          if (status !== 401) failures.push(`${tag} (expected 401)`);
          else if (!res.headers.get('www-authenticate')?.startsWith('Bearer realm="driftwatch"'))
            failures.push(`${tag} without WWW-Authenticate`);
          else if (caller === 'bad' && !res.headers.get('www-authenticate')?.includes('invalid_token'))
            failures.push(`${tag} without error="invalid_token"`);
        } else if (permitted(rule, caller)) {
          if (status === 401 || status === 403 || status >= 500)
            failures.push(`${tag} (expected to be let through)`);
        } else if (status !== 403) failures.push(`${tag} (expected 403)`);
        if (status === 401 || status === 403) {
          const body = (await res.json()) as { error: { code: string } };
          if (body.error.code !== (status === 401 ? 'unauthorized' : 'forbidden'))
            failures.push(`${tag} code ${body.error.code}`);
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it('lets everything through as "anonymous" when no tokens are configured', async () => {
    t = makeTestApp();
    const failures: string[] = [];
    for (const route of routesOf(t.app)) {
      const res = await call(t.app, route, {});
      if (res.status === 401 || res.status === 403 || res.status >= 500)
        failures.push(`${route}: ${res.status}`);
    }
    expect(failures).toEqual([]);
    // A token sent to an open API is ignored rather than refused.
    const res = await t.app.request('/v1/retrain-requests', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer('whatever-token-0123456789') },
      body: JSON.stringify({ model: 'm', reason: 'check the actor' }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { requested_by: string }).requested_by).toBe('anonymous');
  });
});

describe('tokens', () => {
  const hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

  it('accepts a token configured by its sha256 and records its name, but not the hash itself as a token', async () => {
    const secret = 'hashed-reviewer-token-0123456789';
    t = makeTestApp({ auth: { tokens: [{ name: 'hashy', role: 'reviewer', sha256: hex(secret) }] } });
    const post = (token: string) =>
      t?.app.request('/v1/retrain-requests', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(token) },
        body: JSON.stringify({ model: 'm', reason: 'hash check' }),
      }) as Promise<Response>;
    const ok = await post(secret);
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { requested_by: string }).requested_by).toBe('hashy');
    const asHash = await post(hex(secret));
    expect(asHash.status).toBe(401);
    expect(asHash.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('answers 401 with WWW-Authenticate for a missing, malformed or unknown credential', async () => {
    t = makeTestApp(AUTH_CONFIG);
    for (const authorization of [
      undefined,
      `Basic ${TOKENS.reviewer}`,
      'Bearer',
      'Bearer a b',
      `Bearer ${TOKENS.reviewer}x`,
    ]) {
      const res = await t.app.request('/v1/alerts', {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate'), String(authorization)).toMatch(
        /^Bearer realm="driftwatch"/,
      );
    }
    // The scheme is case-insensitive; the token is not.
    expect(
      (await t.app.request('/v1/alerts', { headers: { authorization: `bearer ${TOKENS.reviewer}` } })).status,
    ).toBe(200);
    expect(
      (
        await t.app.request('/v1/alerts', {
          headers: { authorization: `Bearer ${TOKENS.reviewer.toUpperCase()}` },
        })
      ).status,
    ).toBe(401);
    const forbidden = await t.app.request('/v1/alerts', { headers: bearer(TOKENS.ingest) });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toBeNull();
  });

  it('refuses token entries that are too short or give both forms', async () => {
    expect(() =>
      defaultConfig({ auth: { tokens: [{ name: 'a', role: 'admin', token: 'short' }] } }),
    ).toThrow();
    expect(() =>
      defaultConfig({
        auth: { tokens: [{ name: 'a', role: 'admin', token: TOKENS.admin, sha256: hex(TOKENS.admin) }] },
      }),
    ).toThrow();
    expect(() => defaultConfig({ auth: { tokens: [{ name: 'a', role: 'admin' }] } })).toThrow();
  });
});
