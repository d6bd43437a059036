import { afterEach, describe, expect, it } from 'vitest';
import { recordSpans } from '../../src/ingest/json-error.js';
import { ingestBatch } from '../../src/ingest/service.js';
import {
  type ErrorBody,
  ingestJson,
  ingestNdjson,
  rowCount,
  storedRejections,
  storedRequestIds,
} from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

// Deeply nested values and a repeated "records" key: a per-record rejection or a 400 naming the key,
// never a 500, and a rejection's stored text is always the element that was judged.

let t: TestApp | undefined;
afterEach(() => t?.close());

const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const good = (id: string) => JSON.stringify({ model: 'm', request_id: id, features: { a: 1 } });
const nestedRecord = `{"model":"m","request_id":"r","features":{"a":${deep(10_000)}}}`;

describe('a repeated "records" key', () => {
  it('is refused with a 400 naming it, and nothing is stored (the input from the issue)', async () => {
    t = makeTestApp();
    const res = await ingestJson(t.app, `{"records":[${good('first')}],"records":[${nestedRecord}]}`);
    expect(res.status).toBe(400);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('invalid_body');
    expect(err.message).toBe(
      '"records" appears more than once in the body; only the last would be read, so send one array',
    );
    expect(err.details).toEqual({ problems: [{ path: 'records', message: 'duplicate key' }] });
    expect(await rowCount(t, 'records')).toBe(0);
    expect(await rowCount(t, 'rejections')).toBe(0);
  });

  it('is refused when the repeat is spelt with an escape, or the first array is empty', async () => {
    t = makeTestApp();
    for (const body of [
      `{"records":[${good('a')}],"rec\\u006frds":[${good('b')}]}`,
      `{"records":[],"records":[${deep(10_000)}]}`,
    ]) {
      const res = await ingestJson(t.app, body);
      expect(res.status, body.slice(0, 60)).toBe(400);
      expect((res.json as ErrorBody).error.details).toEqual({
        problems: [{ path: 'records', message: 'duplicate key' }],
      });
    }
    expect(await rowCount(t, 'records')).toBe(0);
  });

  it('is not confused with "records" inside a record or escapes in values', async () => {
    t = makeTestApp();
    const inner = JSON.stringify({
      model: 'm',
      request_id: 'x',
      features: { records: 'records' },
      error: 'a "quoted"\\ path',
    });
    const res = await ingestJson(t.app, `{"records":[${inner},${good('y')}]}`);
    expect(res.status).toBe(200);
    expect(await storedRequestIds(t.app, 'm')).toEqual(['x', 'y']);
  });

  it('recordSpans slices the last "records" array, the one JSON.parse keeps', async () => {
    const text = '{"records":[{"a":1}],"other":{"records":[9]},"records":[ {"b":2} , [3] ]}';
    expect(recordSpans(text)?.map(([a, b]) => text.slice(a, b))).toEqual(['{"b":2}', '[3]']);
  });
});

describe('10,000-level nesting', () => {
  it('in a feature value is a per-record rejection keeping its text; the other records are stored', async () => {
    t = makeTestApp();
    const res = await ingestJson(t.app, `{"records":[${good('g1')},${nestedRecord},${good('g2')}]}`);
    expect(res.status).toBe(207);
    expect(res.body).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [
        {
          index: 1,
          errors: [
            { path: 'records[1].features.a', message: 'expected number, string, boolean or null, got array' },
          ],
        },
      ],
    });
    expect(await storedRequestIds(t.app, 'm')).toEqual(['g1', 'g2']);
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.raw).toBe(nestedRecord);
    expect(rejection?.request_id).toBe('r');
  });

  it('as the element itself, in prediction or in tags is a per-record rejection', async () => {
    t = makeTestApp();
    const obj = `${'{"k":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    const body = `[${deep(10_000)},{"model":"m","request_id":"p","features":{},"prediction":${obj}},{"model":"m","request_id":"t","features":{},"tags":${obj}},${good('ok')}]`;
    const res = await ingestJson(t.app, body);
    expect(res.status).toBe(207);
    expect(res.body.rejected.map((r) => r.errors[0]?.path)).toEqual([
      'records[0]',
      'records[1].prediction',
      'records[2].tags.k',
    ]);
    expect(await storedRequestIds(t.app, 'm')).toEqual(['ok']);
  });

  it('in an NDJSON line rejects that line only', async () => {
    t = makeTestApp();
    const res = await ingestNdjson(t.app, `${good('g1')}\n${nestedRecord}\n${good('g2')}\n`);
    expect(res.status).toBe(207);
    expect(res.body.rejected).toEqual([
      {
        line: 2,
        errors: [
          { path: 'line[2].features.a', message: 'expected number, string, boolean or null, got array' },
        ],
      },
    ]);
    expect((await storedRejections(t.app))[0]?.raw).toBe(nestedRecord);
  });

  it('is still stored as a rejection when its text as sent is unavailable and it cannot be re-serialised', async () => {
    t = makeTestApp();
    const result = await ingestBatch(
      t.deps,
      { positionKind: 'index', items: [{ position: 0, value: JSON.parse(deep(100_000)) }] },
      'req-1',
    );
    expect(result.rejected).toEqual([
      { index: 0, errors: [{ path: 'records[0]', message: 'expected object, got array' }] },
    ]);
    const rows = await t.sql<{ raw: string }>('SELECT raw FROM rejections');
    expect(rows.map((r) => r.raw)).toEqual(['(not kept: the value could not be re-serialised)']);
  });
});
