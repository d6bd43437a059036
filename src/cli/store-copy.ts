import { existsSync } from 'node:fs';
import { isPostgresUrl } from '../config/index.js';
import { CopyRefused, copySqliteToPg } from '../store/copy.js';
import { openPgStore } from '../store/pg/index.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import { CliError } from './client.js';

/** `driftwatch store copy --from FILE --to URL`: checks both ends, copies, prints a count per table. */
export async function runStoreCopy(from: string, to: string, print: (line: string) => void): Promise<void> {
  if (isPostgresUrl(from))
    throw new CliError('--from must be a SQLite file: copying is from a sidecar into PostgreSQL');
  if (!isPostgresUrl(to)) throw new CliError('--to must be a postgres:// URL');
  if (!existsSync(from)) throw new CliError(`--from ${from}: no such file`);
  const source = openSqliteStore(from);
  let target: Awaited<ReturnType<typeof openPgStore>> | undefined;
  try {
    target = await openPgStore({ url: to, poolSize: 2, applicationName: 'driftwatch store copy' });
    const started = Date.now();
    const result = await copySqliteToPg(source, target);
    const width = Math.max(...result.tables.map((t) => t.table.length));
    for (const t of result.tables) print(`${t.table.padEnd(width)}  ${t.rows}`);
    print(`copied ${from} into ${target.location} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    if (err instanceof CopyRefused) throw new CliError(err.message);
    throw err;
  } finally {
    await source.close();
    await target?.close();
  }
}
