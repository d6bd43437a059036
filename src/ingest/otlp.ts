import protobuf from 'protobufjs';
import type { AppDeps } from '../context.js';
import { ApiError, errorBody } from '../errors.js';
import type { BatchItem } from './body.js';
import { locateJsonError } from './json-error.js';
import { ingestBatch } from './service.js';

// OpenTelemetry logs over OTLP/HTTP (POST /v1/logs): an ExportLogsServiceRequest, as protobuf or as the
// spec's JSON mapping, whose log records carry model inferences in attributes (driftwatch.model, …) and
// the features as a key-value map body or driftwatch.feature.* attributes. Model logs become records
// through ingestBatch, like POST /v1/ingest; any other log record is refused in the response's
// partialSuccess (the Collector should filter them out; they are not kept as rejections).

type Deps = Pick<AppDeps, 'store' | 'config' | 'clock' | 'metrics'>;
export type OtlpSettings = AppDeps['config']['sources']['otlp'];

/** A log attribute or body as a plain value: a kvlist becomes an object, an array an array, bytes base64. */
export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

// The OTLP messages driftwatch reads and writes (opentelemetry-proto, logs/v1 and collector/logs/v1), with
// the JSON mapping's lowerCamelCase names so both encodings decode to the same shape.
const rep = (type: string, id: number) => ({ rule: 'repeated', type, id });
const one = (type: string, id: number) => ({ type, id });
const root = protobuf.Root.fromJSON({
  nested: {
    ExportLogsServiceRequest: { fields: { resourceLogs: rep('ResourceLogs', 1) } },
    ResourceLogs: {
      fields: { resource: one('Resource', 1), scopeLogs: rep('ScopeLogs', 2), schemaUrl: one('string', 3) },
    },
    Resource: { fields: { attributes: rep('KeyValue', 1), droppedAttributesCount: one('uint32', 2) } },
    ScopeLogs: {
      fields: {
        scope: one('InstrumentationScope', 1),
        logRecords: rep('LogRecord', 2),
        schemaUrl: one('string', 3),
      },
    },
    InstrumentationScope: {
      fields: {
        name: one('string', 1),
        version: one('string', 2),
        attributes: rep('KeyValue', 3),
        droppedAttributesCount: one('uint32', 4),
      },
    },
    LogRecord: {
      fields: {
        timeUnixNano: one('fixed64', 1),
        observedTimeUnixNano: one('fixed64', 11),
        // SeverityNumber: an enum on the wire is a varint, read as its number.
        severityNumber: one('int32', 2),
        severityText: one('string', 3),
        body: one('AnyValue', 5),
        attributes: rep('KeyValue', 6),
        droppedAttributesCount: one('uint32', 7),
        flags: one('fixed32', 8),
        traceId: one('bytes', 9),
        spanId: one('bytes', 10),
        eventName: one('string', 12),
      },
    },
    AnyValue: {
      oneofs: {
        value: {
          oneof: [
            'stringValue',
            'boolValue',
            'intValue',
            'doubleValue',
            'arrayValue',
            'kvlistValue',
            'bytesValue',
          ],
        },
      },
      fields: {
        stringValue: one('string', 1),
        boolValue: one('bool', 2),
        intValue: one('int64', 3),
        doubleValue: one('double', 4),
        arrayValue: one('ArrayValue', 5),
        kvlistValue: one('KeyValueList', 6),
        bytesValue: one('bytes', 7),
      },
    },
    ArrayValue: { fields: { values: rep('AnyValue', 1) } },
    KeyValueList: { fields: { values: rep('KeyValue', 1) } },
    KeyValue: { fields: { key: one('string', 1), value: one('AnyValue', 2) } },
    ExportLogsServiceResponse: { fields: { partialSuccess: one('ExportLogsPartialSuccess', 1) } },
    ExportLogsPartialSuccess: {
      fields: { rejectedLogRecords: one('int64', 1), errorMessage: one('string', 2) },
    },
    // google.rpc.Status, the body of an OTLP/HTTP error (details left out).
    Status: { fields: { code: one('int32', 1), message: one('string', 2) } },
  },
});
const RequestType = root.lookupType('ExportLogsServiceRequest');
const ResponseType = root.lookupType('ExportLogsServiceResponse');
const StatusType = root.lookupType('Status');

export type OtlpEncoding = 'json' | 'protobuf';

export function otlpEncoding(contentType: string | undefined): OtlpEncoding {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') return 'json';
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  throw new ApiError(
    'unsupported_media_type',
    `content-type must be application/x-protobuf or application/json (OTLP/HTTP)${type ? `, got ${type}` : ' (header missing)'}`,
  );
}

