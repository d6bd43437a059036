import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CsvRecord, trainingRows } from '../../src/baselines/sources.js';
import { ProfileBuilder, ProfileError, splitWideCells } from '../../src/profiles/profile.js';

// The profile builder from CSV records (values in header order) and from row objects must agree, and a
// column of numbers keeps the texts of only a few distinct values unless text turns up.

async function profileCsv(csv: string, options: ConstructorParameters<typeof ProfileBuilder>[0] = {}) {
  const b = new ProfileBuilder(options);
  for await (const row of trainingRows(Readable.from([csv]), 'csv')) {
    if (row instanceof CsvRecord) b.addValues(row.header, row.values);
    else b.addRow(row);
  }
  return b.build();
}

async function profileObjects(csv: string, options: ConstructorParameters<typeof ProfileBuilder>[0] = {}) {
  const [head = '', ...lines] = csv.trim().split('\n');
  const header = head.split(',');
  const b = new ProfileBuilder(options);
  for (const line of lines) {
    const values = line.split(',');
    b.addRow(Object.fromEntries(header.map((h, i) => [h, values[i]])));
  }
  return b.build();
}

describe('profiling CSV records', () => {
  it('gives the same profiles from CSV records as from row objects', async () => {
    const rows = Array.from(
      { length: 300 },
      (_, i) => `${(i * 7919) % 97}.5,${['a', 'b', 'c'][i % 3]},${i % 5 === 0 ? 'NA' : i}`,
    );
    const csv = `x,plan,tenure\n${rows.join('\n')}\n`;
    const fromCsv = await profileCsv(csv, { exclude: ['tenure'] });
    const fromObjects = await profileObjects(csv, { exclude: ['tenure'] });
    expect(fromCsv.rows).toBe(300);
    expect([...fromCsv.features.keys()]).toEqual(['x', 'plan']);
    expect(fromCsv).toEqual(fromObjects);
  });

  it('keeps a mixed column’s texts as written, numbers included ("02134" stays "02134")', async () => {
    const csv = `zip\n02134\n02134\n10001\nunknown\n`;
    const p = (await profileCsv(csv)).features.get('zip');
    expect(p).toMatchObject({
      type: 'categorical',
      categories: ['02134', '10001', 'unknown'],
      counts: [2, 1, 1, 0],
    });
  });

  it('names the parameters to use when text turns up after more than 1,000 distinct numbers', async () => {
    const values = Array.from({ length: 1_500 }, (_, i) => String(i + 0.25));
    const csv = `x\n${values.join('\n')}\noops\n`;
    const err = await profileCsv(csv).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProfileError);
    expect((err as Error).message).toBe(
      'column "x" mixes text with more than 1000 distinct numbers; name it in numeric= (its text values then count as missing) or in categorical= (every value a category)',
    );
    // Forced either way, it profiles.
    expect((await profileCsv(csv, { numeric: ['x'] })).features.get('x')).toMatchObject({
      type: 'numeric',
      count: 1_500,
      missing: 1,
    });
    expect((await profileCsv(csv, { categorical: ['x'] })).features.get('x')).toMatchObject({
      type: 'categorical',
      distinct: 1_501,
    });
  });
});

describe('a prediction column of class probabilities', () => {
  it('is profiled as its top class, as logged probabilities are binned', async () => {
    const b = new ProfileBuilder({ prediction: 'p' });
    b.addRow({ x: 1, p: { rain: 0.7, sun: 0.3 } });
    b.addRow({ x: 2, p: { rain: 0.2, sun: 0.8 } });
    b.addRow({ x: 3, p: { rain: 0.6, sun: 0.4 } });
    const built = await b.build();
    expect(built.prediction).toMatchObject({
      type: 'categorical',
      categories: ['rain', 'sun'],
      counts: [2, 1, 0],
    });
  });
});

describe('splitting the widest grid cells', () => {
  it('splits the widest × fullest cell at its median, keeps the old edges and never splits a tie', () => {
    const sorted = Float64Array.from([0, 1, 2, 3, 10, 20, 30, 40, 50, 60, 100, 100, 100, 100]);
    const edges = [0, 10, 100];
    const out = splitWideCells(sorted, edges, 3);
    expect(out).toEqual(expect.arrayContaining(edges));
    for (let i = 1; i < out.length; i++) expect(out[i] as number).toBeGreaterThan(out[i - 1] as number);
    // Width × count: [10, 100) 90 × 6 splits at its median 40; then [40, 100) 60 × 3 at 50; then [50, 100)
    // 50 × 2 at 60, ahead of [10, 40) 30 × 3. [100, 100⁺) holds one repeated value and is never split.
    expect(out).toEqual([0, 10, 40, 50, 60, 100]);
  });

  it('stops when every cell left holds a single value or a tie', () => {
    const sorted = Float64Array.from([5, 5, 5, 7]);
    expect(splitWideCells(sorted, [5, 7], 10)).toEqual([5, 7]);
  });
});

describe('text values', () => {
  it('reads numbers with surrounding spaces, and blanks and missing tokens as missing', async () => {
    const b = new ProfileBuilder();
    const header = ['x'];
    for (const v of [' 1.5 ', '', '  ', 'NA', ' NA ', '0', '1e3', '0x10', 'null', '2', '-3'])
      b.addValues(header, [v]);
    expect((await b.build()).features.get('x')).toMatchObject({
      type: 'numeric',
      count: 6,
      missing: 5,
      min: -3,
      max: 1000,
    });
    const mixed = new ProfileBuilder();
    const y = ['y'];
    for (const v of ['1', 'Infinity', '', 'two']) mixed.addValues(y, [v]);
    expect((await mixed.build()).features.get('y')).toMatchObject({
      type: 'categorical',
      missing: 1,
      categories: ['1', 'Infinity', 'two'],
    });
  });
});
