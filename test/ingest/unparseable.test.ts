import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { locateJsonError } from '../../src/ingest/json-error.js';
import {
  type ErrorBody,
  ingestJson,
  ingestNdjson,
  rec,
  rowCount,
  storedRejections,
  storedRequestIds,
} from '../helpers.js';
import { makeTestApp, type TestApp } from '../support.js';

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

describe('a JSON body that does not parse', () => {
  it.each([
    [
      'a trailing comma in an object',
      '{"records": [\n  {"model": "a",}\n]}',
      'unexpected character "}", expected a quoted key',
      { line: 2, column: 17, offset: 30 },
    ],
    ['an empty body', '', 'unexpected end of input', { line: 1, column: 1, offset: 0 }],
    [
      'a truncated array',
      '[{"model": "a"}',
      'unexpected end of input, expected "," or "]"',
      { line: 1, column: 16, offset: 15 },
    ],
    [
      'trailing garbage',
      '[]\n\nxyz',
      'unexpected character "x" after the JSON value',
      { line: 3, column: 1, offset: 4 },
    ],
    [
      'a bare word',
      '[\ntru]',
      'unexpected character "]", expected "true"',
      { line: 2, column: 4, offset: 5 },
    ],
    ['an unterminated string', '["abc', 'unterminated string', { line: 1, column: 6, offset: 5 }],
    [
      'a raw newline inside a string',
      '["a\nb"]',
      'control character inside string (escape it)',
      { line: 1, column: 4, offset: 3 },
    ],
    [
      'a leading zero',
      '[01]',
      'unexpected character "1", expected "," or "]"',
      { line: 1, column: 3, offset: 2 },
    ],
  ])('answers 400 for %s, naming line, column and offset', async (_name, text, reason, at) => {
    const res = await ingestJson(t.app, text);
    expect(res.status).toBe(400);
    const err = (res.json as ErrorBody).error;
    expect(err.code).toBe('invalid_body');
    expect(err.message).toBe(
      `body is not valid JSON: ${reason} at line ${at.line}, column ${at.column} (offset ${at.offset})`,
    );
    expect(err.details).toEqual(at);
    // A body that is not JSON fails as a whole: nothing stored, not even a rejection.
    expect(await rowCount(t, 'records')).toBe(0);
    expect(await rowCount(t, 'rejections')).toBe(0);
  });

  it('points at the bad byte deep inside a large body', async () => {
    const good = JSON.stringify(
      Array.from({ length: 200 }, (_, i) => rec(`r${i}`)),
      null,
      2,
    );
    const text = `${good.slice(0, -2)},\n  oops\n]`;
    const offset = text.indexOf('oops');
    const line = text.slice(0, offset).split('\n').length;
    const res = await ingestJson(t.app, text);
    expect(res.status).toBe(400);
    expect((res.json as ErrorBody).error.details).toEqual({ line, column: 3, offset });
  });
});

describe('an NDJSON body with a line that does not parse', () => {
  it('rejects that line only and stores the others', async () => {
    const text = `${JSON.stringify(rec('a'))}\n{"model": "iris",, }\n${JSON.stringify(rec('c'))}\n`;
    const res = await ingestNdjson(t.app, text);
    expect(res.status).toBe(207);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toEqual([
      {
        line: 2,
        errors: [
          {
            path: 'line[2]',
            message: 'not valid JSON: unexpected character ",", expected a quoted key at column 18',
          },
        ],
      },
    ]);
    expect(await storedRequestIds(t.app)).toEqual(['a', 'c']);
    const [rejection] = await storedRejections(t.app);
    expect(rejection?.raw).toBe('{"model": "iris",, }');
  });

  it('keeps a truncated last line as a rejection', async () => {
    const res = await ingestNdjson(t.app, `${JSON.stringify(rec('a'))}\n{"model": "iris", "request`);
    expect(res.status).toBe(207);
    expect(res.body.rejected).toEqual([
      { line: 2, errors: [{ path: 'line[2]', message: 'not valid JSON: unterminated string at column 27' }] },
    ]);
  });
});

describe('locateJsonError', () => {
  it('returns null for any valid JSON text', async () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        expect(locateJsonError(text)).toBeNull();
      }),
    );
  });

  it('returns null for valid JSON with arbitrary whitespace', async () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 4 }), (value, indent) => {
        expect(locateJsonError(`\r\n\t ${JSON.stringify(value, null, indent)} \n`)).toBeNull();
      }),
    );
  });

  it('finds an error wherever JSON.parse finds one, within the text', async () => {
    fc.assert(
      fc.property(
        fc.json(),
        fc.nat(),
        fc.constantFrom(',', '}', ']', 'x', '"', ':', '\n'),
        (text, at, junk) => {
          const pos = at % (text.length + 1);
          const broken = text.slice(0, pos) + junk + text.slice(pos);
          let parses = true;
          try {
            JSON.parse(broken);
          } catch {
            parses = false;
          }
          const located = locateJsonError(broken);
          if (parses) expect(located).toBeNull();
          else {
            expect(located).not.toBeNull();
            expect(located?.offset).toBeLessThanOrEqual(broken.length);
          }
        },
      ),
    );
  });
});
