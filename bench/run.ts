// Runs every bench script in bench/ in sequence, each in its own tsx child process (so one bench's heap,
// database and event loop do not colour the next). Bench scripts are the bench/*.ts files other than this
// one, common.ts, and *.child.ts (processes a bench starts itself).
//
//   npm run bench                  all of them, in name order
//   npm run bench -- ingest stats  only those whose name contains one of the words
// Environment variables (BENCH_*) pass through. Exits non-zero if a bench crashed; never on timings.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'common.ts' && !f.endsWith('.child.ts'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
if (scripts.length === 0) {
  console.error(`no bench script matches ${filters.join(', ')}`);
  process.exit(2);
}

const failed: string[] = [];
for (const script of scripts) {
  console.log(`\n=== bench/${script}`);
  const started = Date.now();
  // process.execPath is node; tsx is loaded the way the tsx CLI itself does it.
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, script)], {
    stdio: 'inherit',
    cwd: join(here, '..'),
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status === 0) console.log(`=== bench/${script}: done in ${seconds} s`);
  else {
    failed.push(script);
    console.log(
      `=== bench/${script}: FAILED (${result.signal ?? `exit ${result.status}`}) after ${seconds} s`,
    );
  }
}
if (failed.length > 0) {
  console.log(`\n${failed.length} of ${scripts.length} benches failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
