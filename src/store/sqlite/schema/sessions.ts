import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Web UI sessions: a signed-in browser's cookie, stored as its SHA-256 only, with the token it was signed
 * in with (by name and fingerprint, so a removed or rotated token ends its sessions) and the session's
 * CSRF token. Kept in the store so any process of a fleet serves a signed-in browser.
 */
export const uiSessions = sqliteTable(
  'ui_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    tokenName: text('token_name').notNull(),
    tokenFingerprint: text('token_fingerprint').notNull(),
    csrf: text('csrf').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('ui_sessions_expiry').on(t.expiresAt)],
);
