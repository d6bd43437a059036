// Reading a request body within a byte limit: the declared length first, then the bytes as they stream
// (and again after gzip decoding), so no route buffers more than its limit.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ApiError } from './errors.js';

const gunzipAsync = promisify(gunzip);

export interface BodyLimit {
  bytes: number;
  /** e.g. "ingest body limit" or "JSON body limit (server.jsonBodyLimit)". */
  name: string;
  advice?: string;
}

export function tooLarge(limit: BodyLimit, what: string): ApiError {
  return new ApiError(
    'payload_too_large',
    `${what} exceeds the ${limit.name} of ${limit.bytes} bytes${limit.advice ? `; ${limit.advice}` : ''}`,
    {
      limit_bytes: limit.bytes,
    },
  );
}

/** A declared content-length over the limit is refused before a byte of the body is read. */
export function checkDeclaredLength(request: Request, limit: BodyLimit): void {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit.bytes) throw tooLarge(limit, 'request body');
}

/**
 * Reads the whole body, refusing it as soon as it passes the limit (declared or streamed, so a chunked body
 * is cut off rather than buffered), and decodes gzip within the same limit.
 */
export async function readBody(request: Request, limit: BodyLimit): Promise<string> {
  const buffer = await readBodyBytes(request, limit);
  // A UTF-8 byte-order mark (some Windows tools write one) is not part of the JSON.
  const text = buffer.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** readBody's bytes, for a body that is not text (OTLP protobuf). */
export async function readBodyBytes(request: Request, limit: BodyLimit): Promise<Buffer> {
  checkDeclaredLength(request, limit);

  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read().catch((err: unknown) => {
        // The client went away (or was cut off for sending too slowly): nobody is left to answer.
        if (request.signal.aborted)
          throw new ApiError('bad_request', 'the client closed the connection before the body arrived');
        throw err;
      });
      if (done) break;
      size += value.byteLength;
      if (size > limit.bytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limit, 'request body');
      }
      chunks.push(value);
    }
  }
  let buffer = Buffer.concat(chunks, size);

  const encoding = (request.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    try {
      buffer = await gunzipAsync(buffer, { maxOutputLength: limit.bytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
        throw tooLarge(limit, 'decompressed body');
      }
      throw new ApiError(
        'invalid_body',
        `content-encoding is gzip but the body is not valid gzip: ${(err as Error).message}`,
      );
    }
  } else if (encoding !== 'identity') {
    throw new ApiError(
      'unsupported_media_type',
      `content-encoding ${encoding} is not supported; use gzip or none`,
    );
  }
  return buffer;
}

/** One element of a batch: its position and either the parsed value or why its text was not JSON. */
