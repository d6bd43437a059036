import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestJson, ingestNdjson, rec, rowCount, storedRecords, storedRejections } from '../helpers.js';
import { FIXED_NOW, makeTestApp, type TestApp } from '../support.js';

let t: TestApp;
beforeEach(() => {
  t = makeTestApp();
});
afterEach(() => t.close());

const without = (key: string) => {
  const r = rec('r1');
  delete r[key];
  return r;
};

type Case = [name: string, record: unknown, problems: { path: string; message: string | RegExp }[]];

const cases: Case[] = [
  ['model missing', without('model'), [{ path: 'records[0].model', message: 'required' }]],
  [
    'model not a string',
    rec('r1', { model: 5 }),
    [{ path: 'records[0].model', message: 'expected model name as a string, got number' }],
  ],
  [
    'model with a space',
    rec('r1', { model: 'iris v2' }),
    [{ path: 'records[0].model', message: /^may contain only letters, digits, "\.", "_", ":" and "-"/ }],
  ],
  [
    'model too long',
    rec('r1', { model: 'm'.repeat(257) }),
    [{ path: 'records[0].model', message: 'must be at most 256 characters' }],
  ],
  [
    'model_version not a string',
    rec('r1', { model_version: 2 }),
    [{ path: 'records[0].model_version', message: 'expected model version as a string, got number' }],
  ],
  [
    'model_version empty',
    rec('r1', { model_version: '' }),
    [{ path: 'records[0].model_version', message: 'must not be empty' }],
  ],
  ['request_id missing', without('request_id'), [{ path: 'records[0].request_id', message: 'required' }]],
  [
    'request_id not a string',
    rec('r1', { request_id: 17 }),
    [{ path: 'records[0].request_id', message: 'expected request id as a string, got number' }],
  ],
  [
    'timestamp in epoch seconds',
    rec('r1', { timestamp: 1_795_000_000 }),
    [
      {
        path: 'records[0].timestamp',
        message: 'epoch timestamps must be milliseconds (this looks like seconds)',
      },
    ],
  ],
  [
    'timestamp in epoch milliseconds past year 9999',
    rec('r1', { timestamp: 1e16 }),
    [{ path: 'records[0].timestamp', message: 'epoch milliseconds out of range (after year 9999)' }],
  ],
  [
    'timestamp garbage',
    rec('r1', { timestamp: 'yesterday' }),
    [
      {
        path: 'records[0].timestamp',
        message: 'expected RFC 3339 timestamp such as 2026-11-24T10:00:00Z, got "yesterday"',
      },
    ],
  ],
  [
    'timestamp date without time',
    rec('r1', { timestamp: '2026-11-24' }),
    [{ path: 'records[0].timestamp', message: /^expected RFC 3339 timestamp .*got "2026-11-24"$/ }],
  ],
  [
    'timestamp without zone',
    rec('r1', { timestamp: '2026-11-24T10:00:00' }),
    [{ path: 'records[0].timestamp', message: /^expected RFC 3339 timestamp/ }],
  ],
  [
    'timestamp on a day the month does not have',
    rec('r1', { timestamp: '2026-02-30T10:00:00Z' }),
    [{ path: 'records[0].timestamp', message: /^expected RFC 3339 timestamp .*got "2026-02-30T10:00:00Z"$/ }],
  ],
  [
    'timestamp hour 25',
    rec('r1', { timestamp: '2026-11-24T25:00:00Z' }),
    [{ path: 'records[0].timestamp', message: /^expected RFC 3339 timestamp/ }],
  ],
  [
    'timestamp of the wrong type',
    rec('r1', { timestamp: true }),
    [
      {
        path: 'records[0].timestamp',
        message: 'expected RFC 3339 string or epoch milliseconds, got boolean',
      },
    ],
  ],
  ['features missing', without('features'), [{ path: 'records[0].features', message: 'required' }]],
  [
    'features a string',
    rec('r1', { features: 'a=1' }),
    [{ path: 'records[0].features', message: 'expected object, got string' }],
  ],
  [
    'features an array',
    rec('r1', { features: [1, 2] }),
    [{ path: 'records[0].features', message: 'expected object, got array' }],
  ],
  [
    'feature values of bad types',
    rec('r1', { features: { ok: 1, list: [1], nested: { a: 1 }, 'petal width': [] } }),
    [
      { path: 'records[0].features.list', message: 'expected number, string, boolean or null, got array' },
      { path: 'records[0].features.nested', message: 'expected number, string, boolean or null, got object' },
      {
        path: 'records[0].features["petal width"]',
        message: 'expected number, string, boolean or null, got array',
      },
    ],
  ],
  [
    'an empty feature name',
    rec('r1', { features: { '': 1 } }),
    [{ path: 'records[0].features[""]', message: 'feature names must not be empty' }],
  ],
  [
    'a feature named __proto__',
    JSON.parse('{"model": "iris", "request_id": "r1", "features": {"__proto__": 1, "ok": 2}}'),
    [{ path: 'records[0].features.__proto__', message: 'the name "__proto__" is not allowed' }],
  ],
  [
    'prediction an array',
    rec('r1', { prediction: [0.1, 0.9] }),
    [
      {
        path: 'records[0].prediction',
        message: /^expected number, string, boolean, or an object of numbers .*got array$/,
      },
    ],
  ],
  [
    'prediction probabilities that are not numbers',
    rec('r1', { prediction: { setosa: 'high' } }),
    [
      {
        path: 'records[0].prediction',
        message: /^expected number, string, boolean, or an object of numbers/,
      },
    ],
  ],
  [
    'label an object',
    rec('r1', { label: { a: 1 } }),
    [{ path: 'records[0].label', message: 'expected number, string, boolean or null, got object' }],
  ],
  [
    'latency_ms negative',
    rec('r1', { latency_ms: -0.5 }),
    [{ path: 'records[0].latency_ms', message: 'must be ≥ 0' }],
  ],
  [
    'latency_ms a string',
    rec('r1', { latency_ms: '12' }),
    [{ path: 'records[0].latency_ms', message: 'expected number, got string' }],
  ],
  [
    'status unknown',
    rec('r1', { status: 'failed' }),
    [{ path: 'records[0].status', message: 'expected "ok" or "error"' }],
  ],
  [
    'error not a string',
    rec('r1', { error: { code: 1 } }),
    [{ path: 'records[0].error', message: 'expected string, got object' }],
  ],
  [
    'tags not an object',
    rec('r1', { tags: 'eu' }),
    [{ path: 'records[0].tags', message: 'expected object of strings, got string' }],
  ],
  [
    'tag value a number',
    rec('r1', { tags: { shard: 3 } }),
    [{ path: 'records[0].tags.shard', message: 'tag values must be strings, got number' }],
  ],
  [
    'unknown top-level keys',
    rec('r1', { input: {}, user: 'x' }),
    [
      { path: 'records[0].input', message: 'unknown field' },
      { path: 'records[0].user', message: 'unknown field' },
    ],
  ],
  ['record a number', 42, [{ path: 'records[0]', message: 'expected object, got number' }]],
  ['record null', null, [{ path: 'records[0]', message: 'expected object, got null' }]],
  ['record a string', 'iris', [{ path: 'records[0]', message: 'expected object, got string' }]],
  ['record an array', [rec('r1')], [{ path: 'records[0]', message: 'expected object, got array' }]],
];

