import { describe, expect, it } from 'vitest';
import { insertInto, selectList, setList, toNumberedPlaceholders, whereAll } from '../../src/store/sql.js';
import { alerts, uiSessions } from '../../src/store/sqlite/schema/index.js';

describe('the dialect adapter', () => {
  it('numbers ? placeholders for PostgreSQL, leaving quoted strings and identifiers alone', () => {
    expect(toNumberedPlaceholders(`SELECT x AS "a?" FROM t WHERE s = '?' AND a = ? AND b IN (?, ?)`)).toBe(
      `SELECT x AS "a?" FROM t WHERE s = '?' AND a = $1 AND b IN ($2, $3)`,
    );
    expect(toNumberedPlaceholders('SELECT 1 WHERE a = $1')).toBe('SELECT 1 WHERE a = $1');
  });

  it('selects columns under their property names and inserts only the properties a row sets', () => {
    expect(selectList(uiSessions)).toBe(
      'id_hash AS "idHash", token_name AS "tokenName", token_fingerprint AS "tokenFingerprint", csrf, ' +
        'created_at AS "createdAt", expires_at AS "expiresAt"',
    );
    expect(insertInto(uiSessions, { idHash: 'h', csrf: 'c', createdAt: 1, tokenName: undefined })).toEqual({
      text: 'INSERT INTO ui_sessions (id_hash, csrf, created_at) VALUES (?, ?, ?)',
      params: ['h', 'c', 1],
    });
    expect(setList(alerts, { assignee: null, version: 2 })).toEqual({
      text: 'assignee = ?, version = ?',
      params: [null, 2],
    });
    expect(() => setList(alerts, {})).toThrow('nothing to set on alerts');
  });

  it('joins the conditions that apply, with their parameters in order', () => {
    expect(whereAll([false, ['a = ?', 1], ['b IN (?, ?)', 2, 3]])).toEqual({
      text: 'WHERE a = ? AND b IN (?, ?)',
      params: [1, 2, 3],
    });
    expect(whereAll([false])).toEqual({ text: '', params: [] });
  });
});
