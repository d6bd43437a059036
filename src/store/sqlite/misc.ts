import { eq } from 'drizzle-orm';
import type { LeaseRow, LeaseStore } from '../types.js';
import type { Connection } from './client.js';
import { leases } from './schema/index.js';

export class SqliteLeases implements LeaseStore {
  constructor(private readonly c: Connection) {}

  async acquire(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const row = this.c
      .prepared(
        `INSERT INTO leases (name, holder, expires_at, acquired_at) VALUES (@name, @holder, @until, @now)
         ON CONFLICT (name) DO UPDATE SET
           acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
           holder = excluded.holder, expires_at = excluded.expires_at
         WHERE leases.holder = excluded.holder OR leases.expires_at < @now
         RETURNING holder`,
      )
      .get({ name, holder, until: now + ttlMs, now }) as { holder: string } | undefined;
    return row?.holder === holder;
  }

  async release(name: string, holder: string): Promise<void> {
    this.c.prepared('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }

  async get(name: string): Promise<LeaseRow | undefined> {
    return this.c.orm.select().from(leases).where(eq(leases.name, name)).get();
  }
}
