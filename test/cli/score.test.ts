import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RejectLine, ScoreError, scoreFile, typedCsvRow } from '../../src/cli/score-file.js';
import type { ClassificationPrediction } from '../../src/serving/outputs.js';
import { predict } from '../../src/serving/predict.js';
import { ServingRuntime } from '../../src/serving/runtime.js';
import { registerVersion } from '../../src/serving/versions.js';
import { FIXED_NOW, makeTestApp, type TestApp, tempDir } from '../support.js';

// Batch scoring against a store with the demo weather model registered: the predictions file, the rejects
// file and what reaches monitoring, on whichever store the vitest project runs.

const MODEL_DIR = join(import.meta.dirname, '..', '..', 'models', 'weather');
const LABELS = ['drizzle', 'fog', 'rain', 'snow', 'sun'];

async function register(t: TestApp, version: string, activate: boolean) {
  await registerVersion(t.deps, {
    model: 'weather',
    manifest: JSON.parse(readFileSync(join(MODEL_DIR, version, 'manifest.json'), 'utf8')),
    onnx: readFileSync(join(MODEL_DIR, version, 'model.onnx')),
    actor: 'test',
    activate,
  });
}

const ndjson = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const CSV = [
  'precipitation,temp_max,temp_min,wind',
  '0.0,12.8,5.0,4.7',
  '10.9,10.6,2.8,4.5',
  ',10,5,3', // row 3: precipitation missing
  'abc,10,5,3', // row 4: not a number
  '0.8,99,5,3', // row 5: temp_max outside its range
  '"0",20,10,2',
  '1,2,3', // row 7: a field short
].join('\n');

const GOOD = [
  { precipitation: 0, temp_max: 12.8, temp_min: 5, wind: 4.7 },
  { precipitation: 10.9, temp_max: 10.6, temp_min: 2.8, wind: 4.5 },
  { precipitation: 0, temp_max: 20, temp_min: 10, wind: 2 },
];

