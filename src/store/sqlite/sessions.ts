import type { UiSessionRow, UiSessionStore } from '../types.js';
import type { Connection } from './client.js';

export class SqliteUiSessions implements UiSessionStore {
  constructor(private readonly c: Connection) {}

  async insert(row: UiSessionRow): Promise<void> {
    this.c
      .prepared(
        `INSERT INTO ui_sessions (id_hash, token_name, token_fingerprint, csrf, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(row.idHash, row.tokenName, row.tokenFingerprint, row.csrf, row.createdAt, row.expiresAt);
  }

  async get(idHash: string, now: number): Promise<UiSessionRow | undefined> {
    return this.c
      .prepared(
        `SELECT id_hash AS idHash, token_name AS tokenName, token_fingerprint AS tokenFingerprint, csrf,
                created_at AS createdAt, expires_at AS expiresAt
           FROM ui_sessions WHERE id_hash = ? AND expires_at > ?`,
      )
      .get(idHash, now) as UiSessionRow | undefined;
  }

  async delete(idHash: string): Promise<void> {
    this.c.prepared('DELETE FROM ui_sessions WHERE id_hash = ?').run(idHash);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.c.prepared('DELETE FROM ui_sessions WHERE expires_at <= ?').run(now).changes;
  }
}
