import { describe, expect, it } from 'vitest';
import { schemaColumns } from '../../src/store/copy.js';

// The SQLite and PostgreSQL schemas are written twice (drizzle's sqlite-core and pg-core); this keeps their
// column lists from drifting apart. PostgreSQL adds only what its storage needs.
const PG_ONLY: Record<string, string[]> = { records: ['received_day'] };

describe('schema parity', () => {
  const tables = schemaColumns();

  it('has the same tables in both dialects', () => {
    const one = [...tables].filter(([, t]) => t.sqlite.length === 0 || t.pg.length === 0).map(([n]) => n);
    expect(one).toEqual([]);
    expect(tables.size).toBeGreaterThanOrEqual(17);
  });

  it('has the same columns, in the same order, per table', () => {
    for (const [name, t] of tables) {
      const pg = t.pg.map((c) => c.name).filter((c) => !(PG_ONLY[name] ?? []).includes(c));
      expect({ name, columns: pg }).toEqual({ name, columns: t.sqlite });
    }
  });

  it('keeps timestamps, ids and counters 64-bit in PostgreSQL', () => {
    const narrow = [...tables].flatMap(([name, t]) =>
      t.pg
        .filter((c) => c.type === 'integer')
        .map((c) => `${name}.${c.name}`)
        .filter((c) => /(_at|_ts|^.*\.ts|_id|_ms|_start|seq|count|records|cursor|total)$/.test(c)),
    );
    // received_day (days since the epoch) fits 32 bits for millions of years.
    expect(narrow.filter((c) => c !== 'records.received_day' && c !== 'alerts.evidence_count')).toEqual([]);
  });
});
