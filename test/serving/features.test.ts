import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_INSTANCES,
  type FeatureValues,
  toTensor,
  validateInstance,
  validateRequest,
} from '../../src/serving/features.js';
import { parseManifest } from '../../src/serving/manifest.js';
import { rentManifest, weatherManifest } from './fixtures.js';

const weather = parseManifest(weatherManifest(), 'weather');
const rent = parseManifest(rentManifest(), 'rent');

const GOOD = { precipitation: 9.6, temp_max: 1.8, season: 'summer', holiday: true, count: 7 };

function problemsOf(value: unknown, path = 'features') {
  const result = validateInstance(weather, value, path);
  if (result.ok) throw new Error(`expected problems, got ${JSON.stringify(result.values)}`);
  return result.problems;
}

describe('validateInstance', () => {
  it('accepts a complete instance and returns its values in inputs order', () => {
    const result = validateInstance(weather, GOOD, 'features');
    expect(result).toEqual({ ok: true, values: GOOD });
    expect(result.ok && Object.keys(result.values)).toEqual([
      'precipitation',
      'temp_max',
      'season',
      'holiday',
      'count',
    ]);
  });

  it('fills the defaults of absent optional inputs', () => {
    expect(validateInstance(weather, { precipitation: 0, temp_max: 10 }, 'features')).toEqual({
      ok: true,
      values: { precipitation: 0, temp_max: 10, season: 'winter', holiday: false, count: 0 },
    });
  });

  it('takes null for an optional input as its default', () => {
    const result = validateInstance(
      weather,
      { precipitation: 0, temp_max: 10, season: null, holiday: null, count: null },
      'features',
    );
    expect(result).toEqual({
      ok: true,
      values: { precipitation: 0, temp_max: 10, season: 'winter', holiday: false, count: 0 },
    });
  });

  it('refuses a missing required input, and null for one', () => {
    expect(problemsOf({ temp_max: 10 })).toEqual([
      { path: 'features.precipitation', message: 'missing (required)' },
    ]);
    expect(problemsOf({ precipitation: null, temp_max: 10 })).toEqual([
      { path: 'features.precipitation', message: 'missing (required, got null)' },
    ]);
  });

  it('refuses unknown fields, naming each', () => {
    expect(problemsOf({ ...GOOD, wind: 3, 'wind speed': 4, __proto__x: 1 })).toEqual([
      { path: 'features.wind', message: 'unknown field' },
      { path: 'features["wind speed"]', message: 'unknown field' },
      { path: 'features.__proto__x', message: 'unknown field' },
    ]);
  });

  it('refuses an own "__proto__" key as unknown (as JSON.parse makes it)', () => {
    expect(problemsOf(JSON.parse('{"precipitation":1,"temp_max":2,"__proto__":{"count":5}}'))).toEqual([
      { path: 'features.__proto__', message: 'unknown field' },
    ]);
  });

  it.each<[string, Record<string, unknown>, string, string]>([
    ['"3" for a number', { precipitation: '3' }, 'features.precipitation', 'expected number, got string'],
    ['true for a number', { temp_max: true }, 'features.temp_max', 'expected number, got boolean'],
    ['an array for a number', { temp_max: [1] }, 'features.temp_max', 'expected number, got array'],
    [
      'Infinity for a number',
      { temp_max: Infinity },
      'features.temp_max',
      'expected number, got a number out of range',
    ],
    ['a fraction for an integer', { count: 2.5 }, 'features.count', 'expected integer, got 2.5'],
    ['"2" for an integer', { count: '2' }, 'features.count', 'expected integer, got string'],
    ['1 for a boolean', { holiday: 1 }, 'features.holiday', 'expected boolean, got number'],
    ['"true" for a boolean', { holiday: 'true' }, 'features.holiday', 'expected boolean, got string'],
    ['a number for a string', { season: 1 }, 'features.season', 'expected string, got number'],
    ['an object for a string', { season: {} }, 'features.season', 'expected string, got object'],
    [
      'a value above the range',
      { precipitation: 100.5 },
      'features.precipitation',
      'outside the allowed range [0, 100]',
    ],
    [
      'a value below the range',
      { temp_max: -31 },
      'features.temp_max',
      'outside the allowed range [-30, 50]',
    ],
    ['an integer above its range', { count: 1001 }, 'features.count', 'outside the allowed range [0, 1000]'],
    [
      'a value not a category',
      { season: 'Winter' },
      'features.season',
      'not one of winter, spring, summer, autumn',
    ],
  ])('refuses %s', (_what, change, path, message) => {
    expect(problemsOf({ ...GOOD, ...change })).toEqual([{ path, message }]);
  });

  it('accepts the range bounds themselves', () => {
    expect(validateInstance(weather, { ...GOOD, precipitation: 0, temp_max: 50, count: 1000 }, 'f').ok).toBe(
      true,
    );
    expect(validateInstance(weather, { ...GOOD, precipitation: 100, temp_max: -30, count: 0 }, 'f').ok).toBe(
      true,
    );
  });

  it('accepts an integer for a number and a fraction-free number for an integer', () => {
    const result = validateInstance(weather, { ...GOOD, precipitation: 3, count: 4.0 }, 'features');
    expect(result).toEqual({ ok: true, values: { ...GOOD, precipitation: 3, count: 4 } });
  });

  it('refuses what is not an object', () => {
    for (const value of [null, [], 'x', 3]) {
      expect(problemsOf(value, 'instances[2]')).toEqual([
        { path: 'instances[2]', message: expect.stringMatching(/^expected object, got /) },
      ]);
    }
  });

  it('reports every problem of an instance, in order: unknown fields, then inputs', () => {
    expect(problemsOf({ extra: 1, temp_max: '20', season: 'monsoon', count: -1 }, 'instances[3]')).toEqual([
      { path: 'instances[3].extra', message: 'unknown field' },
      { path: 'instances[3].precipitation', message: 'missing (required)' },
      { path: 'instances[3].temp_max', message: 'expected number, got string' },
      { path: 'instances[3].season', message: 'not one of winter, spring, summer, autumn' },
      { path: 'instances[3].count', message: 'outside the allowed range [0, 1000]' },
    ]);
  });

  it('accepts any string for a string input whose categories are its one-hot list', () => {
    const raw = weatherManifest();
    raw.inputs[2] = { name: 'season', type: 'string', required: false, default: 'winter' };
    const m = parseManifest(raw, 'w');
    expect(validateInstance(m, { ...GOOD, season: 'spring' }, 'f').ok).toBe(true);
    expect(validateInstance(m, { ...GOOD, season: 'monsoon' }, 'f')).toEqual({
      ok: false,
      problems: [{ path: 'f.season', message: 'not one of winter, spring, summer, autumn' }],
    });
  });
});

