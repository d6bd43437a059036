import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { PassThrough, type Readable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { ApiError } from '../errors.js';

export type TrainingFormat = 'csv' | 'ndjson' | 'json';

export function trainingFormat(contentType: string | undefined): TrainingFormat {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'text/csv' || type === 'application/csv') return 'csv';
  if (type === 'application/x-ndjson' || type === 'application/ndjson' || type === 'application/jsonl') return 'ndjson';
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

/** Passes bytes through while hashing them, so the training set's identity costs no second read. */
export function hashing(source: Readable): HashedStream {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | null = null;
  const out = new PassThrough();
  source.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
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

/** Rows of a training file, one at a time; never the whole file in memory (JSON arrays excepted). */
export async function* trainingRows(stream: Readable, format: TrainingFormat): AsyncGenerator<Row> {
  if (format === 'csv') {
    const parser = stream.pipe(
      parseCsv({
        // Two columns with one name would silently keep only the last: refuse the file instead.
        columns: (header: string[]) => {
          const seen = new Set<string>();
          for (const name of header) {
            if (seen.has(name)) throw new ApiError('invalid_body', `training CSV: column "${name}" appears twice in the header`);
            seen.add(name);
          }
          return header;
        },
        bom: true,
        skip_empty_lines: true,
        relax_column_count: false,
      }),
    );
    try {
      for await (const row of parser) yield row as Row;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      throw new ApiError('invalid_body', `training CSV: ${(err as Error).message}`);
    }
    return;
  }
  if (format === 'ndjson') {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
      line++;
      if (text.trim() === '') continue;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch {
        throw new ApiError('invalid_body', `training NDJSON line ${line}: not valid JSON`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        throw new ApiError('invalid_body', `training NDJSON line ${line}: expected an object of column values`);
      }
      yield row as Row;
    }
    return;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ApiError('invalid_body', `training JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows)) throw new ApiError('invalid_body', 'training JSON must be an array of row objects or {"rows": [...]}');
  for (const [i, row] of rows.entries()) {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new ApiError('invalid_body', `training JSON rows[${i}]: expected an object of column values`);
    }
    yield row as Row;
  }
}
