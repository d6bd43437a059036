import { Validator } from '@seriousme/openapi-schema-validator';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../support.js';
import { concrete, documentOf, operations, routesOf, type ServingApp, servingApp } from './support.js';

// The OpenAPI document is what GET /openapi.json serves: it must be a valid OpenAPI 3.1 document, name
// every route of the app (serving ones included) and nothing else, and its request schemas must be the
// ones the routes enforce.

let s: ServingApp | undefined;
let t: TestApp | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
  t?.close();
  t = undefined;
});

describe('GET /openapi.json', () => {
  it('validates against the official OpenAPI 3.1 schema', async () => {
    s = await servingApp();
    const doc = await documentOf(s.app);
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 1)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('is the same document whether or not the process serves models', async () => {
    s = await servingApp();
    t = makeTestApp();
    expect(await documentOf(t.app)).toEqual(await documentOf(s.app));
  });

  it('documents every route of a serving app with its method, and only those', async () => {
    s = await servingApp();
    const routes = routesOf(s.app);
    const documented = operations(await documentOf(s.app))
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(
      routes.filter((r) => !documented.includes(r)),
      'routes missing from the document',
    ).toEqual([]);
    expect(
      documented.filter((d) => !routes.includes(d)),
      'documented operations with no route',
    ).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
    // Not a vacuous match: the serving routes and the reference itself are there.
    expect(documented).toContain('POST /v1/models/:name/predict');
    expect(documented).toContain('POST /v2/models/:name/versions/:v/infer');
    expect(documented).toContain('GET /docs');
    expect(documented.length).toBeGreaterThan(50);
  });

  it('marks the serving operations as the ones a process without serving lacks', async () => {
    t = makeTestApp();
    const routes = routesOf(t.app);
    const ops = operations(await documentOf(t.app));
    const missing = ops.filter((o) => !routes.includes(`${o.method} ${o.path}`));
    expect(missing.length).toBeGreaterThan(0);
    expect(missing.filter((o) => o.op['x-driftwatch-serving'] !== true).map((o) => o.path)).toEqual([]);
    for (const o of ops.filter((x) => x.op['x-driftwatch-serving']))
      expect(routes).not.toContain(`${o.method} ${o.path}`);
  });

  it("states each operation's roles, security and error envelope", async () => {
    t = makeTestApp();
    const doc = await documentOf(t.app);
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: 'http', scheme: 'bearer' } });
    for (const { method, path, op } of operations(doc)) {
      const where = `${method} ${path}`;
      const roles = op['x-driftwatch-roles'];
      expect(Array.isArray(roles), where).toBe(true);
      if (roles.length === 0) expect(op.security, where).toEqual([]);
      else {
        expect(op.security, where).toEqual([{ bearer: [] }]);
        expect(roles, where).toContain('admin');
        expect(op.description, where).toContain(`role ${roles.join(' or ')}`);
        for (const status of ['401', '403'])
          expect(op.responses[status]?.content?.['application/json']?.schema, `${where} ${status}`).toEqual({
            $ref: '#/components/schemas/ErrorEnvelope',
          });
      }
      expect(op.responses.default?.content?.['application/json']?.schema, where).toEqual({
        $ref: '#/components/schemas/ErrorEnvelope',
      });
      expect(
        Object.keys(op.responses).some((k) => /^2\d\d$/.test(k)),
        `${where} has a success response`,
      ).toBe(true);
    }
    // A sample of what the auth matrix (test/auth/matrix.test.ts) enforces.
    const roleOf = (method: string, path: string) =>
      operations(doc).find((o) => o.method === method && o.path === path)?.op['x-driftwatch-roles'];
    expect(roleOf('GET', '/healthz')).toEqual([]);
    expect(roleOf('POST', '/v1/ingest')).toEqual(['ingest', 'admin']);
    expect(roleOf('GET', '/v1/alerts')).toEqual(['reviewer', 'admin']);
    expect(roleOf('POST', '/v1/models/:model/baselines')).toEqual(['admin']);
    expect(roleOf('GET', '/metrics')).toEqual(['metrics', 'admin']);
  });

  it('describes every path parameter and no path without its parameters', async () => {
    t = makeTestApp();
    for (const { method, path, op } of operations(await documentOf(t.app))) {
      const names = [...path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]);
      const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(
        inPath.map((p) => p.name),
        `${method} ${path}`,
      ).toEqual(names);
      for (const p of inPath) expect(p.description, `${method} ${path} :${p.name}`).toBeTruthy();
    }
  });
});

describe('the documented request schemas are the enforced ones', () => {
  it('refuses an unknown field in every body the document says is closed, naming it', async () => {
    s = await servingApp();
    const doc = await documentOf(s.app);
    const closed = operations(doc).filter(
      (o) =>
        (o.op.requestBody?.content['application/json']?.schema as { additionalProperties?: unknown })
          ?.additionalProperties === false,
    );
    expect(closed.length).toBeGreaterThanOrEqual(14);
    const failures: string[] = [];
    for (const { method, path } of closed) {
      const res = await s.app.request(concrete(path), {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ zz_not_a_field: 1 }),
      });
      const text = await res.text();
      if (res.status !== 400 || !text.includes('zz_not_a_field'))
        failures.push(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });

  it('refuses an unknown query parameter wherever the document says so, naming it', async () => {
    s = await servingApp();
    const strict = operations(await documentOf(s.app)).filter((o) =>
      o.op.description.includes('Unknown query parameters are refused with 400.'),
    );
    expect(strict.length).toBeGreaterThanOrEqual(12);
    const failures: string[] = [];
    for (const { method, path } of strict) {
      const res = await s.app.request(`${concrete(path)}?zz_not_a_param=1`, {
        method,
        ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      const body = (await res.json()) as {
        error: { code: string; details?: { problems?: { path: string }[] } };
      };
      if (res.status !== 400 || !body.error.details?.problems?.some((p) => p.path === 'zz_not_a_param'))
        failures.push(`${method} ${path}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });

  it('refuses a value outside a documented query constraint (limit above its maximum)', async () => {
    s = await servingApp();
    const withLimit = operations(await documentOf(s.app)).filter(
      (o) => o.method === 'GET' && o.op.parameters?.some((p) => p.name === 'limit' && p.in === 'query'),
    );
    expect(withLimit.length).toBeGreaterThanOrEqual(5);
    for (const { path, op } of withLimit) {
      const limit = op.parameters?.find((p) => p.name === 'limit');
      const max = (limit?.schema as { maximum?: number } | undefined)?.maximum;
      if (max === undefined) throw new Error(`${path}: limit without a maximum`);
      const over = await s.app.request(`${concrete(path)}?limit=${max + 1}`);
      expect(over.status, path).toBe(400);
      const at = await s.app.request(`${concrete(path)}?limit=${max}`);
      expect(at.status, `${path} at the maximum`).not.toBe(400);
    }
  });

  it('refuses a non-integer where the document says a path parameter is an integer', async () => {
    s = await servingApp();
    const ops = operations(await documentOf(s.app)).filter((o) =>
      o.op.parameters?.some((p) => p.in === 'path' && p.schema.type === 'integer'),
    );
    expect(ops.length).toBeGreaterThanOrEqual(8);
    for (const { method, path } of ops) {
      const res = await s.app.request(concrete(path).replace(/\/1(\/|$)/, '/abc$1'), {
        method,
        ...(method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
      });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, path).toContain('"abc"');
    }
  });
});
