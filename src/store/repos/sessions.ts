import { insertInto, type Sql, selectList } from '../sql.js';
import type { UiSessionRow, UiSessionStore } from '../types.js';
import { uiSessions } from './tables.js';

export class UiSessions implements UiSessionStore {
  constructor(private readonly db: Sql) {}

  async insert(row: UiSessionRow): Promise<void> {
    const ins = insertInto(uiSessions, row);
    await this.db.run(ins.text, ins.params);
  }

  async get(idHash: string, now: number): Promise<UiSessionRow | undefined> {
    return this.db.one(
      `SELECT ${selectList(uiSessions)} FROM ui_sessions WHERE id_hash = ? AND expires_at > ?`,
      [idHash, now],
    );
  }

  async delete(idHash: string): Promise<void> {
    await this.db.run('DELETE FROM ui_sessions WHERE id_hash = ?', [idHash]);
  }

  async purgeExpired(now: number): Promise<number> {
    return this.db.run('DELETE FROM ui_sessions WHERE expires_at <= ?', [now]);
  }
}
