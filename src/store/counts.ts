// Count vectors (aggregate cells, latency histograms) as stored: sparse, since a bucket fills few of a fine
// grid's ~1000 cells. Both dialects keep these bytes; SQLite adds them in dw_add_counts, PostgreSQL under
// the row lock in JS, both through addEncoded.
//
// Sparse (version 1): 0x01, varint slots, varint non-zero cells, then per non-zero cell varint (index gap
// from the previous one) and varint count; one 0x00 pad when that length would be a multiple of 4. Dense
// (before sparse cells): little-endian uint32 per slot, so always a multiple of 4 bytes: the length tells
// the formats apart and old databases keep reading.
// Deflated (version 2), for closed buckets whose sparse form is long (a busy bucket fills most cells): 0x02,
// varint slots, varint deflated length, then raw deflate of every slot's count as a varint (zeros included:
// runs of them deflate to almost nothing), padded as version 1. Lossless, so drift numbers do not change.

import { deflateRawSync, inflateRawSync } from 'node:zlib';

const SPARSE_V1 = 1;
const DEFLATED_V2 = 2;
// Below this many sparse bytes deflating saves little.
const DEFLATE_ABOVE = 256;
// Level 1: within 2% of level 9 on count vectors, at a fraction of the time. A 4 KB window and memLevel 4
// cut zlib's setup, which dominates for vectors of a few KB (measured: 19 µs against 45 µs a call).
const DEFLATE = { level: 1, memLevel: 4, windowBits: 12 };

// Counts and gaps are uint32: a shift divides them by 128 (Math.floor only past 32 bits), which is most of
// the cost of a wide model's merges (~1,000 vectors of ~2,600 cells a batch).
const shift7 = (v: number) => (v < 0x100000000 ? v >>> 7 : Math.floor(v / 128));

function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = shift7(v);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = shift7(v);
  }
  out[at++] = v;
  return at;
}

/** Encodes a count vector sparsely: what every merge writes (cheap to rewrite on each batch). */
export function encodeCounts(counts: Uint32Array): Buffer {
  return encodeSparse(counts);
}

/**
 * Encodes a count vector for keeps: deflated when that is shorter than sparse for a long vector. Used by the
 * rollup job for buckets that have closed, so ingest's merges never pay for deflate.
 */
export function compactCounts(counts: Uint32Array): Buffer {
  const sparse = sparseLength(counts);
  if (sparse <= DEFLATE_ABOVE) return encodeSparse(counts);
  const deflated = encodeDeflated(counts);
  return deflated.byteLength < sparse ? deflated : encodeSparse(counts);
}

/** A stored vector compacted (see compactCounts), or null when compacting would not shorten it. */
export function compactEncoded(blob: Uint8Array): Buffer | null {
  if (blob.byteLength <= DEFLATE_ABOVE || (blob.byteLength % 4 !== 0 && blob[0] === DEFLATED_V2)) return null;
  const out = compactCounts(decodeCounts(blob));
  return out.byteLength < blob.byteLength ? out : null;
}

/** The length of the sparse form, without writing it. */
function sparseLength(counts: Uint32Array): number {
  let size = 1 + varintLength(counts.length);
  let nonZero = 0;
  let prev = -1;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c === 0) continue;
    size += varintLength(i - prev - 1) + varintLength(c);
    nonZero++;
    prev = i;
  }
  size += varintLength(nonZero);
  return size % 4 === 0 ? size + 1 : size;
}

function encodeDeflated(counts: Uint32Array): Buffer {
  let size = 0;
  for (let i = 0; i < counts.length; i++) size += varintLength(counts[i] as number);
  const plain = Buffer.alloc(size);
  let at = 0;
  for (let i = 0; i < counts.length; i++) at = writeVarint(plain, at, counts[i] as number);
  const body = deflateRawSync(plain, DEFLATE);
  const head = 1 + varintLength(counts.length) + varintLength(body.byteLength);
  const total = head + body.byteLength;
  const out = Buffer.alloc(total % 4 === 0 ? total + 1 : total);
  out[0] = DEFLATED_V2;
  at = writeVarint(out, 1, counts.length);
  at = writeVarint(out, at, body.byteLength);
  body.copy(out, at);
  return out;
}

