import type { AppDeps } from '../context.js';
import { ApiError } from '../errors.js';
import { type FeatureValues, toTensor, validateRequest } from './features.js';
import {
  OutputError,
  type OutputTensor,
  type Prediction,
  predictionForLog,
  toPredictions,
} from './outputs.js';
import {
  DeadlineExceeded,
  ModelLoadError,
  ModelRestarting,
  ModelRunError,
  ModelUnavailable,
  QueueFull,
} from './runner/index.js';
import type { LoadedVersion, ServingRuntime } from './runtime.js';

type Deps = Pick<AppDeps, 'store' | 'clock' | 'log' | 'config' | 'metrics'>;

export interface PredictResult {
  model: string;
  model_version: string;
  request_id: string;
  predictions: Prediction[];
}

const SHADOW_BUCKET_MS = 3_600_000;

/**
 * The loaded version a predict request goes to: 404 when the model is not served, 503 naming the reason
 * when it should be but could not be loaded.
 */
export function servedVersion(runtime: ServingRuntime, model: string, version?: string): LoadedVersion {
  const v = runtime.version(model, version);
  if (v) return v;
  const failed = runtime.unavailableOf(model, version);
  if (failed.length > 0) {
    throw new ApiError(
      'unavailable',
      `model ${model} cannot be served here: ${failed.map((u) => `${u.version} failed to load (${u.reason})`).join('; ')}`,
    );
  }
  throw new ApiError(
    'not_found',
    version === undefined
      ? `driftwatch serves no active version of model ${model}`
      : `version ${version} of model ${model} is not loaded (only the active version and shadows are served)`,
  );
}

function deadlineOf(deps: Deps, model: string): number {
  return deps.config.serving.models[model]?.deadlineMs ?? deps.config.serving.deadlineMs;
}

function logsOn(deps: Deps, model: string): boolean {
  return deps.config.serving.models[model]?.logPredictions ?? deps.config.serving.logPredictions;
}

/** Request id of instance `i` in monitoring: the request's own id for a single instance. */
const recordId = (requestId: string, i: number, n: number) => (n === 1 ? requestId : `${requestId}#${i}`);

function runError(err: unknown, v: LoadedVersion, deadlineMs: number): ApiError {
  if (err instanceof DeadlineExceeded) {
    return new ApiError(
      'deadline_exceeded',
      `model ${v.model} version ${v.version} did not answer within ${deadlineMs} ms (serving.deadlineMs)`,
    );
  }
  if (err instanceof QueueFull || err instanceof ModelRestarting || err instanceof ModelUnavailable) {
    return new ApiError('unavailable', err.message);
  }
  if (err instanceof ModelLoadError || err instanceof ModelRunError || err instanceof OutputError) {
    return new ApiError('internal', `model ${v.model} version ${v.version} failed: ${err.message}`);
  }
  return new ApiError('internal', `model ${v.model} version ${v.version} failed`);
}

/** Runs a version on validated rows; the error is the API's (504 past the deadline, 503 while restarting). */
async function score(v: LoadedVersion, rows: FeatureValues[], deadlineMs: number): Promise<Prediction[]> {
  const tensor = toTensor(v.manifest, rows);
  try {
    const outputs = await v.runner.run(
      { [v.manifest.onnx.input]: { type: 'float32', data: tensor.data, dims: tensor.dims } },
      deadlineMs,
    );
    // String outputs (a label tensor) are not read: predictions come from the numeric outputs the manifest names.
    const numeric: Record<string, OutputTensor> = {};
    for (const [name, o] of Object.entries(outputs)) {
      if (o.type !== 'string') numeric[name] = o as OutputTensor;
    }
    return toPredictions(v.manifest, numeric, rows.length);
  } catch (err) {
    throw runError(err, v, deadlineMs);
  }
}

/**
 * Validates a predict body against the version's manifest, scores it, logs every instance into
 * driftwatch's own ingest (written behind, same validation and aggregates as POST /v1/ingest), and
 * schedules the model's shadow versions on the same rows off the response path.
 */
