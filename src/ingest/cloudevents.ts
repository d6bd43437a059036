import type { AppDeps } from '../context.js';
import { ApiError, type FieldProblem } from '../errors.js';
import type { PendingEventRow } from '../store/index.js';
import type { BatchItem } from './body.js';
import { locateJsonError } from './json-error.js';
import { eventTime, MODEL_NAME, MODEL_NAME_RULE } from './record.js';
import { type IngestResult, ingestBatch } from './service.js';

// KServe's payload logger (an InferenceService's `logger` section) sends every inference as two
// CloudEvents with the same id: `org.kubeflow.serving.inference.request` with the request body and
// `org.kubeflow.serving.inference.response` with the response body, with the service name in the
// `inferenceservicename` extension attribute. The halves arrive in any order, possibly at different
// processes of a fleet: the first is kept in `pending_events`, the second finds it and the joined record(s)
// are ingested through ingestBatch, in the same transaction that deletes the pending row. A half left
// alone past ingest.cloudEventsJoinTimeout is ingested alone by the kserve-join job.

export const CE_REQUEST = 'org.kubeflow.serving.inference.request';
export const CE_RESPONSE = 'org.kubeflow.serving.inference.response';

type Kind = PendingEventRow['kind'];
type Scalar = number | string | boolean | null;
type Deps = Pick<AppDeps, 'store' | 'config' | 'clock' | 'metrics'>;

/** One CloudEvent as received, in either content mode. */
export interface InferenceEvent {
  id: string;
  kind: Kind;
  model: string;
  /** The `time` attribute in ms, if given. */
  time: number | null;
  /** Attributes kept on the record as tags. */
  attrs: Record<string, string>;
  data: unknown;
}

const STRUCTURED = 'application/cloudevents+json';
const TAG_ATTRS = ['source', 'namespace', 'component', 'endpoint'] as const;

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const at = locateJsonError(text);
    throw new ApiError(
      'invalid_body',
      at
        ? `${what} is not valid JSON: ${at.message} at line ${at.line}, column ${at.column} (offset ${at.offset})`
        : `${what} is not valid JSON`,
      at ? { line: at.line, column: at.column, offset: at.offset } : undefined,
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a CloudEvent from an HTTP request: binary mode (attributes in `Ce-*` headers, data in the body) or
 * structured mode (`application/cloudevents+json`, attributes and data in one JSON object). Throws 400 for
 * what is not a CloudEvent at all, 422 for a CloudEvent that is not a KServe inference event.
 */
export function readInferenceEvent(
  header: (name: string) => string | undefined,
  text: string,
  modelMap: Record<string, string>,
): InferenceEvent {
  const contentType = (header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  let attr: (name: string) => unknown;
  let named: (name: string) => string;
  let data: unknown;
  if (contentType === STRUCTURED) {
    const body = parseJson(text, 'body');
    if (!isObject(body)) {
      throw new ApiError('invalid_body', 'a structured CloudEvent must be a JSON object', {
        problems: [{ path: '(body)', message: 'expected object' }],
      });
    }
    attr = (name) => body[name];
    named = (name) => name;
    if (body.data_base64 !== undefined) {
      if (typeof body.data_base64 !== 'string') throw problem('data_base64', 'expected base64 string', 400);
      data = parseJson(Buffer.from(body.data_base64, 'base64').toString('utf8'), 'data_base64 (decoded)');
    } else data = body.data;
  } else {
    if (header('ce-type') === undefined && header('ce-id') === undefined) {
      throw new ApiError(
        'bad_request',
        `not a CloudEvent: binary mode needs Ce-Id, Ce-Type, Ce-Source and Ce-Specversion headers, structured mode content-type ${STRUCTURED}${contentType ? ` (got ${contentType})` : ''}`,
        { problems: [{ path: 'Ce-Type', message: 'header missing' }] },
      );
    }
    attr = (name) => header(`ce-${name}`);
    named = (name) => `Ce-${name[0]?.toUpperCase()}${name.slice(1)}`;
    data = text.trim() === '' ? undefined : parseJson(text, 'body (the event data)');
  }

  const required = (name: string): string => {
    const v = attr(name);
    if (typeof v !== 'string' || v === '') {
      throw problem(named(name), v === undefined ? 'required' : 'expected a non-empty string', 400);
    }
    return v;
  };
  const specversion = required('specversion');
  if (!specversion.startsWith('1.')) {
    throw problem(named('specversion'), `unsupported CloudEvents spec version "${specversion.slice(0, 20)}"`);
  }
  const id = required('id');
  if (id.length > 200) throw problem(named('id'), 'must be at most 200 characters');
  const type = required('type');
  const source = required('source');
  const kind: Kind | undefined =
    type === CE_REQUEST ? 'request' : type === CE_RESPONSE ? 'response' : undefined;
  if (!kind) {
    throw problem(
      named('type'),
      `not a KServe inference event: expected ${CE_REQUEST} or ${CE_RESPONSE}, got "${type.slice(0, 100)}"`,
    );
  }
  const service = attr('inferenceservicename');
  if (typeof service !== 'string' || service === '') {
    throw problem(named('inferenceservicename'), 'required: the InferenceService the event comes from', 400);
  }
  const model = modelMap[service] ?? service;
  if (!MODEL_NAME.test(model) || model.length > 256) {
    throw problem(
      named('inferenceservicename'),
      `model name "${model.slice(0, 100)}" ${MODEL_NAME_RULE} (map it with ingest.cloudEventsModels)`,
    );
  }
  let time: number | null = null;
  const rawTime = attr('time');
  if (rawTime !== undefined) {
    const ms = typeof rawTime === 'string' ? eventTime(rawTime) : 'expected RFC 3339 string';
    if (typeof ms === 'string') throw problem(named('time'), ms);
    time = ms;
  }
  if (!isObject(data)) {
    throw problem(
      contentType === STRUCTURED ? 'data' : '(body)',
      data === undefined ? 'required: the inference request or response body' : 'expected a JSON object',
    );
  }
  const attrs: Record<string, string> = { source: source.slice(0, 256) };
  for (const name of TAG_ATTRS) {
    const v = attr(name);
    if (name !== 'source' && typeof v === 'string' && v !== '') attrs[name] = v.slice(0, 256);
  }
  return { id, kind, model, time, attrs, data };
}

function problem(path: string, message: string, status: 400 | 422 = 422): ApiError {
  return new ApiError(status === 400 ? 'invalid_body' : 'invalid_input', `${path}: ${message}`, {
    problems: [{ path, message }] satisfies FieldProblem[],
  });
}

// ---- V1 and Open Inference Protocol (v2) bodies ----

interface Tensor {
  name: string;
  shape: number[];
  values: unknown[];
}

function flatten(v: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else out.push(v);
  return out;
}

function tensors(list: unknown, field: 'inputs' | 'outputs'): Tensor[] {
  if (!Array.isArray(list) || list.length === 0) throw problem(`data.${field}`, 'expected a non-empty array');
  return list.map((t, i) => {
    const path = `data.${field}[${i}]`;
    if (!isObject(t)) throw problem(path, 'expected a tensor object {name, shape, datatype, data}');
    if (typeof t.name !== 'string' || t.name === '') throw problem(`${path}.name`, 'expected a string');
    const shape = t.shape;
    if (
      !Array.isArray(shape) ||
      shape.length === 0 ||
      !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)
    ) {
      throw problem(`${path}.shape`, 'expected an array of non-negative integers');
    }
    const values = flatten(t.data);
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Array.isArray(t.data) || values.length !== size) {
      throw problem(
        `${path}.data`,
        `expected ${size} values for shape [${shape.join(', ')}], got ${values.length}`,
      );
    }
    return { name: t.name, shape: shape as number[], values };
  });
}