// Cells are written here first (one pass over the counts), then copied behind the header that counts them.
let cellScratch = new Uint8Array(0);

function encodeSparse(counts: Uint32Array): Buffer {
  // Each non-zero cell takes at most 5 bytes of gap and 5 of count.
  if (cellScratch.byteLength < 10 * counts.length) cellScratch = new Uint8Array(10 * counts.length);
  const cells = cellScratch;
  let end = 0;
  let nonZero = 0;
  let prev = -1;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c === 0) continue;
    end = writeVarint(cells, end, i - prev - 1);
    end = writeVarint(cells, end, c);
    nonZero++;
    prev = i;
  }
  const head = 1 + varintLength(counts.length) + varintLength(nonZero);
  const size = head + end;
  const out = Buffer.alloc(size % 4 === 0 ? size + 1 : size);
  out[0] = SPARSE_V1;
  writeVarint(out, writeVarint(out, 1, counts.length), nonZero);
  out.set(cells.subarray(0, end), head);
  return out;
}

/** Decodes a stored count vector, sparse or dense. */
export function decodeCounts(blob: Uint8Array): Uint32Array {
  if (blob.byteLength % 4 === 0) {
    // Dense; copied, as SQLite's and pg's buffers need not be 4-byte aligned (little-endian as written).
    const out = new Uint32Array(blob.byteLength >>> 2);
    new Uint8Array(out.buffer).set(blob);
    return out;
  }
  if (blob[0] !== SPARSE_V1 && blob[0] !== DEFLATED_V2)
    throw new Error(`count vector of unknown format ${blob[0]}`);
  let at = 1;
  let bytes = blob;
  const read = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (at >= bytes.byteLength) throw new Error('count vector ends inside a number');
      const b = bytes[at++] as number;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  };
  const out = new Uint32Array(read());
  if (blob[0] === DEFLATED_V2) {
    const length = read();
    if (at + length > blob.byteLength) throw new Error('count vector ends inside its deflated cells');
    bytes = inflateRawSync(blob.subarray(at, at + length));
    at = 0;
    for (let i = 0; i < out.length; i++) out[i] = read();
    if (at !== bytes.byteLength) throw new Error('count vector has cells past its length');
    return out;
  }
  const nonZero = read();
  let i = -1;
  for (let k = 0; k < nonZero; k++) {
    i += read() + 1;
    const c = read();
    if (i >= out.length) throw new Error('count vector cell past its length');
    out[i] = c;
  }
  return out;
}

/** Element-wise sum of two count vectors, the longer one's tail kept (uint32 wrap-around, as before). */
export function addCounts(a: Uint32Array, b: Uint32Array): Uint32Array {
  const long = a.length >= b.length ? a : b;
  const short = long === a ? b : a;
  const out = Uint32Array.from(long);
  for (let i = 0; i < short.length; i++) out[i] = ((out[i] as number) + (short[i] as number)) >>> 0;
  return out;
}

/** The sum of two stored count vectors (either format, null for none), stored sparsely. */
export function addEncoded(a: Uint8Array | null, b: Uint8Array | null): Buffer | null {
  if (a === null && b === null) return null;
  if (a === null || b === null) return encodeCounts(decodeCounts((a ?? b) as Uint8Array));
  // Dense and sparse vectors add straight into one array of the longer length (what addCounts returns);
  // deflated ones, which ingest's merges do not meet, are decoded first.
  const slotsA = plainSlots(a);
  const slotsB = plainSlots(b);
  if (slotsA < 0 || slotsB < 0) return encodeCounts(addCounts(decodeCounts(a), decodeCounts(b)));
  const out = new Uint32Array(Math.max(slotsA, slotsB));
  addPlainInto(a, slotsA, out);
  addPlainInto(b, slotsB, out);
  return encodeCounts(out);
}

/** Slots of a dense or sparse vector, or -1 for another format. */
function plainSlots(blob: Uint8Array): number {
  if (blob.byteLength % 4 === 0) return blob.byteLength >>> 2;
  if (blob[0] !== SPARSE_V1) return -1;
  let v = 0;
  let scale = 1;
  for (let at = 1; ; ) {
    if (at >= blob.byteLength) throw new Error('count vector ends inside a number');
    const b = blob[at++] as number;
    v += (b & 0x7f) * scale;
    if (b < 0x80) return v;
    scale *= 128;
  }
}

