import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Tests that spawn the server process or fuzz statistics need more than the default 5 s on 2 cores.
    testTimeout: 30_000,
    pool: 'forks',
  },
});
