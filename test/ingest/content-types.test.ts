import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ErrorBody,
  ingestJson,
  ingestNdjson,
  rec,
  rowCount,
  send,
  storedRecords,
  storedRequestIds,
} from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

describe('application/json', () => {
  it('accepts {"records": [...]} and stores every field as sent', async () => {
    const full = rec('req-1', {
      model_version: 'v2',
      timestamp: '2026-11-24T10:00:00.250Z',
      features: { petal_width: 1.5, species_hint: 'setosa', flagged: true, missing: null },
      prediction: { setosa: 0.9, versicolor: 0.1 },
      label: 'setosa',
      latency_ms: 12.5,
      status: 'ok',
      tags: { region: 'eu' },
    });
    const res = await ingestJson(t.app, { records: [full, rec('req-2')] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });

    const stored = await storedRecords(t.app);
    expect(stored).toHaveLength(2);
    const first = stored.find((r) => r.request_id === 'req-1');
    expect(first).toEqual({
      model: 'iris',
      model_version: 'v2',
      request_id: 'req-1',
      timestamp: '2026-11-24T10:00:00.250Z',
      received_at: new Date(FIXED_NOW).toISOString(),
      features: { petal_width: 1.5, species_hint: 'setosa', flagged: true, missing: null },
      prediction: { setosa: 0.9, versicolor: 0.1 },
      label: 'setosa',
      latency_ms: 12.5,
      status: 'ok',
      error: null,
      tags: { region: 'eu' },
    });
    // Without a timestamp the event time is the receipt time; without a version the API says null.
    const second = stored.find((r) => r.request_id === 'req-2');
    expect(second?.timestamp).toBe(new Date(FIXED_NOW).toISOString());
    expect(second?.model_version).toBeNull();
    expect(second?.prediction).toBeNull();
  });

  it('accepts a bare array of records', async () => {
    const res = await ingestJson(t.app, [rec('a'), rec('b'), rec('c')]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await storedRequestIds(t.app)).toEqual(['a', 'b', 'c']);
  });

  it('accepts a charset parameter and upper-case media type', async () => {
    const res = await send(t.app, JSON.stringify([rec('a')]), 'Application/JSON; charset=utf-8');
    expect(res.status).toBe(200);
    expect(await storedRequestIds(t.app)).toEqual(['a']);
  });

  it('answers 200 with nothing accepted for an empty batch', async () => {
    const res = await ingestJson(t.app, { records: [] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 0, duplicates: 0, rejected: [] });
  });

  it.each([
    [
      'an unknown field next to records',
      { records: [], extra: 1 },
      /unknown field "extra" next to "records"/,
      'extra',
    ],
    ['records that is not an array', { records: { a: 1 } }, /^records: expected array$/, 'records'],
    [
      'an object without records',
      { data: [] },
      /body must be \{"records": \[\.\.\.\]\} or a JSON array/,
      'records',
    ],
    ['a JSON string', 'x', /body must be \{"records"/, 'records'],
  ])('refuses %s as a whole with 400 and stores nothing', async (_name, body, message, path) => {
    const res = await ingestJson(t.app, JSON.stringify(body));
    expect(res.status).toBe(400);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('invalid_body');
    expect(err.message).toMatch(message);
    expect((err.details as { problems: { path: string }[] }).problems.map((p) => p.path)).toEqual([path]);
    expect(await rowCount(t, 'records')).toBe(0);
    expect(await rowCount(t, 'rejections')).toBe(0);
  });
});

describe('application/x-ndjson', () => {
  it('stores one record per line, skipping blank lines and tolerating CRLF', async () => {
    const text = [
      JSON.stringify(rec('a')),
      '',
      JSON.stringify(rec('b')),
      '   ',
      JSON.stringify(rec('c')),
    ].join('\r\n');
    const res = await ingestNdjson(t.app, `${text}\n`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    expect(await storedRequestIds(t.app)).toEqual(['a', 'b', 'c']);
  });

  it('numbers lines from 1 counting blank lines, so a rejection points at the line in the file', async () => {
    const text = ['', JSON.stringify(rec('a')), '', JSON.stringify(rec('b', { status: 'maybe' }))].join('\n');
    const res = await ingestNdjson(t.app, text);
    expect(res.status).toBe(207);
    expect(res.body.rejected).toEqual([
      { line: 4, errors: [{ path: 'line[4].status', message: 'expected "ok" or "error"' }] },
    ]);
  });

  it.each(['application/ndjson', 'application/jsonl', 'application/x-jsonlines'])(
    'accepts the alias %s',
    async (type) => {
      const res = await send(t.app, `${JSON.stringify(rec('a'))}\n${JSON.stringify(rec('b'))}`, type);
      expect(res.status).toBe(200);
      expect(await storedRequestIds(t.app)).toEqual(['a', 'b']);
    },
  );

  it('treats an array on a line as one bad record, not a batch', async () => {
    const res = await ingestNdjson(t.app, `${JSON.stringify([rec('a')])}\n${JSON.stringify(rec('b'))}`);
    expect(res.status).toBe(207);
    expect(res.body.rejected).toEqual([
      { line: 1, errors: [{ path: 'line[1]', message: 'expected object, got array' }] },
    ]);
    expect(await storedRequestIds(t.app)).toEqual(['b']);
  });
});

describe('unsupported media', () => {
  it.each([
    ['text/plain', /content-type must be application\/json or application\/x-ndjson, got text\/plain/],
    ['application/xml', /got application\/xml/],
    ['multipart/form-data; boundary=x', /got multipart\/form-data/],
  ])('answers 415 for content-type %s and stores nothing', async (type, message) => {
    const res = await send(t.app, JSON.stringify([rec('a')]), type);
    expect(res.status).toBe(415);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('unsupported_media_type');
    expect(err.message).toMatch(message);
    expect(await rowCount(t, 'records')).toBe(0);
  });

  it('answers 415 naming the missing header when there is no content-type', async () => {
    const res = await send(t.app, new TextEncoder().encode(JSON.stringify([rec('a')])), null);
    expect(res.status).toBe(415);
    expect((res.json as ErrorBody).error.message).toMatch(/\(header missing\)$/);
  });

  it('answers 415 for a content-encoding other than gzip', async () => {
    const res = await send(t.app, JSON.stringify([rec('a')]), 'application/json', {
      'content-encoding': 'br',
    });
    expect(res.status).toBe(415);
    expect((res.json as ErrorBody).error.message).toBe(
      'content-encoding br is not supported; use gzip or none',
    );
    expect(await rowCount(t, 'records')).toBe(0);
  });

  it('treats content-encoding identity as no encoding', async () => {
    const res = await send(t.app, JSON.stringify([rec('a')]), 'application/json', {
      'content-encoding': 'identity',
    });
    expect(res.status).toBe(200);
  });
});
