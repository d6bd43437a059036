import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
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
import { PgAggregates } from './aggregates.js';
import {
  connectionSettings,
  migrateDatabase,
  type PgConn,
  type PgOptions,
  pgMigrationStatus,
  redactUrl,
  wrapConn,
} from './client.js';
import { PgCoMoments } from './comoments.js';
import { PgLeaderLock } from './leader.js';
import { PgLeases } from './misc.js';
import { Partitions } from './partitions.js';
import { PgPerformance } from './performance.js';
import { PgRecords } from './records.js';
import { addShadowStats } from './serving.js';

// Deadlock and serialization failure: the database rolled the transaction back and it can simply run again.
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;

function reposOn(conn: PgConn): Tx {
  return {
    records: new PgRecords(conn),
    models: new Models(conn),
    aggregates: new PgAggregates(conn),
    performance: new PgPerformance(conn),
    baselines: new Baselines(conn),
    drift: new Drift(conn),
    thresholds: new Thresholds(conn),
    alerts: new Alerts(conn),
    deliveries: new Deliveries(conn),
    leases: new PgLeases(conn),
    serving: new Serving(conn, (list, now) => addShadowStats(conn, list, now)),
    pendingEvents: new PendingEvents(conn),
    metrics: new Metrics(conn),
    uiSessions: new UiSessions(conn),
    reportRuns: new ReportRuns(conn),
    comoments: new PgCoMoments(conn),
    cusums: new Cusums(conn),
  };
}

/**
 * The shared store: a pool of connections to one PostgreSQL database, used by any number of driftwatch
 * processes. Transactions run concurrently (READ COMMITTED; reads get a REPEATABLE READ snapshot), so the
 * rules that must hold across writers are in the SQL: additive upserts under row locks, compare-and-set on
 * versions, unique indexes, advisory locks. A transaction the database aborts for a deadlock or a
 * serialization failure runs again (up to 5 times): `fn` must not have effects outside `tx`.
 */
export class PgStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  private closed = false;
  private readonly inTx = new AsyncLocalStorage<{ open: boolean }>();

  constructor(
    readonly pool: pg.Pool,
    private readonly settings: pg.ClientConfig,
    private readonly partitions: Partitions,
    url: string,
  ) {
    this.location = redactUrl(url);
  }

  private async run<T>(begin: string, fn: (tx: Tx) => Promise<T>, deferred = false): Promise<T> {
    if (this.inTx.getStore()?.open) {
      throw new NestedTransactionError('store.tx called inside a transaction; pass the tx down instead');
    }
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      const marker = { open: true };
      let broken = false;
      try {
        return await this.inTx.run(marker, async () => {
          await client.query(begin);
          try {
            if (deferred) await client.query('SET LOCAL synchronous_commit = off');
            const value = await fn(reposOn(wrapConn(client, this.partitions)));
            await client.query('COMMIT');
            return value;
          } catch (err) {
            await client.query('ROLLBACK').catch(() => {
              broken = true;
            });
            throw err;
          }
        });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
          continue;
        }
        throw err;
      } finally {
        marker.open = false;
        client.release(broken);
      }
    }
  }

  tx<T>(fn: (tx: Tx) => Promise<T>, options: TxOptions = {}): Promise<T> {
    return this.run('BEGIN', fn, options.durability === 'deferred');
  }

  read<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.run('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
  }

  migrationStatus() {
    return pgMigrationStatus(this.pool);
  }

  /** A session advisory lock: `ttlMs` is not needed, the lock ends with its connection. */
  leaderLock(holder: string, _ttlMs?: number): LeaderLock {
    return new PgLeaderLock(this.settings, holder);
  }

  /** Creates the receipt-day partitions of `records` for these days (days since the epoch, UTC). */
  ensurePartitions(days: Iterable<number>): Promise<void> {
    return this.partitions.ensure(days);
  }

  isOpen(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.partitions.close();
    await this.pool.end();
  }
}

/** Connects to PostgreSQL, applies pending migrations (one process at a time) and opens the pool. */
export async function openPgStore(options: PgOptions, open: { migrate?: boolean } = {}): Promise<PgStore> {
  const { config, poolSize } = connectionSettings(options);
  if (open.migrate !== false) await migrateDatabase(config);
  const pool = new pg.Pool({ ...config, max: poolSize });
  // An idle client that loses its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => undefined);
  return new PgStore(pool, config, new Partitions(config), options.url);
}