describe('envelope validation', () => {
  it.each(cases)('rejects %s with its path and reason', async (_name, record, problems) => {
    const res = await ingestJson(t.app, { records: [record] });
    expect(res.status).toBe(422);
    expect(res.body.accepted).toBe(0);
    expect(res.body.rejected).toHaveLength(1);
    const [rejected] = res.body.rejected;
    expect(rejected?.index).toBe(0);
    expect(rejected?.errors).toHaveLength(problems.length);
    problems.forEach((p, i) => {
      expect(rejected?.errors[i]?.path).toBe(p.path);
      if (typeof p.message === 'string') expect(rejected?.errors[i]?.message).toBe(p.message);
      else expect(rejected?.errors[i]?.message).toMatch(p.message);
    });
    expect(await rowCount(t, 'records')).toBe(0);
    const [stored] = await storedRejections(t.app);
    expect(stored?.errors).toEqual(rejected?.errors);
    expect(JSON.parse(stored?.raw ?? 'undefined')).toEqual(record);
  });

  it('reports every problem of one record, not only the first', async () => {
    const res = await ingestJson(t.app, [
      { model: '', request_id: 5, features: 'x', latency_ms: -1, extra: true },
    ]);
    const paths = res.body.rejected[0]?.errors.map((e) => e.path) ?? [];
    expect(new Set(paths)).toEqual(
      new Set([
        'records[0].model',
        'records[0].request_id',
        'records[0].features',
        'records[0].latency_ms',
        'records[0].extra',
      ]),
    );
  });

  it('names NDJSON problems by line', async () => {
    const res = await ingestNdjson(
      t.app,
      `${JSON.stringify(rec('a'))}\n${JSON.stringify(rec('b', { tags: { shard: 1 } }))}`,
    );
    expect(res.status).toBe(207);
    expect(res.body.rejected).toEqual([
      {
        line: 2,
        errors: [{ path: 'line[2].tags.shard', message: 'tag values must be strings, got number' }],
      },
    ]);
  });
});

