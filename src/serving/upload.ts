import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { tooLarge } from '../body-limit.js';
import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { MultipartReader } from './multipart.js';
import { checkManifest, type SpooledFile } from './versions.js';

// The multipart form of a version upload: the manifest comes first and is checked (valid, named for the
// model, a new version) before a byte of the model is read, so a refused upload costs its client the
// manifest, not 256 MiB; the model and the training data are streamed to a private temp directory while
// hashed, never held in memory.

type Deps = Pick<AppDeps, 'store' | 'clock' | 'log' | 'config'>;

export const MAX_UPLOAD = 256 * 1024 * 1024;
export const UPLOAD_LIMIT = { bytes: MAX_UPLOAD, name: 'model upload limit (256 MiB)' };
const MAX_MANIFEST = 1024 * 1024;
const MAX_NOTE = 10_000;
const PARTS = 'manifest (first), note, model, baseline_csv';

export interface MultipartUpload {
  manifest: unknown;
  note: string | undefined;
  model: SpooledFile;
  baselineCsv: SpooledFile | undefined;
}

const problem = (path: string, message: string) =>
  new ApiError('invalid_input', `${path}: ${message}`, { problems: [{ path, message }] });

/** Writes the current part to `path` (created exclusively, 0600), hashing it on the way. */
async function spool(reader: MultipartReader, path: string): Promise<SpooledFile> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const hash = createHash('sha256');
  let size = 0;
  try {
    await reader.read(async (chunk) => {
      hash.update(chunk);
      size += chunk.byteLength;
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    });
    out.end();
    await Promise.race([once(out, 'close'), failed]);
  } finally {
    if (!out.closed) out.destroy();
  }
  return { path, sha256: hash.digest('hex'), size };
}

/**
 * Reads a multipart upload into `dir` (a private directory the caller removes): `manifest` must be the
 * first part and passes checkManifest before anything after it is read; then `note`, `model` and
 * `baseline_csv` in any order. On a refusal the rest of the body is left unread.
 */
export async function readMultipartUpload(
  deps: Deps,
  model: string,
  body: ReadableStream<Uint8Array>,
  boundary: string,
  dir: string,
): Promise<MultipartUpload> {
  const reader = new MultipartReader(body, boundary, {
    bytes: MAX_UPLOAD,
    tooLarge: () => tooLarge(UPLOAD_LIMIT, 'request body'),
  });
  try {
    const first = await reader.next();
    if (first?.name !== 'manifest')
      throw problem('manifest', `must be the first part of the upload (parts: ${PARTS})`);
    const text = await reader.text('manifest', MAX_MANIFEST);
    let manifest: unknown;
    try {
      manifest = JSON.parse(text);
    } catch {
      throw problem('manifest', 'not valid JSON');
    }
    await checkManifest(deps, model, manifest);
    const upload: Partial<MultipartUpload> = { manifest };
    for (let part = await reader.next(); part; part = await reader.next()) {
      const seen =
        part.name === 'model'
          ? upload.model
          : part.name === 'baseline_csv'
            ? upload.baselineCsv
            : part.name === 'note'
              ? upload.note
              : undefined;
      if (seen !== undefined || part.name === 'manifest') throw problem(part.name, 'given twice');
      if (part.name === 'model') upload.model = await spool(reader, join(dir, 'model.onnx'));
      else if (part.name === 'baseline_csv')
        upload.baselineCsv = await spool(reader, join(dir, 'baseline.csv'));
      else if (part.name === 'note') upload.note = await reader.text('note', MAX_NOTE);
      else throw problem(part.name, `unknown part (parts: ${PARTS})`);
    }
    if (!upload.model) throw problem('model', 'required: the ONNX file as a part named model');
    return {
      manifest,
      note: upload.note,
      model: upload.model,
      baselineCsv: upload.baselineCsv,
    };
  } finally {
    await reader.cancel();
  }
}

/** At most `max` uploads read at once; beyond that a 503 before any of the body is read. */
export class UploadSlots {
  private inFlight = 0;
  constructor(readonly max: number) {}

  acquire(): () => void {
    if (this.inFlight >= this.max) {
      throw new ApiError(
        'unavailable',
        `${this.max} model uploads are in flight (the bound on uploads read at once); retry when one has finished`,
      );
    }
    this.inFlight++;
    let released = false;
    return () => {
      if (!released) this.inFlight--;
      released = true;
    };
  }
}
