import type { RejectionView } from '../src/ingest/service.js';
import type { StoredRecord } from '../src/models/service.js';
import type { TestApp } from './support.js';

type App = TestApp['app'];

/** The ingest response body, typed loosely so a change in shape fails an assertion rather than compilation. */
export interface IngestBody {
  accepted: number;
  duplicates: number;
  rejected: { index?: number; line?: number; errors: { path: string; message: string }[] }[];
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown>; requestId: string };
}

/** A stored record as GET /v1/models/:model/records returns it. */
export type StoredRecordBody = StoredRecord;

/** A stored rejection as GET /v1/ingest/rejections returns it. */
export type RejectionBody = RejectionView;

/** A minimal valid record for model "iris"; `extra` overrides or adds fields. */
export function rec(requestId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'iris', request_id: requestId, features: { petal_width: 1.5 }, ...extra };
}

export async function send(
  app: App,
  body: string | Uint8Array,
  contentType: string | null,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const res = await app.request('/v1/ingest', {
    method: 'POST',
    headers: { ...(contentType === null ? {} : { 'content-type': contentType }), ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

export async function ingestJson(app: App, body: unknown, headers: Record<string, string> = {}) {
  const res = await send(
    app,
    typeof body === 'string' ? body : JSON.stringify(body),
    'application/json',
    headers,
  );
  return { ...res, body: res.json as IngestBody };
}

export async function ingestNdjson(app: App, text: string, headers: Record<string, string> = {}) {
  const res = await send(app, text, 'application/x-ndjson', headers);
  return { ...res, body: res.json as IngestBody };
}

export async function getJson<T>(
  app: App,
  path: string,
): Promise<{ status: number; body: T; headers: Headers }> {
  const res = await app.request(path);
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

/** Stored records of a model through the public API, newest event first. */
export async function storedRecords(
  app: App,
  model = 'iris',
  query = 'limit=1000',
): Promise<StoredRecordBody[]> {
  const { status, body } = await getJson<{ records: StoredRecordBody[] }>(
    app,
    `/v1/models/${model}/records?${query}`,
  );
  if (status !== 200) throw new Error(`GET records answered ${status}: ${JSON.stringify(body)}`);
  return body.records;
}

export async function storedRequestIds(app: App, model = 'iris'): Promise<string[]> {
  return (await storedRecords(app, model)).map((r) => r.request_id).sort();
}

export async function storedRejections(app: App, query = ''): Promise<RejectionBody[]> {
  const { status, body } = await getJson<{ rejections: RejectionBody[] }>(
    app,
    `/v1/ingest/rejections?${query}`,
  );
  if (status !== 200) throw new Error(`GET rejections answered ${status}: ${JSON.stringify(body)}`);
  return body.rejections;
}

/** Row count straight from the database, for checks the API cannot express (e.g. "nothing at all stored"). */
export async function rowCount(
  t: TestApp,
  table: 'records' | 'rejections' | 'model_versions',
): Promise<number> {
  const [row] = await t.sql<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
  return row?.n ?? 0;
}