describe('numbers JSON cannot represent', () => {
  it('names a feature value that overflows to Infinity as out of range', async () => {
    const res = await ingestJson(t.app, '[{"model": "iris", "request_id": "r1", "features": {"x": 1e999}}]');
    expect(res.status).toBe(422);
    expect(res.body.rejected[0]?.errors).toEqual([
      {
        path: 'records[0].features.x',
        message: 'expected number, string, boolean or null, got a number out of range',
      },
    ]);
  });
});

describe('timestamps that are accepted', () => {
  it.each([
    ['RFC 3339 UTC', '2026-11-24T10:00:00Z', '2026-11-24T10:00:00.000Z'],
    ['RFC 3339 with an offset', '2026-11-24T10:00:00+02:00', '2026-11-24T08:00:00.000Z'],
    ['RFC 3339 with fractional seconds', '2026-11-24T10:00:00.123Z', '2026-11-24T10:00:00.123Z'],
    ['RFC 3339 with a space separator', '2026-11-24 10:00:00Z', '2026-11-24T10:00:00.000Z'],
    ['a leap day', '2028-02-29T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['a leap day in a year divisible by 400', '2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['epoch milliseconds', Date.parse('2026-11-24T10:00:00Z'), '2026-11-24T10:00:00.000Z'],
    ['the last epoch millisecond of year 9999', 253_402_300_799_999, '9999-12-31T23:59:59.999Z'],
  ])('stores %s', async (_name, timestamp, iso) => {
    const res = await ingestJson(t.app, [rec('a', { timestamp })]);
    expect(res.status).toBe(200);
    const [stored] = await storedRecords(t.app);
    expect(stored?.timestamp).toBe(iso);
    expect(stored?.received_at).toBe(new Date(FIXED_NOW).toISOString());
    expect((await t.app.request('/v1/models')).status).toBe(200);
  });

  it.each(['2026-02-29T00:00:00Z', '2100-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-11-00T00:00:00Z'])(
    'rejects %s, a day the calendar does not have',
    async (timestamp) => {
      const res = await ingestJson(t.app, [rec('a', { timestamp })]);
      expect(res.status).toBe(422);
      expect(res.body.rejected[0]?.errors[0]?.path).toBe('records[0].timestamp');
    },
  );
});

describe('loose feature values', () => {
  it('accepts any scalar feature value, since an unexpected value is drift and not a reason to drop data', async () => {
    const features = { n: -3.5, s: 'text', b: false, z: null, 'with space': 1 };
    const res = await ingestJson(t.app, [
      rec('a', { features, label: null, prediction: true, status: 'error', error: 'timeout' }),
    ]);
    expect(res.status).toBe(200);
    const [stored] = await storedRecords(t.app);
    expect(stored?.features).toEqual(features);
    expect(stored?.prediction).toBe(true);
    expect(stored?.status).toBe('error');
    expect(stored?.error).toBe('timeout');
  });
});
