import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorBody, rec, rowCount, send, storedRequestIds } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

const LIMIT = 2000;
let t: TestApp | undefined;
afterEach(() => t?.close());

function app(bodyLimit: number | string = LIMIT): TestApp {
  t = makeTestApp({ ingest: { bodyLimit } });
  return t;
}

/** A JSON batch padded with trailing whitespace to exactly `bytes` bytes. */
function batchOfSize(bytes: number, ids = ['a', 'b']): string {
  const text = JSON.stringify(ids.map((id) => rec(id)));
  if (text.length > bytes) throw new Error('batch too big for the requested size');
  return text + ' '.repeat(bytes - text.length);
}

/** A body streamed in chunks with no content-length, as a chunked HTTP request arrives. */
function streamed(text: string, chunk = 512): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

function postStream(target: TestApp, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) {
  // duplex is required by fetch for a streamed request body but missing from the DOM RequestInit type.
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
    duplex: 'half',
  };
  return target.app.request('/v1/ingest', init as RequestInit);
}

describe('gzip', () => {
  it('decodes a gzipped JSON batch', async () => {
    const a = app();
    const res = await send(
      a.app,
      gzipSync(JSON.stringify({ records: [rec('a'), rec('b')] })),
      'application/json',
      {
        'content-encoding': 'gzip',
      },
    );
    expect(res.status).toBe(200);
    expect(await storedRequestIds(a.app)).toEqual(['a', 'b']);
  });

  it('decodes a gzipped NDJSON batch sent as x-gzip', async () => {
    const a = app();
    const text = `${JSON.stringify(rec('a'))}\n${JSON.stringify(rec('b'))}\n`;
    const res = await send(a.app, gzipSync(text), 'application/x-ndjson', { 'content-encoding': 'x-gzip' });
    expect(res.status).toBe(200);
    expect(await storedRequestIds(a.app)).toEqual(['a', 'b']);
  });

  it('answers 400 for a body that is not gzip, and stores nothing', async () => {
    const a = app();
    const res = await send(a.app, JSON.stringify([rec('a')]), 'application/json', {
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(400);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('invalid_body');
    expect(err.message).toMatch(/^content-encoding is gzip but the body is not valid gzip: /);
    expect(await rowCount(a, 'records')).toBe(0);
  });

  it('answers 400 for truncated gzip', async () => {
    const a = app();
    const whole = gzipSync(JSON.stringify([rec('a'), rec('b')]));
    const res = await send(a.app, whole.subarray(0, whole.length - 10), 'application/json', {
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(400);
    expect((res.json as ErrorBody).error.message).toMatch(/not valid gzip/);
    expect(await rowCount(a, 'records')).toBe(0);
  });

  it('answers 413 for a gzip bomb: small on the wire, past the limit once decoded', async () => {
    const a = app();
    const bomb = gzipSync(batchOfSize(LIMIT * 50));
    expect(bomb.length).toBeLessThan(LIMIT);
    const res = await send(a.app, bomb, 'application/json', { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toBe(
      `decompressed body exceeds the ingest body limit of ${LIMIT} bytes; send smaller batches`,
    );
    expect(err.details).toEqual({ limit_bytes: LIMIT });
    expect(await rowCount(a, 'records')).toBe(0);
  });

  it('accepts a gzipped body that decodes to exactly the limit', async () => {
    const a = app();
    const res = await send(a.app, gzipSync(batchOfSize(LIMIT)), 'application/json', {
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(200);
    expect(await storedRequestIds(a.app)).toEqual(['a', 'b']);
  });

  it('answers 413 when decoding gives one byte more than the limit', async () => {
    const a = app();
    const res = await send(a.app, gzipSync(batchOfSize(LIMIT + 1)), 'application/json', {
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(413);
  });
});

describe('body limit', () => {
  it('accepts a body of exactly the limit', async () => {
    const a = app();
    const res = await send(a.app, batchOfSize(LIMIT), 'application/json');
    expect(res.status).toBe(200);
    expect(await storedRequestIds(a.app)).toEqual(['a', 'b']);
  });

  it('answers 413 for a body one byte over the limit, and stores nothing', async () => {
    const a = app();
    const res = await send(a.app, batchOfSize(LIMIT + 1), 'application/json');
    expect(res.status).toBe(413);
    expect((res.json as ErrorBody).error.message).toBe(
      `request body exceeds the ingest body limit of ${LIMIT} bytes; send smaller batches`,
    );
    expect(await rowCount(a, 'records')).toBe(0);
    expect(await rowCount(a, 'rejections')).toBe(0);
  });

  it('answers 413 from the declared content-length before reading the body', async () => {
    const a = app();
    const res = await send(a.app, JSON.stringify([rec('a')]), 'application/json', {
      'content-length': String(LIMIT + 1),
    });
    expect(res.status).toBe(413);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toMatch(/^request body exceeds the ingest body limit of 2000 bytes/);
    expect(await rowCount(a, 'records')).toBe(0);
  });

  it('answers 413 for a streamed body without content-length once it passes the limit, and stores nothing', async () => {
    const a = app();
    const res = await postStream(a, streamed(batchOfSize(LIMIT * 4)));
    expect(res.status).toBe(413);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.message).toBe(
      `request body exceeds the ingest body limit of ${LIMIT} bytes; send smaller batches`,
    );
    expect(await rowCount(a, 'records')).toBe(0);
  });

  it('accepts a streamed body under the limit', async () => {
    const a = app();
    const res = await postStream(a, streamed(batchOfSize(LIMIT - 1), 100));
    expect(res.status).toBe(200);
    expect(await storedRequestIds(a.app)).toEqual(['a', 'b']);
  });

  it('applies a limit given as a size string', async () => {
    const a = app('1KiB');
    expect(a.deps.config.ingest.bodyLimit).toBe(1024);
    expect((await send(a.app, batchOfSize(1024), 'application/json')).status).toBe(200);
    const res = await send(a.app, batchOfSize(1025, ['c']), 'application/json');
    expect(res.status).toBe(413);
    expect((res.json as ErrorBody).error.message).toMatch(/limit of 1024 bytes/);
  });
});
