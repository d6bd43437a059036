import pg from 'pg';
import type { LeaderLock } from '../types.js';
import { LOCK_KEYS } from './client.js';

const APP_PREFIX = 'driftwatch leader ';

/**
 * Leadership as a PostgreSQL session advisory lock held on a connection of its own (never a pooled one,
 * which would hand the session to other queries). The lock lives exactly as long as that connection: a
 * leader that is killed loses it when the server sees the socket close, one whose network fails loses it
 * when the server's TCP keepalive gives up (set to about 10 s on this session), and `hold` on a broken
 * connection answers false at once, so the old leader stops running jobs. Needs a direct connection or a
 * session-mode pooler: PgBouncer in transaction mode cannot keep a session lock.
 */
export class PgLeaderLock implements LeaderLock {
  readonly mechanism = 'advisory-lock' as const;
  private client: pg.Client | null = null;
  private held = false;
  // Leadership went with a dropped connection: the next hold() says so before trying to take it again, so
  // the registry stops running jobs even when the lock happens to be free again.
  private lost = false;
  // One operation at a time on the lock's connection: a renewal that overlaps another (or a release during
  // one) would otherwise queue queries on one pg client, which pg deprecates.
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly holderId: string,
    /** Bound on each check, so a hung connection counts as lost rather than blocking renewal. */
    private readonly timeoutMs = 5_000,
  ) {}

  private drop(): void {
    const c = this.client;
    this.client = null;
    if (this.held) this.lost = true;
    this.held = false;
    if (c) c.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      ...this.config,
      application_name: `${APP_PREFIX}${this.holderId}`.slice(0, 63),
      query_timeout: this.timeoutMs,
      connectionTimeoutMillis: this.timeoutMs,
    });
    client.on('error', () => {
      if (this.client === client) this.drop();
    });
    await client.connect();
    // The server notices a vanished leader within ~10 s and releases its lock.
    await client.query(
      'SET tcp_keepalives_idle = 4; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3',
    );
    return client;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  hold(_now: number): Promise<boolean> {
    return this.serial(() => this.holdNow());
  }

  private async holdNow(): Promise<boolean> {
    if (this.lost) {
      this.lost = false;
      return false;
    }
    try {
      if (!this.client) this.client = await this.connect();
      if (this.held) {
        // Still connected means still holding: the lock cannot be lost while the session lives.
        await this.client.query('SELECT 1');
        return true;
      }
      const res = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
        LOCK_KEYS.leader,
      ]);
      this.held = res.rows[0]?.ok === true;
      return this.held;
    } catch {
      this.drop();
      this.lost = false;
      return false;
    }
  }

  release(): Promise<void> {
    return this.serial(() => this.releaseNow());
  }

  private async releaseNow(): Promise<void> {
    if (this.client && this.held) {
      await this.client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEYS.leader]).catch(() => undefined);
    }
    this.drop();
    this.lost = false;
  }

  async holder() {
    const client = new pg.Client({ ...this.config, query_timeout: this.timeoutMs });
    try {
      await client.connect();
      const res = await client.query<{ name: string }>(
        `SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [LOCK_KEYS.leader],
      );
      const name = res.rows[0]?.name;
      return name
        ? { holder: name.startsWith(APP_PREFIX) ? name.slice(APP_PREFIX.length) : name, expiresAt: null }
        : undefined;
    } catch {
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
