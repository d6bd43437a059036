import { listRejections, pruneRejections } from '../repos/rejections.js';
import type {
  NewRecord,
  NewRejection,
  RecordPageRow,
  RecordRow,
  RecordStore,
  RejectionRow,
} from '../types.js';
import type { Connection } from './client.js';

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
// The INSERT's text per row count, built once: rebuilt per chunk, its ~13 KB were joined and then hashed
// again by the statement cache's lookup. No RETURNING: the row count tells whether every row was new (the
// usual case), and only when some were not are the new ones read back (RETURNING cost ~30% of the insert).
const insertText = new Map<number, string>();
const insertSql = (rows: number): string => {
  let text = insertText.get(rows);
  if (text === undefined) {
    text = `INSERT INTO records (${RECORD_COLUMNS.join(',')}) VALUES ${Array(rows).fill(TUPLE).join(',')}
           ON CONFLICT (model, request_id) DO NOTHING`;
    insertText.set(rows, text);
  }
  return text;
};

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
      // AUTOINCREMENT ids only grow, and the caller's transaction holds the write lock: the rows this
      // statement adds are those above the largest id before it.
      const before = (
        this.c.prepared('SELECT coalesce(max(id), 0) AS id FROM records').get() as { id: number }
      ).id;
      const { changes } = this.c.prepared(insertSql(chunk.length)).run(params);
      if (changes === chunk.length) {
        inserted.push(...chunk);
        continue;
      }
      if (changes === 0) continue;
      const rows = this.c.prepared('SELECT model, request_id FROM records WHERE id > ?').all(before) as {
        model: string;
        request_id: string;
      }[];
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
    return listRejections(this.c, q);
  }

  async prune(table: 'records' | 'rejections', cutoff: number, limit: number): Promise<number> {
    if (table === 'rejections') return pruneRejections(this.c, cutoff, limit);
    return this.c
      .prepared('DELETE FROM records WHERE id IN (SELECT id FROM records WHERE received_at < ? LIMIT ?)')
      .run(cutoff, limit).changes;
  }
}
