import { and, desc, eq, lt } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';
import { rejections } from '../db/schema/index.js';
import type { FieldProblem } from '../errors.js';
import type { IngestRecord } from './record.js';

// Ingest is the hot path: multi-row INSERTs on hand-prepared statements, a chunk at a time, under
// SQLite's bound-variable limit (32766), all inside the caller's transaction.

const RECORD_COLUMNS = [
  'model',
  'model_version',
  'request_id',
  'ts',
  'received_at',
  'features',
  'prediction',
  'label',
  'latency_ms',
  'status',
  'error',
  'tags',
] as const;
export const RECORDS_PER_STATEMENT = 500; // 500 × 12 = 6000 variables

const TUPLE = `(${RECORD_COLUMNS.map(() => '?').join(',')})`;

function insertStatement(db: Database, rows: number) {
  return prepared(
    db,
    `INSERT INTO records (${RECORD_COLUMNS.join(',')}) VALUES ${Array(rows).fill(TUPLE).join(',')}
     ON CONFLICT (model, request_id) DO NOTHING RETURNING model, request_id`,
  );
}

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

/**
 * Inserts records whose (model, request_id) pairs are distinct, skipping those already stored.
 * Returns the records that were actually new. Must run inside a transaction.
 */
export function insertRecords(db: Database, list: IngestRecord[], receivedAt: number): IngestRecord[] {
  const inserted: IngestRecord[] = [];
  for (let start = 0; start < list.length; start += RECORDS_PER_STATEMENT) {
    const chunk = list.slice(start, start + RECORDS_PER_STATEMENT);
    const params: unknown[] = new Array(chunk.length * RECORD_COLUMNS.length);
    let k = 0;
    for (const r of chunk) {
      params[k++] = r.model;
      params[k++] = r.modelVersion;
      params[k++] = r.requestId;
      params[k++] = r.ts;
      params[k++] = receivedAt;
      params[k++] = JSON.stringify(r.features);
      params[k++] = json(r.prediction);
      params[k++] = json(r.label);
      params[k++] = r.latencyMs;
      params[k++] = r.status;
      params[k++] = r.error;
      params[k++] = json(r.tags);
    }
    const rows = insertStatement(db, chunk.length).all(params) as { model: string; request_id: string }[];
    if (rows.length === chunk.length) {
      inserted.push(...chunk);
      continue;
    }
    const fresh = new Set(rows.map((row) => `${row.model}\u0000${row.request_id}`));
    for (const r of chunk) if (fresh.has(`${r.model}\u0000${r.requestId}`)) inserted.push(r);
  }
  return inserted;
}

/** Adds newly stored records to the per-version counters that back GET /v1/models. */
export function bumpModelVersions(db: Database, inserted: IngestRecord[], receivedAt: number): void {
  const groups = new Map<string, { model: string; version: string; n: number; first: number; last: number }>();
  for (const r of inserted) {
    const key = `${r.model}\u0000${r.modelVersion}`;
    const g = groups.get(key);
    if (g) {
      g.n++;
      if (r.ts < g.first) g.first = r.ts;
      if (r.ts > g.last) g.last = r.ts;
    } else groups.set(key, { model: r.model, version: r.modelVersion, n: 1, first: r.ts, last: r.ts });
  }
  const stmt = prepared(
    db,
    `INSERT INTO model_versions (model, model_version, record_count, first_ts, last_ts, first_received_at, last_received_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (model, model_version) DO UPDATE SET
       record_count = record_count + excluded.record_count,
       first_ts = min(first_ts, excluded.first_ts),
       last_ts = max(last_ts, excluded.last_ts),
       last_received_at = excluded.last_received_at`,
  );
  for (const g of groups.values()) stmt.run(g.model, g.version, g.n, g.first, g.last, receivedAt, receivedAt);
}

export interface NewRejection {
  positionKind: 'index' | 'line';
  position: number;
  model: string | null;
  requestId: string | null;
  errors: FieldProblem[];
  raw: string;
}

export function insertRejections(db: Database, list: NewRejection[], receivedAt: number, ingestRequestId: string): void {
  const stmt = prepared(
    db,
    `INSERT INTO rejections (received_at, ingest_request_id, model, request_id, position_kind, position, errors, raw)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const r of list) {
    stmt.run(receivedAt, ingestRequestId, r.model, r.requestId, r.positionKind, r.position, JSON.stringify(r.errors), r.raw);
  }
}

export interface RejectionRow {
  id: number;
  received_at: string;
  ingest_request_id: string;
  model: string | null;
  request_id: string | null;
  index?: number;
  line?: number;
  errors: FieldProblem[];
  raw: string;
}

/** Newest first; `before` is an id cursor for paging. */
export function listRejections(
  db: Database,
  query: { model?: string | undefined; limit: number; before?: number | undefined },
): RejectionRow[] {
  const conditions = [
    query.model === undefined ? undefined : eq(rejections.model, query.model),
    query.before === undefined ? undefined : lt(rejections.id, query.before),
  ];
  const rows = db.orm
    .select()
    .from(rejections)
    .where(and(...conditions))
    .orderBy(desc(rejections.id))
    .limit(query.limit)
    .all();
  return rows.map((r) => ({
    id: r.id,
    received_at: new Date(r.receivedAt).toISOString(),
    ingest_request_id: r.ingestRequestId,
    model: r.model,
    request_id: r.requestId,
    ...(r.positionKind === 'index' ? { index: r.position } : { line: r.position }),
    errors: JSON.parse(r.errors) as FieldProblem[],
    raw: r.raw,
  }));
}