/** One log record as driftwatch reads it: resource, scope and record attributes merged (the record's win). */
export interface LogEntry {
  attributes: Map<string, Value>;
  body: Value | undefined;
  /** time_unix_nano, else observed_time_unix_nano; null when neither is set. */
  timeNs: bigint | null;
  /** The log record as sent (the JSON mapping's shape), kept with a rejection. */
  raw: unknown;
}

/** Nesting of AnyValues beyond this is refused: a few levels is all a log attribute needs. */
const MAX_DEPTH = 32;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(path: string, message: string): ApiError {
  return new ApiError('invalid_body', `${path}: ${message}`, { problems: [{ path, message }] });
}

function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(path, 'expected an array');
  return v;
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw invalid(path, 'expected an object');
  return v;
}

/** An int64/fixed64 as the JSON mapping allows it (a decimal string or a number). */
function int64(v: unknown, path: string): bigint | null {
  if (v === undefined || v === null) return null;
  // A nanosecond time written as a JSON number is past 2^53: kept to the double's precision (well below 1 µs).
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return BigInt(v);
  throw invalid(path, 'expected an integer (a decimal string or a number)');
}

/** A value an own property even when its key is "__proto__", so the record check sees and refuses it. */
function setOwn(target: Record<string, Value>, key: string, value: Value): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function anyValue(v: unknown, path: string, depth: number): Value {
  if (depth > MAX_DEPTH) throw invalid(path, `values nested more than ${MAX_DEPTH} levels deep`);
  const a = object(v, path);
  if (a.stringValue !== undefined) {
    if (typeof a.stringValue !== 'string') throw invalid(`${path}.stringValue`, 'expected a string');
    return a.stringValue;
  }
  if (a.boolValue !== undefined) {
    if (typeof a.boolValue !== 'boolean') throw invalid(`${path}.boolValue`, 'expected a boolean');
    return a.boolValue;
  }
  if (a.intValue !== undefined) return Number(int64(a.intValue, `${path}.intValue`));
  if (a.doubleValue !== undefined) {
    // The JSON mapping writes NaN and the infinities as strings.
    const d = a.doubleValue;
    if (typeof d === 'number') return d;
    if (d === 'NaN' || d === 'Infinity' || d === '-Infinity') return Number(d);
    throw invalid(`${path}.doubleValue`, 'expected a number');
  }
  if (a.arrayValue !== undefined) {
    const values = list(object(a.arrayValue, `${path}.arrayValue`).values, `${path}.arrayValue.values`);
    return values.map((x, i) => anyValue(x, `${path}.arrayValue.values[${i}]`, depth + 1));
  }
  if (a.kvlistValue !== undefined) {
    const values = list(object(a.kvlistValue, `${path}.kvlistValue`).values, `${path}.kvlistValue.values`);
    const out: Record<string, Value> = {};
    for (const [key, value] of keyValues(values, `${path}.kvlistValue.values`, depth + 1))
      setOwn(out, key, value);
    return out;
  }
  if (a.bytesValue !== undefined) {
    if (typeof a.bytesValue !== 'string') throw invalid(`${path}.bytesValue`, 'expected base64 string');
    return a.bytesValue;
  }
  return null; // an empty AnyValue
}

function keyValues(values: unknown[], path: string, depth: number): [string, Value][] {
  return values.map((kv, i) => {
    const o = object(kv, `${path}[${i}]`);
    if (typeof o.key !== 'string') throw invalid(`${path}[${i}].key`, 'expected a string');
    return [o.key, anyValue(o.value, `${path}[${i}].value`, depth)];
  });
}

const attributesOf = (v: unknown, path: string) => keyValues(list(v, path), path, 0);

