import { type Config, databaseTarget } from '../config.js';
import { openSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export { CLAIM_RENEW_MS, CLAIM_TTL_MS, type ClaimHeartbeat, keepClaimed } from './claim.js';
export type * from './types.js';
export { MAX_EXTRA_PER_BUCKET, NestedTransactionError } from './types.js';

/**
 * Opens the configured store — a SQLite file, or PostgreSQL for a postgres:// URL — and applies pending
 * migrations (on PostgreSQL one process at a time, under an advisory lock).
 */
export async function openStore(
  database: Config['database'],
  options: { migrate?: boolean; applicationName?: string } = {},
): Promise<Store> {
  const target = databaseTarget(database);
  if (target.dialect === 'postgres') {
    // Loaded only when used: a sidecar on SQLite never loads the pg driver.
    const { openPgStore } = await import('./pg/index.js');
    return openPgStore(
      {
        url: target.url,
        poolSize: target.poolSize,
        ...(options.applicationName ? { applicationName: options.applicationName } : {}),
      },
      options.migrate === undefined ? {} : { migrate: options.migrate },
    );
  }
  return openSqliteStore(target.path, {
    synchronous: target.synchronous,
    ...(options.migrate === undefined ? {} : { migrate: options.migrate }),
  });
}
