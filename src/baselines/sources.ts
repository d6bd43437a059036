import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { ApiError } from '../errors.js';
import { type BodyLimit, tooLarge } from '../ingest/body.js';

export type TrainingFormat = 'csv' | 'ndjson' | 'json';

export function trainingFormat(contentType: string | undefined): TrainingFormat {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/csv' || type === 'application/csv') return 'csv';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl')
    return 'ndjson';
  if (type === 'application/json') return 'json';
  throw new ApiError(
    'unsupported_media_type',
    `training data must be text/csv, application/x-ndjson or application/json${type ? `, got ${type}` : ''}`,
  );
}

export interface HashedStream {
  stream: Readable;
  /** sha256 (hex) of every byte read so far; final once the stream has ended. */
  digest(): string;
  bytes(): number;
}

/**
 * Passes bytes through while hashing them, so the training set's identity costs no second read. Past
 * `limit` the upload is cut off: the source is destroyed and the stream fails with a 413.
 */
export function hashing(source: Readable, limit?: BodyLimit): HashedStream {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | null = null;
  const out = new PassThrough();
  source.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    if (limit && bytes > limit.bytes) {
      source.unpipe(out);
      source.destroy();
      out.destroy(tooLarge(limit, 'training data'));
    }
  });
  source.on('error', (err) => out.destroy(err));
  source.pipe(out);
  return {
    stream: out,
    digest: () => {
      digest ??= hash.digest('hex');
      return digest;
    },
    bytes: () => bytes,
  };
}

type Row = Record<string, unknown>;

/**
 * A CSV record as the parser gives it: its header (the same array for every record of a file) and its
 * values in header order. Wide files (1,000 columns) are profiled from these directly; an object with a key
 * per column for every row would cost most of the parse time.
 */
export class CsvRecord {
  constructor(
    readonly header: readonly string[],
    readonly values: readonly string[],
  ) {}
}

/** A row of training data: an object of column → value (JSON, NDJSON), or a CSV record. */
export type TrainingRow = Row | CsvRecord;

/** How a 413 names the upload limits, so the client learns which setting refused the data. */
export const uploadLimit = (bytes: number): BodyLimit => ({
  bytes,
  name: 'baseline upload limit (baselines.maxBytes)',
});
export const jsonUploadLimit = (bytes: number): BodyLimit => ({
  bytes,
  name: 'JSON training data limit (baselines.maxJsonBytes)',
  advice: 'JSON is parsed whole; send CSV or NDJSON, which are streamed',
});

/** Bounds on one upload's rows (`baselines.*` in the config); absent for rows driftwatch builds itself. */
export interface TrainingLimits {
  maxRows: number;
  maxLineBytes: number;
  maxJsonBytes: number;
}

const UNLIMITED: TrainingLimits = {
  maxRows: Number.POSITIVE_INFINITY,
  maxLineBytes: Number.POSITIVE_INFINITY,
  maxJsonBytes: Number.POSITIVE_INFINITY,
};

/** Column values nested deeper than this are refused: profiling turns them into text, recursively. */
export const MAX_VALUE_DEPTH = 64;

/** Whether `value` nests objects or arrays more than `max` levels deep; iterative, so depth costs no stack. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const [node, depth] = top;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

function checkRow(row: unknown, where: string): Row {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    throw new ApiError('invalid_body', `${where}: expected an object of column values`);
  }
  for (const [column, value] of Object.entries(row)) {
    if (typeof value === 'object' && value !== null && nestedDeeperThan(value, MAX_VALUE_DEPTH)) {
      throw new ApiError(
        'invalid_body',
        `${where}: column ${JSON.stringify(column)} is nested deeper than ${MAX_VALUE_DEPTH} levels`,
      );
    }
  }
  return row as Row;
}

/**
 * The lines of a byte stream with their 1-based numbers (\n or \r\n). A line longer than `maxBytes` fails
 * as soon as it passes the cap, so a file without newlines is never held whole.
 */