/** The log records of an ExportLogsServiceRequest in either encoding, in order; 400 when it is not one. */
export function decodeLogs(body: Buffer, encoding: OtlpEncoding): LogEntry[] {
  let request: unknown;
  if (encoding === 'protobuf') {
    try {
      // int64s as decimal strings and bytes as base64, as in the JSON mapping.
      request = RequestType.toObject(RequestType.decode(body), { longs: String, bytes: String });
    } catch (err) {
      throw new ApiError(
        'invalid_body',
        `body is not an OTLP ExportLogsServiceRequest in protobuf: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  } else {
    const text = body.toString('utf8');
    try {
      request = JSON.parse(text);
    } catch {
      const at = locateJsonError(text);
      throw new ApiError(
        'invalid_body',
        at
          ? `body is not valid JSON: ${at.message} at line ${at.line}, column ${at.column} (offset ${at.offset})`
          : 'body is not valid JSON',
      );
    }
    if (!isObject(request))
      throw invalid('(body)', 'expected an ExportLogsServiceRequest object {"resourceLogs": [...]}');
  }
  const entries: LogEntry[] = [];
  const top = object(request, '(body)');
  list(top.resourceLogs, 'resourceLogs').forEach((rl, r) => {
    const rPath = `resourceLogs[${r}]`;
    const resourceLogs = object(rl, rPath);
    const resource = object(resourceLogs.resource, `${rPath}.resource`);
    const resourceAttrs = attributesOf(resource.attributes, `${rPath}.resource.attributes`);
    list(resourceLogs.scopeLogs, `${rPath}.scopeLogs`).forEach((sl, s) => {
      const sPath = `${rPath}.scopeLogs[${s}]`;
      const scopeLogs = object(sl, sPath);
      const scope = object(scopeLogs.scope, `${sPath}.scope`);
      const scopeAttrs = attributesOf(scope.attributes, `${sPath}.scope.attributes`);
      list(scopeLogs.logRecords, `${sPath}.logRecords`).forEach((lr, l) => {
        const path = `${sPath}.logRecords[${l}]`;
        const record = object(lr, path);
        const attributes = new Map([
          ...resourceAttrs,
          ...scopeAttrs,
          ...attributesOf(record.attributes, `${path}.attributes`),
        ]);
        const time = int64(record.timeUnixNano, `${path}.timeUnixNano`);
        const observed = int64(record.observedTimeUnixNano, `${path}.observedTimeUnixNano`);
        entries.push({
          attributes,
          body:
            record.body === undefined || record.body === null
              ? undefined
              : anyValue(record.body, `${path}.body`, 0),
          // 0 means unknown in OTLP.
          timeNs: time ? time : observed ? observed : null,
          raw: record,
        });
      });
    });
  });
  return entries;
}

/** The record fields a log attribute may carry, after the attribute prefix. */
export const OTLP_FIELDS = [
  'model',
  'model_version',
  'request_id',
  'prediction',
  'label',
  'latency_ms',
] as const;

const EARLIEST_MS = 1e11; // as for a record's timestamp: before 1973 is a unit mistake, not a date

/**
 * One log record as a batch item: the record its attributes and body describe, or a refusal naming why.
 * `null` for a log record that is not a model log (no model attribute).
 */
export function logItem(entry: LogEntry, index: number, settings: OtlpSettings): BatchItem | null {
  const { attributePrefix: prefix, featurePrefix } = settings;
  const attr = (field: string) => entry.attributes.get(`${prefix}${field}`);
  const model = attr('model');
  if (model === undefined) return null;
  const raw = JSON.stringify(entry.raw);
  const named = {
    position: index,
    raw,
    ...(typeof model === 'string' ? { model: model.slice(0, 256) } : {}),
  };
  const features: Record<string, Value> = {};
  if (isObject(entry.body)) for (const [k, v] of Object.entries(entry.body)) setOwn(features, k, v);
  const unknown: string[] = [];
  for (const [key, value] of entry.attributes) {
    if (key.startsWith(featurePrefix)) setOwn(features, key.slice(featurePrefix.length), value);
    else if (key.startsWith(prefix) && !(OTLP_FIELDS as readonly string[]).includes(key.slice(prefix.length)))
      unknown.push(key);
  }
  const value: Record<string, Value> = {};
  // Ids logged as numbers are still ids.
  const id = (v: Value | undefined) => (typeof v === 'number' ? String(v) : v);
  const requestId = id(attr('request_id'));
  if (typeof requestId === 'string') Object.assign(named, { requestId: requestId.slice(0, 256) });
  if (unknown.length > 0) {
    return {
      ...named,
      syntaxError: `unknown attribute ${unknown.slice(0, 5).join(', ')}: the attributes named ${prefix}* are ${OTLP_FIELDS.map((f) => prefix + f).join(', ')}; features are ${featurePrefix}<name>`,
    };
  }
  if (Object.keys(features).length === 0) {
    return {
      ...named,
      syntaxError: `no features: the body is ${entry.body === undefined ? 'empty' : `a ${Array.isArray(entry.body) ? 'list' : typeof entry.body === 'string' ? 'string' : 'scalar'}`}, not a key-value map, and no attribute is named ${featurePrefix}<name>`,
    };
  }
  value.model = model;
  for (const field of OTLP_FIELDS) {
    const v = field === 'model_version' || field === 'request_id' ? id(attr(field)) : attr(field);
    if (v !== undefined && field !== 'model') value[field] = v;
  }
  value.features = features;
  if (entry.timeNs !== null) {
    const ms = Number(entry.timeNs / 1_000_000n);
    if (ms < EARLIEST_MS) {
      return {
        ...named,
        syntaxError: `timeUnixNano ${entry.timeNs} is before 1973: expected nanoseconds since the Unix epoch`,
      };
    }
    value.timestamp = ms;
  }
  return { position: index, value, raw };
}

export interface OtlpOutcome {
  received: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Why records were rejected, for partialSuccess.errorMessage; empty when none was. */
  errorMessage: string;
}

/** Reasons named in errorMessage; the rest are counted. */
const MAX_REASONS = 10;

/** Stores the model logs of a request (idempotently, by model and request id) and says what was refused. */
export async function ingestLogs(
  deps: Deps,
  entries: readonly LogEntry[],
  ingestRequestId: string,
): Promise<OtlpOutcome> {
  const settings = deps.config.sources.otlp;
  const items: BatchItem[] = [];
  const reasons = new Map<number, string>();
  entries.forEach((entry, i) => {
    const item = logItem(entry, i, settings);
    if (item) items.push(item);
    else reasons.set(i, `no ${settings.attributePrefix}model attribute (not a model log)`);
  });
  const result =
    items.length > 0
      ? await ingestBatch(deps, { positionKind: 'index', items }, ingestRequestId)
      : { accepted: 0, duplicates: 0, rejected: [] };
  for (const r of result.rejected) {
    reasons.set(r.index ?? -1, r.errors.map((e) => problemText(e.path, e.message, settings)).join('; '));
  }
  const sorted = [...reasons].sort((a, b) => a[0] - b[0]);
  const named = sorted.slice(0, MAX_REASONS).map(([i, why]) => `log record ${i}: ${why}`);
  if (sorted.length > MAX_REASONS) named.push(`and ${sorted.length - MAX_REASONS} more`);
  const outcome = {
    received: entries.length,
    accepted: result.accepted,
    duplicates: result.duplicates,
    rejected: reasons.size,
    errorMessage: named.join('; '),
  };
  deps.metrics?.otlpLogs?.(outcome);
  return outcome;
}

/** A record problem in the log's own terms: records[3].request_id → driftwatch.request_id. */
function problemText(path: string, message: string, settings: OtlpSettings): string {
  const rest = path.replace(/^records\[\d+\]\.?/, '');
  if (rest === '') return message;
  if (rest.startsWith('features'))
    return `feature ${rest.slice('features'.length).replace(/^\./, '')}: ${message}`;
  return `${settings.attributePrefix}${rest}: ${message}`;
}

/** The ExportLogsServiceResponse, in the request's encoding. */
export function exportResponse(outcome: OtlpOutcome, encoding: OtlpEncoding): Response {
  const partial =
    outcome.rejected > 0
      ? { rejectedLogRecords: String(outcome.rejected), errorMessage: outcome.errorMessage }
      : undefined;
  if (encoding === 'json') return Response.json(partial ? { partialSuccess: partial } : {});
  const bytes = ResponseType.encode(
    ResponseType.fromObject(partial ? { partialSuccess: partial } : {}),
  ).finish();
  return new Response(bytes, { headers: { 'content-type': 'application/x-protobuf' } });
}

/** gRPC status codes for an OTLP/HTTP error body (google.rpc.Status.code). */
function grpcCode(status: number): number {
  if (status === 401) return 16; // UNAUTHENTICATED
  if (status === 403) return 7; // PERMISSION_DENIED
  if (status === 404 || status === 405) return 12; // UNIMPLEMENTED
  if (status === 429 || status === 503) return 14; // UNAVAILABLE
  if (status >= 500) return 13; // INTERNAL
  return 3; // INVALID_ARGUMENT
}

/**
 * An error answered to an OTLP exporter: a google.rpc.Status in the request's encoding, as OTLP/HTTP asks.
 * The JSON form is driftwatch's error envelope with the Status's code and message beside it.
 */
export function otlpError(err: ApiError, requestId: string, contentType: string | undefined): Response {
  const headers: Record<string, string> = err.code === 'unavailable' ? { 'retry-after': '1' } : {};
  const code = grpcCode(err.status);
  let encoding: OtlpEncoding = 'json';
  try {
    encoding = otlpEncoding(contentType);
  } catch {
    // an unknown content type is answered in JSON
  }
  if (encoding === 'protobuf') {
    const bytes = StatusType.encode(StatusType.fromObject({ code, message: err.message })).finish();
    return new Response(bytes, {
      status: err.status,
      headers: { ...headers, 'content-type': 'application/x-protobuf' },
    });
  }
  return Response.json(
    { code, message: err.message, ...errorBody(err, requestId) },
    { status: err.status, headers },
  );
}

/** For tests and clients: an ExportLogsServiceRequest (JSON mapping shape) as protobuf, and responses back. */
export const otlpProto = {
  encodeRequest: (request: Record<string, unknown>): Uint8Array =>
    RequestType.encode(RequestType.fromObject(request)).finish(),
  decodeResponse: (bytes: Uint8Array): Record<string, unknown> =>
    ResponseType.toObject(ResponseType.decode(bytes), { longs: String }),
  decodeStatus: (bytes: Uint8Array): Record<string, unknown> => StatusType.toObject(StatusType.decode(bytes)),
};
