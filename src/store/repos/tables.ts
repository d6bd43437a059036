// The tables' column names, for repositories written once: drizzle's SQLite definitions serve both dialects,
// because the PostgreSQL schema has the same columns (test/store/schema-parity.test.ts keeps it so).
export * from '../sqlite/schema/index.js';
