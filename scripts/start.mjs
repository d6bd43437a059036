#!/usr/bin/env node
// @ts-check
// `npm start [-- serve flags]`: runs `driftwatch serve` from dist/, compiling first only when dist/ is
// stale (see scripts/build.mjs), so a restart takes about a second instead of a full tsc run.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, MAIN, ROOT, staleReason } from './build.mjs';

const reason = staleReason(ROOT);
if (reason !== null) {
  console.error(`driftwatch: building dist/: ${reason}`);
  const status = build(ROOT);
  if (status !== 0) {
    console.error(`driftwatch: build failed (tsc exited ${status}); not starting`);
    process.exit(status);
  }
}

// The CLI reads process.argv as if it had been started as `node dist/main.js serve …`.
const main = join(ROOT, MAIN);
process.argv = [process.argv[0] ?? process.execPath, main, 'serve', ...process.argv.slice(2)];
await import(pathToFileURL(main).href);
