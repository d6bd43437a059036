import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { migrationStatus, openDatabase } from './db/client.js';
import { startServer } from './server.js';

const program = new Command();
program
  .name('driftwatch')
  .description('Watches ML models in production: ingest inference logs, measure drift against training baselines.')
  .showHelpAfterError();

const withCommon = (cmd: Command) =>
  cmd
    .option('--config <file>', 'YAML or JSON config file (env DRIFTWATCH_CONFIG)')
    .option('--db <path>', 'SQLite database file (env DRIFTWATCH_DB, default ./data/driftwatch.db)');

function load(opts: { config?: string; db?: string; host?: string; port?: string }) {
  return loadConfig({
    file: opts.config,
    overrides: {
      'database.path': opts.db,
      'server.host': opts.host,
      'server.port': opts.port === undefined ? undefined : Number(opts.port),
    },
  });
}

withCommon(program.command('serve').description('start the HTTP service (creates and migrates the database)'))
  .option('--host <host>', 'address to listen on (env DRIFTWATCH_HOST, default 127.0.0.1)')
  .addOption(new Option('--port <port>', 'port to listen on, 0 for any free port (env DRIFTWATCH_PORT, default 8080)'))
  .action(async (opts) => {
    const server = await startServer(load(opts));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        server.shutdown(signal).then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
    }
  });

withCommon(program.command('migrate').description('create the database if needed and apply pending migrations'))
  .action((opts) => {
    const config = load(opts);
    const db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
    const status = migrationStatus(db);
    db.close();
    console.log(`${config.database.path}: ${status.applied}/${status.expected} migrations applied`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