describe('batch scoring', () => {
  let t: TestApp;
  let dir: string;
  let cleanup: () => void;
  let expected: ClassificationPrediction[];
  let reference: TestApp;
  let runtime: ServingRuntime;

  beforeAll(async () => {
    // What predict() answers for the good rows, on a store of its own (its records stay out of the counts).
    reference = makeTestApp({ serving: { logPredictions: false } });
    await register(reference, '1', true);
    runtime = new ServingRuntime(reference.deps);
    await runtime.start();
    const answer = await predict(reference.deps, runtime, {
      model: 'weather',
      body: { instances: GOOD },
      requestId: 'reference',
    });
    expected = answer.predictions as ClassificationPrediction[];
  });
  afterAll(async () => {
    await runtime.close();
    await reference.close();
  });

  beforeEach(async () => {
    t = makeTestApp();
    ({ dir, cleanup } = tempDir());
    await register(t, '1', true);
  });
  afterEach(async () => {
    await t.close();
    cleanup();
  });

  const count = async () =>
    Number(
      (await t.sql<{ n: unknown }>('SELECT count(*) AS n FROM records WHERE model = ?', ['weather']))[0]?.n,
    );

  it('scores the good rows of a CSV with the probabilities predict() gives, and rejects the rest with reasons', async () => {
    writeFileSync(join(dir, 'in.csv'), CSV);
    const summary = await scoreFile(t.deps, {
      model: 'weather',
      input: join(dir, 'in.csv'),
      output: join(dir, 'out.csv'),
      rejects: join(dir, 'rejects.ndjson'),
      batchSize: 2,
    });
    expect(summary).toMatchObject({ model_version: '1', rows: 7, scored: 3, rejected: 4, logged: 3 });

    const out = parse(readFileSync(join(dir, 'out.csv')), { columns: true }) as Record<string, string>[];
    expect(Object.keys(out[0] ?? {})).toEqual([
      'precipitation',
      'temp_max',
      'temp_min',
      'wind',
      'prediction',
      ...LABELS.map((l) => `p_${l}`),
    ]);
    expect(out.map((r) => r.temp_max)).toEqual(['12.8', '10.6', '20']);
    out.forEach((r, i) => {
      const want = expected[i] as ClassificationPrediction;
      expect(r.prediction).toBe(want.label);
      for (const l of LABELS) expect(Number(r[`p_${l}`])).toBe(want.probabilities[l]);
    });

    const rejects = ndjson(join(dir, 'rejects.ndjson')) as unknown as RejectLine[];
    expect(rejects.map((r) => r.row)).toEqual([3, 4, 5, 7]);
    expect(rejects[0]).toEqual({
      row: 3,
      errors: [{ path: 'row 3.precipitation', message: 'missing (required)' }],
      raw: { precipitation: '', temp_max: '10', temp_min: '5', wind: '3' },
    });
    expect(rejects[1]?.errors).toEqual([
      { path: 'row 4.precipitation', message: 'expected number, got string' },
    ]);
    expect(rejects[2]?.errors).toEqual([
      { path: 'row 5.temp_max', message: 'outside the allowed range [-25, 50]' },
    ]);
    expect(rejects[3]?.errors[0]?.message).toBe('has 3 fields, the header has 4');

    expect(await count()).toBe(3);
    const records = await t.sql<Record<string, unknown>>(
      'SELECT request_id, model_version, ts, prediction, status FROM records WHERE model = ? ORDER BY id',
      ['weather'],
    );
    const prefix = summary.request_id_prefix;
    expect(prefix).toMatch(/^batch-[0-9a-f]{16}$/);
    expect(records.map((r) => r.request_id)).toEqual([`${prefix}-1@1`, `${prefix}-2@1`, `${prefix}-6@1`]);
    expect(records.every((r) => r.model_version === '1' && r.status === 'ok')).toBe(true);
    expect(records.map((r) => Number(r.ts))).toEqual([FIXED_NOW, FIXED_NOW, FIXED_NOW]);
    // Monitoring gets the class probabilities (the file shows the label), as predict logs them.
    expect(records.map((r) => JSON.parse(String(r.prediction)))).toEqual(
      expected.map((p) => p.probabilities),
    );

    // The same file again: monitoring already has every row (the ids come from the file's sha256).
    const again = await scoreFile(t.deps, {
      model: 'weather',
      input: join(dir, 'in.csv'),
      output: join(dir, 'out2.csv'),
    });
    expect(again).toMatchObject({ scored: 3, rejected: 4, logged: 0, log_duplicates: 3 });
    expect(await count()).toBe(3);
  });

  it('reads and writes NDJSON, with a timestamp field as the event time', async () => {
    const lines = [
      JSON.stringify({ ...GOOD[0], timestamp: '2026-11-20T08:00:00Z' }),
      'not json',
      '',
      JSON.stringify({ ...GOOD[1], humidity: 3 }),
      JSON.stringify(GOOD[1]),
      JSON.stringify({ ...GOOD[2], timestamp: 'yesterday' }),
      JSON.stringify(GOOD[2]),
    ];
    writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
    const summary = await scoreFile(t.deps, {
      model: 'weather',
      version: '1',
      input: join(dir, 'in.ndjson'),
      output: join(dir, 'out.ndjson'),
      rejects: join(dir, 'rejects.ndjson'),
    });
    expect(summary).toMatchObject({ rows: 6, scored: 3, rejected: 3, logged: 3 });
    const out = ndjson(join(dir, 'out.ndjson'));
    expect(out).toEqual([
      {
        ...GOOD[0],
        timestamp: '2026-11-20T08:00:00Z',
        prediction: expected[0]?.label,
        probabilities: expected[0]?.probabilities,
      },
      { ...GOOD[1], prediction: expected[1]?.label, probabilities: expected[1]?.probabilities },
      { ...GOOD[2], prediction: expected[2]?.label, probabilities: expected[2]?.probabilities },
    ]);
    const rejects = ndjson(join(dir, 'rejects.ndjson'));
    expect(rejects).toEqual([
      { line: 2, errors: [{ path: 'line 2', message: 'not valid JSON' }], raw: 'not json' },
      {
        line: 4,
        errors: [{ path: 'line 4.humidity', message: 'unknown field' }],
        raw: { ...GOOD[1], humidity: 3 },
      },
      {
        line: 6,
        errors: [{ path: 'line 6.timestamp', message: expect.stringContaining('expected RFC 3339') }],
        raw: { ...GOOD[2], timestamp: 'yesterday' },
      },
    ]);
    const ts = await t.sql<{ ts: unknown }>('SELECT ts FROM records WHERE model = ? ORDER BY id', [
      'weather',
    ]);
    expect(ts.map((r) => Number(r.ts))).toEqual([Date.parse('2026-11-20T08:00:00Z'), FIXED_NOW, FIXED_NOW]);
  });

  it('writes CSV from NDJSON and NDJSON from CSV', async () => {
    writeFileSync(join(dir, 'in.ndjson'), GOOD.map((r) => JSON.stringify(r)).join('\n'));
    await scoreFile(t.deps, {
      model: 'weather',
      input: join(dir, 'in.ndjson'),
      output: join(dir, 'out.csv'),
      log: false,
    });
    const csv = parse(readFileSync(join(dir, 'out.csv')), { columns: true }) as Record<string, string>[];
    expect(csv.map((r) => [Number(r.wind), r.prediction])).toEqual(
      GOOD.map((g, i) => [g.wind, expected[i]?.label]),
    );

    writeFileSync(join(dir, 'in.csv'), CSV);
    await scoreFile(t.deps, {
      model: 'weather',
      input: join(dir, 'in.csv'),
      output: join(dir, 'out.ndjson'),
      log: false,
    });
    expect(ndjson(join(dir, 'out.ndjson')).map((r) => r.temp_max)).toEqual([12.8, 10.6, 20]);
  });

  it('logs nothing with log off', async () => {
    writeFileSync(join(dir, 'in.csv'), CSV);
    const summary = await scoreFile(t.deps, {
      model: 'weather',
      input: join(dir, 'in.csv'),
      output: join(dir, 'out.csv'),
      log: false,
    });
    expect(summary).toMatchObject({ scored: 3, rejected: 4, logged: 0, request_id_prefix: null });
    expect(summary.first_rejects).toHaveLength(4);
    expect(await count()).toBe(0);
  });

  it('writes the model into a directory of its own, never through a symlink planted in the temp directory', async () => {
    writeFileSync(join(dir, 'in.csv'), CSV);
    // Another local user plants symlinks where a model file would go under a predictable name.
    const tmp = join(dir, 'tmp');
    mkdirSync(join(tmp, 'driftwatch-models'), { recursive: true });
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const sha256 = createHash('sha256')
      .update(readFileSync(join(MODEL_DIR, '1', 'model.onnx')))
      .digest('hex');
    symlinkSync(victim, join(tmp, 'driftwatch-models', `${sha256}.onnx`));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const summary = await scoreFile(t.deps, {
        model: 'weather',
        input: join(dir, 'in.csv'),
        output: join(dir, 'out.csv'),
        log: false,
      });
      expect(summary.scored).toBe(3);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    // The run's own directory is gone with it.
    expect(readdirSync(tmp).filter((name) => name.startsWith('driftwatch'))).toEqual(['driftwatch-models']);
  });

  it('scores with a named version that is not the active one', async () => {
    await register(t, '2', false);
    writeFileSync(join(dir, 'in.ndjson'), GOOD.map((r) => JSON.stringify(r)).join('\n'));
    const summary = await scoreFile(t.deps, {
      model: 'weather',
      version: '2',
      input: join(dir, 'in.ndjson'),
      output: join(dir, 'out.ndjson'),
    });
    expect(summary).toMatchObject({ model_version: '2', scored: 3, logged: 3 });
    const versions = await t.sql<{ v: string }>(
      'SELECT DISTINCT model_version AS v FROM records WHERE model = ?',
      ['weather'],
    );
    expect(versions).toEqual([{ v: '2' }]);
  });

  it('fails with a clear message when the model or version is not served, or a file cannot be used', async () => {
    writeFileSync(join(dir, 'in.csv'), CSV);
    const run = (o: Partial<Parameters<typeof scoreFile>[1]>) =>
      scoreFile(t.deps, { model: 'weather', input: join(dir, 'in.csv'), output: join(dir, 'out.csv'), ...o });
    await expect(run({ model: 'nope' })).rejects.toThrow(
      new ScoreError('model nope is not served (the store has no version of it)'),
    );
    await expect(run({ version: '7' })).rejects.toThrow('model weather has no version 7 (stored: 1)');
    await expect(run({ input: join(dir, 'missing.csv') })).rejects.toThrow(
      /cannot read --input .*missing\.csv/,
    );
    await expect(run({ output: join(dir, 'out.txt') })).rejects.toThrow('--output must end in .csv');
    await expect(run({ output: join(dir, 'no', 'such', 'dir', 'out.csv') })).rejects.toThrow(
      /cannot write --output/,
    );
    await expect(run({ output: join(dir, 'in.csv') })).rejects.toThrow('must be three different files');
    writeFileSync(join(dir, 'extra.csv'), 'precipitation,temp_max,temp_min,wind,weather\n0,1,2,3,rain\n');
    await expect(run({ input: join(dir, 'extra.csv') })).rejects.toThrow(
      /column\(s\) weather are not inputs of model weather version 1/,
    );
    expect(await count()).toBe(0);
  });
});

describe('CSV cells typed by the manifest', () => {
  it('parses numbers and booleans losslessly, drops empty cells, keeps the rest as strings', async () => {
    const { parseManifest } = await import('../../src/serving/manifest.js');
    const { weatherManifest } = await import('../serving/fixtures.js');
    const m = parseManifest(weatherManifest(), 'test');
    expect(
      typedCsvRow(m, {
        precipitation: '3.5',
        temp_max: '1e1',
        season: '',
        holiday: 'TRUE',
        count: '0x10',
        timestamp: '1764000000000',
        extra: '',
      }),
    ).toEqual({
      precipitation: 3.5,
      temp_max: 10,
      holiday: true,
      count: '0x10',
      timestamp: 1764000000000,
      extra: '',
    });
  });
});
