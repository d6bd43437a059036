import { defineConfig } from 'vitest/config';

// Pure code (statistics, config parsing, architecture) and tests of SQLite itself or of the process on a
// SQLite file run once; every service and route test runs again on PostgreSQL.
const SQLITE_ONLY = [
  'test/stats/**', // statistics: pure functions
  'test/rules/**', // the alert rulebook: pure data and the README
  'test/architecture.test.ts', // reads the source tree
  'test/config.test.ts', // config parsing
  'test/config-limits.test.ts', // config parsing
  'test/limits/config.test.ts', // config parsing
  'test/auth/exposure.test.ts', // the startup exposure check: config only
  'test/ingest/fast-path.test.ts', // record validators: pure functions
  'test/start-script.test.ts', // scripts/start.mjs and build.mjs in a scratch directory
  'test/server/**', // real server processes on SQLite files
  'test/store/sqlite.test.ts', // SQLite migrations and a SQLite database without them
  'test/store/schema-parity.test.ts', // compares the two schema definitions in code
  'test/serving/demo-model.test.ts', // the demo model's artifacts and onnxruntime: no store
  'test/serving/{manifest,features,names,outputs,runner}.test.ts', // pure modules and the model process
  'test/examples/demo.test.ts', // a real server process on a SQLite file
  'test/examples/worked-example.test.ts', // the README's worked example: a real server process on SQLite
  'test/dashboards/**', // dashboards, rules and promtool: no store
  'test/shipping/**', // the image's build steps, compose and manifests: no store
  'test/charts/**', // SVG charts and their PNGs: pure
  'test/traffic/histogram.test.ts', // the latency histogram: pure functions
  'test/reports/config.test.ts', // config parsing
  'test/browser/**', // headless Chromium itself: no store
  'test/ui/e2e.test.ts', // Chromium against a real server process on a SQLite file
  'test/clients/python.test.ts', // the Python client: pip, unittest, and uvicorn against a real server process
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
        test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: ['test/pg/**', 'test/image/**'] },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['test/**/*.test.ts'],
          exclude: [...SQLITE_ONLY, 'test/image/**'],
          env: { DW_TEST_STORE: 'postgres' },
          globalSetup: ['test/pg/global-setup.ts'],
        },
      },
      // The container image's build reproduced on a clean copy (a full `npm ci` and native rebuild): minutes,
      // so not part of `npm test`; `npm run test:image` runs it and CI calls that after `npm test`.
      { extends: true, test: { name: 'image', include: ['test/image/**/*.test.ts'], testTimeout: 600_000 } },
    ],
  },
});
