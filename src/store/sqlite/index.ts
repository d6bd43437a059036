import { AsyncLocalStorage } from 'node:async_hooks';
import { LeaseLock } from '../lease-lock.js';
import { type LeaderLock, NestedTransactionError, type Store, type Tx } from '../types.js';
import { SqliteAggregates, SqliteBaselines } from './aggregates.js';
import { SqliteAlerts } from './alerts.js';
import { type Connection, migrationStatus, type OpenOptions, openConnection } from './client.js';
import { SqliteMetrics } from './metrics.js';
import { SqliteDeliveries, SqliteDrift, SqliteLeases, SqliteThresholds } from './misc.js';
import { SqlitePendingEvents } from './pending.js';
import { SqliteModels, SqliteRecords } from './records.js';
import { SqliteReportRuns } from './reports.js';
import { SqliteServing } from './serving.js';
import { SqliteUiSessions } from './sessions.js';

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

  constructor(
    private readonly conn: Connection,
    readonly location: string,
  ) {
    this.repos = {
      records: new SqliteRecords(conn),
      models: new SqliteModels(conn),
      aggregates: new SqliteAggregates(conn),
      baselines: new SqliteBaselines(conn),
      drift: new SqliteDrift(conn),
      thresholds: new SqliteThresholds(conn),
      alerts: new SqliteAlerts(conn),
      deliveries: new SqliteDeliveries(conn),
      leases: new SqliteLeases(conn),
      serving: new SqliteServing(conn),
      pendingEvents: new SqlitePendingEvents(conn),
      metrics: new SqliteMetrics(conn),
      uiSessions: new SqliteUiSessions(conn),
      reportRuns: new SqliteReportRuns(conn),
    };
  }

  private run<T>(begin: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.inTx.getStore()?.open) {
      return Promise.reject(
        new NestedTransactionError('store.tx called inside a transaction; pass the tx down instead'),
      );
    }
    const result = this.tail.then(() => {
      const marker = { open: true };
      return this.inTx.run(marker, async () => {
        const db = this.conn.sqlite;
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

  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    // IMMEDIATE takes the write lock at once, so a second process on the file waits here (busy_timeout)
    // rather than failing halfway through.
    return this.run('BEGIN IMMEDIATE', fn);
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
