import { eventTime, type IngestRecord, MODEL_NAME } from './record.js';

// Validating every record through the zod schema costs several times the JSON parse. This check accepts
// only records that are certainly valid (a strict subset of what the schema accepts) and builds them
// directly; anything it is unsure of returns null and goes through the schema for exact error messages.

const ALLOWED = new Set([
  'model',
  'model_version',
  'request_id',
  'timestamp',
  'features',
  'prediction',
  'label',
  'latency_ms',
  'status',
  'error',
  'tags',
]);
// Plain as the schema's records mean it: JSON.parse makes nothing else, but a Date, Map, class instance or
// symbol key handed in by another caller is refused by zod and so must not slip through here.
const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Object.hasOwn(v, '__proto__')) return false;
  const proto = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && Object.getOwnPropertySymbols(v).length === 0;
};
// What JSON.parse makes is plain by construction (Object.prototype, no symbol keys), so for its output the
// prototype and symbol checks — an allocation per object on the hottest path — can be skipped.
const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Object.hasOwn(v, '__proto__');
const isIdentifier = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 256;
const isScalar = (v: unknown) =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v));

function timestampMs(v: unknown, receivedAt: number): number | null {
  if (v === undefined) return receivedAt;
  if (typeof v !== 'number' && typeof v !== 'string') return null;
  const ms = eventTime(v);
  return typeof ms === 'number' ? ms : null;
}

/** The stored form of a record that is certainly valid, or null when the full schema must decide. */
export function fastValidate(raw: unknown, receivedAt: number, fromJsonParse = false): IngestRecord | null {
  const isPlainObject = fromJsonParse ? isJsonObject : isPlain;
  if (!isPlainObject(raw)) return null;
  for (const key in raw) if (!ALLOWED.has(key)) return null;
  const { model, model_version, request_id, features, prediction, label, latency_ms, status, error, tags } =
    raw;
  if (!isIdentifier(model) || !MODEL_NAME.test(model) || !isIdentifier(request_id)) return null;
  if (model_version !== undefined && !isIdentifier(model_version)) return null;
  const ts = timestampMs(raw.timestamp, receivedAt);
  if (ts === null) return null;
  if (!isPlainObject(features)) return null;
  let featureCount = 0;
  for (const key in features) {
    if (key === '' || !isScalar(features[key])) return null;
    featureCount++;
  }
  if (prediction !== undefined && prediction !== null && !isScalar(prediction)) {
    if (!isPlainObject(prediction)) return null;
    for (const key in prediction) {
      const p = prediction[key];
      if (typeof p !== 'number' || !Number.isFinite(p)) return null;
    }
  }
  if (prediction === null) return null;
  if (label !== undefined && !isScalar(label)) return null;
  if (
    latency_ms !== undefined &&
    (typeof latency_ms !== 'number' || !Number.isFinite(latency_ms) || latency_ms < 0)
  )
    return null;
  if (status !== undefined && status !== 'ok' && status !== 'error') return null;
  if (error !== undefined && typeof error !== 'string') return null;
  if (tags !== undefined) {
    if (!isPlainObject(tags)) return null;
    for (const key in tags) if (typeof tags[key] !== 'string') return null;
  }
  return {
    model,
    modelVersion: model_version ?? '',
    requestId: request_id,
    ts,
    features: features as IngestRecord['features'],
    prediction: prediction ?? null,
    label: label ?? null,
    latencyMs: latency_ms ?? null,
    status: (status as IngestRecord['status']) ?? null,
    error: error ?? null,
    tags: (tags as Record<string, string> | undefined) ?? null,
    featureCount,
  };
}
