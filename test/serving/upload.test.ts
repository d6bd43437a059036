import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { ServingRuntime } from '../../src/serving/runtime.js';
import { REPO_ROOT } from '../server/process.js';
import { makeTestApp, type TestApp, tempDir } from '../support.js';

// The multipart form of POST /v1/models/:name/versions: the manifest part is checked before the model is
// read (a refusal answers while the client is still sending), the model and training data are streamed to
// disk, and uploads in flight are bounded.

const MODELS = join(REPO_ROOT, 'models', 'weather');
const BOUNDARY = '----driftwatch-test-7f3a';
const manifestOf = (v: string) =>
  JSON.parse(readFileSync(join(MODELS, v, 'manifest.json'), 'utf8')) as Record<string, unknown>;
const modelOf = (v: string) => readFileSync(join(MODELS, v, 'model.onnx'));

interface Part {
  name: string;
  filename?: string;
  data: string | Buffer;
}

const partHead = (p: Part) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n` +
  `Content-Type: ${p.filename ? 'application/octet-stream' : 'application/json'}\r\n\r\n`;

function multipart(parts: Part[]): Buffer {
  return Buffer.concat([
    ...parts.flatMap((p) => [Buffer.from(partHead(p)), Buffer.from(p.data), Buffer.from('\r\n')]),
    Buffer.from(`--${BOUNDARY}--\r\n`),
  ]);
}

/**
 * A request body the test feeds: `head` first, then chunks from `more` (pull by pull, nothing read
 * ahead), and it closes once `more` is done. `pulls` counts the reads the server made.
 */
function feed(head: Buffer, more: () => Promise<Buffer | null>) {
  const state = { pulls: 0, cancelled: false, stream: null as unknown as ReadableStream<Uint8Array> };
  let sentHead = false;
  state.stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        state.pulls++;
        if (!sentHead) {
          sentHead = true;
          controller.enqueue(head);
          return;
        }
        const next = await more();
        if (next === null) controller.close();
        else controller.enqueue(next);
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return state;
}

function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const open: { t: TestApp; runtime: ServingRuntime }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    await o.runtime.close();
    await o.t.close();
  }
});

async function serving() {
  const { dir, cleanup } = tempDir();
  const t = makeTestApp({ serving: { modelsDir: dir } });
  const runtime = new ServingRuntime(t.deps);
  await runtime.start();
  open.push({ t, runtime });
  setTimeout(cleanup, 0).unref();
  const app = createApp(t.deps, { serving: runtime });
  const upload = async (body: Buffer | ReadableStream<Uint8Array>, path = '/v1/models/weather/versions') => {
    const res = await app.request(path, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body,
      duplex: 'half',
    } as RequestInit);
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };
  return { t, app, runtime, upload };
}

/** `buf` in chunks of `size` bytes, as a client's writes arrive. */
function chunked(buf: Buffer, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= buf.length) {
        controller.close();
        return;
      }
      controller.enqueue(buf.subarray(at, at + size));
      at += size;
    },
  });
}

describe('multipart version upload', () => {
  it('registers a version: manifest, model and training data, with the model as sent', async () => {
    const s = await serving();
    const body = multipart([
      { name: 'manifest', data: JSON.stringify(manifestOf('1')) },
      { name: 'note', data: 'first' },
      { name: 'model', filename: 'model.onnx', data: modelOf('1') },
      {
        name: 'baseline_csv',
        filename: 'baseline.csv',
        data: readFileSync(join(MODELS, '1', 'baseline.csv')),
      },
    ]);
    // Odd-sized chunks: boundaries and part headers split across reads.
    const res = await s.upload(chunked(body, 777));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      version: '1',
      state: 'active',
      baseline_id: expect.any(Number),
      sha256: createHash('sha256').update(modelOf('1')).digest('hex'),
      size_bytes: modelOf('1').byteLength,
    });
    const predict = await s.app.request('/v1/models/weather/predict', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ features: { precipitation: 0, temp_max: 24, temp_min: 13, wind: 2.5 } }),
    });
    expect(predict.status).toBe(200);
    const versions = await s.app.request('/v1/models/weather/versions');
    const events = ((await versions.json()) as { events: { action: string; note: string }[] }).events;
    expect(events.find((e) => e.action === 'register')?.note).toBe('first');
  });

  it('refuses a bad manifest, or a version that exists, before reading the model', async () => {
    const s = await serving();
    const chunk = Buffer.alloc(64 * 1024);
    // 256 MiB of model announced; the server must answer long before it has all of it.
    const send = (manifest: unknown) => {
      let sent = 0;
      const body = feed(
        Buffer.concat([
          Buffer.from(partHead({ name: 'manifest', data: '' })),
          Buffer.from(JSON.stringify(manifest)),
          Buffer.from(`\r\n${partHead({ name: 'model', filename: 'model.onnx', data: '' })}`),
        ]),
        async () => (sent++ < 4096 ? chunk : null),
      );
      return { body, res: s.upload(body.stream) };
    };
    const bad = send({ ...manifestOf('1'), name: 'other', inputs: 'none' });
    const refused = await bad.res;
    expect(refused.status).toBe(422);
    expect((refused.body.error as { message: string }).message).toMatch(/inputs: expected an array/);
    expect(bad.body.pulls).toBeLessThanOrEqual(2);
    expect(bad.body.cancelled).toBe(true);

    expect(
      (
        await s.upload(
          multipart([
            { name: 'manifest', data: JSON.stringify(manifestOf('1')) },
            { name: 'model', filename: 'model.onnx', data: modelOf('1') },
          ]),
        )
      ).status,
    ).toBe(201);
    const again = send(manifestOf('1'));
    const conflict = await again.res;
    expect(conflict.status).toBe(409);
    expect(again.body.pulls).toBeLessThanOrEqual(2);
    expect(again.body.cancelled).toBe(true);

    // The manifest comes first, or the upload is refused before the model is read.
    const late = await s.upload(
      multipart([
        { name: 'model', filename: 'model.onnx', data: modelOf('2') },
        { name: 'manifest', data: JSON.stringify(manifestOf('2')) },
      ]),
    );
    expect(late.status).toBe(422);
    expect(late.body.error).toMatchObject({ details: { problems: [{ path: 'manifest' }] } });
  });

  it('reads at most two uploads at once: a third is a 503 with Retry-After, and the two complete', async () => {
    const s = await serving();
    const gate = deferred();
    const reading = [deferred(), deferred()];
    const held = ['1', '2'].map((v, i) => {
      let step = 0;
      const body = feed(Buffer.from(partHead({ name: 'manifest', data: '' })), async () => {
        step++;
        if (step === 1) return Buffer.from(JSON.stringify(manifestOf(v)));
        if (step === 2)
          return Buffer.from(`\r\n${partHead({ name: 'model', filename: 'model.onnx', data: '' })}`);
        if (step === 3) return modelOf(v);
        if (step === 4) {
          // The server is reading this upload's model: it holds a slot. The rest waits for the gate.
          reading[i]?.resolve();
          await gate.promise;
          return Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
        }
        return null;
      });
      return s.upload(body.stream);
    });
    await Promise.all(reading.map((r) => r.promise));

    const third = feed(Buffer.from(partHead({ name: 'manifest', data: '' })), async () => null);
    const busy = await s.upload(third.stream);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(busy.body.error).toMatchObject({ code: 'unavailable' });
    expect(third.pulls).toBe(0);

    gate.resolve();
    const done = await Promise.all(held);
    expect(done.map((d) => [d.status, d.body.version])).toEqual([
      [201, '1'],
      [201, '2'],
    ]);
    // The slots are free again.
    const next = await s.upload(
      multipart([
        { name: 'manifest', data: JSON.stringify({ ...manifestOf('2'), version: '3' }) },
        { name: 'model', filename: 'model.onnx', data: modelOf('2') },
      ]),
    );
    expect(next.status, JSON.stringify(next.body)).toBe(201);
  });
});
