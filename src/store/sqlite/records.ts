import { and, desc, eq, lt } from 'drizzle-orm';
import type {
  ModelStore,
  NewRecord,
  NewRejection,
  RecordPageRow,
  RecordRow,
  RecordStore,
  RejectionRow,
} from '../types.js';
import type { Connection } from './client.js';
import { modelVersions, rejections } from './schema/index.js';

// Ingest is the hot path: multi-row INSERTs on cached prepared statements, a chunk at a time, under
// SQLite's bound-variable limit (32766), inside the caller's transaction.
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
const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

const SELECT_ROW = `SELECT id, model, model_version AS modelVersion, request_id AS requestId, ts, received_at AS receivedAt,
  features, prediction, label, latency_ms AS latencyMs, status, error, tags FROM records`;
const PAGE_COLUMNS =
  'id, model, model_version AS modelVersion, request_id AS requestId, ts, features, prediction, label';

export class SqliteRecords implements RecordStore {
  constructor(private readonly c: Connection) {}

  async insert(list: readonly NewRecord[], receivedAt: number): Promise<NewRecord[]> {
    const inserted: NewRecord[] = [];
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
      const rows = this.c
        .prepared(
          `INSERT INTO records (${RECORD_COLUMNS.join(',')}) VALUES ${Array(chunk.length).fill(TUPLE).join(',')}
           ON CONFLICT (model, request_id) DO NOTHING RETURNING model, request_id`,
        )
        .all(params) as { model: string; request_id: string }[];
      if (rows.length === chunk.length) {
        inserted.push(...chunk);
        continue;
      }
      const fresh = new Set(rows.map((row) => `${row.model}\u0000${row.request_id}`));
      for (const r of chunk) if (fresh.has(`${r.model}\u0000${r.requestId}`)) inserted.push(r);
    }
    return inserted;
  }

  async byRequestId(model: string, requestId: string): Promise<RecordRow | undefined> {
    return this.c.prepared(`${SELECT_ROW} WHERE model = ? AND request_id = ?`).get(model, requestId) as
      | RecordRow
      | undefined;
  }

  async setLabel(id: number, label: string | null): Promise<void> {
    this.c.prepared('UPDATE records SET label = ? WHERE id = ?').run(label, id);
  }

  async labeledIn(model: string, modelVersion: string, from: number, to: number) {
    return this.c
      .prepared(
        'SELECT prediction, label FROM records WHERE model = ? AND model_version = ? AND ts >= ? AND ts < ? AND label IS NOT NULL',
      )
      .all(model, modelVersion, from, to) as { prediction: string | null; label: string }[];
  }

  async recent(q: {
    model: string;
    from?: number | undefined;
    to?: number | undefined;
    limit: number;
  }): Promise<RecordRow[]> {
    return this.c
      .prepared(
        `${SELECT_ROW} WHERE model = @model AND (@from IS NULL OR ts >= @from) AND (@to IS NULL OR ts < @to)
         ORDER BY ts DESC, id DESC LIMIT @limit`,
      )
      .all({ model: q.model, from: q.from ?? null, to: q.to ?? null, limit: q.limit }) as RecordRow[];
  }

  async predictions(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<string[]> {
    return (
      this.c
        .prepared(
          `SELECT prediction FROM records WHERE model = ? AND model_version = ? AND ts >= ? AND ts < ?
             AND prediction IS NOT NULL ORDER BY ts DESC, id DESC LIMIT ?`,
        )
        .all(model, modelVersion, from, to, limit) as { prediction: string }[]
    ).map((r) => r.prediction);
  }

  async pairedPredictions(
    model: string,
    activeVersion: string,
    shadowVersion: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<{ active: string; shadow: string }[]> {
    return this.c
      .prepared(
        `SELECT a.prediction AS active, s.prediction AS shadow FROM records a
           JOIN records s ON s.model = a.model AND s.request_id = a.request_id || '@' || @shadow
             AND s.model_version = @shadow
         WHERE a.model = @model AND a.model_version = @active AND a.ts >= @from AND a.ts < @to
           AND a.prediction IS NOT NULL AND s.prediction IS NOT NULL
         ORDER BY a.ts DESC, a.id DESC LIMIT @limit`,
      )
      .all({ model, active: activeVersion, shadow: shadowVersion, from, to, limit }) as {
      active: string;
      shadow: string;
    }[];
  }

  async countWindow(model: string, modelVersion: string, from: number, to: number): Promise<number> {
    return (
      this.c
        .prepared(
          'SELECT count(*) AS n FROM records WHERE model = ? AND model_version = ? AND ts >= ? AND ts < ?',
        )
        .get(model, modelVersion, from, to) as { n: number }
    ).n;
  }

  async windowPage(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
    afterId: number,
    limit: number,
  ): Promise<RecordPageRow[]> {
    return this.c
      .prepared(
        `SELECT ${PAGE_COLUMNS} FROM records WHERE model = ? AND model_version = ? AND ts >= ? AND ts < ? AND id > ?
         ORDER BY id LIMIT ?`,
      )
      .all(model, modelVersion, from, to, afterId, limit) as RecordPageRow[];
  }

  async rebuildPage(
    model: string,
    versions: readonly string[],
    afterId: number,
    maxId: number,
    limit: number,
  ): Promise<RecordPageRow[]> {
    if (versions.length === 0) return [];
    // NOT INDEXED keeps this a walk along the rowid: through the (model, ts) index every page would sort all
    // of the model's records again, making a re-aggregation quadratic.
    return this.c
      .prepared(
        `SELECT ${PAGE_COLUMNS} FROM records NOT INDEXED
         WHERE id > ? AND id <= ? AND model = ? AND model_version IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?`,
      )
      .all(afterId, maxId, model, JSON.stringify(versions), limit) as RecordPageRow[];
  }

  async countRebuild(model: string, versions: readonly string[], maxId: number): Promise<number> {
    if (versions.length === 0) return 0;
    return (
      this.c
        .prepared(
          'SELECT count(*) AS n FROM records WHERE model = ? AND id <= ? AND model_version IN (SELECT value FROM json_each(?))',
        )
        .get(model, maxId, JSON.stringify(versions)) as { n: number }
    ).n;
  }

  async maxId(): Promise<number> {
    return (this.c.prepared('SELECT coalesce(max(id), 0) AS id FROM records').get() as { id: number }).id;
  }

  async insertRejections(
    list: readonly NewRejection[],
    receivedAt: number,
    ingestRequestId: string,
  ): Promise<void> {
    if (list.length === 0) return;
    const stmt = this.c.prepared(
      `INSERT INTO rejections (received_at, ingest_request_id, model, request_id, position_kind, position, errors, raw)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const r of list)
      stmt.run(
        receivedAt,
        ingestRequestId,
        r.model,
        r.requestId,
        r.positionKind,
        r.position,
        r.errors,
        r.raw,
      );
  }

  async rejections(q: {
    model?: string | undefined;
    limit: number;
    before?: number | undefined;
  }): Promise<RejectionRow[]> {
    return this.c.orm
      .select()
      .from(rejections)
      .where(
        and(
          q.model === undefined ? undefined : eq(rejections.model, q.model),
          q.before === undefined ? undefined : lt(rejections.id, q.before),
        ),
      )
      .orderBy(desc(rejections.id))
      .limit(q.limit)
      .all();
  }

  async prune(table: 'records' | 'rejections', cutoff: number, limit: number): Promise<number> {
    const name = table === 'records' ? 'records' : 'rejections';
    return this.c
      .prepared(`DELETE FROM ${name} WHERE id IN (SELECT id FROM ${name} WHERE received_at < ? LIMIT ?)`)
      .run(cutoff, limit).changes;
  }
}

export class SqliteModels implements ModelStore {
  constructor(private readonly c: Connection) {}

  async bump(inserted: readonly NewRecord[], receivedAt: number): Promise<void> {
    const groups = new Map<
      string,
      { model: string; version: string; n: number; first: number; last: number }
    >();
    for (const r of inserted) {
      const key = `${r.model}\u0000${r.modelVersion}`;
      const g = groups.get(key);
      if (g) {
        g.n++;
        if (r.ts < g.first) g.first = r.ts;
        if (r.ts > g.last) g.last = r.ts;
      } else groups.set(key, { model: r.model, version: r.modelVersion, n: 1, first: r.ts, last: r.ts });
    }
    const stmt = this.c.prepared(
      `INSERT INTO model_versions (model, model_version, record_count, first_ts, last_ts, first_received_at, last_received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (model, model_version) DO UPDATE SET
         record_count = model_versions.record_count + excluded.record_count,
         first_ts = min(model_versions.first_ts, excluded.first_ts),
         last_ts = max(model_versions.last_ts, excluded.last_ts),
         last_received_at = max(model_versions.last_received_at, excluded.last_received_at)`,
    );
    for (const g of groups.values())
      stmt.run(g.model, g.version, g.n, g.first, g.last, receivedAt, receivedAt);
  }

  async list(model?: string) {
    return this.c.orm
      .select()
      .from(modelVersions)
      .where(model === undefined ? undefined : eq(modelVersions.model, model))
      .orderBy(modelVersions.model, modelVersions.firstTs)
      .all();
  }

  async versions(model: string): Promise<string[]> {
    return (
      this.c.prepared('SELECT model_version AS v FROM model_versions WHERE model = ?').all(model) as {
        v: string;
      }[]
    ).map((r) => r.v);
  }

  async previousVersion(model: string, version: string): Promise<string | null> {
    const row = this.c
      .prepared(
        `SELECT model_version AS v FROM model_versions WHERE model = ? AND model_version != ? AND model_version != ''
           AND first_ts < coalesce((SELECT first_ts FROM model_versions WHERE model = ? AND model_version = ?), 9e15)
         ORDER BY first_ts DESC LIMIT 1`,
      )
      .get(model, version, model, version) as { v: string } | undefined;
    return row?.v ?? null;
  }

  async latestVersion(model: string): Promise<string> {
    const row = this.c
      .prepared(
        'SELECT model_version AS v FROM model_versions WHERE model = ? ORDER BY last_received_at DESC, last_ts DESC LIMIT 1',
      )
      .get(model) as { v: string } | undefined;
    return row?.v ?? '';
  }
}
