import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { sha256 } from './auth/tokens.js';
import { CliError, formatResult, runDriftRemote, serviceOf, uploadBaseline } from './cli/client.js';
import { ConfigError, loadConfig } from './config/index.js';
import { StartupRefused, startServer } from './server.js';
import { openStore } from './store/index.js';

const program = new Command();
program
  .name('driftwatch')
  .description(
    'Watches ML models in production: ingest inference logs, measure drift against training baselines.',
  )
  .showHelpAfterError();

const withCommon = (cmd: Command) =>
  cmd
    .option('--config <file>', 'YAML or JSON config file (env DRIFTWATCH_CONFIG)')
    .option(
      '--db <path|url>',
      'SQLite database file, or postgres://user:pass@host:5432/db for a shared PostgreSQL (env DRIFTWATCH_DB, default ./data/driftwatch.db)',
    );

function load(opts: { config?: string; db?: string; host?: string; port?: string }) {
  return loadConfig({
    file: opts.config,
    overrides: {
      'database.url': opts.db,
      'server.host': opts.host,
      'server.port': opts.port === undefined ? undefined : Number(opts.port),
    },
  });
}

withCommon(program.command('serve').description('start the HTTP service (creates and migrates the database)'))
  .option('--host <host>', 'address to listen on (env DRIFTWATCH_HOST, default 127.0.0.1)')
  .addOption(
    new Option('--port <port>', 'port to listen on, 0 for any free port (env DRIFTWATCH_PORT, default 8080)'),
  )
  .option('--insecure', 'allow an API without tokens on a non-loopback address')
  .action(async (opts) => {
    const server = await startServer(load(opts), { insecure: opts.insecure === true });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        server.shutdown(signal).then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
    }
  });

withCommon(
  program.command('migrate').description('create the database if needed and apply pending migrations'),
).action(async (opts) => {
  const config = load(opts);
  const store = await openStore(config.database);
  const status = await store.migrationStatus();
  await store.close();
  console.log(`${store.location}: ${status.applied}/${status.expected} migrations applied`);
});

const baseline = program.command('baseline').description('training baselines');
withCommon(
  baseline
    .command('create')
    .description('profile a training set and store it as a baseline (via the running service)'),
)
  .requiredOption('--model <name>', 'model name')
  .option('--model-version <version>', 'model version the baseline belongs to')
  .requiredOption('--data <file>', 'training data: .csv, .ndjson/.jsonl or .json')
  .option('--prediction <column>', "column with the model's prediction on the training data")
  .option('--label <column>', 'column with the training label (left out of the features)')
  .option('--categorical <columns>', 'comma-separated columns to treat as categorical')
  .option('--numeric <columns>', 'comma-separated columns to treat as numeric')
  .option('--exclude <columns>', 'comma-separated columns to leave out')
  .option('--top-k <k>', 'categories kept per categorical column (default 50)')
  .option('--notes <text>', 'free-text notes stored with the baseline')
  .option('--code-commit <sha>', 'commit of the training code')
  .option('--no-activate', 'store without activating')
  .option('--url <url>', 'driftwatch service URL (default from config: http://host:port)')
  .option('--token <token>', 'bearer token (env DRIFTWATCH_TOKEN)')
  .action(async (opts) => {
    const result = await uploadBaseline(serviceOf(load(opts), opts), opts);
    console.log(JSON.stringify(result, null, 2));
  });

const drift = program.command('drift').description('drift runs');
withCommon(drift.command('run').description('evaluate drift now (rolling window, or --from/--to)'))
  .requiredOption('--model <name>', 'model name')
  .option('--from <time>', 'window start, RFC 3339')
  .option('--to <time>', 'window end, RFC 3339')
  .option('--json', 'print the raw JSON results')
  .option('--url <url>', 'driftwatch service URL (default from config: http://host:port)')
  .option('--token <token>', 'bearer token (env DRIFTWATCH_TOKEN)')
  .action(async (opts) => {
    const body = (await runDriftRemote(serviceOf(load(opts), opts), opts.model, {
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.to ? { to: opts.to } : {}),
    })) as { results: Parameters<typeof formatResult>[0][] };
    if (opts.json) console.log(JSON.stringify(body, null, 2));
    else if (body.results.length === 0)
      console.log('no data in the window for a model version with an active baseline');
    else console.log(body.results.map(formatResult).join('\n\n'));
  });

