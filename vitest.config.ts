import { defineConfig } from 'vitest/config';

// Every test runs once, on SQLite (in memory or a temp file). The store's contract runs on both dialects:
// the PostgreSQL project takes the store tests, the fleet, and the service flows whose SQL differs between
// the dialects (aggregate and traffic merges, record partitions and duplicate checks, labels joins, leases
// and claims, compare-and-set transitions, sessions). A route or page test whose store calls are covered
// there runs once. A new test exercising dialect-specific SQL belongs in test/store/ or in POSTGRES below.
const SQLITE_ONLY = [
  'test/stats/**', // statistics: pure functions
  'test/rules/**', // the alert rulebook: pure data and the README
  'test/profiles/**', // training-data profiles: pure
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
  'test/sources/nats.test.ts', // nats-server and real server processes on SQLite files
  'test/sources/config.test.ts', // config parsing
];

const POSTGRES = [
  'test/store/**/*.test.ts', // the store's contract: invariants, bucket sizes, schema parity
  'test/pg/**/*.test.ts', // the fleet of real processes, store copy, races, the leader lock
  'test/ingest/batches.test.ts', // duplicate checks and partial batches
  'test/drift/{tick,windows,real-data}.test.ts', // aggregate merges read back: numbers equal the raw computation
  'test/baselines/reaggregation.test.ts', // re-aggregation after a baseline change
  'test/alerts/{lifecycle,workflow}.test.ts', // raising, evidence upserts, compare-and-set review transitions
  'test/labels/*.test.ts', // label joins and corrections
  'test/traffic/traffic.test.ts', // traffic bucket merges
  'test/performance/{performance,realized,realized-backfill}.test.ts', // performance accumulator merges read back; the realized backfill's page query
  'test/notifications/delivery.test.ts', // the outbox: claims, leases, retries
  'test/reports/{critical,schedule,adoption}.test.ts', // report runs: unique per slot and alert, claims, adoption
  'test/jobs/*.test.ts', // the job registry's leadership
  'test/retention.test.ts', // pruning (partitions on PostgreSQL)
  'test/serving/serving.test.ts', // served versions: activation compare-and-set, paired shadow records
  'test/ui/session.test.ts', // UI sessions
  'test/examples/first-alert.test.ts', // the README's first alert, end to end
  'test/multivariate/*.test.ts', // co-moment vector merges (dw_add_f64 / row locks), CUSUM state upserts
];

export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    // Tests that spawn the server process (which starts its model processes) or fuzz statistics need more
    // than the default 5 s on 2 cores; under a full parallel run a start has taken over 25 s.
    testTimeout: 60_000,
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
          include: POSTGRES,
          exclude: SQLITE_ONLY,
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
