import { afterEach, describe, expect, it } from 'vitest';
import { type ErrorBody, ingestJson } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';
import { countingBody, sendStream } from './streams.js';

// Every route that reads a JSON body reads it within a limit: a declared length over it is refused before
// a byte is read, and a chunked body is cut off at the limit instead of being buffered whole.

const JSON_LIMIT = 1000;
const LABELS_LIMIT = 4000;

let t: TestApp | undefined;
afterEach(() => t?.close());

function app(): TestApp {
  t = makeTestApp({ server: { jsonBodyLimit: JSON_LIMIT }, ingest: { labelsBodyLimit: LABELS_LIMIT } });
  return t;
}

const COMMANDS: [method: string, path: string][] = [
  ['POST', '/v1/models/m/drift/run'],
  ['POST', '/v1/alerts/1/assign'],
  ['POST', '/v1/alerts/1/ack'],
  ['POST', '/v1/alerts/1/comments'],
  ['POST', '/v1/alerts/1/decision'],
  ['POST', '/v1/alerts/1/close'],
  ['POST', '/v1/retrain-requests'],
  ['POST', '/v1/retrain-requests/1/status'],
  ['PUT', '/v1/models/m/features/f/thresholds'],
];

async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ((await res.json()) as ErrorBody).error;
}

describe('JSON command bodies (server.jsonBodyLimit)', () => {
  it.each(COMMANDS)(
    '%s %s: a declared length over the limit is a 413 before the body is read',
    async (method, path) => {
      const a = app();
      // Declared as 10^12 bytes and never ending: a server that waited for it would never answer.
      const body = countingBody('{"note":"x"}');
      const res = await sendStream(a, path, body.stream, { 'content-length': String(1e12) }, method);
      expect(res.status).toBe(413);
      const err = await errorOf(res);
      expect(err.code).toBe('payload_too_large');
      expect(err.message).toBe(
        `request body exceeds the JSON body limit (server.jsonBodyLimit) of ${JSON_LIMIT} bytes`,
      );
      expect(err.details).toEqual({ limit_bytes: JSON_LIMIT });
      expect(body.pulled()).toBe(0);
    },
  );

  it.each(COMMANDS)('%s %s: a chunked body without length is cut off at the limit', async (method, path) => {
    const a = app();
    const body = countingBody(' '.repeat(100));
    const res = await sendStream(a, path, body.stream, {}, method);
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toMatch(/server\.jsonBodyLimit/);
    // Read one chunk past the limit at most, not the endless rest.
    expect(body.pulled()).toBeGreaterThan(JSON_LIMIT);
    expect(body.pulled()).toBeLessThanOrEqual(JSON_LIMIT + 100);
  });

  it('still reads a body within the limit (a drift run range)', async () => {
    const a = app();
    // A known model (drift runs on one that never sent a record are a 404).
    expect((await ingestJson(a.app, [{ model: 'm', request_id: 'r1', features: {} }])).status).toBe(200);
    const range = JSON.stringify({ from: '2026-11-24T00:00:00Z', to: '2026-11-24T01:00:00Z' });
    const padded = range + ' '.repeat(JSON_LIMIT - range.length);
    const res = await a.app.request('/v1/models/m/drift/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: padded,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ results: [] });
  });

  it('an optional body that is empty is still read as {}', async () => {
    const a = app();
    expect((await ingestJson(a.app, [{ model: 'm', request_id: 'r1', features: {} }])).status).toBe(200);
    const res = await a.app.request('/v1/models/m/drift/run', { method: 'POST' });
    expect(res.status).toBe(200);
  });
});

describe('labels (ingest.labelsBodyLimit)', () => {
  const labelBody = (n: number) =>
    JSON.stringify(Array.from({ length: n }, (_, i) => ({ model: 'm', request_id: `r${i}`, label: 1 })));

  it('has its own, larger limit than JSON commands', async () => {
    const a = app();
    const text = labelBody(40);
    expect(text.length).toBeGreaterThan(JSON_LIMIT);
    expect(text.length).toBeLessThanOrEqual(LABELS_LIMIT);
    const res = await a.app.request('/v1/labels', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { not_found: unknown[] }).not_found).toHaveLength(40);
  });

  it('refuses a declared length over the limit before reading', async () => {
    const a = app();
    const body = countingBody('[');
    const res = await sendStream(a, '/v1/labels', body.stream, { 'content-length': String(1e12) });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toBe(
      `request body exceeds the labels body limit (ingest.labelsBodyLimit) of ${LABELS_LIMIT} bytes; send smaller batches`,
    );
    expect(body.pulled()).toBe(0);
  });

  it('cuts a chunked body off at the limit', async () => {
    const a = app();
    const body = countingBody(`${JSON.stringify({ model: 'm', request_id: 'r', label: 1 })},`);
    const res = await sendStream(a, '/v1/labels', body.stream);
    expect(res.status).toBe(413);
    expect(body.pulled()).toBeGreaterThan(LABELS_LIMIT);
    expect(body.pulled()).toBeLessThan(LABELS_LIMIT + 100);
  });

  it('applies a body of exactly the limit and refuses one byte more, applying none of it', async () => {
    const a = app();
    const ingest = await a.app.request('/v1/ingest', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ model: 'm', request_id: 'r0', features: {}, prediction: 1 }]),
    });
    expect(ingest.status).toBe(200);
    const text = JSON.stringify([{ model: 'm', request_id: 'r0', label: 2 }]);
    const post = (size: number) =>
      a.app.request('/v1/labels', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: text + ' '.repeat(size - text.length),
      });
    expect((await post(LABELS_LIMIT + 1)).status).toBe(413);
    const records = await a.app.request('/v1/models/m/records');
    expect(((await records.json()) as { records: { label: unknown }[] }).records[0]?.label).toBeNull();
    const ok = await post(LABELS_LIMIT);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { updated: number }).updated).toBe(1);
  });
});

describe('configuration', () => {
  it('defaults to 1 MiB for JSON commands and 16 MiB for labels, and takes size strings', async () => {
    const d = makeTestApp();
    expect(d.deps.config.server.jsonBodyLimit).toBe(1024 * 1024);
    expect(d.deps.config.ingest.labelsBodyLimit).toBe(16 * 1024 * 1024);
    d.close();
    t = makeTestApp({ server: { jsonBodyLimit: '2KiB' } });
    expect(t.deps.config.server.jsonBodyLimit).toBe(2048);
  });
});
