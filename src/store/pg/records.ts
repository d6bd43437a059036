import { listRejections, pruneRejections } from '../repos/rejections.js';
import type {
  NewRecord,
  NewRejection,
  RecordPageRow,
  RecordRow,
  RecordStore,
  RejectionRow,
} from '../types.js';
import type { PgConn } from './client.js';
import { partitionDay, partitionName, receivedDay } from './partitions.js';

// Ingest is the hot path: one INSERT … SELECT FROM unnest(arrays) per chunk, so a statement has a fixed
// handful of parameters (pg allows 65535) however many records it carries. The other days are named as two
// ranges, not `<> day`: the planner prunes today's partition only for those (a range bound says nothing of
// `<>`, and `> day` could hold a fraction to it), and with it unpruned every insert read all of today's rows.
export const RECORDS_PER_STATEMENT = 2_000;
// The JSON columns go as one text each, the records' JSON joined by U+001E, which JSON.stringify never
// leaves unescaped: as text[] elements pg quoted and backslash-escaped every one of their many quotes (a
// regex pass per value, ~7 µs per record). An empty element (never JSON) stands for NULL; unnest pads the
// empty array of a lone NULL with NULL.
const SEP = '\x1e';
const joinJson = (values: unknown[]): string => {
  let text = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) text += SEP;
    if (v !== null && v !== undefined) text += JSON.stringify(v);
  }
  return text;
};
const keyOf = (model: string, requestId: string) => `${model}\u0000${requestId}`;

export const INSERT_RECORDS = `
INSERT INTO records (model, model_version, request_id, ts, received_at, received_day, features, prediction, label,
  latency_ms, status, error, tags)
SELECT u.model, u.model_version, u.request_id, u.ts, $12, $13, u.features, u.prediction, u.label, u.latency_ms,
  u.status, u.error, u.tags
FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], string_to_array($5::text, E'\\x1e'),
  string_to_array($6::text, E'\\x1e', ''), string_to_array($7::text, E'\\x1e', ''), $8::float8[], $9::text[], $10::text[],
  string_to_array($11::text, E'\\x1e', ''))
  AS u(model, model_version, request_id, ts, features, prediction, label, latency_ms, status, error, tags)
WHERE NOT EXISTS (SELECT 1 FROM records r
                  WHERE r.model = u.model AND r.request_id = u.request_id
                    AND (r.received_day < $13 OR r.received_day >= $13 + 1))
ON CONFLICT (model, request_id, received_day) DO NOTHING
RETURNING model, request_id`;

const SELECT_ROW = `SELECT id, model, model_version AS "modelVersion", request_id AS "requestId", ts,
  received_at AS "receivedAt", features, prediction, label, latency_ms AS "latencyMs", status, error, tags FROM records`;
const PAGE_COLUMNS = `id, model, model_version AS "modelVersion", request_id AS "requestId", ts, features, prediction,
  label`;

export class PgRecords implements RecordStore {
  constructor(private readonly c: PgConn) {}

  /**
   * Stores the records not stored yet. Within `list` the first of two records with the same (model,
   * request id) wins, as in SQLite, where the second conflicts with the first.
   *
   * `records` is partitioned by receipt day and a unique index must contain the partition key, so the
   * unique index only covers (model, request_id) within one day (ON CONFLICT, which also settles concurrent
   * inserts of the same key: the second waits for the first and then skips). Other days are checked by the
   * NOT EXISTS clause: every day but this one (not just older days), so a process whose clock runs behind
   * another's still finds a record stored under a later day. What it cannot see is a concurrent,
   * uncommitted insert of the same key under a different day — only possible when two transactions with
   * receipt times on either side of midnight UTC carry the same request id at the same moment.
   */
  async insert(list: readonly NewRecord[], receivedAt: number): Promise<NewRecord[]> {
    if (list.length === 0) return [];
    const day = receivedDay(receivedAt);
    await this.c.partitions.ensure([day]);

    const unique: NewRecord[] = [];
    const seen = new Set<string>();
    for (const r of list) {
      const key = keyOf(r.model, r.requestId);
      if (seen.has(key)) continue;
      seen.add(key);
      unique.push(r);
    }

    // A baseline activation takes this key exclusively (see Baselines.markActive) before it reads maxId(): it waits
    // for every ingest transaction of the model in flight, so the rebuild's maxRecordId covers all of the
    // model's records committed before it, and any ingest transaction after it inserts (with higher ids,
    // from the sequence) only once the activation has committed. Shared, so ingest transactions do not wait
    // for each other. One statement, models in sorted order, so two transactions take them in one order.
    const models = [...new Set(unique.map((r) => r.model))].sort();
    await this.c.rows(
      "SELECT pg_advisory_xact_lock_shared(hashtext('dw.activation:' || m)) FROM unnest($1::text[]) AS m",
      [models],
    );

    const inserted: NewRecord[] = [];
    for (let start = 0; start < unique.length; start += RECORDS_PER_STATEMENT) {
      const chunk =
        unique.length <= RECORDS_PER_STATEMENT ? unique : unique.slice(start, start + RECORDS_PER_STATEMENT);
      const params: unknown[] = [
        chunk.map((r) => r.model),
        chunk.map((r) => r.modelVersion),
        chunk.map((r) => r.requestId),
        chunk.map((r) => r.ts),
        joinJson(chunk.map((r) => r.features)),
        joinJson(chunk.map((r) => r.prediction)),
        joinJson(chunk.map((r) => r.label)),
        chunk.map((r) => r.latencyMs),
        chunk.map((r) => r.status),
        chunk.map((r) => r.error),
        joinJson(chunk.map((r) => r.tags)),
        receivedAt,
        day,
      ];
      const rows = await this.c.rows<{ model: string; request_id: string }>(INSERT_RECORDS, params);
      if (rows.length === chunk.length) {
        inserted.push(...chunk);
        continue;
      }
      const fresh = new Set(rows.map((row) => keyOf(row.model, row.request_id)));
      for (const r of chunk) if (fresh.has(keyOf(r.model, r.requestId))) inserted.push(r);
    }
    return inserted;
  }