withCommon(
  program
    .command('score')
    .description(
      'score a CSV or NDJSON file with a served model version, logging every scored row into monitoring',
    )
    .addHelpText(
      'after',
      `
Runs in its own process against the database (--db / config), with the version the store says is active
(or --model-version). Each row is checked as predict checks a request; rows that fail go to --rejects with
their reasons. CSV cells are typed by the model's inputs ("3.5" -> 3.5, "true"/"false", "" -> no value);
a "timestamp" column is the event time of the logged record (default: now).

Output: the input columns plus "prediction" and, for a classifier, one "p_<label>" column per label (CSV)
or "probabilities" (NDJSON). Exit code 0 when the file was processed (even with rejected rows), 1 otherwise.

SQLite allows one writer process: scoring into the database of a running service works (its writes wait
for each other), but for large files run it while the service is stopped, or use PostgreSQL.`,
    ),
)
  .requiredOption('--model <name>', 'model name')
  .option('--model-version <version>', 'a stored version to score with (default: the active one)')
  .requiredOption('--input <file>', 'rows to score: .csv, or .ndjson/.jsonl')
  .requiredOption('--output <file>', 'predictions: .csv, or .ndjson/.jsonl')
  .option('--rejects <file>', 'rows that failed validation, with the reasons (.ndjson)')
  .option('--batch <n>', 'rows sent to the model at once (default 500)')
  .option('--no-log', 'do not log the scored rows into monitoring')
  .action(async (opts) => {
    const { formatScoreSummary, runScore } = await import('./cli/score.js');
    console.log(formatScoreSummary(await runScore(load(opts), opts)));
  });

withCommon(
  program
    .command('report')
    .description('render a scheduled report for the period ending now (reports.schedules), or send it')
    .addHelpText(
      'after',
      `
Reads the database directly (--db / config). Without --out or --send the HTML is printed. --send mails it
with reports.smtp and records the run (GET /v1/reports/runs); a failed send is retried by the reports job.`,
    ),
)
  .requiredOption('--schedule <name>', 'a schedule of reports.schedules')
  .option('--out <file>', 'write the HTML to this file')
  .option('--send', "send it now to the schedule's recipients")
  .action(async (opts) => {
    const { runReport } = await import('./cli/report.js');
    console.log(await runReport(load(opts), opts));
  });

const store = program.command('store').description('the database');
store
  .command('copy')
  .description(
    "copy a SQLite sidecar's whole state (baselines, aggregates, drift results, alerts and their audit trails, retrain requests, retained records) into an empty PostgreSQL database",
  )
  .requiredOption(
    '--from <file>',
    'the SQLite database file (stop the sidecar first, or copy a snapshot of it)',
  )
  .requiredOption('--to <url>', 'postgres://user:pass@host:5432/db, empty; migrated if needed')
  .action(async (opts: { from: string; to: string }) => {
    const { runStoreCopy } = await import('./cli/store-copy.js');
    await runStoreCopy(opts.from, opts.to, (line) => console.log(line));
  });

const token = program.command('token').description('API tokens');
token
  .command('new')
  .description('print a new random token and the sha256 to put in auth.tokens')
  .action(() => {
    const value = randomBytes(24).toString('base64url');
    console.log(`token:  ${value}\nsha256: ${sha256(value).toString('hex')}`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CliError || err instanceof StartupRefused) {
    console.error(`driftwatch: ${err.message}`);
    process.exit(1);
  }
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
