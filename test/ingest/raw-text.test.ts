import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { recordSpans } from '../../src/ingest/json-error.js';
import { ingestJson, storedRejections, storedRequestIds } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp | undefined;
afterEach(() => t?.close());

describe('rejected JSON elements keep the text as sent', () => {
  it('stores the good records and keeps a deeply nested bad element instead of failing the request', async () => {
    t = makeTestApp();
    const nested = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const body = `[{"model":"iris","request_id":"good","features":{}}, ${nested}]`;
    const res = await ingestJson(t.app, body);
    expect(res.status).toBe(207);
    expect(res.body).toMatchObject({
      accepted: 1,
      rejected: [{ index: 1, errors: [{ path: 'records[1]', message: 'expected object, got array' }] }],
    });
    expect(await storedRequestIds(t.app)).toEqual(['good']);
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.raw).toBe(nested);
  });

  it('keeps values that re-serialising would change: 1e999, duplicate keys, spacing', async () => {
    t = makeTestApp();
    const bad =
      '{ "model":"iris", "request_id":"r-inf", "features":{"x":1e999}, "status":"bad", "status":"worse" }';
    const res = await ingestJson(t.app, `{"records": [${bad}]}`);
    expect(res.status).toBe(422);
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.raw).toBe(bad);
  });
});

describe('recordSpans', () => {
  it('finds every element of the records array exactly as JSON.parse sees it', async () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 4 })),
        fc.boolean(),
        fc.nat(3),
        (values, wrapped, spaces) => {
          const pad = ' '.repeat(spaces);
          const array = `[${pad}${values.map((v) => JSON.stringify(v, null, spaces)).join(`${pad},${pad}`)}${pad}]`;
          const text = wrapped ? `{"before": {"records": 1}, "records":${pad}${array}}` : array;
          const spans = recordSpans(text);
          expect(spans).not.toBeNull();
          expect(spans?.map(([a, b]) => JSON.parse(text.slice(a, b)))).toEqual(
            JSON.parse(JSON.stringify(values)),
          );
        },
      ),
    );
  });
});
