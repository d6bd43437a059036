import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { describe, expect, it } from 'vitest';
import { CsvRecord, trainingRows } from '../../src/baselines/sources.js';
import { ApiError } from '../../src/errors.js';

// Training CSVs are split on newlines and commas while their lines are plain, and handed to csv-parse at
// the first line that is not: every file must give the records (or the error, with its line) that
// csv-parse gives for the whole file, however the bytes are chunked.

const MAX_LINE = 64;

/** The records, or the error message, trainingRows gives for `text` sent in chunks of `size` bytes. */
async function ours(text: string, size: number): Promise<string[][] | string> {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let o = 0; o < bytes.length; o += size) chunks.push(bytes.subarray(o, o + size));
  const out: string[][] = [];
  try {
    for await (const row of trainingRows(Readable.from(chunks), 'csv', {
      maxRows: 1000,
      maxLineBytes: MAX_LINE,
      maxJsonBytes: 1000,
    })) {
      if (!(row instanceof CsvRecord)) throw new Error('not a CSV record');
      if (out.length === 0) out.push([...row.header]);
      out.push([...row.values]);
    }
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return err.message;
  }
  return out;
}

/** What csv-parse alone gives for the whole file, in the messages trainingRows uses. */
async function reference(text: string): Promise<string[][] | string> {
  const out: string[][] = [];
  try {
    for await (const record of Readable.from([Buffer.from(text)]).pipe(
      parse({ columns: false, bom: true, skip_empty_lines: true, max_record_size: MAX_LINE }),
    ))
      out.push(record as string[]);
  } catch (err) {
    const csv = err as Error & { code?: string; lines?: number };
    if (csv.code === 'CSV_MAX_RECORD_SIZE')
      return `training CSV line ${csv.lines}: record longer than ${MAX_LINE} bytes (baselines.maxLineBytes)`;
    return `training CSV: ${csv.message}`;
  }
  return out;
}

const files: [string, string][] = [
  ['plain, \\n endings', 'a,b,c\n1,2,3\n4,5,6\n'],
  ['plain, \\r\\n endings, no final newline', 'a,b,c\r\n1,2,3\r\n4,5,6'],
  ['a byte-order mark and blank lines', '\ufeffa,b\n\n1,2\n\n\n3,4\n'],
  ['a quoted field with a comma and a newline on line 4', 'a,b\n1,2\n3,4\n"x,\ny",5\n6,7\n'],
  ['a quoted header', '"a","b"\n1,2\n'],
  ['an escaped quote mid-file', 'a,b\n1,2\n3,"say ""hi"""\n'],
  ['\\r\\n header, then a line ending in \\n alone', 'a,b\r\n1,2\n3,4\r\n'],
  ['\\n header, then a line ending in \\r\\n', 'a,b\n1,2\r\n3,4\n'],
  ['\\r endings only', 'a,b\r1,2\r3,4\r'],
  ['a record of the wrong length on line 4', 'a,b,c\n1,2,3\n\n4,5\n6,7,8\n'],
  ['a record too long on line 3', `a,b\n1,2\n3,${'x'.repeat(100)}\n4,5\n`],
  ['a last record too long without a newline', `a,b\n1,2\n3,${'x'.repeat(100)}`],
  ['text and spaces kept as written', 'a,b\n x ,NA\n,\n'],
  ['multibyte text', 'naïve,b\n€1,ü\n'],
  ['a header naming a column twice', 'a,a\n1,2\n'],
];

describe('training CSV records', () => {
  it.each(files)('match csv-parse on the whole file: %s', async (_, text) => {
    const expected = await reference(text);
    for (const size of [1, 3, 7, 64, 1 << 16]) {
      const got = await ours(text, size);
      if (text.startsWith('a,a')) expect(got).toBe('training CSV: column "a" appears twice in the header');
      else expect(got, `chunks of ${size}`).toEqual(expected);
    }
  });
});
