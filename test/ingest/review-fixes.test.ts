import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestJson, ingestNdjson, rec, send, storedRequestIds } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

// Regression tests for the review's ingest fix: a UTF-8 byte-order mark (written by some Windows tools)
// in front of the body used to make JSON bodies a 400 and the first NDJSON line a rejection.

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

const BOM = '\uFEFF';

describe('a body starting with a UTF-8 BOM', () => {
  it('is accepted as {"records": [...]}', async () => {
    const res = await ingestJson(t.app, `${BOM}${JSON.stringify({ records: [rec('a'), rec('b')] })}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await storedRequestIds(t.app)).toEqual(['a', 'b']);
  });

  it('is accepted as a bare JSON array', async () => {
    const res = await ingestJson(t.app, `${BOM}${JSON.stringify([rec('a')])}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accepted).toBe(1);
  });

  it('is accepted as NDJSON, the first line included', async () => {
    const text = `${BOM}${JSON.stringify(rec('a'))}\n${JSON.stringify(rec('b'))}\n`;
    const res = await ingestNdjson(t.app, text);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    expect(await storedRequestIds(t.app)).toEqual(['a', 'b']);
  });

  it('is accepted inside a gzip-encoded body', async () => {
    const body = gzipSync(Buffer.from(`${BOM}${JSON.stringify([rec('a')])}`, 'utf8'));
    const res = await send(t.app, new Uint8Array(body), 'application/json', { 'content-encoding': 'gzip' });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(await storedRequestIds(t.app)).toEqual(['a']);
  });
});
