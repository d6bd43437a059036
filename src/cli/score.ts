import { existsSync } from 'node:fs';
import { type Config, databaseTarget } from '../config.js';
import { createLogger } from '../logger.js';
import { openStore } from '../store/index.js';
import { CliError, progress } from './client.js';
import { ScoreError, type ScoreSummary, scoreFile } from './score-file.js';

// `driftwatch score`: runs in its own process against the database (not through the service), loading the
// version the store says is active; see scoreFile for what it does with each row.

export interface ScoreCliOptions {
  model: string;
  modelVersion?: string;
  input: string;
  output: string;
  rejects?: string;
  batch?: string;
  /** commander's --no-log: false when given. */
  log?: boolean;
}

export async function runScore(config: Config, o: ScoreCliOptions): Promise<ScoreSummary> {
  const target = databaseTarget(config.database);
  // Opening a SQLite path that does not exist would create an empty database and then say "no model".
  if (target.dialect === 'sqlite' && target.path !== ':memory:' && !existsSync(target.path))
    throw new CliError(`no database at ${target.path} (--db, DRIFTWATCH_DB or database.url in the config)`);
  const batchSize = o.batch === undefined ? undefined : Number(o.batch);
  const store = await openStore(config.database, { applicationName: 'driftwatch score' });
  // Log lines (model process start, failures) go to stderr: stdout is the summary.
  const log = createLogger(
    { log: { level: config.log.level === 'info' ? 'warn' : config.log.level } },
    process.stderr,
  );
  try {
    return await scoreFile(
      { config, store, log, clock: Date.now },
      {
        model: o.model,
        version: o.modelVersion,
        input: o.input,
        output: o.output,
        rejects: o.rejects,
        batchSize,
        log: o.log !== false,
        progress: (size) => progress(size, process.stderr),
      },
    );
  } catch (err) {
    if (err instanceof ScoreError) throw new CliError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

/** The lines printed when a run ends. */
export function formatScoreSummary(s: ScoreSummary): string {
  const seconds = (s.ms / 1000).toFixed(1);
  const lines = [
    `model ${s.model} version ${s.model_version}: ${s.rows} rows in ${seconds} s → ${s.scored} scored (${s.output}), ${s.rejected} rejected${s.rejected > 0 ? (s.rejects ? ` (${s.rejects})` : ' (not kept: pass --rejects FILE)') : ''}`,
  ];
  if (s.request_id_prefix === null) lines.push('monitoring: not logged (--no-log)');
  else {
    const extra = [
      s.log_duplicates > 0 ? `${s.log_duplicates} already logged by an earlier run` : '',
      s.log_failed > 0 ? `${s.log_failed} refused or not written (see GET /v1/ingest/rejections)` : '',
    ].filter(Boolean);
    lines.push(
      `monitoring: ${s.logged} logged as ${s.request_id_prefix}-<row>@${s.model_version}${extra.length > 0 ? `; ${extra.join('; ')}` : ''}`,
    );
  }
  for (const r of s.first_rejects) {
    const where = r.row !== undefined ? `row ${r.row}` : `line ${r.line}`;
    lines.push(`  rejected ${where}: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
  if (s.rejected > s.first_rejects.length) lines.push(`  … and ${s.rejected - s.first_rejects.length} more`);
  return lines.join('\n');
}