const scalar = (v: unknown): Scalar =>
  v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean'
    ? v
    : (JSON.stringify(v) ?? null);

/** Per instance, the named features of a request body. */
export function requestFeatures(
  data: Record<string, unknown>,
  featureNames: readonly string[] | undefined,
  model: string,
): Record<string, Scalar>[] {
  const namesKey = `models.${model}.featureNames`;
  if (data.instances !== undefined) {
    if (!Array.isArray(data.instances) || data.instances.length === 0)
      throw problem('data.instances', 'expected a non-empty array');
    return data.instances.map((instance, i) => {
      if (isObject(instance)) {
        const out: Record<string, Scalar> = {};
        for (const [k, v] of Object.entries(instance)) out[k] = v as Scalar;
        return out;
      }
      const list = Array.isArray(instance) ? instance : [instance];
      if (!featureNames) {
        throw problem(
          `data.instances[${i}]`,
          `list instances carry no feature names: configure ${namesKey} (the names in order)`,
        );
      }
      if (list.length !== featureNames.length) {
        throw problem(
          `data.instances[${i}]`,
          `has ${list.length} values but ${namesKey} names ${featureNames.length} features`,
        );
      }
      return Object.fromEntries(featureNames.map((name, j) => [name, list[j] as Scalar]));
    });
  }
  if (Array.isArray(data.inputs)) {
    const list = tensors(data.inputs, 'inputs');
    const n = list[0]?.shape[0] ?? 0;
    if (n === 0) throw problem('data.inputs[0].shape', 'the batch dimension is 0: no instances');
    const rows: Record<string, Scalar>[] = Array.from({ length: n }, () => ({}));
    list.forEach((t, k) => {
      const path = `data.inputs[${k}].shape`;
      if (t.shape[0] !== n)
        throw problem(path, `batch dimension ${t.shape[0]} differs from ${n} of the first input`);
      const width = t.shape.length === 1 ? 1 : t.shape.length === 2 ? (t.shape[1] as number) : -1;
      if (width === -1) throw problem(path, 'expected [N], [N, 1] or [N, F]');
      if (width === 1) {
        for (let i = 0; i < n; i++) (rows[i] as Record<string, Scalar>)[t.name] = scalar(t.values[i]);
        return;
      }
      if (!featureNames || featureNames.length !== width) {
        throw problem(
          path,
          `a [N, ${width}] tensor needs ${width} feature names: configure ${namesKey}${featureNames ? ` (it names ${featureNames.length})` : ''}`,
        );
      }
      for (let i = 0; i < n; i++) {
        const row = rows[i] as Record<string, Scalar>;
        featureNames.forEach((name, j) => {
          row[name] = scalar(t.values[i * width + j]);
        });
      }
    });
    return rows;
  }
  throw problem(
    'data',
    'expected a V1 body {"instances": [...]} or an Open Inference Protocol body {"inputs": [{name, shape, datatype, data}]}',
  );
}

