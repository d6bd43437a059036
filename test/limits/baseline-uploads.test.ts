import { afterEach, describe, expect, it } from 'vitest';
import { postBaseline } from '../drift/helpers.js';
import type { ErrorBody } from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';
import { countingBody, lazyBody, sendStream } from './streams.js';

// Training uploads are bounded in bytes, rows and line length, and the whole-parsed JSON format in bytes;
// every refusal names the setting (and the line) and reads no further than the limit.

const LIMITS = { maxBytes: 20_000, maxRows: 100, maxLineBytes: 200, maxJsonBytes: 5_000 };

let t: TestApp | undefined;
afterEach(() => t?.close());

function app(overrides: Partial<typeof LIMITS> = {}): TestApp {
  t = makeTestApp({ baselines: { ...LIMITS, ...overrides } });
  return t;
}

const PATH = '/v1/models/m/baselines';
const csvRows = (n: number) => `x,y\n${Array.from({ length: n }, (_, i) => `${i},${i % 3}`).join('\n')}\n`;
const ndjsonRows = (n: number) =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ x: i, y: i % 3 })).join('\n');

async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ((await res.json()) as ErrorBody).error;
}

async function baselineCount(a: TestApp): Promise<number> {
  const [row] = await a.sql<{ n: number }>('SELECT count(*) AS n FROM baselines');
  return row?.n ?? 0;
}

describe('bytes (baselines.maxBytes, baselines.maxJsonBytes)', () => {
  it.each(['text/csv', 'application/x-ndjson', 'application/json'])(
    '%s: a declared length over the limit is a 413 before the body is read',
    async (type) => {
      const a = app();
      const body = countingBody('1,2\n');
      const res = await sendStream(a, PATH, body.stream, {
        'content-type': type,
        'content-length': String(1e12),
      });
      expect(res.status).toBe(413);
      expect((await errorOf(res)).message).toBe(
        'request body exceeds the baseline upload limit (baselines.maxBytes) of 20000 bytes',
      );
      expect(body.pulled()).toBe(0);
    },
  );

  it('a streamed CSV over the limit is cut off there, and nothing is stored', async () => {
    // Short rows that never end: only the byte limit can stop them.
    const a = app({ maxRows: 1e9 });
    const body = countingBody('1\n');
    const res = await sendStream(a, PATH, body.stream, { 'content-type': 'text/csv' });
    expect(res.status).toBe(413);
    const err = await errorOf(res);
    expect(err.code).toBe('payload_too_large');
    expect(err.message).toBe(
      'training data exceeds the baseline upload limit (baselines.maxBytes) of 20000 bytes',
    );
    expect(body.pulled()).toBeGreaterThan(LIMITS.maxBytes);
    expect(body.pulled()).toBeLessThan(LIMITS.maxBytes * 2);
    expect(await baselineCount(a)).toBe(0);
  });

  it('JSON, parsed whole, has its own smaller limit: declared and streamed', async () => {
    const a = app();
    const rows = JSON.stringify(Array.from({ length: 800 }, (_, i) => ({ x: i })));
    expect(rows.length).toBeGreaterThan(LIMITS.maxJsonBytes);
    expect(rows.length).toBeLessThan(LIMITS.maxBytes);
    const unread = lazyBody(rows);
    const declared = await sendStream(a, PATH, unread.stream, { 'content-length': String(rows.length) });
    expect(declared.status).toBe(413);
    expect(unread.pulled()).toBe(0);
    expect((await errorOf(declared)).message).toBe(
      'request body exceeds the JSON training data limit (baselines.maxJsonBytes) of 5000 bytes; JSON is parsed whole; send CSV or NDJSON, which are streamed',
    );
    const body = lazyBody(rows, 1000);
    const streamed = await sendStream(a, PATH, body.stream, { 'content-type': 'application/json' });
    expect(streamed.status).toBe(413);
    expect((await errorOf(streamed)).message).toMatch(/^training data exceeds the JSON training data limit/);
    expect(body.pulled()).toBeLessThanOrEqual(LIMITS.maxJsonBytes + 1000);
    // The same rows as NDJSON are streamed and fit.
    const nd = await postBaseline(a.app, 'm', ndjsonRows(90), 'application/x-ndjson');
    expect(nd.status).toBe(201);
  });
});