async function* lines(stream: Readable, maxBytes: number): AsyncGenerator<{ line: number; text: string }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  const tooLong = () =>
    new ApiError(
      'payload_too_large',
      `training NDJSON line ${line + 1}: longer than ${maxBytes} bytes (baselines.maxLineBytes)`,
      {
        line: line + 1,
        limit_bytes: maxBytes,
      },
    );
  // One byte of slack while a line is open: it may be a "\r" that the line's "\n" turns into its ending.
  const take = (tail: Buffer) => {
    const whole = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    const end = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
    if (end > maxBytes) throw tooLong();
    pending = [];
    pendingBytes = 0;
    line++;
    return { line, text: whole.toString('utf8', 0, end) };
  };
  for await (const data of stream as AsyncIterable<Buffer | string>) {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      if (pendingBytes + nl - start > maxBytes + 1) throw tooLong();
      yield take(chunk.subarray(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) {
      pendingBytes += chunk.length - start;
      if (pendingBytes > maxBytes + 1) throw tooLong();
      pending.push(chunk.subarray(start));
    }
  }
  if (pendingBytes > 0) yield take(Buffer.alloc(0));
}

/** Rows of a training file, one at a time; never the whole file in memory (JSON arrays excepted). */
export async function* trainingRows(
  stream: Readable,
  format: TrainingFormat,
  limits: TrainingLimits = UNLIMITED,
): AsyncGenerator<TrainingRow> {
  let count = 0;
  for await (const row of parseRows(stream, format, limits)) {
    if (++count > limits.maxRows) {
      throw new ApiError(
        'payload_too_large',
        `training data has more than ${limits.maxRows} rows (baselines.maxRows)`,
        {
          limit_rows: limits.maxRows,
        },
      );
    }
    yield row;
  }
}

/** The header of a training CSV, refused when two columns share a name (one would silently be lost). */
function checkHeader(header: string[]): string[] {
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name))
      throw new ApiError('invalid_body', `training CSV: column "${name}" appears twice in the header`);
    seen.add(name);
  }
  return header;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;

/**
 * The records of a CSV, split on newlines and commas while its lines are plain: no quote, no carriage
 * return but a CRLF ending (when the header has one), the header's field count, within `maxBytes`. A wide
 * training file is that all through, and splitting is several times faster than csv-parse's scan of every
 * character. At the first line that is not plain it returns the rest of the stream for csv-parse, primed
 * with the header and one blank line per line already read (csv-parse skips blank lines but counts them),
 * so record-length checks, caps and line numbers in its errors are those of a parse of the whole file.
 * Returns null when the file ended plain.
 */
async function* plainCsv(stream: Readable, maxBytes: number): AsyncGenerator<string[], Readable | null> {
  const chunks = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  let headerText = '';
  let ending = '\n';
  let fields = 0;
  let handedOver = false;
  const handover = (first: Buffer[]): Readable => {
    handedOver = true;
    const prime = line === 0 ? null : Buffer.from(headerText + ending + ending.repeat(line - 1));
    async function* rest(): AsyncGenerator<Buffer> {
      if (prime) yield prime;
      for (const b of first) if (b.length > 0) yield b;
      for (let next = await chunks.next(); !next.done; next = await chunks.next())
        yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    }
    return Readable.from(rest(), { objectMode: false });
  };
  // The fields of one line (without its \n), null when it is not plain, [] when it is blank.
  const split = (bytes: Buffer, last: boolean): string[] | null => {
    let end = bytes.length;
    if (line > 0 && ending === '\r\n' && !last) {
      if (end === 0 || bytes[end - 1] !== CR) return null;
      end--;
    }
    if (end > maxBytes || bytes.indexOf(QUOTE) !== -1) return null;
    const cr = bytes.indexOf(CR);
    if (line === 0) {
      // The header decides the ending, as csv-parse's detection does: \r\n or \n (a lone \r: csv-parse).
      if (cr !== -1 && (cr !== end - 1 || last)) return null;
      if (cr !== -1) {
        ending = '\r\n';
        end--;
      }
      if (end === 0) return null;
      const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
      headerText = bytes.toString('utf8', bom, end);
      const header = headerText.split(',');
      fields = header.length;
      return header;
    }
    if (cr !== -1 && cr < end) return null;
    if (end === 0) return [];
    const values = bytes.toString('utf8', 0, end).split(',');
    return values.length === fields ? values : null;
  };
  try {
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      let start = 0;
      for (let nl = chunk.indexOf(LF, start); nl !== -1; nl = chunk.indexOf(LF, start)) {
        const tail = chunk.subarray(start, nl);
        const bytes = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
        const values = pendingBytes + tail.length > maxBytes + 1 ? null : split(bytes, false);
        if (values === null) return handover([bytes, chunk.subarray(nl)]);
        pending = [];
        pendingBytes = 0;
        line++;
        if (values.length > 0) yield values;
        start = nl + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        // A line past the cap is csv-parse's to refuse (it counts as it reads; nothing more is buffered here).
        if (pendingBytes > maxBytes + 1) return handover(pending);
      }
    }
    if (pendingBytes > 0) {
      const bytes = Buffer.concat(pending);
      const values = split(bytes, true);
      if (values === null) return handover([bytes]);
      if (values.length > 0) yield values;
    }
    return null;
  } finally {
    // A consumer that stops early (a refused row) stops the stream too, as for-await would.
    if (!handedOver) await chunks.return?.();
  }
}

