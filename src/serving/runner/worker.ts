// The model process: forked by ModelRunner, loads one ONNX model with onnxruntime-node and answers `run`
// messages over IPC one at a time, in the order they came (the parent sends several ahead). It runs in its
// own process because InferenceSession.run() is a synchronous native call that blocks the event loop and cannot be interrupted: the parent enforces
// deadlines by killing this process, which is safe (killing a worker_thread mid-run aborts the whole process).
//
// Argv: one JSON-encoded WorkerConfig. Never writes to stdout; the parent forwards stderr to its log.

import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import type {
  BatchItemResult,
  ChildMessage,
  Feed,
  Output,
  ParentMessage,
  TensorInfo,
  WorkerConfig,
} from './protocol.js';

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
    if (message?.type === 'run') chain = chain.then(() => runOne(session, message));
    else if (message?.type === 'batch') chain = chain.then(() => runBatch(session, message));
  });
  const inputs = info(session.inputMetadata);
  const outputs = info(session.outputMetadata);
  await send({
    type: 'ready',
    inputs,
    outputs,
    loadMs: performance.now() - started,
    batchable: [...inputs, ...outputs].every((t) => t.type !== 'non-tensor' && dynamic(t.shape[0])),
  });
}

/** A first dimension left open by the model (symbolic, or unknown). */
const dynamic = (d: number | string | undefined) => typeof d === 'string' || (typeof d === 'number' && d < 0);

/** The tensors' data one after the other, as one tensor of `rows` rows (they share type and inner dims). */
function stack(parts: ort.Tensor[], rows: number): ort.Tensor {
  const first = parts[0] as ort.Tensor;
  const dims = [rows, ...first.dims.slice(1)];
  if (first.type === 'string')
    return new ort.Tensor(
      'string',
      parts.flatMap((t) => t.data as string[]),
      dims,
    );
  const total = parts.reduce((n, t) => n + t.size, 0);
  const Typed = (first.data as Float32Array).constructor as new (n: number) => Float32Array;
  const data = new Typed(total);
  let at = 0;
  for (const t of parts) {
    data.set(t.data as Float32Array, at);
    at += t.size;
  }
  return new ort.Tensor(first.type as 'float32', data, dims);
}

/** Rows [from, from + n) of an output tensor, as that request's own output. */
function rowsOf(t: ort.Tensor, from: number, n: number): Output {
  const inner = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const dims = [n, ...t.dims.slice(1)];
  const data = (t.data as Float32Array).slice(from * inner, (from + n) * inner);
  if (t.type === 'float32') return { dims, type: t.type, data };
  if (t.type === 'string') return { dims, type: t.type, data: [...(data as unknown as string[])] };
  return { dims, type: t.type, data: Array.from(data as ArrayLike<number | bigint>, Number) };
}

/**
 * Runs several requests as one: each input's rows stacked, each output split back by rows. Anything that
 * does not line up (types, inner dimensions, an output without a row per input row) or a failed run falls
 * back to one run per request, so each request gets exactly the answer or error it would have alone.
 */
async function runBatch(session: Session, message: Extract<ParentMessage, { type: 'batch' }>): Promise<void> {
  const t0 = performance.now();
  const stacked = await tryStacked(session, message.items);
  if (stacked) {
    await send({ type: 'batch-result', results: stacked, runs: 1, runMs: performance.now() - t0 });
    return;
  }
  const results: BatchItemResult[] = [];
  for (const item of message.items) {
    try {
      results.push({ id: item.id, outputs: await runFeeds(session, item.feeds) });
    } catch (err) {
      results.push({ id: item.id, message: errorMessage(err) });
    }
  }
  await send({ type: 'batch-result', results, runs: message.items.length, runMs: performance.now() - t0 });
}

async function tryStacked(
  session: Session,
  items: Extract<ParentMessage, { type: 'batch' }>['items'],
): Promise<BatchItemResult[] | null> {
  try {
    const names = Object.keys(items[0]?.feeds ?? {});
    for (const item of items) {
      const keys = Object.keys(item.feeds);
      if (keys.length !== names.length || keys.some((k) => !names.includes(k))) return null;
    }
    const tensors = items.map((item) => names.map((name) => tensor(name, item.feeds[name] as Feed)));
    const first = tensors[0] as ort.Tensor[];
    // Each request's row count is the first dimension of its first input; every input must agree.
    const counts = tensors.map((ts) => ts[0]?.dims[0] ?? -1);
    const fits = tensors.every((ts, i) =>
      ts.every((t, k) => {
        const like = first[k] as ort.Tensor;
        return (
          t.dims.length >= 1 &&
          t.type === like.type &&
          t.dims.length === like.dims.length &&
          t.dims[0] === counts[i] &&
          t.dims.every((d, j) => j === 0 || d === like.dims[j])
        );
      }),
    );
    if (!fits) return null;
    const rows = counts.reduce((a, b) => a + b, 0);
    const feeds: Record<string, ort.Tensor> = {};
    names.forEach((name, k) => {
      feeds[name] = stack(
        tensors.map((ts) => ts[k] as ort.Tensor),
        rows,
      );
    });
    const result = await session.run(feeds);
    if (Object.values(result).some((t) => t.dims[0] !== rows)) return null;
    let from = 0;
    return items.map((item, i) => {
      const n = counts[i] as number;
      const outputs: Record<string, Output> = {};
      for (const [name, t] of Object.entries(result)) outputs[name] = rowsOf(t, from, n);
      from += n;
      return { id: item.id, outputs };
    });
  } catch {
    return null;
  }
}

async function runFeeds(session: Session, input: Record<string, Feed>): Promise<Record<string, Output>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, feed] of Object.entries(input)) feeds[name] = tensor(name, feed);
  const result = await session.run(feeds);
  const outputs: Record<string, Output> = {};
  for (const [name, t] of Object.entries(result)) outputs[name] = output(t);
  return outputs;
}

async function runOne(session: Session, message: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
  const t0 = performance.now();
  try {
    const outputs = await runFeeds(session, message.feeds);
    await send({ type: 'result', id: message.id, outputs, runMs: performance.now() - t0 });
  } catch (err) {
    await send({ type: 'run-error', id: message.id, message: errorMessage(err) });
  }
}

void main();