describe('validateRequest', () => {
  it('accepts {"features": {…}} as one row', () => {
    expect(validateRequest(weather, { features: GOOD })).toEqual({
      ok: true,
      form: 'features',
      rows: [GOOD],
    });
  });

  it('accepts {"instances": […]} as rows in order, defaults filled', () => {
    const result = validateRequest(weather, { instances: [GOOD, { precipitation: 1, temp_max: 2 }] });
    expect(result).toEqual({
      ok: true,
      form: 'instances',
      rows: [GOOD, { precipitation: 1, temp_max: 2, season: 'winter', holiday: false, count: 0 }],
    });
  });

  it('reports the problems of every instance with its index', () => {
    const result = validateRequest(weather, {
      instances: [GOOD, { precipitation: 1 }, GOOD, { ...GOOD, holiday: 'no', count: 1.5 }],
    });
    expect(result).toEqual({
      ok: false,
      problems: [
        { path: 'instances[1].temp_max', message: 'missing (required)' },
        { path: 'instances[3].holiday', message: 'expected boolean, got string' },
        { path: 'instances[3].count', message: 'expected integer, got 1.5' },
      ],
    });
  });

  it('names features problems features.x', () => {
    expect(validateRequest(weather, { features: { ...GOOD, temp_max: 51 } })).toEqual({
      ok: false,
      problems: [{ path: 'features.temp_max', message: 'outside the allowed range [-30, 50]' }],
    });
  });

  it.each<[string, unknown, { path: string; message: string }[]]>([
    [
      'both features and instances',
      { features: GOOD, instances: [GOOD] },
      [{ path: '(body)', message: 'give exactly one of "features" (one instance) or "instances" (a batch)' }],
    ],
    [
      'neither',
      {},
      [{ path: '(body)', message: 'give exactly one of "features" (one instance) or "instances" (a batch)' }],
    ],
    ['an empty batch', { instances: [] }, [{ path: 'instances', message: 'must not be empty' }]],
    [
      'instances not an array',
      { instances: GOOD },
      [{ path: 'instances', message: 'expected array, got object' }],
    ],
    [
      'features not an object',
      { features: [GOOD] },
      [{ path: 'features', message: 'expected object, got array' }],
    ],
    ['a body that is not an object', [GOOD], [{ path: '(body)', message: 'expected object, got array' }]],
    [
      'an unknown top-level field besides valid features',
      { features: GOOD, model: 'weather' },
      [{ path: 'model', message: 'unknown field' }],
    ],
    [
      'an unknown top-level field and a bad instance',
      { instances: [{ ...GOOD, count: -1 }], debug: true },
      [
        { path: 'debug', message: 'unknown field' },
        { path: 'instances[0].count', message: 'outside the allowed range [0, 1000]' },
      ],
    ],
  ])('refuses %s', (_what, body, problems) => {
    expect(validateRequest(weather, body)).toEqual({ ok: false, problems });
  });

  it(`accepts at most ${DEFAULT_MAX_INSTANCES} instances by default`, () => {
    const at = validateRequest(weather, {
      instances: Array.from({ length: DEFAULT_MAX_INSTANCES }, () => GOOD),
    });
    expect(at.ok && at.rows.length).toBe(1000);
    const over = validateRequest(weather, {
      instances: Array.from({ length: DEFAULT_MAX_INSTANCES + 1 }, () => ({ bad: 1 })),
    });
    // Too many is refused before any instance is looked at: one problem, not 1001 × 3.
    expect(over).toEqual({
      ok: false,
      problems: [{ path: 'instances', message: 'at most 1000 instances per request, got 1001' }],
    });
  });

  it('takes another maximum', () => {
    expect(validateRequest(weather, { instances: [GOOD, GOOD, GOOD] }, { maxInstances: 2 })).toEqual({
      ok: false,
      problems: [{ path: 'instances', message: 'at most 2 instances per request, got 3' }],
    });
    expect(validateRequest(weather, { instances: [GOOD, GOOD] }, { maxInstances: 2 }).ok).toBe(true);
  });
});

