import { defineConfig } from 'vitest/config';

// Pure code (statistics, config parsing, architecture) and tests of SQLite itself or of the process on a
// SQLite file run once; every service and route test runs again on PostgreSQL.
const SQLITE_ONLY = [
  'test/stats/**',
  'test/architecture.test.ts',
  'test/config.test.ts',
  'test/config-limits.test.ts',
  'test/limits/config.test.ts',
  'test/start-script.test.ts',
  'test/server/**',
  'test/store/review-fixes.test.ts',
  'test/store/schema-parity.test.ts',
];

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    // Tests that spawn the server process or fuzz statistics need more than the default 5 s on 2 cores.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: ['test/pg/**'] },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: SQLITE_ONLY,
          env: { DW_TEST_STORE: 'postgres' },
          globalSetup: ['test/pg/global-setup.ts'],
        },
      },
    ],
  },
});
