import pg from 'pg';
import { LOCK_KEYS, type PartitionBook } from './client.js';

export const DAY_MS = 86_400_000;

/** The receipt day of a receipt time (days since the epoch, UTC), the partition key of `records`. */
export const receivedDay = (receivedAt: number): number => Math.floor(receivedAt / DAY_MS);

/** The partition of `records` holding one receipt day. */
export const partitionName = (day: number): string => {
  if (!Number.isSafeInteger(day)) throw new Error(`not a receipt day: ${day}`);
  return day < 0 ? `records_pm${-day}` : `records_p${day}`;
};

/** The receipt day of a partition named by partitionName, or undefined for any other table. */
export const partitionDay = (name: string): number | undefined => {
  const m = /^records_p(m?)(\d+)$/.exec(name);
  if (!m?.[2]) return undefined;
  const n = Number(m[2]);
  return m[1] ? -n : n;
};

/**
 * The receipt-day partitions of `records` this process knows to exist, creating missing ones.
 *
 * Partitions are made on a connection of their own, in a short transaction that commits on its own: a
 * partition created inside an ingest transaction would vanish with its rollback and would hold the
 * creating lock until that transaction ends. Creations are serialised in the process by a promise chain and
 * between processes by an advisory transaction lock, and a partition that appeared meanwhile is left alone.
 *
 * A partition is made as a plain table (LIKE records) and then attached, instead of CREATE TABLE … PARTITION
 * OF: PARTITION OF takes an ACCESS EXCLUSIVE lock on `records`, so it waits for every transaction that has
 * touched records — including an ingest transaction that is itself waiting here for its day, which would
 * hang until lock_timeout. ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on `records`, which inserts
 * and reads do not conflict with; the new table is empty, so its validation scan is instant.
 *
 * On first use the days around today (yesterday … the day after tomorrow) are made too, so at the usual
 * receipt times the partition exists before the first record of the day arrives.
 */
export class Partitions implements PartitionBook {
  private readonly known = new Set<number>();
  private client: pg.Client | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private primed = false;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly clock: () => number = Date.now,
  ) {}

  async ensure(days: Iterable<number>): Promise<void> {
    const wanted = new Set<number>();
    if (!this.primed) {
      const today = receivedDay(this.clock());
      for (let d = today - 1; d <= today + 2; d++) wanted.add(d);
    }
    for (const d of days) wanted.add(d);
    const missing = [...wanted].filter((d) => !this.known.has(d)).sort((a, b) => a - b);
    if (missing.length === 0) return;
    const job = this.chain.then(() => this.create(missing));
    // The chain survives a failed creation; the caller still sees the failure.
    this.chain = job.catch(() => undefined);
    await job;
  }

  forget(day: number): void {
    this.known.delete(day);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    const client = this.client;
    this.client = undefined;
    if (client) await client.end().catch(() => undefined);
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    if (this.closed) throw new Error('the store is closed');
    const client = new pg.Client(this.config);
    // An idle connection that breaks must not crash the process; the next use reconnects.
    client.on('error', () => {
      if (this.client === client) this.client = undefined;
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  private async create(days: readonly number[]): Promise<void> {
    const todo = days.filter((d) => !this.known.has(d));
    if (todo.length === 0) return;
    const client = await this.connection();
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL lock_timeout = '5s'");
      await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEYS.partitions]);
      const { rows } = await client.query<{ relname: string }>(
        `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'records'::regclass`,
      );
      const attached = new Set(rows.map((r) => r.relname));
      for (const day of todo) {
        const name = partitionName(day);
        if (attached.has(name)) continue;
        await client.query(`CREATE TABLE IF NOT EXISTS ${name} (LIKE records INCLUDING DEFAULTS)`);
        await client.query(
          `ALTER TABLE records ATTACH PARTITION ${name} FOR VALUES FROM (${day}) TO (${day + 1})`,
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      // Whatever state the connection is in, it is not trusted again: the next use connects afresh.
      this.client = undefined;
      await client.end().catch(() => undefined);
      throw err;
    }
    for (const day of todo) this.known.add(day);
    this.primed = true;
  }
}
