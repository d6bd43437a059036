import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastValidate } from '../../src/ingest/fast-path.js';
import { validateRecord } from '../../src/ingest/record.js';
import { FIXED_NOW } from '../support.js';

// fastValidate skips zod for records that are certainly valid; the schema stays the definition of valid.
// These properties hold it to that: whenever the fast path accepts a value, validateRecord accepts it too
// and builds the identical record. Declining (null) is always allowed.

const RECEIVED_AT = FIXED_NOW;
const EARLIEST_MS = 1e11;
const LATEST_MS = 253_402_300_799_999;

// Ingest only ever hands the validators what JSON.parse made of the body, so inputs are generated as
// JSON text. The tree below renders object members in order, as given, so a member JSON.stringify
// could not produce (an own "__proto__", a duplicate key, 1e999, -0) can still be written.
type Json =
  | null
  | boolean
  | number
  | string
  | { raw: string }
  | { members: [string, Json][] }
  | { items: Json[] };

function render(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if ('raw' in v) return v.raw;
  if ('items' in v) return `[${v.items.map(render).join(',')}]`;
  return `{${v.members.map(([k, x]) => `${JSON.stringify(k)}:${render(x)}`).join(',')}}`;
}

const obj = (members: [string, Json][]): Json => ({ members });
const raw = (text: string): Json => ({ raw: text });

/** The tree of a plain JSON value, e.g. one fc.jsonValue() made. */
function tree(v: unknown): Json {
  if (Array.isArray(v)) return { items: v.map(tree) };
  if (typeof v === 'object' && v !== null) return obj(Object.entries(v).map(([k, x]) => [k, tree(x)]));
  return v as Json;
}

// Strings: any UTF-16 code unit (lone surrogates included), whole code points, and sizes around limits.
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const anyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: codeUnit, maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(255, 256, 257, 100_000).map((n) => 'é'.repeat(n)),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '-0', '1e999', 'null', 'true', 'undefined', '', ' '),
);
const nonEmpty = (max: number) =>
  fc.oneof(
    fc.string({ minLength: 1, maxLength: max }),
    fc.string({ unit: codeUnit, minLength: 1, maxLength: max }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: max }),
  );
const identifier = fc.oneof(nonEmpty(40), fc.constant('x'.repeat(256)), fc.constant('😀'.repeat(128)));

const nameStart = [...'ABCXYZabcxyz0189'];
const nameRest = [...nameStart, '.', '_', ':', '-'];
const modelName = fc.oneof(
  fc
    .tuple(fc.constantFrom(...nameStart), fc.string({ unit: fc.constantFrom(...nameRest), maxLength: 20 }))
    .map(([a, b]) => a + b),
  fc.constant(`m${'-'.repeat(255)}`),
);

// Keys that mean something to objects or to the validators' own bookkeeping.
const trickyKey = fc.constantFrom(
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  '__proto__',
  '0',
  '-1',
  '1e3',
  'NaN',
  ' ',
  'é',
  '😀',
);
const key = fc.oneof(nonEmpty(10), trickyKey);
// JSON.parse keeps "__proto__" as an own key, which the schema refuses in every map (it would vanish on copy).
const mapKey = key.filter((k) => k !== '__proto__');

const finite = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(0, 1, -1, Number.MAX_VALUE, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308),
);
const number: fc.Arbitrary<Json> = fc.oneof(
  finite,
  fc.constantFrom('-0', '1E2', '1e-400', '-1e-400', '0.0000000000000000000001').map(raw),
);
const infinite = fc.constantFrom('1e999', '-1e999').map(raw);
const scalar: fc.Arbitrary<Json> = fc.oneof(number, anyString, fc.boolean(), fc.constant(null));

const epochMs = fc.oneof(
  fc.integer({ min: EARLIEST_MS, max: LATEST_MS }),
  fc.double({ min: EARLIEST_MS, max: LATEST_MS, noNaN: true }),
  fc.constantFrom(EARLIEST_MS, EARLIEST_MS + 0.4, EARLIEST_MS + 0.5, LATEST_MS, LATEST_MS - 0.5),
);
// Just outside: the range is checked before rounding, so LATEST_MS + 0.4 is out although it rounds in.
const epochNear = fc.constantFrom(
  LATEST_MS + 0.4,
  EARLIEST_MS - 1,
  EARLIEST_MS - 0.5,
  EARLIEST_MS - 0.4,
  LATEST_MS + 0.5,
  LATEST_MS + 1,
  8.64e15,
  8.64e15 + 1,
  1.7e9,
  0,
  -1,
  -EARLIEST_MS,
);
const isoDateFrom = (year: string) =>
  fc
    .date({ min: new Date(`${year}-01-01T00:00:00Z`), max: new Date(LATEST_MS), noInvalidDate: true })
    .map((d) => d.toISOString());
