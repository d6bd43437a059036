import type { UiSessionRow, UiSessionStore } from '../types.js';
import type { PgConn } from './client.js';

export class PgUiSessions implements UiSessionStore {
  constructor(private readonly c: PgConn) {}

  async insert(row: UiSessionRow): Promise<void> {
    await this.c.run(
      `INSERT INTO ui_sessions (id_hash, token_name, token_fingerprint, csrf, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [row.idHash, row.tokenName, row.tokenFingerprint, row.csrf, row.createdAt, row.expiresAt],
    );
  }

  async get(idHash: string, now: number): Promise<UiSessionRow | undefined> {
    const rows = await this.c.rows<{
      idHash: string;
      tokenName: string;
      tokenFingerprint: string;
      csrf: string;
      createdAt: string | number;
      expiresAt: string | number;
    }>(
      `SELECT id_hash AS "idHash", token_name AS "tokenName", token_fingerprint AS "tokenFingerprint", csrf,
              created_at AS "createdAt", expires_at AS "expiresAt"
         FROM ui_sessions WHERE id_hash = $1 AND expires_at > $2`,
      [idHash, now],
    );
    const r = rows[0];
    return r && { ...r, createdAt: Number(r.createdAt), expiresAt: Number(r.expiresAt) };
  }

  async delete(idHash: string): Promise<void> {
    await this.c.run('DELETE FROM ui_sessions WHERE id_hash = $1', [idHash]);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.c.run('DELETE FROM ui_sessions WHERE expires_at <= $1', [now]);
  }
}
