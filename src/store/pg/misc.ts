import { eq } from 'drizzle-orm';
import type { LeaseRow, LeaseStore } from '../types.js';
import type { PgConn } from './client.js';
import { leases } from './schema/index.js';

export class PgLeases implements LeaseStore {
  constructor(private readonly c: PgConn) {}

  /**
   * One statement: a concurrent acquire of the same name waits for the row lock (or, for a new name, for
   * the other insert), then evaluates the WHERE against the row as the other left it.
   */
  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const rows = await this.c.rows<{ holder: string }>(
      `INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET
         acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
         holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at < $4
       RETURNING holder`,
      [name, holder, now + ttlMs, now],
    );
    return rows[0]?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    await this.c.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async get(name: string): Promise<LeaseRow | undefined> {
    const rows = await this.c.orm.select().from(leases).where(eq(leases.name, name));
    return rows[0];
  }
}