const isoDate = isoDateFrom('0000');
const rfc3339 = fc.oneof(
  isoDate,
  fc
    .tuple(
      // With a space for the "T", Date.parse falls back to its legacy parser, which reads years 0000–0099
      // as two-digit years (0049 → 2049) or not at all. Both validators get that from eventTime alike, so
      // it is no disagreement; only this generator of valid timestamps keeps clear of it.
      isoDateFrom('0100'),
      fc.constantFrom('T', 't', ' '),
      fc.constantFrom('Z', 'z', '+00:00', '-23:59', '+14:00'),
      fc.boolean(),
    )
    .map(([d, sep, zone, fraction]) => `${d.slice(0, 10)}${sep}${d.slice(11, fraction ? 23 : 19)}${zone}`),
  fc.constantFrom('2024-02-29T00:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z'),
);
const timestampNear = fc.oneof(
  epochNear,
  infinite,
  fc.constantFrom(
    '2026-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-24T24:00:00Z',
    '2026-11-24T10:60:00Z',
    '2026-11-24T10:00:00',
    '2026-11-24',
    '2026-11-24T10:00Z',
    '2026-11-24T10:00:00+0100',
    '+002026-11-24T10:00:00Z',
    '10000-01-01T00:00:00Z',
    ' 2026-11-24T10:00:00Z',
    '2026-11-24T10:00:00Z\n',
    '1e12',
    '1732442400000',
  ),
  anyString,
);

const members = (k: fc.Arbitrary<string>, v: fc.Arbitrary<Json>, maxLength = 6) =>
  fc.array(fc.tuple(k, v), { maxLength });
const probabilities = members(mapKey, number).map(obj);

// One arbitrary per field: values the schema accepts, and values that are nearly right but not.
const fields: Record<string, { ok: fc.Arbitrary<Json>; near: fc.Arbitrary<Json>; required: boolean }> = {
  model: {
    required: true,
    ok: modelName,
    near: fc.oneof(
      fc.constantFrom('', '-m', '.m', 'm m', 'm/1', 'é', 'm\n', `m${'x'.repeat(256)}`),
      modelName.map((m) => `${m}!`),
      anyString,
    ),
  },
  // 129 emoji are 258 UTF-16 units but 129 code points: zod, counting code points, accepts them, while the
  // fast path counts units and declines, which is its right.
  request_id: {
    required: true,
    ok: identifier,
    near: fc.constantFrom('', 'x'.repeat(257), '😀'.repeat(129)),
  },
  model_version: { required: false, ok: identifier, near: fc.constantFrom('', 'v'.repeat(257)) },
  timestamp: { required: false, ok: fc.oneof(epochMs, rfc3339), near: timestampNear },
  features: {
    required: true,
    ok: members(mapKey, scalar).map(obj),
    near: fc.oneof(
      fc
        .tuple(
          members(key, scalar),
          fc.constantFrom<[string, Json]>(
            ['', 1],
            ['__proto__', 1],
            ['__proto__', { members: [] }],
            ['a', { items: [] }],
            ['a', { members: [] }],
            ['a', { raw: '1e999' }],
            ['constructor', { members: [] }],
          ),
        )
        .map(([ms, bad]) => obj([...ms, bad])),
      fc.constantFrom<Json>('{}', { items: [] }, 0),
    ),
  },
  prediction: {
    required: false,
    ok: fc.oneof(number, anyString, fc.boolean(), probabilities),
    near: fc.oneof(
      fc.constant(null),
      infinite,
      fc
        .tuple(
          members(key, number),
          fc.constantFrom<[string, Json]>(
            ['a', 'x'],
            ['a', null],
            ['a', true],
            ['a', { raw: '-1e999' }],
            ['a', { members: [] }],
            ['__proto__', 0.5],
            ['constructor', 'x'],
          ),
        )
        .map(([ms, bad]) => obj([...ms, bad])),
      fc.constant<Json>({ items: [0.2, 0.8] }),
    ),
  },
  label: {
    required: false,
    ok: scalar,
    near: fc.oneof(infinite, fc.constant<Json>({ items: [] }), probabilities),
  },
  latency_ms: {
    required: false,
    ok: fc.oneof(
      fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom<Json>(0, raw('-0'), raw('1e-400'), 1e308),
    ),
    near: fc.oneof(
      fc.constantFrom<Json>(-1, -Number.MIN_VALUE, raw('-1e-300'), raw('1e999'), '5', '0', null, true),
      fc.double({ max: -Number.MIN_VALUE, noNaN: true }),
    ),
  },
  status: {
    required: false,
    ok: fc.constantFrom('ok', 'error'),
    near: fc.constantFrom<Json>('OK', 'Error', 'ok ', '', 'failed', null, 0, true),
  },
  error: {
    required: false,
    ok: anyString,
    near: fc.constantFrom<Json>(null, 0, false, { items: [] }, { members: [] }),
  },
  tags: {
    required: false,
    ok: members(mapKey, anyString).map(obj),
    near: fc.oneof(
      fc
        .tuple(
          members(key, anyString),
          fc.constantFrom<[string, Json]>(
            ['a', 1],
            ['a', null],
            ['a', true],
            ['__proto__', 'x'],
            ['constructor', 1],
          ),
        )
        .map(([ms, bad]) => obj([...ms, bad])),
      fc.constantFrom<Json>('a=b', { items: ['a'] }),
    ),
  },
};
const names = Object.keys(fields);

