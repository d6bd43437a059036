import { closeSync, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Where a profile's numeric values live once they outgrow memory. Quantiles must stay exact, so every value
// is kept; past `memoryBytes` the columns' buffers are written to one temp file in chunks and read back, one
// column at a time, when the column is profiled. 1M rows × 1,000 columns is 8 GB of values: on disk, not RSS.

/** Bytes of numeric values a profile holds in memory before it spills to disk. */
export const DEFAULT_PROFILE_MEMORY_BYTES = 256 * 1024 * 1024;
/** Values a column buffers between writes once spilling (64 KiB). */
export const SPILL_CHUNK_VALUES = 8192;

export interface ValueStoreOptions {
  /** Bytes of values held in memory across all columns before spilling (DEFAULT_PROFILE_MEMORY_BYTES). */
  memoryBytes?: number;
  /** Directory of the spill file (os.tmpdir()). */
  dir?: string;
}

/** One spilled chunk of a column: where it is in the file and how many values it holds. */
interface Chunk {
  offset: number;
  count: number;
}

/** The memory budget shared by a profile's columns, and the spill file once the budget is reached. */
export class ValueStore {
  readonly memoryBytes: number;
  private readonly dir: string;
  /** Bytes of value buffers held by all columns. */
  held = 0;
  /** Bytes written to the spill file. */
  spilled = 0;
  private fd: number | null = null;

  constructor(options: ValueStoreOptions = {}) {
    this.memoryBytes = options.memoryBytes ?? DEFAULT_PROFILE_MEMORY_BYTES;
    this.dir = options.dir ?? tmpdir();
  }

  get spilling(): boolean {
    return this.fd !== null;
  }

  /** Opens the spill file. It is unlinked at once: the open descriptor keeps it, and a crash leaves nothing. */
  startSpilling(): void {
    if (this.fd !== null) return;
    try {
      const dir = mkdtempSync(join(this.dir, 'driftwatch-profile-'));
      const path = join(dir, 'values');
      this.fd = openSync(path, 'w+', 0o600);
      unlinkSync(path);
      rmdirSync(dir);
    } catch (err) {
      throw new Error(
        `training values past ${this.memoryBytes} bytes go to a temp file, which could not be created in ${this.dir} (TMPDIR): ${(err as Error).message}`,
      );
    }
  }

  write(values: Float64Array, count: number): Chunk {
    if (this.fd === null) throw new Error('the value store is not spilling');
    const offset = this.spilled;
    const bytes = new Uint8Array(values.buffer, values.byteOffset, count * 8);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, offset + done);
    this.spilled += bytes.length;
    return { offset, count };
  }

  read(chunk: Chunk, into: Float64Array, at: number): void {
    if (this.fd === null) throw new Error('the value store is not spilling');
    const target = new Uint8Array(into.buffer, into.byteOffset + at * 8, chunk.count * 8);
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, chunk.offset + done);
      if (n === 0) throw new Error('the profile spill file ended early');
      done += n;
    }
  }

  /** Closes (and so removes) the spill file. */
  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * A column's numeric values: one growing buffer while the store has room, then chunks written to the spill
 * file. `take()` gives them back whole, in no particular order (the profile sorts them).
 */
export class ColumnValues {
  private buffer = new Float64Array(256);
  private count = 0;
  private chunks: Chunk[] = [];
  private spilledCount = 0;

  constructor(private readonly store: ValueStore) {
    store.held += this.buffer.byteLength;
  }

  get length(): number {
    return this.spilledCount + this.count;
  }

  push(v: number): void {
    if (this.count === this.buffer.length) this.full();
    this.buffer[this.count++] = v;
  }

  private full(): void {
    const store = this.store;
    if (!store.spilling && store.held + this.buffer.byteLength > store.memoryBytes) store.startSpilling();
    // Once spilling, a buffer grows to one chunk at most, then is written out and reused.
    if (!store.spilling || this.buffer.length < SPILL_CHUNK_VALUES) {
      const grown = new Float64Array(
        store.spilling ? SPILL_CHUNK_VALUES : Math.max(this.buffer.length * 2, 256),
      );
      grown.set(this.buffer);
      store.held += grown.byteLength - this.buffer.byteLength;
      this.buffer = grown;
      return;
    }
    this.chunks.push(store.write(this.buffer, this.count));
    this.spilledCount += this.count;
    this.count = 0;
  }

  /** Every value, in memory (the column's buffer is released: a column is taken once). */
  take(): Float64Array {
    let out: Float64Array;
    if (this.chunks.length === 0) out = this.buffer.subarray(0, this.count);
    else {
      out = new Float64Array(this.length);
      let at = 0;
      for (const chunk of this.chunks) {
        this.store.read(chunk, out, at);
        at += chunk.count;
      }
      out.set(this.buffer.subarray(0, this.count), at);
    }
    this.store.held -= this.buffer.byteLength;
    this.buffer = new Float64Array(0);
    this.count = 0;
    this.chunks = [];
    this.spilledCount = 0;
    return out;
  }
}
