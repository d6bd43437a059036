import { ApiError } from '../errors.js';
import { locateJsonError, recordSpans, topLevelKeys } from './json-error.js';

export type BodyFormat = 'json' | 'ndjson';

const FORMATS: Record<string, BodyFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson',
};

export function bodyFormat(contentType: string | undefined): BodyFormat {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const format = FORMATS[type];
  if (!format) {
    throw new ApiError(
      'unsupported_media_type',
      `content-type must be application/json or application/x-ndjson${type ? `, got ${type}` : ' (header missing)'}`,
    );
  }
  return format;
}

/** A body limit and how a 413 names it, so the client learns which setting refused the body. */
export { type BodyLimit, checkDeclaredLength, readBody, tooLarge } from '../body-limit.js';

export type BatchItem =
  // `raw` is the text as sent when the format has one per record (NDJSON lines), kept for rejections.
  | { position: number; value: unknown; raw?: string; syntaxError?: undefined }
  // A record refused before validation (not JSON, or — from the KServe sink — an event that cannot become
  // a record); `model` and `requestId` are kept with the rejection when known.
  | {
      position: number;
      value?: undefined;
      raw: string;
      syntaxError: string;
      model?: string;
      requestId?: string;
    };

export interface ParsedBatch {
  positionKind: 'index' | 'line';
  items: BatchItem[];
  /** True when every value came from JSON.parse (plain objects by construction). */
  fromJsonParse?: boolean;
  /** The text of the item at `position` as sent, when the item carries none itself (JSON array elements). */
  rawText?: (position: number) => string | undefined;
}

/** `{"records":[…]}` or a bare array; a body that is not JSON at all fails as a whole (nothing is stored). */
export function parseJsonBatch(text: string): ParsedBatch {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const at = locateJsonError(text);
    throw new ApiError(
      'invalid_body',
      at
        ? `body is not valid JSON: ${at.message} at line ${at.line}, column ${at.column} (offset ${at.offset})`
        : 'body is not valid JSON',
      at ? { line: at.line, column: at.column, offset: at.offset } : undefined,
    );
  }
  let list: unknown;
  if (Array.isArray(parsed)) list = parsed;
  else if (typeof parsed === 'object' && parsed !== null && 'records' in parsed) {
    const extra = Object.keys(parsed).filter((k) => k !== 'records');
    if (extra.length > 0) {
      throw new ApiError(
        'invalid_body',
        `unknown field ${extra.map((k) => JSON.stringify(k)).join(', ')} next to "records"`,
        {
          problems: extra.map((k) => ({ path: k, message: 'unknown field' })),
        },
      );
    }
    // JSON.parse keeps only the last of repeated keys, so the records of an earlier "records" would vanish
    // unseen. The full scan runs only when the text could hold a repeat (a second "records", or an escape).
    const first = text.indexOf('"records"');
    const mayRepeat = text.indexOf('"records"', first + 9) !== -1 || text.includes('\\');
    if (mayRepeat && (topLevelKeys(text)?.filter((k) => k.key === 'records').length ?? 0) > 1) {
      throw new ApiError(
        'invalid_body',
        '"records" appears more than once in the body; only the last would be read, so send one array',
        {
          problems: [{ path: 'records', message: 'duplicate key' }],
        },
      );
    }
    list = (parsed as { records: unknown }).records;
    if (!Array.isArray(list)) {
      throw new ApiError('invalid_body', 'records: expected array', {
        problems: [{ path: 'records', message: 'expected array' }],
      });
    }
  } else {
    throw new ApiError('invalid_body', 'body must be {"records": [...]} or a JSON array of records', {
      problems: [{ path: 'records', message: 'required' }],
    });
  }
  // Element texts are only needed for rejections, so the body is scanned for them on first use.
  let spans: [number, number][] | null | undefined;
  const rawText = (position: number) => {
    spans ??= recordSpans(text);
    const span = spans?.[position];
    return span ? text.slice(span[0], span[1]) : undefined;
  };
  return {
    positionKind: 'index',
    items: (list as unknown[]).map((value, position) => ({ position, value })),
    rawText,
    fromJsonParse: true,
  };
}

/** Lines parsed between two yields to the event loop: a 16 MiB body never holds it for long. */
const LINES_PER_SLICE = 1_000;

/** One record per line; blank lines are skipped, a line that is not JSON rejects that line only. */
export async function parseNdjsonBatch(text: string): Promise<ParsedBatch> {
  const items: BatchItem[] = [];
  let start = 0;
  let lineNo = 0;
  while (start <= text.length) {
    if (lineNo % LINES_PER_SLICE === LINES_PER_SLICE - 1)
      await new Promise<void>((resolve) => setImmediate(resolve));
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    start = end + 1;
    if (line.trim() === '') continue;
    try {
      items.push({ position: lineNo, value: JSON.parse(line), raw: line });
    } catch {
      const at = locateJsonError(line);
      items.push({
        position: lineNo,
        raw: line,
        syntaxError: at ? `not valid JSON: ${at.message} at column ${at.column}` : 'not valid JSON',
      });
    }
  }
  return { positionKind: 'line', items, fromJsonParse: true };
}