/** A record the schema accepts: every required field, any optional ones, each with a valid value. */
const validRecord = fc
  .record(
    Object.fromEntries(
      names.map((n) => {
        const f = fields[n] as (typeof fields)[string];
        return [n, f.required ? f.ok : fc.option(f.ok, { nil: undefined })];
      }),
    ) as Record<string, fc.Arbitrary<Json | undefined>>,
  )
  .map((r) => Object.entries(r).filter((e): e is [string, Json] => e[1] !== undefined));

type Mutation =
  | { kind: 'near'; field: string; value: Json }
  | { kind: 'any'; field: string; value: Json }
  | { kind: 'drop'; field: string }
  | { kind: 'extra'; field: string; value: Json }
  | { kind: 'repeat'; field: string; value: Json };

const anyJson = fc.jsonValue({ maxDepth: 2 }).map(tree);
const field = fc.constantFrom(...names);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  field.chain((f) =>
    (fields[f] as (typeof fields)[string]).near.map((value) => ({ kind: 'near' as const, field: f, value })),
  ),
  fc.record({ kind: fc.constant('any' as const), field, value: fc.oneof(anyJson, infinite, number) }),
  fc.record({ kind: fc.constant('drop' as const), field }),
  fc.record({
    kind: fc.constant('extra' as const),
    field: fc.oneof(
      trickyKey,
      fc.constantFrom('Model', 'features ', 'requestId', 'ts', 'labels', ''),
      nonEmpty(8),
    ),
    value: fc.oneof(scalar, anyJson),
  }),
  // A repeated member: JSON.parse keeps the last one, which may be the wrong one.
  fc.record({ kind: fc.constant('repeat' as const), field, value: fc.oneof(scalar, anyJson) }),
);

function mutate(record: [string, Json][], m: Mutation): [string, Json][] {
  switch (m.kind) {
    case 'drop':
      return record.filter(([k]) => k !== m.field);
    case 'extra':
    case 'repeat':
      return [...record, [m.field, m.value]];
    default:
      return [...record.filter(([k]) => k !== m.field), [m.field, m.value]];
  }
}

/** Valid records, records with one thing wrong, with several, and things that are not records at all. */
const input: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: validRecord.map((r) => render(obj(r))) },
  { weight: 5, arbitrary: fc.tuple(validRecord, mutation).map(([r, m]) => render(obj(mutate(r, m)))) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(validRecord, fc.array(mutation, { minLength: 2, maxLength: 4 }))
      .map(([r, ms]) => render(obj(ms.reduce(mutate, r)))),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      anyJson.map(render),
      fc.constantFrom('[]', '[{}]', 'null', '"record"', '0', '1e999', 'true', '{"__proto__":{"model":"m"}}'),
      validRecord.map((r) => render({ items: [obj(r)] })),
    ),
  },
);

// fastValidate takes `unknown`, and a caller other than the JSON body parser may hand it objects JSON.parse
// never makes. The schema refuses Dates, Maps, class instances and symbol keys where it wants a record,
// so the fast path must not build a record out of them either.
class Features {
  x = 1;
}
const oddObject: fc.Arbitrary<unknown> = fc.oneof(
  fc
    .constantFrom<() => unknown>(
      () => new Date(FIXED_NOW),
      () => new Map([['x', 1]]),
      () => new Set(['x']),
      () => new Features(),
      () => new Uint8Array(2),
      () => /x/,
      () => new Error('x'),
      () => new String('x'),
      () => Promise.resolve(1),
      () => ({ x: 1, [Symbol('x')]: 2 }),
      () => Object.create({ x: 1 }) as unknown,
      () => Object.assign(Object.create(null) as object, { x: 1 }),
      () => ({ x: undefined }),
      () => ({ x: Number.NaN }),
      () => new Array(3),
      () => () => 1,
    )
    .map((make) => make()),
  fc.constantFrom<unknown>(undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, 10n, Symbol('x')),
);
const withOddValue = fc
  .tuple(
    validRecord,
    fc.constantFrom('features', 'prediction', 'tags', 'label', 'error', 'model', 'timestamp'),
    oddObject,
  )
  .map(([r, f, odd]) => {
    const value = JSON.parse(render(obj(r))) as Record<string, unknown>;
    value[f] = odd;
    return value;
  });

