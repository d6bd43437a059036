import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProfileBuilder } from '../../src/profiles/profile.js';
import { SPILL_CHUNK_VALUES } from '../../src/profiles/spill.js';
import { mulberry32 } from '../../src/stats/index.js';

// Past its memory budget a profile spills numeric values to a temp file and reads each column back whole
// when it is profiled: the profiles must be exactly those of the in-memory path, and memory must stay
// within the budget plus one chunk per column.

const HEADER = ['normal', 'ties', 'gappy', 'code', 'label'];

function* records(rows: number): Generator<string[]> {
  const r = mulberry32(5);
  for (let i = 0; i < rows; i++) {
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    yield [
      (z * 3.7 + 12).toFixed(4),
      String(Math.floor(r() * 40)),
      i % 7 === 0 ? 'NA' : (r() * 1e6).toFixed(2),
      String(Math.floor(r() * 9)),
      r() < 0.3 ? 'yes' : 'no',
    ];
  }
}

/** Descriptors of this process that point at a profile spill file. */
const spillFds = () =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).includes('driftwatch-profile-');
    } catch {
      return false;
    }
  });

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'spill-test-'));
  dirs.push(d);
  return d;
};

describe('profiles past their memory budget', () => {
  it('gives exactly the in-memory profiles while holding at most the budget plus a chunk per column', async () => {
    const rows = 60_000;
    const options = { categorical: ['code'], label: 'label', gridCells: 500 };
    const inMemory = new ProfileBuilder(options);
    const budget = 256 * 1024;
    const dir = tempDir();
    const spilling = new ProfileBuilder(options, { memoryBytes: budget, dir });
    let peak = 0;
    for (const values of records(rows)) {
      inMemory.addValues(HEADER, values);
      spilling.addValues(HEADER, values);
      peak = Math.max(peak, spilling.memory().held);
    }
    // Four profiled columns of 60k values (code keeps its numbers too) is 1.9 MB: most of it went to disk.
    expect(spilling.memory().spilled).toBeGreaterThan(1_000_000);
    expect(inMemory.memory().spilled).toBe(0);
    expect(peak).toBeLessThanOrEqual(budget + 4 * SPILL_CHUNK_VALUES * 8);
    // The spill file has no name in the directory: a crash leaves nothing behind.
    expect(readdirSync(dir)).toEqual([]);
    expect(spillFds()).toHaveLength(1);

    const expected = await inMemory.build();
    const built = await spilling.build();
    expect(built).toEqual(expected);
    expect(built.features.get('gappy')).toMatchObject({ type: 'numeric', missing: Math.ceil(rows / 7) });
    expect(spillFds()).toEqual([]);
  });

  it('gives the same profiles from row objects, and drops the file when the builder is closed unbuilt', async () => {
    const fromObjects = new ProfileBuilder({}, { memoryBytes: 64 * 1024, dir: tempDir() });
    const inMemory = new ProfileBuilder();
    for (const values of records(20_000)) {
      const row = Object.fromEntries(HEADER.map((h, i) => [h, values[i]]));
      fromObjects.addRow(row);
      inMemory.addRow(row);
    }
    expect(fromObjects.memory().spilled).toBeGreaterThan(0);
    expect(await fromObjects.build()).toEqual(await inMemory.build());

    const abandoned = new ProfileBuilder({}, { memoryBytes: 64 * 1024, dir: tempDir() });
    for (const values of records(20_000)) abandoned.addValues(HEADER, values);
    expect(spillFds()).toHaveLength(1);
    abandoned.close();
    expect(spillFds()).toEqual([]);
  });

  it('names the directory when the spill file cannot be created there', () => {
    const dir = join(tempDir(), 'missing');
    const b = new ProfileBuilder({}, { memoryBytes: 16 * 1024, dir });
    const add = () => {
      for (const values of records(5_000)) b.addValues(HEADER, values);
    };
    expect(add).toThrow(`could not be created in ${dir} (TMPDIR)`);
  });
});
