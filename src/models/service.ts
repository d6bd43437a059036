import type { AppDeps } from '../context.js';
import type { ModelVersionRow, RecordRow } from '../store/index.js';

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

export function modelSummaries(rows: readonly ModelVersionRow[]): ModelSummary[] {
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

export async function listModels(deps: Pick<AppDeps, 'store'>, model?: string): Promise<ModelSummary[]> {
  return modelSummaries(await deps.store.read((tx) => tx.models.list(model)));
}

/** The version that sent records most recently ('' for unversioned records, or none). */
export async function latestVersion(deps: Pick<AppDeps, 'store'>, model: string): Promise<string> {
  return deps.store.read((tx) => tx.models.latestVersion(model));
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

export function storedRecordView(r: RecordRow): StoredRecord {
  return {
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
  };
}

/** Most recent records by event time within [from, to). */
export async function recentRecords(
  deps: Pick<AppDeps, 'store'>,
  query: { model: string; from?: number | undefined; to?: number | undefined; limit: number },
): Promise<StoredRecord[]> {
  return (await deps.store.read((tx) => tx.records.recent(query))).map(storedRecordView);
}
