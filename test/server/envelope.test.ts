import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ErrorBody, ingestJson, rec, storedRejections } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

describe('x-request-id', () => {
  it('echoes a well-formed incoming id on the response', async () => {
    const res = await t.app.request('/healthz', { headers: { 'x-request-id': 'client-42:abc.def_1' } });
    expect(res.headers.get('x-request-id')).toBe('client-42:abc.def_1');
  });

  it('generates a fresh UUID when none is sent, different for each request', async () => {
    const a = (await t.app.request('/healthz')).headers.get('x-request-id');
    const b = (await t.app.request('/healthz')).headers.get('x-request-id');
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });

  it.each([
    ['with a space', 'bad id'],
    ['too long', 'x'.repeat(129)],
    ['with a newline-like character', 'a\tb'],
  ])('replaces an incoming id %s', async (_name, id) => {
    const res = await t.app.request('/healthz', { headers: { 'x-request-id': id } });
    expect(res.headers.get('x-request-id')).toMatch(UUID);
  });

  it('ties stored rejections to the id of the ingest request', async () => {
    await ingestJson(t.app, [rec('a', { status: 'x' })], { 'x-request-id': 'batch-7' });
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.ingest_request_id).toBe('batch-7');
  });
});

describe('error envelope', () => {
  it('answers an unknown route with 404 in the envelope', async () => {
    const res = await t.app.request('/v2/nothing', { headers: { 'x-request-id': 'req-404' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      error: { code: 'not_found', message: 'no route for GET /v2/nothing', requestId: 'req-404' },
    });
  });

  it('answers a wrong method on a known path with 405 and the allowed methods', async () => {
    const res = await t.app.request('/v1/ingest', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe('method_not_allowed');
    expect(body.error.message).toBe('GET is not allowed on /v1/ingest; use POST');
    // A parameterised path matches its pattern; an unknown path stays a 404.
    const alert = await t.app.request('/v1/alerts/3', { method: 'DELETE' });
    expect(alert.status).toBe(405);
    expect(alert.headers.get('allow')).toBe('GET');
    expect((await t.app.request('/v1/nothing', { method: 'GET' })).status).toBe(404);
  });

  it('has exactly code, message, optional details and requestId matching the header', async () => {
    const res = await ingestJson(t.app, '{', { 'x-request-id': 'req-400' });
    expect(res.status).toBe(400);
    const body = res.json as ErrorBody;
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message', 'requestId']);
    expect(body.error.requestId).toBe('req-400');
    expect(res.headers.get('x-request-id')).toBe('req-400');
  });

  it('leaves details out when there are none', async () => {
    const res = await t.app.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b',
    });
    const body = (await res.json()) as ErrorBody;
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
  });

  it('answers 500 in the envelope without leaking the cause when the database fails', async () => {
    t.close();
    const res = await ingestJson(t.app, [rec('a')], { 'x-request-id': 'req-500' });
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      error: {
        code: 'internal',
        message: 'internal error; see the server log for this request id',
        requestId: 'req-500',
      },
    });
  });
});
