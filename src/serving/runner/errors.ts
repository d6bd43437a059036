// Errors ModelRunner rejects with. Each carries the model's name and version in its message.

/** The request's deadline passed, while it waited in the queue or while the model ran it. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
  constructor(
    message: string,
    readonly deadlineMs: number,
    readonly phase: 'queued' | 'running',
  ) {
    super(message);
  }
}

/** The model process died (or was killed) while running this request; a replacement is starting. */
export class ModelRestarting extends Error {
  override name = 'ModelRestarting';
}

/** The model cannot take requests: the runner is closed, or the last attempt to (re)load the model failed. */
export class ModelUnavailable extends Error {
  override name = 'ModelUnavailable';
}

/** The bounded queue is full; the caller should shed load (HTTP 503). */
export class QueueFull extends Error {
  override name = 'QueueFull';
  constructor(
    message: string,
    readonly limit: number,
  ) {
    super(message);
  }
}

/** The model file is missing or ONNX Runtime refused it. */
export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/** ONNX Runtime rejected the feeds or failed inside run() (wrong input name, shape, type). */
export class ModelRunError extends Error {
  override name = 'ModelRunError';
}
