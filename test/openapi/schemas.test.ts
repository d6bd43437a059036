import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it } from 'vitest';
import { hour, type MApp, MIN, setupM } from '../alerts/helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';
import { documentOf, operations } from './support.js';

// The Schema Objects of the document are JSON Schema 2020-12 (what OpenAPI 3.1 uses), and the response
// schemas it documents describe what the routes answer: real answers are checked against them.

let t: TestApp | undefined;
let m: MApp | undefined;
afterEach(() => {
  t?.close();
  t = undefined;
  m?.t.close();
  m = undefined;
});

type Json = Record<string, unknown>;

/** Every Schema Object of the document, with where it is. */
function schemasOf(doc: Awaited<ReturnType<typeof documentOf>>): [string, Json][] {
  const out: [string, Json][] = [];
  for (const { method, path, op } of operations(doc)) {
    for (const p of op.parameters ?? []) out.push([`${method} ${path} parameter ${p.name}`, p.schema]);
    for (const [type, c] of Object.entries(op.requestBody?.content ?? {}))
      if (c.schema) out.push([`${method} ${path} body ${type}`, c.schema]);
    for (const [status, r] of Object.entries(op.responses))
      for (const [type, c] of Object.entries(r.content ?? {}))
        out.push([`${method} ${path} ${status} ${type}`, c.schema]);
  }
  for (const [name, s] of Object.entries(doc.components.schemas as Record<string, Json>))
    out.push([`components.schemas.${name}`, s]);
  return out;
}

function ajvFor(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  // Responses refer to the error envelope by its place in the document.
  ajv.addSchema(doc, 'doc');
  return ajv;
}

function responseSchema(
  doc: Awaited<ReturnType<typeof documentOf>>,
  method: string,
  path: string,
  status: number,
) {
  const op = operations(doc).find((o) => o.method === method && o.path === path)?.op;
  const schema = op?.responses[String(status)]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method} ${path} documents no JSON schema for ${status}`);
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/')) as Json;
}

describe('the schemas of the document', () => {
  it('are all valid JSON Schema 2020-12', async () => {
    t = makeTestApp();
    const doc = await documentOf(t.app);
    const ajv = new Ajv2020({ strict: true, strictTypes: false, strictTuples: false });
    const bad: string[] = [];
    for (const [where, s] of schemasOf(doc)) {
      if (s.$ref !== undefined) continue;
      if (!ajv.validateSchema(s)) bad.push(`${where}: ${ajv.errorsText(ajv.errors)}`);
      try {
        ajv.compile(s);
      } catch (err) {
        bad.push(`${where}: ${(err as Error).message}`);
      }
    }
    expect(bad).toEqual([]);
    expect(schemasOf(doc).length).toBeGreaterThan(150);
  });

  it('describe what the alert, model and drift routes answer', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6, FIXED_NOW + MIN);
    await m.tick(FIXED_NOW + 2 * MIN);
    const doc = await documentOf(m.t.app);
    const ajv = ajvFor(doc as unknown as Json);
    const checks: [string, string, number][] = [
      ['GET', '/v1/alerts', 200],
      ['GET', '/v1/alerts/1', 200],
      ['GET', '/v1/models', 200],
      ['GET', '/v1/models/m', 200],
      ['GET', '/v1/models/m/drift', 200],
      ['GET', '/v1/models/m/drift/latest', 200],
      ['GET', '/v1/models/m/features/x/histogram', 200],
      ['GET', '/v1/retrain-requests', 200],
      ['GET', '/healthz', 200],
      ['GET', '/v1/alerts/999', 404],
      ['GET', '/v1/alerts?limit=0', 400],
    ];
    const pattern = (path: string) =>
      operations(doc).find(
        (o) =>
          new RegExp(`^${o.path.replace(/:[^/]+/g, '[^/]+')}$`).test(path.split('?')[0] as string) &&
          o.method === 'GET',
      )?.path as string;
    const failures: string[] = [];
    for (const [method, path, status] of checks) {
      const res = await m.t.app.request(path);
      expect(res.status, path).toBe(status);
      const body = await res.json();
      const validate = ajv.compile(responseSchema(doc, method, pattern(path), status));
      if (!validate(body)) failures.push(`${method} ${path}: ${ajv.errorsText(validate.errors)}`);
    }
    expect(failures).toEqual([]);
    // The data is not empty: the schemas were checked against real alerts and results.
    const alerts = (await (await m.t.app.request('/v1/alerts')).json()) as { alerts: unknown[] };
    expect(alerts.alerts.length).toBeGreaterThan(0);
  });

  it('describe the answers of a decision and of a drift run', async () => {
    m = await setupM();
    await m.window('a', hour(8), 0.6, FIXED_NOW + MIN);
    await m.tick(FIXED_NOW + 2 * MIN);
    const doc = await documentOf(m.t.app);
    const ajv = ajvFor(doc as unknown as Json);
    const post = (path: string, body: unknown) =>
      m?.t.app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }) as Promise<Response>;
    const cases: [string, string, unknown][] = [
      ['/v1/alerts/1/ack', '/v1/alerts/:id/ack', { version: 1 }],
      [
        '/v1/alerts/1/decision',
        '/v1/alerts/:id/decision',
        { decision: 'false_positive', note: 'noise', version: 2 },
      ],
      ['/v1/models/m/drift/run', '/v1/models/:model/drift/run', {}],
      ['/v1/retrain-requests', '/v1/retrain-requests', { model: 'm', reason: 'drifted' }],
    ];
    for (const [path, declared, body] of cases) {
      const res = await post(path, body);
      const status = res.status;
      expect([200, 201], `${path}: ${status}`).toContain(status);
      const validate = ajv.compile(responseSchema(doc, 'POST', declared, status));
      const json = await res.json();
      expect(validate(json), `${path}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });
});
