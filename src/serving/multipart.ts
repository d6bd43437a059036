import { ApiError } from '../errors.js';

// A streaming reader of multipart/form-data (RFC 7578): one part at a time, its bytes handed on as they
// arrive, so a caller can check the first part (a model's manifest) before any of the next one is read,
// and write a large part to disk without holding it in memory.

export interface PartHeader {
  name: string;
  filename: string | null;
}

const HEADER_LIMIT = 16 * 1024;

const malformed = (why: string) => new ApiError('invalid_body', `multipart body: ${why}`);

/** The boundary of a multipart/form-data content type, or null when it is not one. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType.trim())) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? ((m[1] ?? m[2]) as string) : '';
}

export class MultipartReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly delimiter: Buffer;
  // The stream is read as if preceded by CRLF, so the first delimiter looks like every other one.
  private buf = Buffer.from('\r\n');
  private ended = false;
  private finished = false;
  private received = 0;

  /** `limit`: the most bytes read from the body; past it the upload is refused with `tooLarge()`. */
  constructor(
    body: ReadableStream<Uint8Array>,
    boundary: string,
    private readonly limit: { bytes: number; tooLarge: () => Error },
  ) {
    this.reader = body.getReader();
    this.delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  /** Bytes of the body read so far. */
  get bytesRead(): number {
    return this.received;
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const { done, value } = await this.reader.read();
    if (done) {
      this.ended = true;
      return false;
    }
    this.received += value.byteLength;
    if (this.received > this.limit.bytes) throw this.limit.tooLarge();
    this.buf = this.buf.length === 0 ? Buffer.from(value) : Buffer.concat([this.buf, value]);
    return true;
  }

  /** The next part's header, or null after the closing delimiter. Call read() or skip its body first. */
  async next(): Promise<PartHeader | null> {
    if (this.finished) return null;
    let at = this.buf.indexOf(this.delimiter);
    while (at < 0) {
      // Before the first delimiter comes a preamble, which is ignored; keep only what could start one.
      this.buf = this.buf.subarray(Math.max(0, this.buf.length - this.delimiter.length));
      if (!(await this.fill())) throw malformed('ends before its closing boundary');
      at = this.buf.indexOf(this.delimiter);
    }
    this.buf = this.buf.subarray(at + this.delimiter.length);
    while (this.buf.length < 2) if (!(await this.fill())) throw malformed('ends after a boundary');
    if (this.buf[0] === 0x2d && this.buf[1] === 0x2d) {
      this.finished = true;
      return null;
    }
    let end = this.buf.indexOf('\r\n\r\n');
    while (end < 0) {
      if (this.buf.length > HEADER_LIMIT) throw malformed('a part header is longer than 16 KiB');
      if (!(await this.fill())) throw malformed('ends within a part header');
      end = this.buf.indexOf('\r\n\r\n');
    }
    const lines = this.buf.subarray(0, end).toString('utf8').split('\r\n');
    this.buf = this.buf.subarray(end + 4);
    const disposition = lines.find((l) => /^content-disposition:/i.test(l));
    const name = disposition && /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
    if (!name) throw malformed('a part without Content-Disposition: form-data; name="…"');
    const filename = (disposition && /;\s*filename="([^"]*)"/i.exec(disposition)?.[1]) ?? null;
    return { name, filename };
  }

  /** Hands the current part's bytes to `sink` as they arrive (each chunk its own, safe to keep). */
  async read(sink: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at >= 0) {
        if (at > 0) await sink(this.buf.subarray(0, at));
        this.buf = this.buf.subarray(at);
        return;
      }
      // All but what could be the start of the delimiter is the part's.
      const safe = this.buf.length - (this.delimiter.length - 1);
      if (safe > 0) {
        await sink(this.buf.subarray(0, safe));
        this.buf = this.buf.subarray(safe);
      }
      if (!(await this.fill())) throw malformed('ends within a part');
    }
  }

  /** The current part as text, refused past `max` bytes (`what` names it). */
  async text(what: string, max: number): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    await this.read((chunk) => {
      size += chunk.byteLength;
      if (size > max) throw new ApiError('invalid_input', `${what}: longer than ${max} bytes`);
      chunks.push(chunk);
    });
    return Buffer.concat(chunks).toString('utf8');
  }

  /** Stops reading: the rest of the body is never read (the client sees the answer while still sending). */
  async cancel(): Promise<void> {
    if (!this.ended) await this.reader.cancel().catch(() => undefined);
    this.ended = true;
  }
}