/** The property itself, for one input value. */
function agrees(value: unknown, fromJsonParse = false): void {
  const fast = fastValidate(value, RECEIVED_AT, fromJsonParse);
  if (fast === null) return;
  const slow = validateRecord(value, 'records[0]', RECEIVED_AT);
  expect(slow).toEqual({ ok: true, record: fast });
  // toEqual tells -0 from 0 but ignores key order; the JSON text stored for the record must match too.
  expect(JSON.stringify(slow.ok && slow.record)).toBe(JSON.stringify(fast));
}

describe('fastValidate against the zod schema', () => {
  it('accepts a value only when validateRecord accepts it, and builds the identical record', () => {
    fc.assert(
      fc.property(input, (text) => {
        agrees(JSON.parse(text));
        // HTTP ingest tells the fast path its values came from JSON.parse: the same must hold.
        agrees(JSON.parse(text), true);
      }),
      { numRuns: 5000 },
    );
  });

  it('holds for values JSON.parse never makes: Dates, Maps, class instances, symbol keys, NaN', () => {
    fc.assert(
      fc.property(withOddValue, (value) => agrees(value)),
      { numRuns: 1000 },
    );
  });

  it('declines objects that are not plain where a record needs one (regressions the property found)', () => {
    const base = { model: 'm', request_id: 'r' };
    const cases: [string, Record<string, unknown>][] = [
      ['Date as features', { ...base, features: new Date(FIXED_NOW) }],
      ['Map as features', { ...base, features: new Map([['x', 1]]) }],
      ['class instance as features', { ...base, features: new Features() }],
      ['symbol key in features', { ...base, features: { x: 1, [Symbol('x')]: 2 } }],
      ['typed array as tags', { ...base, features: {}, tags: new Uint8Array(0) }],
      ['Date as prediction', { ...base, features: {}, prediction: new Date(FIXED_NOW) }],
    ];
    for (const [what, value] of cases) {
      expect(validateRecord(value, 'records[0]', RECEIVED_AT).ok, what).toBe(false);
      expect(fastValidate(value, RECEIVED_AT), what).toBeNull();
    }
    // Objects without a prototype are still plain to both.
    const bare = Object.assign(Object.create(null) as object, { ...base, features: { x: 1 } });
    expect(fastValidate(bare, RECEIVED_AT)).toEqual({
      model: 'm',
      modelVersion: '',
      requestId: 'r',
      ts: RECEIVED_AT,
      features: { x: 1 },
      prediction: null,
      label: null,
      latencyMs: null,
      status: null,
      error: null,
      tags: null,
      featureCount: 1,
    });
    expect(validateRecord(bare, 'records[0]', RECEIVED_AT).ok).toBe(true);
  });

  it('generates valid records the schema accepts, and the fast path takes them (so the property above is not empty)', () => {
    // Declining is always correct, but a fast path that declined these would send all normal traffic through zod.
    fc.assert(
      fc.property(validRecord, (record) => {
        const value = JSON.parse(render(obj(record))) as unknown;
        const slow = validateRecord(value, 'records[0]', RECEIVED_AT);
        expect(slow.ok, JSON.stringify(slow.ok ? null : slow.problems)).toBe(true);
        expect(fastValidate(value, RECEIVED_AT)).not.toBeNull();
      }),
      { numRuns: 1000 },
    );
  });

  it('declines the near misses at the edges, which the schema rejects', () => {
    const base = { model: 'm', request_id: 'r', features: { x: 1 } };
    const cases: string[] = [
      JSON.stringify({ ...base, timestamp: EARLIEST_MS - 0.5 }),
      JSON.stringify({ ...base, timestamp: LATEST_MS + 0.5 }),
      JSON.stringify({ ...base, timestamp: '2026-02-29T00:00:00Z' }),
      JSON.stringify({ ...base, timestamp: '1732442400000' }),
      `{"model":"m","request_id":"r","features":{"x":1},"latency_ms":-1e-300}`,
      `{"model":"m","request_id":"r","features":{"x":1e999}}`,
      `{"model":"m","request_id":"r","features":{"__proto__":1}}`,
      `{"model":"m","request_id":"r","features":{"x":1},"tags":{"__proto__":"x"}}`,
      `{"model":"m","request_id":"r","features":{"x":1},"prediction":null}`,
      `{"model":"m","request_id":"r","features":{"x":1},"constructor":{}}`,
      `{"model":"m","request_id":"${'x'.repeat(257)}","features":{}}`,
    ];
    for (const text of cases) {
      const value = JSON.parse(text) as unknown;
      expect(validateRecord(value, 'records[0]', RECEIVED_AT).ok, text).toBe(false);
      expect(fastValidate(value, RECEIVED_AT), text).toBeNull();
    }
  });
});