  async byRequestId(
    model: string,
    requestId: string,
    options: { lock?: boolean } = {},
  ): Promise<RecordRow | undefined> {
    const rows = await this.c.rows<RecordRow>(
      `${SELECT_ROW} WHERE model = $1 AND request_id = $2 ORDER BY received_day, id LIMIT 1${options.lock ? ' FOR UPDATE' : ''}`,
      [model, requestId],
    );
    return rows[0];
  }

  async setLabel(id: number, label: string | null): Promise<void> {
    await this.c.run('UPDATE records SET label = $1 WHERE id = $2', [label, id]);
  }

  async labeledIn(model: string, modelVersion: string, from: number, to: number) {
    return this.c.rows<{ prediction: string | null; label: string }>(
      `SELECT prediction, label FROM records
       WHERE model = $1 AND model_version = $2 AND ts >= $3 AND ts < $4 AND label IS NOT NULL`,
      [model, modelVersion, from, to],
    );
  }

  async recent(q: {
    model: string;
    from?: number | undefined;
    to?: number | undefined;
    limit: number;
  }): Promise<RecordRow[]> {
    return this.c.rows<RecordRow>(
      `${SELECT_ROW} WHERE model = $1 AND ($2::int8 IS NULL OR ts >= $2) AND ($3::int8 IS NULL OR ts < $3)
       ORDER BY ts DESC, id DESC LIMIT $4`,
      [q.model, q.from ?? null, q.to ?? null, q.limit],
    );
  }

