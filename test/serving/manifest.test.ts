import { describe, expect, it } from 'vitest';
import {
  columnNames,
  featureWidth,
  type Manifest,
  ManifestError,
  parseManifest,
} from '../../src/serving/manifest.js';
import { rentManifest, weatherManifest } from './fixtures.js';

type Json = Record<string, unknown> & { inputs: Record<string, unknown>[] };

/** The problems parseManifest reports for the example manifest after `change`; fails if it parses. */
function problemsAfter(change: (m: Json) => void, base = weatherManifest): string[] {
  const m = structuredClone(base()) as Json;
  change(m);
  try {
    parseManifest(m, 'models/weather/1/manifest.json');
  } catch (err) {
    if (err instanceof ManifestError) return err.problems;
    throw err;
  }
  throw new Error('expected parseManifest to throw a ManifestError');
}

const pre = (m: Json) => m.preprocessing as Record<string, Record<string, unknown>>;

describe('parseManifest', () => {
  it('parses the contract example and fills the defaults', () => {
    const m = parseManifest(weatherManifest(), 'w');
    expect(m.name).toBe('weather');
    expect(m.inputs.map((i) => i.name)).toEqual(['precipitation', 'temp_max', 'season', 'holiday', 'count']);
    expect(m.output).toEqual({
      kind: 'classification',
      labels: ['drizzle', 'fog', 'rain', 'snow', 'sun'],
      probabilities: 'probabilities',
    });
  });

  it('defaults onnx.input to "input" and preprocessing to nothing', () => {
    const raw = rentManifest();
    const m = parseManifest(raw, 'r');
    expect(m.onnx.input).toBe('input');
    expect(m.preprocessing.one_hot).toEqual({});
    const { preprocessing: _p, ...bare } = raw;
    expect(parseManifest(bare, 'r').preprocessing).toEqual({ embedded: false, standardize: {}, one_hot: {} });
  });

  it('names the file and lists every problem in the error message', () => {
    const m = weatherManifest();
    m.name = '../weather';
    m.output = { kind: 'classification', labels: ['only'], probabilities: 'p' };
    let caught: unknown;
    try {
      parseManifest(m, 'models/weather/1/manifest.json');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ManifestError);
    const err = caught as ManifestError;
    expect(err.where).toBe('models/weather/1/manifest.json');
    expect(err.message).toContain('invalid manifest models/weather/1/manifest.json');
    expect(err.message).toContain('  - name: must be 1–64 letters');
    expect(err.message).toContain('  - output.labels: at least 2');
  });

  it('refuses something that is not an object', () => {
    expect(() => parseManifest([], 'x')).toThrow(/\(top level\): expected object, got array/);
    expect(() => parseManifest(null, 'x')).toThrow(ManifestError);
  });

  it('reports unknown keys at every level', () => {
    expect(
      problemsAfter((m) => {
        m.extra = 1;
        m.inputs[0] = { ...m.inputs[0], min: 0 };
        pre(m).standardize = { precipitation: { mean: 3, std: 6.6, var: 1 } };
        m.output = { kind: 'regression', value: 'value', labels: ['a', 'b'] };
      }),
    ).toEqual([
      'inputs[0].min: unknown key',
      'preprocessing.standardize.precipitation.var: unknown key',
      'output.labels: unknown key',
      'extra: unknown key',
    ]);
  });

  it('reports every problem of a thoroughly broken manifest at once', () => {
    const problems = problemsAfter((m) => {
      m.name = 'a/b';
      m.version = 3;
      m.created_at = '30/11/2026';
      m.training_data = { sha256: 'ABC', rows: -1, source: 'x' };
      delete m.code_commit;
      delete m.inputs[2]?.default;
      pre(m).standardize = { precipitation: { mean: 3, std: 0 }, x: { mean: 0, std: 1 } };
      m.output = { kind: 'classification', labels: ['rain'], probabilities: 'probabilities' };
    });
    expect(problems).toEqual([
      'name: must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'version: expected string, got 3',
      'created_at: expected an RFC 3339 date-time such as 2026-11-30T12:00:00Z, got "30/11/2026"',
      'training_data.sha256: expected 64 lowercase hex characters',
      'training_data.rows: must be ≥ 0',
      'code_commit: required',
      'inputs[2].default: required for an optional input',
      'preprocessing.standardize.precipitation.std: std must be > 0',
      'output.labels: at least 2',
      'preprocessing.standardize.x: not an input',
    ]);
  });

  it('checks relations even when the shape is broken elsewhere', () => {
    const problems = problemsAfter((m) => {
      m.version = 3;
      pre(m).one_hot = { season: ['winter', 'spring', 'summer', 'autumn'], holiday: ['yes', 'no'] };
    });
    expect(problems).toContain('preprocessing.one_hot.holiday: not an input of type string');
  });

  it.each<[string, (m: Json) => void, string]>([
    [
      'a duplicate input name',
      (m) => m.inputs.push({ name: 'temp_max', type: 'number', required: true }),
      'inputs[5].name: duplicate input name "temp_max" (also inputs[1])',
    ],
    [
      'one_hot for a number input',
      (m) => {
        pre(m).one_hot = { season: ['winter', 'spring', 'summer', 'autumn'], temp_max: ['a'] };
      },
      'preprocessing.one_hot.temp_max: not an input of type string',
    ],
    [
      'one_hot for no input',
      (m) => {
        pre(m).one_hot = { season: ['winter', 'spring', 'summer', 'autumn'], colour: ['red', 'blue'] };
      },
      'preprocessing.one_hot.colour: not an input',
    ],
    [
      'standardize for a string input',
      (m) => {
        pre(m).standardize = { season: { mean: 0, std: 1 } };
      },
      'preprocessing.standardize.season: not an input of type number or integer',
    ],
    [
      'a string input without one_hot',
      (m) => {
        pre(m).one_hot = {};
      },
      'inputs[2]: string input "season" needs preprocessing.one_hot.season (the graph takes floats only)',
    ],
    [
      'a one_hot list other than the categories',
      (m) => {
        pre(m).one_hot = { season: ['winter', 'summer'] };
      },
      'preprocessing.one_hot.season: must list the same values as inputs[2].categories',
    ],
    [
      'a default outside the range',
      (m) => {
        m.inputs[4] = { ...m.inputs[4], default: 1001 };
      },
      'inputs[4].default: 1001 is outside the range [0, 1000]',
    ],
    [
      'a default not among the categories',
      (m) => {
        m.inputs[2] = { ...m.inputs[2], default: 'monsoon' };
      },
      'inputs[2].default: "monsoon" is not one of winter, spring, summer, autumn',
    ],
    [
      'a default of the wrong type',
      (m) => {
        m.inputs[3] = { ...m.inputs[3], default: 'no' };
      },
      'inputs[3].default: expected true or false, got string',
    ],
    [
      'a non-integer default for an integer input',
      (m) => {
        m.inputs[4] = { ...m.inputs[4], default: 2.5 };
      },
      'inputs[4].default: expected an integer, got 2.5',
    ],
    [
      'a default for a required input',
      (m) => {
        m.inputs[0] = { ...m.inputs[0], default: 1 };
      },
      'inputs[0].default: not allowed for a required input (it would never be used)',
    ],
    [
      'an optional boolean without default',
      (m) => {
        m.inputs[3] = { name: 'holiday', type: 'boolean', required: false };
      },
      'inputs[3].default: required for an optional input',
    ],
    [
      'an unknown input type',
      (m) => {
        m.inputs[0] = { ...m.inputs[0], type: 'float' };
      },
      'inputs[0].type: expected one of number, integer, string, boolean, got "float"',
    ],
    [
      'an input without name',
      (m) => {
        m.inputs[3] = { type: 'boolean', required: false, default: false };
      },
      'inputs[3].name: required',
    ],
    [
      'an input named __proto__',
      (m) => {
        m.inputs[3] = { name: '__proto__', type: 'boolean', required: false, default: false };
      },
      'inputs[3].name: the name "__proto__" is not allowed',
    ],
    [
      'a backwards range',
      (m) => {
        m.inputs[0] = { ...m.inputs[0], range: [100, 0] };
      },
      'inputs[0].range: min must be ≤ max',
    ],
    [
      'a range that is not a pair',
      (m) => {
        m.inputs[0] = { ...m.inputs[0], range: [0] };
      },
      'inputs[0].range: expected [min, max]',
    ],
    [
      'repeated categories',
      (m) => {
        m.inputs[2] = { ...m.inputs[2], categories: ['winter', 'winter'] };
      },
      'inputs[2].categories: categories must be unique',
    ],
    ['no inputs', (m) => m.inputs.splice(0), 'inputs: at least 1'],
    [
      'repeated labels',
      (m) => {
        m.output = { kind: 'classification', labels: ['rain', 'rain'], probabilities: 'p' };
      },
      'output.labels: labels must be unique',
    ],
    [
      'an unknown output kind',
      (m) => {
        m.output = { kind: 'ranking' };
      },
      'output.kind: expected one of classification, regression, got "ranking"',
    ],
    [
      'a regression output without value',
      (m) => {
        m.output = { kind: 'regression' };
      },
      'output.value: required',
    ],
    [
      'an impossible date',
      (m) => {
        m.created_at = '2026-02-30T12:00:00Z';
      },
      'created_at: expected an RFC 3339 date-time such as 2026-11-30T12:00:00Z, got "2026-02-30T12:00:00Z"',
    ],
    [
      'a short sha256',
      (m) => {
        m.training_data = { sha256: 'ab'.repeat(31), rows: 1, source: 'x' };
      },
      'training_data.sha256: expected 64 lowercase hex characters',
    ],
    [
      'an unsafe version',
      (m) => {
        m.version = '..';
      },
      'version: must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    ],
    [
      'a negative std',
      (m) => {
        pre(m).standardize = { temp_max: { mean: 16.4, std: -7.3 } };
      },
      'preprocessing.standardize.temp_max.std: std must be > 0',
    ],
    [
      'two columns of the same name',
      (m) => m.inputs.push({ name: 'season=winter', type: 'number', required: true }),
      'inputs[5]: column name "season=winter" appears twice',
    ],
  ])('refuses %s', (_what, change, problem) => {
    expect(problemsAfter(change)).toEqual([problem]);
  });

  it('accepts a string input without categories of its own (the one-hot list is its categories)', () => {
    const raw = weatherManifest();
    raw.inputs[2] = { name: 'season', type: 'string', required: false, default: 'winter' };
    expect(parseManifest(raw, 'w').inputs[2]).toEqual(raw.inputs[2]);
  });
});

describe('featureWidth and columnNames', () => {
  const weather: Manifest = parseManifest(weatherManifest(), 'w');

  it('gives one column per number, integer and boolean and one per category of a string', () => {
    expect(columnNames(weather)).toEqual([
      'precipitation',
      'temp_max',
      'season=winter',
      'season=spring',
      'season=summer',
      'season=autumn',
      'holiday',
      'count',
    ]);
    expect(featureWidth(weather)).toBe(8);
  });

  it('follows the one-hot list order, not the categories order', () => {
    const raw = weatherManifest();
    (raw.preprocessing as { one_hot: Record<string, string[]> }).one_hot.season = [
      'autumn',
      'winter',
      'spring',
      'summer',
    ];
    expect(columnNames(parseManifest(raw, 'w')).slice(2, 6)).toEqual([
      'season=autumn',
      'season=winter',
      'season=spring',
      'season=summer',
    ]);
  });

  it('is the inputs for a manifest without strings', () => {
    const rent = parseManifest(rentManifest(), 'r');
    expect(columnNames(rent)).toEqual(['area', 'rooms']);
    expect(featureWidth(rent)).toBe(2);
  });
});
