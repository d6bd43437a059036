import { getTableColumns, getTableName, type Table } from 'drizzle-orm';

/** A value a statement binds: booleans become 0/1 on SQLite, `undefined` is NULL on both. */
export type Param = string | number | bigint | boolean | Buffer | null | undefined;

/**
 * What a repository written once runs its SQL on: the SQLite connection or one PostgreSQL transaction's
 * connection. Statements use `?` placeholders (rewritten to `$n` for PostgreSQL); integers come back as JS
 * numbers on both (PostgreSQL's int8 and numeric are parsed as numbers, see pg/client.ts).
 */
export interface Sql {
  readonly dialect: 'sqlite' | 'postgres';
  /** A query's rows (also `… RETURNING` of several rows). */
  rows<T>(text: string, params?: readonly Param[]): Promise<T[]>;
  /** A query's first row (also `INSERT … RETURNING`), or undefined. */
  one<T>(text: string, params?: readonly Param[]): Promise<T | undefined>;
  /** A statement that returns no rows; resolves to the number of rows it changed. */
  run(text: string, params?: readonly Param[]): Promise<number>;
}

const numbered = new Map<string, string>();

/**
 * `?` → `$1, $2, …` outside quoted strings and identifiers, once per statement text. (Repositories written
 * once never use PostgreSQL's jsonb `?` operators.)
 */
export function toNumberedPlaceholders(text: string): string {
  let out = numbered.get(text);
  if (out !== undefined) return out;
  let n = 0;
  let quote: string | null = null;
  out = '';
  for (const ch of text) {
    if (quote !== null) {
      if (ch === quote) quote = null;
      out += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      out += ch;
    } else if (ch === '?') {
      n += 1;
      out += `$${n}`;
    } else {
      out += ch;
    }
  }
  numbered.set(text, out);
  return out;
}

function columnsOf(table: Table): [key: string, column: string][] {
  return Object.entries(getTableColumns(table)).map(([key, col]) => [key, col.name]);
}

/** `model_version AS "modelVersion", …`: a table's columns under their property names, for SELECT/RETURNING. */
export function selectList(table: Table, alias?: string): string {
  const prefix = alias ? `${alias}.` : '';
  return columnsOf(table)
    .map(([key, name]) => (key === name ? `${prefix}${name}` : `${prefix}${name} AS "${key}"`))
    .join(', ');
}

/** The column names and values of the properties a row sets (undefined ones left to the column default). */
function assigned(table: Table, row: object): { names: string[]; params: Param[] } {
  const values = row as Record<string, Param>;
  const names: string[] = [];
  const params: Param[] = [];
  for (const [key, name] of columnsOf(table)) {
    if (values[key] === undefined) continue;
    names.push(name);
    params.push(values[key]);
  }
  return { names, params };
}

/** `INSERT INTO t (a, b) VALUES (?, ?)` for the properties a row sets; append ON CONFLICT/RETURNING to `text`. */
export function insertInto(table: Table, row: object): { text: string; params: Param[] } {
  const { names, params } = assigned(table, row);
  const name = getTableName(table);
  return {
    text: `INSERT INTO ${name} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    params,
  };
}

/** `a = ?, b = ?` for the properties a change sets. */
export function setList(table: Table, change: object): { text: string; params: Param[] } {
  const { names, params } = assigned(table, change);
  if (names.length === 0) throw new Error(`nothing to set on ${getTableName(table)}`);
  return { text: names.map((n) => `${n} = ?`).join(', '), params };
}

/** A condition with its parameters, or false when a filter does not apply. */
export type Condition = readonly [text: string, ...params: Param[]] | false;

/** `WHERE a AND b` of the conditions that apply (empty when none does), and their parameters in order. */
export function whereAll(conditions: readonly Condition[]): { text: string; params: Param[] } {
  const kept = conditions.filter((c) => c !== false);
  return {
    text: kept.length === 0 ? '' : `WHERE ${kept.map(([text]) => text).join(' AND ')}`,
    params: kept.flatMap(([, ...params]) => params),
  };
}

/** `COLLATE "C"` on PostgreSQL: text sorted by bytes, as SQLite sorts it. */
export function bytewise(db: Sql): string {
  return db.dialect === 'postgres' ? ' COLLATE "C"' : '';
}
