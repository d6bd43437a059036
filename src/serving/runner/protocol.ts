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

export type ParentMessage = { type: 'run'; id: number; feeds: Record<string, Feed> };

export type ChildMessage =
  | { type: 'ready'; inputs: TensorInfo[]; outputs: TensorInfo[]; loadMs: number }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, Output>; runMs: number }
  | { type: 'run-error'; id: number; message: string };
