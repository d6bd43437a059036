// The model process: forked by ModelRunner, loads one ONNX model with onnxruntime-node and answers `run`
// messages over IPC one at a time, in the order they came (the parent sends several ahead). It runs in its
// own process because InferenceSession.run() is a synchronous native call that blocks the event loop and cannot be interrupted: the parent enforces
// deadlines by killing this process, which is safe (killing a worker_thread mid-run aborts the whole process).
//
// Argv: one JSON-encoded WorkerConfig. Never writes to stdout; the parent forwards stderr to its log.

import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import type { ChildMessage, Feed, Output, ParentMessage, TensorInfo, WorkerConfig } from './protocol.js';

type Session = Awaited<ReturnType<typeof ort.InferenceSession.create>>;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

function info(meta: readonly ort.InferenceSession.ValueMetadata[]): TensorInfo[] {
  return meta.map((m) =>
    m.isTensor
      ? {
          name: m.name,
          type: m.type,
          shape: m.shape.map((d) => (typeof d === 'number' ? (d < 0 ? -1 : d) : d === '' ? -1 : d)),
        }
      : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

function tensor(name: string, feed: Feed): ort.Tensor {
  const { type, data, dims } = feed;
  const arr = data as ArrayLike<unknown>;
  switch (type) {
    case 'float32':
      return new ort.Tensor(
        'float32',
        data instanceof Float32Array ? data : Float32Array.from(arr, Number),
        dims,
      );
    case 'int64':
      return new ort.Tensor(
        'int64',
        data instanceof BigInt64Array ? data : BigInt64Array.from(arr, (x) => BigInt(x as number | bigint)),
        dims,
      );
    case 'bool':
      return new ort.Tensor(
        'bool',
        Uint8Array.from(arr, (x) => (x ? 1 : 0)),
        dims,
      );
    case 'string':
      return new ort.Tensor('string', Array.from(arr, String), dims);
    default:
      throw new Error(`input ${name}: unsupported type ${String(type)}`);
  }
}

function output(t: ort.Tensor): Output {
  const dims = [...t.dims];
  if (t.type === 'float32') return { dims, type: t.type, data: Float32Array.from(t.data as Float32Array) };
  if (t.type === 'string') return { dims, type: t.type, data: [...(t.data as string[])] };
  return { dims, type: t.type, data: Array.from(t.data as ArrayLike<number | bigint>, Number) };
}

async function load(config: WorkerConfig): Promise<Session> {
  let bytes: Buffer;
  try {
    bytes = await readFile(config.modelPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `model file not found: ${config.modelPath}`
        : `cannot read ${config.modelPath}: ${errorMessage(err)}`,
    );
  }
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: config.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

async function main(): Promise<void> {
  // The parent is gone (or closed the channel): nothing left to serve.
  process.on('disconnect', () => process.exit(0));
  let config: WorkerConfig;
  let session: Session;
  const started = performance.now();
  try {
    config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
    session = await load(config);
  } catch (err) {
    await send({ type: 'load-error', message: errorMessage(err) });
    process.exit(1);
  }
  // The parent sends several requests ahead; they run one after another, each answered before the next
  // starts, so the parent knows the oldest unanswered one is the only one that ever ran.
  let chain = Promise.resolve();
  process.on('message', (message: ParentMessage) => {
    if (message?.type !== 'run') return;
    chain = chain.then(() => runOne(session, message));
  });
  await send({
    type: 'ready',
    inputs: info(session.inputMetadata),
    outputs: info(session.outputMetadata),
    loadMs: performance.now() - started,
  });
}

async function runOne(session: Session, message: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
  const t0 = performance.now();
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(message.feeds)) feeds[name] = tensor(name, feed);
    const result = await session.run(feeds);
    const outputs: Record<string, Output> = {};
    for (const [name, t] of Object.entries(result)) outputs[name] = output(t);
    await send({ type: 'result', id: message.id, outputs, runMs: performance.now() - t0 });
  } catch (err) {
    await send({ type: 'run-error', id: message.id, message: errorMessage(err) });
  }
}

void main();
