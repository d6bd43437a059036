import { AsyncLocalStorage } from 'node:async_hooks';
import { LeaseLock } from '../lease-lock.js';
import { Alerts } from '../repos/alerts.js';
import { Baselines } from '../repos/baselines.js';
import { Metrics } from '../repos/metrics.js';
import { Deliveries, Drift, Thresholds } from '../repos/misc.js';
import { Models } from '../repos/models.js';
import { Cusums } from '../repos/multivariate.js';
import { PendingEvents } from '../repos/pending.js';
import { ReportRuns } from '../repos/reports.js';
import { Serving } from '../repos/serving.js';
import { UiSessions } from '../repos/sessions.js';
import { type LeaderLock, NestedTransactionError, type Store, type Tx, type TxOptions } from '../types.js';
import { SqliteAggregates } from './aggregates.js';
import { type Connection, migrationStatus, type OpenOptions, openConnection } from './client.js';
import { SqliteCoMoments } from './comoments.js';
import { SqliteLeases } from './misc.js';
import { SqlitePerformance } from './performance.js';
import { SqliteRecords } from './records.js';
import { addShadowStats } from './serving.js';

/**
 * The embedded store: one better-sqlite3 connection. Its statements are synchronous, so an `await` inside
 * a transaction would let another request's statements into it; transactions therefore run one at a
 * time, in the order they were asked for, each between BEGIN IMMEDIATE and COMMIT.
 */
export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  private readonly repos: Tx;
  private tail: Promise<unknown> = Promise.resolve();
  // The transaction a piece of async work runs in. Timers and promises started inside a transaction keep
  // this context after it ended, so the marker says whether it is still open.
  private readonly inTx = new AsyncLocalStorage<{ open: boolean }>();
  /** The connection's synchronous level as opened (2 FULL, 1 NORMAL), restored after a deferred commit. */
  private readonly synchronous: number;

  constructor(
    private readonly conn: Connection,
    readonly location: string,
  ) {
    this.synchronous = conn.sqlite.pragma('synchronous', { simple: true }) as number;
    this.repos = {
      records: new SqliteRecords(conn),
      models: new Models(conn),
      aggregates: new SqliteAggregates(conn),
      performance: new SqlitePerformance(conn),
      baselines: new Baselines(conn),
      drift: new Drift(conn),
      thresholds: new Thresholds(conn),
      alerts: new Alerts(conn),
      deliveries: new Deliveries(conn),
      leases: new SqliteLeases(conn),
      serving: new Serving(conn, (list, now) => addShadowStats(conn, list, now)),
      pendingEvents: new PendingEvents(conn),
      metrics: new Metrics(conn),
      uiSessions: new UiSessions(conn),
      reportRuns: new ReportRuns(conn),
      comoments: new SqliteCoMoments(conn),
      cusums: new Cusums(conn),
    };
  }

  private run<T>(begin: string, fn: (tx: Tx) => Promise<T>, deferred = false): Promise<T> {
    if (this.inTx.getStore()?.open) {
      return Promise.reject(
        new NestedTransactionError('store.tx called inside a transaction; pass the tx down instead'),
      );
    }
    const result = this.tail.then(() => {
      const marker = { open: true };
      return this.inTx.run(marker, async () => {
        const db = this.conn.sqlite;
        // In WAL mode NORMAL skips the fsync at COMMIT (the WAL is synced at the next FULL commit or
        // checkpoint); the setting is the connection's, so it is put back whatever happens. Prepared once:
        // db.pragma() compiles its statement on every call.
        const relax = deferred && this.synchronous > 1;
        if (relax) this.conn.prepared('PRAGMA synchronous = NORMAL').run();
        db.exec(begin);
        try {
          const value = await fn(this.repos);
          db.exec('COMMIT');
          return value;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        } finally {
          marker.open = false;
          if (relax) this.conn.prepared(`PRAGMA synchronous = ${this.synchronous}`).run();
        }
      });
    });
    // The queue moves on whatever the outcome; the caller sees the rejection.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** The raw connection, for tests and maintenance tools only: services go through tx(). */
  get connection(): Connection {
    return this.conn;
  }

  tx<T>(fn: (tx: Tx) => Promise<T>, options: TxOptions = {}): Promise<T> {
    // IMMEDIATE takes the write lock at once, so a second process on the file waits here (busy_timeout)
    // rather than failing halfway through.
    return this.run('BEGIN IMMEDIATE', fn, options.durability === 'deferred');
  }

  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.run('BEGIN', fn);
  }

  async migrationStatus() {
    return migrationStatus(this.conn);
  }

  leaderLock(holder: string, ttlMs: number): LeaderLock {
    return new LeaseLock(this, holder, ttlMs);
  }

  isOpen(): boolean {
    return this.conn.sqlite.open;
  }

  async close(): Promise<void> {
    // Let queued transactions finish first.
    await this.tail;
    if (this.conn.sqlite.open) this.conn.sqlite.close();
  }
}

export function openSqliteStore(path: string, options: OpenOptions = {}): SqliteStore {
  return new SqliteStore(openConnection(path, options), path);
}
