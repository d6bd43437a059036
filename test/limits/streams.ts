import type { TestApp } from '../support.js';

/** A request body produced on demand, counting how much of it the server pulled. */
export interface CountingBody {
  stream: ReadableStream<Uint8Array>;
  /** Bytes handed to the reader so far. */
  pulled(): number;
}

/**
 * A body of `total` bytes (unbounded when omitted) made of `chunk` repeated, produced only as it is read,
 * so a test can tell a server that cut the body off from one that buffered it.
 */
export function countingBody(chunk: string, total = Number.POSITIVE_INFINITY): CountingBody {
  const bytes = new TextEncoder().encode(chunk);
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled >= total) return controller.close();
        const piece = bytes.subarray(0, Math.min(bytes.length, total - pulled));
        pulled += piece.length;
        controller.enqueue(piece.slice());
      },
    },
    // Nothing is produced before the server asks for it.
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => pulled };
}

/** The whole of `text` as a lazily read stream, in `chunk`-byte pieces. */
export function lazyBody(text: string, chunk = 4096): CountingBody {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => Math.min(at, bytes.length) };
}

/** POSTs (or PUTs) a streamed body; `duplex` is required by fetch for it but missing from the DOM type. */
export function sendStream(
  t: TestApp,
  path: string,
  body: ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
  method = 'POST',
) {
  const init = { method, headers: { 'content-type': 'application/json', ...headers }, body, duplex: 'half' };
  return t.app.request(path, init as RequestInit);
}