function expectFloats(actual: Float32Array, expected: number[]) {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => {
    expect(actual[i], `column ${i}`).toBeCloseTo(e, 6);
  });
}

describe('toTensor', () => {
  it('standardises, one-hot encodes and writes booleans as 1/0, in inputs order', () => {
    const rows: FeatureValues[] = [
      GOOD, // (9.6 − 3) / 6.6 = 1, (1.8 − 16.4) / 7.3 = −2, summer, holiday, count 7 (not standardised)
      { precipitation: 3, temp_max: 23.7, season: 'winter', holiday: false, count: 0 },
      { precipitation: 0, temp_max: 16.4, season: 'autumn', holiday: true, count: 1000 },
    ];
    const { data, dims } = toTensor(weather, rows);
    expect(dims).toEqual([3, 8]);
    expect(data).toBeInstanceOf(Float32Array);
    expectFloats(data, [1, -2, 0, 0, 1, 0, 1, 7, 0, 1, 1, 0, 0, 0, 0, 0, -3 / 6.6, 0, 0, 0, 0, 1, 1, 1000]);
  });

  it('passes raw values when the graph standardises itself (embedded)', () => {
    const { data, dims } = toTensor(rent, [
      { area: 85.5, rooms: 3 },
      { area: 40, rooms: 1 },
    ]);
    expect(dims).toEqual([2, 2]);
    expectFloats(data, [85.5, 3, 40, 1]);
  });

  it('encodes the columns in the one-hot list order', () => {
    const raw = weatherManifest();
    (raw.preprocessing as { one_hot: Record<string, string[]> }).one_hot.season = [
      'autumn',
      'summer',
      'spring',
      'winter',
    ];
    const { data } = toTensor(parseManifest(raw, 'w'), [GOOD]);
    expectFloats(data.subarray(2, 6), [0, 1, 0, 0]);
  });

  it('builds an empty [0, F] tensor for no rows', () => {
    const { data, dims } = toTensor(weather, []);
    expect(dims).toEqual([0, 8]);
    expect(data.length).toBe(0);
  });

  it('feeds what validateRequest returns', () => {
    const result = validateRequest(weather, { instances: [{ precipitation: 9.6, temp_max: 1.8 }] });
    if (!result.ok) throw new Error('expected ok');
    expectFloats(toTensor(weather, result.rows).data, [1, -2, 1, 0, 0, 0, 0, 0]);
  });

  it('throws on a row that was not validated', () => {
    expect(() => toTensor(weather, [{ precipitation: 1 }])).toThrow(TypeError);
  });
});