/** A prediction as a record holds it: a list of numbers becomes class probabilities keyed by index. */
function prediction(v: unknown): unknown {
  if (Array.isArray(v)) {
    if (v.length === 1) return prediction(v[0]);
    if (v.every((x) => typeof x === 'number')) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  }
  return v;
}

/** Per instance, the prediction of a response body. */
export function responsePredictions(data: Record<string, unknown>): unknown[] {
  if (data.predictions !== undefined) {
    if (!Array.isArray(data.predictions)) throw problem('data.predictions', 'expected an array');
    return data.predictions.map(prediction);
  }
  if (Array.isArray(data.outputs)) {
    // The first output is the prediction (a model with several outputs lists the main one first).
    const [t] = tensors(data.outputs, 'outputs');
    if (!t) return [];
    const n = t.shape[0] as number;
    const width = t.shape.length === 1 ? 1 : t.shape.slice(1).reduce((a, b) => a * b, 1);
    return Array.from({ length: n }, (_, i) =>
      width === 1 ? t.values[i] : prediction(t.values.slice(i * width, (i + 1) * width)),
    );
  }
  throw problem(
    'data',
    'expected a V1 body {"predictions": [...]} or an Open Inference Protocol body {"outputs": [...]}',
  );
}

// ---- joining ----

interface Half {
  kind: Kind;
  receivedAt: number;
  time: number | null;
  data: Record<string, unknown>;
  attrs: Record<string, string>;
}

const requestIdOf = (id: string, i: number, n: number) => (n === 1 ? id : `${id}#${i}`);

/** The batch items of an inference: the records of a request (with the response's predictions when known), or a rejection. */
function joinedItems(
  deps: Deps,
  model: string,
  id: string,
  request: Half | undefined,
  response: Half | undefined,
  timeoutMs: number,
  start: number,
): BatchItem[] {
  if (!request) {
    return [
      {
        position: start,
        raw: JSON.stringify(response?.data ?? null),
        model,
        requestId: id,
        syntaxError: `KServe inference response without its request: no request event with id "${id}" arrived within ${timeoutMs} ms (ingest.cloudEventsJoinTimeout), so the features are unknown`,
      },
    ];
  }
  let features: Record<string, Scalar>[];
  try {
    features = requestFeatures(request.data, deps.config.models[model]?.featureNames, model);
  } catch (err) {
    return [
      {
        position: start,
        raw: JSON.stringify(request.data),
        model,
        requestId: id,
        syntaxError: `KServe request event cannot be read: ${err instanceof Error ? err.message : String(err)}`,
      },
    ];
  }
  let predictions: unknown[] | undefined;
  if (response) {
    try {
      predictions = responsePredictions(response.data);
    } catch {
      predictions = undefined; // checked when the response arrived; a record without prediction is kept
    }
  }
  const n = features.length;
  const latency = response ? response.receivedAt - request.receivedAt : -1;
  const tags = { ...response?.attrs, ...request.attrs };
  return features.map((f, i) => ({
    position: start + i,
    value: {
      model,
      request_id: requestIdOf(id, i, n),
      timestamp: request.time ?? request.receivedAt,
      features: f,
      ...(predictions && predictions[i] !== undefined ? { prediction: predictions[i] } : {}),
      ...(latency >= 0 ? { latency_ms: latency } : {}),
      tags,
    },
  }));
}

function halfOf(row: PendingEventRow): Half {
  return {
    kind: row.kind,
    receivedAt: row.receivedAt,
    time: row.eventTime,
    data: JSON.parse(row.data) as Record<string, unknown>,
    attrs: JSON.parse(row.attrs) as Record<string, string>,
  };
}

