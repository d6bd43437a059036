import { index, pgTable, text } from 'drizzle-orm/pg-core';
import { ms } from './columns.js';

/** See the SQLite schema: web UI sessions by the SHA-256 of their cookie. */
export const uiSessions = pgTable(
  'ui_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    tokenName: text('token_name').notNull(),
    tokenFingerprint: text('token_fingerprint').notNull(),
    csrf: text('csrf').notNull(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('ui_sessions_expiry').on(t.expiresAt)],
);
