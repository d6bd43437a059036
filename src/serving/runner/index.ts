// The model process runner: one forked process per loaded model, deadlines enforced by replacing it.
export {
  DeadlineExceeded,
  ModelLoadError,
  ModelRestarting,
  ModelRunError,
  ModelUnavailable,
  QueueFull,
} from './errors.js';
export type { Feed, Output, TensorInfo, TensorType } from './protocol.js';
export { ModelRunner, type ModelRunnerOptions, type ModelRunnerStatus, workerEntry } from './runner.js';