export type CloudEventOutcome =
  | { status: 'pending'; model: string; id: string; kind: Kind }
  | { status: 'duplicate'; model: string; id: string; kind: Kind }
  | ({ status: 'joined'; model: string; id: string; kind: Kind } & IngestResult);

/** Thrown when pending_events is full: the route answers 503 with Retry-After. */
export class PendingFull extends ApiError {
  constructor(
    max: number,
    readonly retryAfterS: number,
  ) {
    super(
      'unavailable',
      `${max} KServe events are waiting for their other half (ingest.cloudEventsMaxPending); retry after ${retryAfterS} s`,
    );
  }
}

/** Takes one half: keeps it until its other half comes, or joins it with the one already waiting. */
export async function acceptInferenceEvent(
  deps: Deps,
  event: InferenceEvent,
  ingestRequestId: string,
): Promise<CloudEventOutcome> {
  const { model, id, kind } = event;
  const data = event.data as Record<string, unknown>;
  // Refuse an unreadable half now, while the sender can still be told (the other half needs no check).
  if (kind === 'request') requestFeatures(data, deps.config.models[model]?.featureNames, model);
  else responsePredictions(data);
  const { cloudEventsMaxPending: max, cloudEventsJoinTimeout: timeoutMs } = deps.config.ingest;
  const receivedAt = deps.clock();
  const row: PendingEventRow = {
    model,
    eventId: id,
    kind,
    receivedAt,
    eventTime: event.time,
    data: JSON.stringify(data),
    attrs: JSON.stringify(event.attrs),
  };
  const offered = await deps.store.tx(async (tx) => {
    // Already joined (or ingested alone): a re-delivered half is a duplicate, not a new pending row.
    if (
      (await tx.records.byRequestId(model, id)) !== undefined ||
      (await tx.records.byRequestId(model, `${id}#0`)) !== undefined
    ) {
      return { outcome: 'duplicate' as const };
    }
    const r = await tx.pendingEvents.offer(row);
    if (r.stored) {
      // Throwing rolls the insert back: the table never holds more than the cap.
      if ((await tx.pendingEvents.count()) > max) throw new PendingFull(max, Math.ceil(timeoutMs / 1000));
      return { outcome: 'pending' as const };
    }
    if (!r.existing || r.existing.kind === kind) return { outcome: 'duplicate' as const };
    return { outcome: 'join' as const, other: r.existing };
  });
  if (offered.outcome !== 'join') return { status: offered.outcome, model, id, kind };

  const mine: Half = { kind, receivedAt, time: event.time, data, attrs: event.attrs };
  const other = halfOf(offered.other);
  const [request, response] = kind === 'request' ? [mine, other] : [other, mine];
  const items = joinedItems(deps, model, id, request, response, timeoutMs, 0);
  const result = await ingestBatch(deps, { positionKind: 'index', items }, ingestRequestId, {
    // The pending row goes in the transaction that stores the records: both or neither.
    alsoInTransaction: async (tx) => {
      await tx.pendingEvents.remove(model, id, other.kind);
    },
  });
  return { status: 'joined', model, id, kind, ...result };
}

/**
 * The kserve-join job: ingests halves that waited longer than ingest.cloudEventsJoinTimeout. A lone
 * request becomes its record(s) without prediction; a lone response cannot (features are required), so it
 * is stored as a rejection saying why, with its body as sent.
 */
export async function runKserveJoinTick(
  deps: Deps,
  now: number,
  options: { pageSize?: number; maxPages?: number } = {},
): Promise<{ requests: number; responses: number }> {
  const timeoutMs = deps.config.ingest.cloudEventsJoinTimeout;
  const pageSize = options.pageSize ?? 500;
  const maxPages = options.maxPages ?? 20;
  const done = { requests: 0, responses: 0 };
  for (let page = 0; page < maxPages; page++) {
    const rows = await deps.store.read((tx) => tx.pendingEvents.expired(now - timeoutMs, pageSize));
    if (rows.length === 0) break;
    const items: BatchItem[] = [];
    for (const row of rows) {
      const half = halfOf(row);
      items.push(
        ...joinedItems(
          deps,
          row.model,
          row.eventId,
          half.kind === 'request' ? half : undefined,
          half.kind === 'response' ? half : undefined,
          timeoutMs,
          items.length,
        ),
      );
      done[half.kind === 'request' ? 'requests' : 'responses']++;
    }
    await ingestBatch(deps, { positionKind: 'index', items }, `kserve-join-${now}-${page + 1}`, {
      alsoInTransaction: async (tx) => {
        for (const row of rows) await tx.pendingEvents.remove(row.model, row.eventId, row.kind);
      },
    });
    if (rows.length < pageSize) break;
  }
  return done;
}
