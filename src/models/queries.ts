import { and, asc, desc, eq, gte, lt } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { prepared } from '../db/statements.js';
import { modelVersions, records } from '../db/schema/index.js';

const iso = (ms: number) => new Date(ms).toISOString();

export interface ModelSummary {
  model: string;
  record_count: number;
  first_timestamp: string;
  last_timestamp: string;
  last_received_at: string;
  versions: {
    model_version: string | null;
    record_count: number;
    first_timestamp: string;
    last_timestamp: string;
    last_received_at: string;
  }[];
}

export function listModels(db: Database, model?: string): ModelSummary[] {
  const rows = db.orm
    .select()
    .from(modelVersions)
    .where(model === undefined ? undefined : eq(modelVersions.model, model))
    .orderBy(asc(modelVersions.model), asc(modelVersions.firstTs))
    .all();
  const byModel = new Map<string, ModelSummary>();
  for (const r of rows) {
    let m = byModel.get(r.model);
    if (!m) {
      m = {
        model: r.model,
        record_count: 0,
        first_timestamp: iso(r.firstTs),
        last_timestamp: iso(r.lastTs),
        last_received_at: iso(r.lastReceivedAt),
        versions: [],
      };
      byModel.set(r.model, m);
    }
    m.record_count += r.recordCount;
    if (iso(r.firstTs) < m.first_timestamp) m.first_timestamp = iso(r.firstTs);
    if (iso(r.lastTs) > m.last_timestamp) m.last_timestamp = iso(r.lastTs);
    if (iso(r.lastReceivedAt) > m.last_received_at) m.last_received_at = iso(r.lastReceivedAt);
    m.versions.push({
      model_version: r.modelVersion === '' ? null : r.modelVersion,
      record_count: r.recordCount,
      first_timestamp: iso(r.firstTs),
      last_timestamp: iso(r.lastTs),
      last_received_at: iso(r.lastReceivedAt),
    });
  }
  return [...byModel.values()];
}

export interface StoredRecord {
  model: string;
  model_version: string | null;
  request_id: string;
  timestamp: string;
  received_at: string;
  features: Record<string, unknown>;
  prediction: unknown;
  label: unknown;
  latency_ms: number | null;
  status: string | null;
  error: string | null;
  tags: Record<string, string> | null;
}

const parse = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

/** Most recent records by event time within [from, to). */
export function recentRecords(
  db: Database,
  query: { model: string; from?: number | undefined; to?: number | undefined; limit: number },
): StoredRecord[] {
  const rows = db.orm
    .select()
    .from(records)
    .where(
      and(
        eq(records.model, query.model),
        query.from === undefined ? undefined : gte(records.ts, query.from),
        query.to === undefined ? undefined : lt(records.ts, query.to),
      ),
    )
    .orderBy(desc(records.ts), desc(records.id))
    .limit(query.limit)
    .all();
  return rows.map((r) => ({
    model: r.model,
    model_version: r.modelVersion === '' ? null : r.modelVersion,
    request_id: r.requestId,
    timestamp: iso(r.ts),
    received_at: iso(r.receivedAt),
    features: JSON.parse(r.features) as Record<string, unknown>,
    prediction: parse(r.prediction),
    label: parse(r.label),
    latency_ms: r.latencyMs,
    status: r.status,
    error: r.error,
    tags: parse(r.tags) as Record<string, string> | null,
  }));
}

/** The most recent version before `version` (by first event time), for rollbacks. */
export function previousVersion(db: Database, model: string, version: string): string | null {
  const row = prepared(
    db,
    `SELECT model_version AS v FROM model_versions WHERE model = ? AND model_version != ? AND model_version != ''
       AND first_ts < coalesce((SELECT first_ts FROM model_versions WHERE model = ? AND model_version = ?), 9e15)
     ORDER BY first_ts DESC LIMIT 1`,
  ).get(model, version, model, version) as { v: string } | undefined;
  return row?.v ?? null;
}

/** The version that sent data most recently ('' for unversioned records). */
export function latestVersion(db: Database, model: string): string {
  const row = prepared(
    db,
    'SELECT model_version AS v FROM model_versions WHERE model = ? ORDER BY last_received_at DESC, last_ts DESC LIMIT 1',
  ).get(model) as { v: string } | undefined;
  return row?.v ?? '';
}

export function countWindowRecords(db: Database, model: string, modelVersion: string, from: number, to: number): number {
  return (
    prepared(db, 'SELECT count(*) AS n FROM records WHERE model = ? AND model_version = ? AND ts >= ? AND ts < ?').get(
      model,
      modelVersion,
      from,
      to,
    ) as { n: number }
  ).n;
}

/** A version's stored records with event time in [from, to), one at a time. */
export function iterateWindowRecords(db: Database, model: string, modelVersion: string, from: number, to: number) {
  return prepared(db, 'SELECT features, prediction FROM records WHERE model = ? AND model_version = ? AND ts >= ? AND ts < ?').iterate(
    model,
    modelVersion,
    from,
    to,
  ) as IterableIterator<{ features: string; prediction: string | null }>;
}
