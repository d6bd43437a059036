import { defineConfig } from 'drizzle-kit';

// PostgreSQL migrations: `npm run db:generate` writes both dialects (drizzle.config.ts is SQLite's).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/pg/schema/index.ts',
  out: './drizzle/pg',
});