export async function predict(
  deps: Deps,
  runtime: ServingRuntime,
  input: { model: string; version?: string | undefined; body: unknown; requestId: string },
): Promise<PredictResult> {
  const v = servedVersion(runtime, input.model, input.version);
  const checked = validateRequest(v.manifest, input.body, { maxInstances: deps.config.serving.maxInstances });
  if (!checked.ok) {
    throw new ApiError('invalid_input', checked.problems.map((p) => `${p.path}: ${p.message}`).join('; '), {
      problems: checked.problems,
    });
  }
  const rows = checked.rows;
  const deadlineMs = deadlineOf(deps, v.model);
  const started = performance.now();
  const at = deps.clock();
  let predictions: Prediction[];
  try {
    predictions = await score(v, rows, deadlineMs);
  } catch (err) {
    const latency = performance.now() - started;
    deps.metrics?.predicted(v.model, v.version, latency / 1000);
    if (logsOn(deps, v.model)) {
      const message = err instanceof Error ? err.message : String(err);
      rows.forEach((features, i) => {
        runtime.batcher.submit({
          model: v.model,
          model_version: v.version,
          request_id: recordId(input.requestId, i, rows.length),
          timestamp: at,
          features,
          latency_ms: latency,
          status: 'error',
          error: message.slice(0, 1000),
        });
      });
    }
    throw err;
  }
  const latency = performance.now() - started;
  deps.metrics?.predicted(v.model, v.version, latency / 1000);
  if (logsOn(deps, v.model)) {
    predictions.forEach((p, i) => {
      runtime.batcher.submit({
        model: v.model,
        model_version: v.version,
        request_id: recordId(input.requestId, i, rows.length),
        timestamp: at,
        features: rows[i],
        prediction: predictionForLog(p),
        latency_ms: latency,
        status: 'ok',
      });
    });
  }
  if (input.version === undefined) {
    for (const shadow of runtime.shadows(v.model)) {
      setImmediate(
        () => void runShadow(deps, runtime, shadow, v, rows, predictions, latency, input.requestId, at),
      );
    }
  }
  return { model: v.model, model_version: v.version, request_id: input.requestId, predictions };
}

/** Scores a shadow version on the rows the active one answered; logged under its own version, never returned. */
async function runShadow(
  deps: Deps,
  runtime: ServingRuntime,
  shadow: LoadedVersion,
  active: LoadedVersion,
  rows: FeatureValues[],
  activePredictions: Prediction[],
  activeLatency: number,
  requestId: string,
  at: number,
): Promise<void> {
  const started = performance.now();
  let predictions: Prediction[] | null = null;
  let error: string | null = null;
  // The shadow's own schema decides: a row it refuses counts as an error of the shadow.
  const checked = validateRequest(shadow.manifest, { instances: rows }, { maxInstances: rows.length });
  try {
    if (!checked.ok) throw new Error(checked.problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    predictions = await score(shadow, checked.rows, deadlineOf(deps, shadow.model));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const latency = performance.now() - started;
  let agree = 0;
  let absDiff = 0;
  if (predictions) {
    predictions.forEach((p, i) => {
      const a = activePredictions[i];
      if (!a) return;
      if ('label' in p && 'label' in a) agree += p.label === a.label ? 1 : 0;
      if ('value' in p && 'value' in a) absDiff += Math.abs(p.value - a.value);
    });
  }
  runtime.addShadow({
    model: active.model,
    activeVersion: active.version,
    shadowVersion: shadow.version,
    bucketStart: Math.floor(at / SHADOW_BUCKET_MS) * SHADOW_BUCKET_MS,
    bucketMs: SHADOW_BUCKET_MS,
    n: rows.length,
    agree,
    absDiffSum: absDiff,
    activeLatencySum: activeLatency * rows.length,
    shadowLatencySum: latency * rows.length,
    errors: predictions ? 0 : rows.length,
  });
  if (!logsOn(deps, shadow.model)) return;
  rows.forEach((features, i) => {
    const p = predictions?.[i];
    runtime.batcher.submit({
      model: shadow.model,
      model_version: shadow.version,
      // The active version's record has the request's id; the shadow's is told apart by its version.
      request_id: `${recordId(requestId, i, rows.length)}@${shadow.version}`,
      timestamp: at,
      features,
      ...(p ? { prediction: predictionForLog(p) } : {}),
      latency_ms: latency,
      status: p ? 'ok' : 'error',
      ...(p ? {} : { error: (error ?? 'no prediction').slice(0, 1000) }),
      tags: { shadow_of: active.version },
    });
  });
}
