import { is, SQL, type Table } from 'drizzle-orm';
import { PgTable, getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core';
import { SQLiteTable, getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import { schemaColumns } from '../../src/store/copy.js';
import * as pgSchema from '../../src/store/pg/schema/index.js';
import * as sqliteSchema from '../../src/store/sqlite/schema/index.js';

// The SQLite and PostgreSQL schemas are written twice (drizzle's sqlite-core and pg-core), and the
// repositories written once read and write both through the same SQL; this keeps the two from drifting
// apart: columns, type families, nullability, defaults, keys, indexes and foreign keys, per table.

/** One dialect's table, reduced to what both dialects can express. */
interface Shape {
  columns: { name: string; type: string; notNull: boolean; default: string | null }[];
  primaryKey: string[];
  indexes: { name: string; columns: string[]; unique: boolean; where: string | null }[];
  uniques: string[][];
  foreignKeys: string[];
}

// What PostgreSQL adds or changes only because `records` is partitioned by receipt day (src/store/pg/partitions.ts):
// the partition key column; a primary key and a unique index must contain it, so (model, request_id) is unique
// per day there and ingest checks the older days itself (PgRecords.insert); retention drops whole days, so the
// received_at index SQLite's row-by-row retention needs has no use.
const PG_PARTITIONING: Record<string, (pg: Shape) => Shape> = {
  records: (pg) => ({
    ...pg,
    columns: pg.columns.filter((c) => c.name !== 'received_day'),
    primaryKey: pg.primaryKey.filter((c) => c !== 'received_day'),
    indexes: [
      ...pg.indexes.map((i) =>
        i.name === 'records_model_request_day'
          ? { ...i, name: 'records_model_request_id', columns: i.columns.filter((c) => c !== 'received_day') }
          : i,
      ),
      { name: 'records_received_at', columns: ['received_at'], unique: false, where: null },
    ].sort(byName),
  }),
};

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** integer/bigint/serial are one family (SQLite integers are 64-bit), as are real/double precision. */
function family(sqlType: string, columnType: string): string {
  if (columnType === 'SQLiteBoolean' || sqlType === 'boolean') return 'boolean';
  if (/^(integer|bigint|bigserial|serial|smallint)$/.test(sqlType)) return 'integer';
  if (/^(real|double precision)$/.test(sqlType)) return 'float';
  if (/^(blob|bytea)$/.test(sqlType)) return 'bytes';
  return sqlType;
}

/** The text of a `sql` template (index WHERE clauses, SQL defaults), whitespace folded. */
function sqlText(value: unknown): string {
  if (!is(value, SQL)) return JSON.stringify(value);
  return value.queryChunks
    .map((chunk) => {
      const v = (chunk as { value?: unknown }).value;
      return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : String(v);
    })
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}

function nameOf(c: unknown): string {
  return (c as { name?: string }).name ?? sqlText(c);
}

interface ColumnLike {
  name: string;
  notNull: boolean;
  primary: boolean;
  isUnique: boolean;
  default: unknown;
  hasDefault: boolean;
  columnType: string;
  getSQLType(): string;
}

function shape(config: {
  columns: ColumnLike[];
  primaryKeys: { columns: { name: string }[] }[];
  indexes: { config: { name: string; columns: unknown[]; unique: boolean; where?: SQL | undefined } }[];
  uniqueConstraints: { columns: { name: string }[] }[];
  foreignKeys: {
    reference(): { columns: { name: string }[]; foreignColumns: { name: string }[]; foreignTable: Table };
    onDelete?: string | undefined;
  }[];
}): Shape {
  const autoIncrement = (c: ColumnLike) =>
    (c as { autoIncrement?: boolean }).autoIncrement === true || /Serial/.test(c.columnType);
  return {
    columns: config.columns.map((c) => ({
      name: c.name,
      type: family(c.getSQLType(), c.columnType),
      notNull: c.notNull,
      // A serial's default (nextval) and SQLite's autoincrement rowid are the same thing.
      default: autoIncrement(c) ? 'autoincrement' : c.default === undefined ? null : sqlText(c.default),
    })),
    primaryKey: [
      ...config.columns.filter((c) => c.primary).map((c) => c.name),
      ...config.primaryKeys.flatMap((k) => k.columns.map((c) => c.name)),
    ],
    indexes: config.indexes
      .map(({ config: i }) => ({
        name: i.name,
        columns: i.columns.map(nameOf),
        unique: i.unique,
        where: i.where ? sqlText(i.where) : null,
      }))
      .sort(byName),
    uniques: [
      ...config.columns.filter((c) => c.isUnique).map((c) => [c.name]),
      ...config.uniqueConstraints.map((u) => u.columns.map((c) => c.name)),
    ],
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const r = fk.reference();
        const target = (r.foreignTable as unknown as Record<symbol, string>)[Symbol.for('drizzle:Name')];
        return `(${r.columns.map((c) => c.name)}) → ${target}(${r.foreignColumns.map((c) => c.name)}) on delete ${fk.onDelete ?? 'no action'}`;
      })
      .sort(),
  };
}

const sqliteShapes = new Map(
  (Object.values(sqliteSchema) as unknown[])
    .filter((v): v is SQLiteTable => is(v, SQLiteTable))
    .map((t) => {
      const c = sqliteTableConfig(t);
      return [c.name, shape(c as unknown as Parameters<typeof shape>[0])];
    }),
);
const pgShapes = new Map(
  (Object.values(pgSchema) as unknown[])
    .filter((v): v is PgTable => is(v, PgTable))
    .map((t) => {
      const c = pgTableConfig(t);
      const s = shape(c as unknown as Parameters<typeof shape>[0]);
      return [c.name, PG_PARTITIONING[c.name]?.(s) ?? s];
    }),
);

describe('schema parity', () => {
  it('has the same tables in both dialects', () => {
    expect([...pgShapes.keys()].sort()).toEqual([...sqliteShapes.keys()].sort());
    expect(sqliteShapes.size).toBeGreaterThanOrEqual(17);
  });

  for (const [name, sqlite] of sqliteShapes) {
    it(`${name}: same columns, types, nullability, defaults, keys, indexes and foreign keys`, () => {
      expect(pgShapes.get(name)).toEqual(sqlite);
    });
  }

  it('notices a difference the dialects could drift into (a nullable column on one side)', () => {
    const alerts = sqliteShapes.get('alerts');
    expect(alerts).toBeDefined();
    const loosened = alerts && {
      ...alerts,
      columns: alerts.columns.map((c) => (c.name === 'model' ? { ...c, notNull: false } : c)),
    };
    expect(pgShapes.get('alerts')).not.toEqual(loosened);
  });

  it('keeps timestamps, ids and counters 64-bit in PostgreSQL', () => {
    const narrow = [...schemaColumns()].flatMap(([name, t]) =>
      t.pg
        .filter((c) => c.type === 'integer')
        .map((c) => `${name}.${c.name}`)
        .filter((c) => /(_at|_ts|^.*\.ts|_id|_ms|_start|seq|count|records|cursor|total)$/.test(c)),
    );
    // received_day (days since the epoch) fits 32 bits for millions of years.
    expect(narrow.filter((c) => c !== 'records.received_day' && c !== 'alerts.evidence_count')).toEqual([]);
  });
});