/** The records of a training CSV: plainCsv's while lines are plain, then csv-parse's. */
async function* csvRows(stream: Readable, limits: TrainingLimits): AsyncGenerator<CsvRecord> {
  const plain = plainCsv(stream, limits.maxLineBytes);
  let header: string[] | null = null;
  let rest: Readable;
  try {
    for (;;) {
      const next = await plain.next();
      if (next.done) {
        if (next.value === null) return;
        rest = next.value;
        break;
      }
      if (header === null) header = checkHeader(next.value);
      else yield new CsvRecord(header, next.value);
    }
  } finally {
    await plain.return(null);
  }
  const parser = rest.pipe(
    parseCsv({
      // Records as arrays: the first is the header; csv-parse refuses records of another length.
      columns: false,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: false,
      // csv-parse holds a record until it ends; 0 means no cap.
      max_record_size: Number.isFinite(limits.maxLineBytes) ? limits.maxLineBytes : 0,
    }),
  );
  // pipe() does not forward errors: a cut-off upload must fail the parser, not leave it waiting.
  rest.once('error', (err) => parser.destroy(err));
  // Primed with the header plainCsv read (its first record is that header again), or the whole file.
  const known = header;
  header = null;
  for await (const record of parser) {
    if (header === null) header = known ?? checkHeader(record as string[]);
    else yield new CsvRecord(header, record as string[]);
  }
}

async function* parseRows(
  stream: Readable,
  format: TrainingFormat,
  limits: TrainingLimits,
): AsyncGenerator<TrainingRow> {
  if (format === 'csv') {
    try {
      yield* csvRows(stream, limits);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const csv = err as Error & { code?: string; lines?: number };
      if (csv.code === 'CSV_MAX_RECORD_SIZE') {
        throw new ApiError(
          'payload_too_large',
          `training CSV line ${csv.lines ?? '?'}: record longer than ${limits.maxLineBytes} bytes (baselines.maxLineBytes)`,
          { line: csv.lines, limit_bytes: limits.maxLineBytes },
        );
      }
      throw new ApiError('invalid_body', `training CSV: ${csv.message}`);
    }
    return;
  }
  if (format === 'ndjson') {
    for await (const { line, text } of lines(stream, limits.maxLineBytes)) {
      if (text.trim() === '') continue;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch {
        throw new ApiError('invalid_body', `training NDJSON line ${line}: not valid JSON`);
      }
      yield checkRow(row, `training NDJSON line ${line}`);
    }
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limits.maxJsonBytes) throw tooLarge(jsonUploadLimit(limits.maxJsonBytes), 'training data');
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ApiError('invalid_body', `training JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows))
    throw new ApiError('invalid_body', 'training JSON must be an array of row objects or {"rows": [...]}');
  for (const [i, row] of rows.entries()) yield checkRow(row, `training JSON rows[${i}]`);
}