  async predictions(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
    limit: number,
  ): Promise<string[]> {
    return (
      await this.c.rows<{ prediction: string }>(
        `SELECT prediction FROM records WHERE model = $1 AND model_version = $2 AND ts >= $3 AND ts < $4
           AND prediction IS NOT NULL ORDER BY ts DESC, id DESC LIMIT $5`,
        [model, modelVersion, from, to, limit],
      )
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
    return this.c.rows<{ active: string; shadow: string }>(
      `SELECT a.prediction AS active, s.prediction AS shadow FROM records a
         JOIN records s ON s.model = a.model AND s.request_id = a.request_id || '@' || $3
           AND s.model_version = $3
       WHERE a.model = $1 AND a.model_version = $2 AND a.ts >= $4 AND a.ts < $5
         AND a.prediction IS NOT NULL AND s.prediction IS NOT NULL
       ORDER BY a.ts DESC, a.id DESC LIMIT $6`,
      [model, activeVersion, shadowVersion, from, to, limit],
    );
  }

  async countWindow(model: string, modelVersion: string, from: number, to: number): Promise<number> {
    const rows = await this.c.rows<{ n: number }>(
      'SELECT count(*) AS n FROM records WHERE model = $1 AND model_version = $2 AND ts >= $3 AND ts < $4',
      [model, modelVersion, from, to],
    );
    return rows[0]?.n ?? 0;
  }

  async windowPage(
    model: string,
    modelVersion: string,
    from: number,
    to: number,
    afterId: number,
    limit: number,
  ): Promise<RecordPageRow[]> {
    return this.c.rows<RecordPageRow>(
      `SELECT ${PAGE_COLUMNS} FROM records
       WHERE model = $1 AND model_version = $2 AND ts >= $3 AND ts < $4 AND id > $5 ORDER BY id LIMIT $6`,
      [model, modelVersion, from, to, afterId, limit],
    );
  }

  async rebuildPage(
    model: string,
    versions: readonly string[],
    afterId: number,
    maxId: number,
    limit: number,
  ): Promise<RecordPageRow[]> {
    if (versions.length === 0) return [];
    // The id range walks the partitions' primary keys (id, received_day), merged in id order.
    return this.c.rows<RecordPageRow>(
      `SELECT ${PAGE_COLUMNS} FROM records
       WHERE id > $1 AND id <= $2 AND model = $3 AND model_version = ANY($4::text[]) ORDER BY id LIMIT $5`,
      [afterId, maxId, model, versions, limit],
    );
  }

  async countRebuild(model: string, versions: readonly string[], maxId: number): Promise<number> {
    if (versions.length === 0) return 0;
    const rows = await this.c.rows<{ n: number }>(
      'SELECT count(*) AS n FROM records WHERE model = $1 AND id <= $2 AND model_version = ANY($3::text[])',
      [model, maxId, versions],
    );
    return rows[0]?.n ?? 0;
  }

  async maxId(): Promise<number> {
    const rows = await this.c.rows<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM records');
    return rows[0]?.id ?? 0;
  }

  async insertRejections(
    list: readonly NewRejection[],
    receivedAt: number,
    ingestRequestId: string,
  ): Promise<void> {
    if (list.length === 0) return;
    // In list order (ids grow with position), like SQLite's row-by-row inserts.
    await this.c.run(
      `INSERT INTO rejections (received_at, ingest_request_id, model, request_id, position_kind, position, errors, raw)
       SELECT $1, $2, u.model, u.request_id, u.position_kind, u.position, u.errors, u.raw
       FROM unnest($3::text[], $4::text[], $5::text[], $6::int4[], $7::text[], $8::text[]) WITH ORDINALITY
         AS u(model, request_id, position_kind, position, errors, raw, ord)
       ORDER BY u.ord`,
      [
        receivedAt,
        ingestRequestId,
        list.map((r) => r.model),
        list.map((r) => r.requestId),
        list.map((r) => r.positionKind),
        list.map((r) => r.position),
        list.map((r) => r.errors),
        list.map((r) => r.raw),
      ],
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
    return (await this.dropDays(cutoff)) + (await this.deleteBefore(cutoff, limit));
  }

  /**
   * Drops the partitions whose whole day lies before the cutoff; returns how many rows they held.
   *
   * The count is exact (count(*) of the partition, under a SHARE lock so no insert slips in between count
   * and drop): callers and tests report pruned rows, and reltuples is only an estimate (-1 before the first
   * analyze). The scan it costs is sequential reading of a day that is about to go, far cheaper than
   * deleting its rows, and it does not block ingest (SHARE does not conflict with readers; ingest writes go
   * to today's partition).
   *
   * DROP of a partition locks `records` ACCESS EXCLUSIVE until commit, and while it waits for that lock
   * every new query on records queues behind it. So it waits at most 2 s (in a savepoint): when it cannot
   * get the lock, the day stays and deleteBefore takes its rows a slice at a time instead.
   *
   * A pass that dropped anything may return more than `limit`: dropping costs the same whatever the size,
   * and the caller's loop (stop when fewer than `limit` came back) still ends only once nothing is left,
   * because the slice delete after it returned fewer than `limit`.
   */
  private async dropDays(cutoff: number): Promise<number> {
    const cutoffDay = receivedDay(cutoff); // days < cutoffDay end at or before the cutoff
    const parts = await this.c.rows<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'records'::regclass`,
    );
    const days = parts
      .map((p) => partitionDay(p.relname))
      .filter((d): d is number => d !== undefined && d < cutoffDay)
      .sort((a, b) => a - b);
    if (days.length === 0) return 0;
    let dropped = 0;
    for (const day of days) {
      const name = partitionName(day);
      await this.c.run('SAVEPOINT dw_prune_day');
      try {
        await this.c.run("SET LOCAL lock_timeout = '2s'");
        await this.c.run(`LOCK TABLE ${name} IN SHARE MODE`);
        const rows = await this.c.rows<{ n: number }>(`SELECT count(*) AS n FROM ${name}`);
        await this.c.run(`DROP TABLE ${name}`);
        await this.c.run('SET LOCAL lock_timeout TO DEFAULT');
        await this.c.run('RELEASE SAVEPOINT dw_prune_day');
        dropped += rows[0]?.n ?? 0;
        this.c.partitions.forget(day);
      } catch (err) {
        await this.c.run('ROLLBACK TO SAVEPOINT dw_prune_day');
        await this.c.run('RELEASE SAVEPOINT dw_prune_day');
        if ((err as { code?: string }).code === '55P03') break; // lock_not_available: delete by rows instead
        throw err;
      }
    }
    return dropped;
  }

  /** Deletes up to `limit` rows received before the cutoff, from the day the cutoff falls in (or older days left). */
  private async deleteBefore(cutoff: number, limit: number): Promise<number> {
    // (id, received_day) is the primary key; ctid alone is not unique across partitions.
    return this.c.run(
      `DELETE FROM records WHERE received_day <= $3 AND (id, received_day) IN (
         SELECT id, received_day FROM records WHERE received_at < $1 AND received_day <= $3 LIMIT $2)`,
      [cutoff, limit, receivedDay(cutoff)],
    );
  }
}
