import type { Config } from '../config.js';
import { openSqliteStore } from './sqlite/index.js';
import type { Store } from './types.js';

export type * from './types.js';
export { MAX_EXTRA_PER_BUCKET, NestedTransactionError } from './types.js';

/** Opens the configured store and applies pending migrations. */
export function openStore(database: Config['database'], options: { migrate?: boolean } = {}): Store {
  return openSqliteStore(database.path, { synchronous: database.synchronous, ...options });
}