/**
 * Adds a dense or sparse vector of `slots` into `out` (at least as long), as decodeCounts then addCounts
 * would: each cell taken as uint32, sums wrapping around; the same errors for a malformed vector.
 */
function addPlainInto(blob: Uint8Array, slots: number, out: Uint32Array): void {
  if (blob.byteLength % 4 === 0) {
    for (let i = 0, at = 0; i < slots; i++, at += 4)
      out[i] =
        ((out[i] as number) +
          ((blob[at] as number) |
            ((blob[at + 1] as number) << 8) |
            ((blob[at + 2] as number) << 16) |
            ((blob[at + 3] as number) << 24))) >>>
        0;
    return;
  }
  const len = blob.byteLength;
  let at = 1;
  // the slots (read by plainSlots), then the non-zero cells' count
  while ((blob[at] as number) >= 0x80) at++;
  at++;
  let nonZero = 0;
  let scale = 1;
  for (;;) {
    if (at >= len) throw new Error('count vector ends inside a number');
    const b = blob[at++] as number;
    nonZero += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  let i = -1;
  for (let k = 0; k < nonZero; k++) {
    let gap = 0;
    scale = 1;
    for (;;) {
      if (at >= len) throw new Error('count vector ends inside a number');
      const b = blob[at++] as number;
      gap += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    let c = 0;
    scale = 1;
    for (;;) {
      if (at >= len) throw new Error('count vector ends inside a number');
      const b = blob[at++] as number;
      c += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    i += gap + 1;
    if (i >= slots) throw new Error('count vector cell past its length');
    out[i] = (out[i] as number) + (c >>> 0);
  }
}

/**
 * Adds a stored count vector (either format) into `out` cell by cell, without decoding it first: a window
 * sums hundreds of bucket vectors, and sparse ones only touch their non-zero cells. Cells past the end of
 * `out` are dropped; without `out`, one of the vector's own length is made. Other formats go through
 * decodeCounts.
 */
export function addCountsInto(blob: Uint8Array, out?: Float64Array): Float64Array {
  if (blob.byteLength % 4 === 0) {
    const slots = blob.byteLength >>> 2;
    const into = out ?? new Float64Array(slots);
    const end = Math.min(slots, into.length);
    for (let i = 0, at = 0; i < end; i++, at += 4)
      into[i] =
        (into[i] as number) +
        (blob[at] as number) +
        (blob[at + 1] as number) * 0x100 +
        (blob[at + 2] as number) * 0x10000 +
        (blob[at + 3] as number) * 0x1000000;
    return into;
  }
  if (blob[0] !== SPARSE_V1) {
    const counts = decodeCounts(blob);
    const into = out ?? new Float64Array(counts.length);
    const end = Math.min(counts.length, into.length);
    for (let i = 0; i < end; i++) into[i] = (into[i] as number) + (counts[i] as number);
    return into;
  }
  const len = blob.byteLength;
  let at = 1;
  // varints inline (the same reading as decodeCounts): this loop runs once per stored cell
  let v = 0;
  let scale = 1;
  for (;;) {
    if (at >= len) throw new Error('count vector ends inside a number');
    const b = blob[at++] as number;
    v += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  const slots = v;
  v = 0;
  scale = 1;
  for (;;) {
    if (at >= len) throw new Error('count vector ends inside a number');
    const b = blob[at++] as number;
    v += (b & 0x7f) * scale;
    if (b < 0x80) break;
    scale *= 128;
  }
  const nonZero = v;
  const into = out ?? new Float64Array(slots);
  const end = Math.min(slots, into.length);
  let i = -1;
  for (let k = 0; k < nonZero; k++) {
    let gap = 0;
    scale = 1;
    for (;;) {
      if (at >= len) throw new Error('count vector ends inside a number');
      const b = blob[at++] as number;
      gap += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    let c = 0;
    scale = 1;
    for (;;) {
      if (at >= len) throw new Error('count vector ends inside a number');
      const b = blob[at++] as number;
      c += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    i += gap + 1;
    if (i >= slots) throw new Error('count vector cell past its length');
    if (i < end) into[i] = (into[i] as number) + c;
  }
  return into;
}