describe('rows (baselines.maxRows)', () => {
  it.each([
    ['text/csv', csvRows],
    ['application/x-ndjson', ndjsonRows],
  ] as const)('%s: exactly the limit is accepted, one more row is a 413', async (type, make) => {
    const a = app();
    const ok = await postBaseline(a.app, 'm', make(LIMITS.maxRows), type);
    expect(ok.status).toBe(201);
    expect(ok.body.row_count).toBe(LIMITS.maxRows);
    const over = await postBaseline(a.app, 'm', make(LIMITS.maxRows + 1), type);
    expect(over.status).toBe(413);
    expect(over.body.error?.message).toBe('training data has more than 100 rows (baselines.maxRows)');
    expect(await baselineCount(a)).toBe(1);
  });
});

describe('line length (baselines.maxLineBytes)', () => {
  it('an NDJSON line without end is refused at the cap, naming the line, without reading it all', async () => {
    const a = app();
    // Two good lines, then one that would be 300 MB: `{"x":"aaaa…`.
    const head = `${JSON.stringify({ x: 1 })}\n${JSON.stringify({ x: 2 })}\n{"x":"`;
    const body = countingBody('a'.repeat(64), 300e6);
    const joined = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(head));
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
    });
    const reader = body.stream.getReader();
    const res = await sendStream(a, PATH, joined, { 'content-type': 'application/x-ndjson' });
    expect(res.status).toBe(413);
    const err = await errorOf(res);
    expect(err.message).toBe('training NDJSON line 3: longer than 200 bytes (baselines.maxLineBytes)');
    expect(err.details).toEqual({ line: 3, limit_bytes: 200 });
    expect(body.pulled()).toBeLessThan(1000);
  });

  it('an NDJSON line of exactly the cap is accepted (\\r\\n endings too)', async () => {
    const a = app();
    const exact = `{"x":1,"pad":"${'p'.repeat(200 - 16)}"}`;
    expect(exact.length).toBe(200);
    const over = await postBaseline(a.app, 'm', `{"x":2}\n${exact} \n`, 'application/x-ndjson', {
      exclude: 'pad',
    });
    expect(over.status).toBe(413);
    expect(over.body.error?.message).toMatch(/^training NDJSON line 2: longer than 200 bytes/);
    const res = await postBaseline(
      a.app,
      'm',
      `${exact}\r\n${JSON.stringify({ x: 2, pad: 'q' })}\r\n`,
      'application/x-ndjson',
      {
        exclude: 'pad',
      },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.row_count).toBe(2);
  });

  it('a CSV record longer than the cap is a 413 naming its line', async () => {
    const a = app();
    const text = `x,note\n1,ok\n2,${'n'.repeat(500)}\n3,ok\n`;
    const res = await postBaseline(a.app, 'm', text, 'text/csv');
    expect(res.status).toBe(413);
    expect(res.body.error?.message).toBe(
      'training CSV line 3: record longer than 200 bytes (baselines.maxLineBytes)',
    );
  });

  it('a CSV without any newline is refused at the cap without reading it all', async () => {
    const a = app();
    const body = countingBody('x'.repeat(50), 300e6);
    const res = await sendStream(a, PATH, body.stream, { 'content-type': 'text/csv' });
    expect(res.status).toBe(413);
    expect((await errorOf(res)).message).toMatch(/^training CSV line 1: record longer than 200 bytes/);
    expect(body.pulled()).toBeLessThan(LIMITS.maxBytes);
  });
});

describe('nesting', () => {
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('an NDJSON row with a 10,000-level value is a 400 naming the line and column, not a 500', async () => {
    const a = app({ maxBytes: 1e6, maxLineBytes: 1e6 });
    const res = await postBaseline(
      a.app,
      'm',
      `{"x":1}\n{"x":2,"a":${deep(10_000)}}\n`,
      'application/x-ndjson',
    );
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toBe(
      'training NDJSON line 2: column "a" is nested deeper than 64 levels',
    );
  });

  it('a JSON row with a 10,000-level value is a 400 naming the row', async () => {
    const a = app({ maxBytes: 1e6, maxJsonBytes: 1e6 });
    const res = await postBaseline(
      a.app,
      'm',
      `{"rows":[{"x":1},{"x":2,"a":{"b":${deep(10_000)}}}]}`,
      'application/json',
    );
    expect(res.status).toBe(400);
    expect(res.body.error?.message).toBe('training JSON rows[1]: column "a" is nested deeper than 64 levels');
  });

  it('a value nested 64 levels deep is still profiled (as a category)', async () => {
    const a = app();
    const res = await postBaseline(
      a.app,
      'm',
      `{"x":1,"a":${deep(64)}}\n{"x":2,"a":${deep(64)}}\n`,
      'application/x-ndjson',
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });
});
