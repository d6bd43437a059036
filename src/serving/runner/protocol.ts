// The messages between ModelRunner (parent) and worker.ts (child) over the fork IPC channel. The channel
// uses `serialization: 'advanced'` (structured clone), so typed arrays cross it as typed arrays.

/** What the child is told to load; passed as its single argv entry, JSON-encoded. */
export interface WorkerConfig {
  modelPath: string;
  /** ORT intra-op threads; inter-op is 1 and execution is sequential. */
  threads: number;
}

export type TensorType = 'float32' | 'int64' | 'string' | 'bool';

/** One input tensor. `data` is row-major and has the product of `dims` elements. */
export interface Feed {
  type: TensorType;
  data: Float32Array | number[] | bigint[] | BigInt64Array | string[] | boolean[] | Uint8Array;
  dims: number[];
}

/** One output tensor: float32 stays a Float32Array; other numeric types and bool become number[]. */
export interface Output {
  dims: number[];
  type: string;
  data: number[] | Float32Array | string[];
}

/** A graph input or output. Dynamic dimensions are their symbolic name ("N") or -1 when unnamed. */
export interface TensorInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

/** `batch`: several requests that run as one, their rows stacked along the first dimension. */
export type ParentMessage =
  | { type: 'run'; id: number; feeds: Record<string, Feed> }
  | { type: 'batch'; items: { id: number; feeds: Record<string, Feed> }[] };

/** One request's answer within a batch: its own rows of every output, or why it failed. */
export type BatchItemResult =
  | { id: number; outputs: Record<string, Output> }
  | { id: number; message: string };

export type ChildMessage =
  | {
      type: 'ready';
      inputs: TensorInfo[];
      outputs: TensorInfo[];
      loadMs: number;
      /** Every input and output has a dynamic first dimension: requests can be stacked into one run. */
      batchable: boolean;
    }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, Output>; runMs: number }
  | { type: 'run-error'; id: number; message: string }
  /** A batch's answers in the order sent; `runs` is how many model runs it took (1, or one per request). */
  | { type: 'batch-result'; results: BatchItemResult[]; runs: number; runMs: number };
