import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { reportProblems, thresholdProblems } from './checks.js';
import { ConfigError } from './errors.js';
import { type Config, type ConfigInput, configSchema } from './schema.js';
import { resolveSecrets } from './secrets.js';

// The only module that reads process.env or the config file. Everything else receives a parsed Config.

/** Environment variables and the config key each one sets. Values are parsed as JSON when they look like it. */
export const ENV_KEYS: Record<string, string[]> = {
  DRIFTWATCH_HOST: ['server', 'host'],
  DRIFTWATCH_PORT: ['server', 'port'],
  DRIFTWATCH_HEALTH_PORT: ['server', 'healthPort'],
  DRIFTWATCH_DB: ['database', 'url'],
  DRIFTWATCH_DB_POOL_SIZE: ['database', 'poolSize'],
  DRIFTWATCH_DB_SYNCHRONOUS: ['database', 'synchronous'],
  DRIFTWATCH_BODY_LIMIT: ['ingest', 'bodyLimit'],
  DRIFTWATCH_RETENTION_DAYS: ['retention', 'rawRecordsDays'],
  DRIFTWATCH_PRUNE_SCHEDULE: ['retention', 'pruneSchedule'],
  DRIFTWATCH_LOG_LEVEL: ['log', 'level'],
  DRIFTWATCH_MODELS_DIR: ['serving', 'modelsDir'],
  DRIFTWATCH_DRIFT_SCHEDULE: ['drift', 'schedule'],
  DRIFTWATCH_TOKEN: ['client', 'token'],
};

// Variables whose value is always text: DRIFTWATCH_DB=2024 names a file, not the number 2024.
const TEXT_ENV = new Set([
  'DRIFTWATCH_HOST',
  'DRIFTWATCH_DB',
  'DRIFTWATCH_DB_SYNCHRONOUS',
  'DRIFTWATCH_PRUNE_SCHEDULE',
  'DRIFTWATCH_LOG_LEVEL',
  'DRIFTWATCH_MODELS_DIR',
  'DRIFTWATCH_DRIFT_SCHEDULE',
  'DRIFTWATCH_TOKEN',
]);

export interface LoadConfigOptions {
  /** Path of a YAML or JSON config file; DRIFTWATCH_CONFIG is used when absent. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, which win over env and file. Dotted keys: "server.port". */
  overrides?: Record<string, unknown>;
}

type Source = { raw: Record<string, unknown>; origin: Map<string, string> };

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

function envValue(name: string, text: string): unknown {
  if (TEXT_ENV.has(name)) return text;
  // Numbers and booleans arrive as strings in the environment; let the schema see their real type.
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  return text;
}

function readFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`config file ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return {};
  }
  try {
    const parsed: unknown = extname(file) === '.json' ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`config file ${file}: expected a mapping at the top level`);
      return {};
    }
    return parsed as Record<string, unknown>;
  } catch (err) {
    problems.push(`config file ${file}: ${(err as Error).message.split('\n')[0]}`);
    return {};
  }
}

/** Builds the config from file < env < overrides and validates it, reporting every problem at once. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const file = options.file ?? env.DRIFTWATCH_CONFIG;
  const source: Source = { raw: file ? readFile(file, problems) : {}, origin: new Map() };

  for (const [name, path] of Object.entries(ENV_KEYS)) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    setPath(source.raw, path, envValue(name, text));
    source.origin.set(path.join('.'), name);
  }
  for (const [dotted, value] of Object.entries(options.overrides ?? {})) {
    if (value === undefined) continue;
    setPath(source.raw, dotted.split('.'), value);
    source.origin.set(dotted, `--${dotted.split('.').pop()}`);
  }

  const fromOf = (path: string) => source.origin.get(path) ?? (file ? `config file ${file}` : 'defaults');
  const result = configSchema.safeParse(source.raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.join('.');
      const from = fromOf(path);
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys)
          problems.push(`${path ? `${path}.` : ''}${key}: unknown key [from ${from}]`);
        continue;
      }
      problems.push(
        `${path || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')} [from ${from}]`,
      );
    }
  }
  // On the raw input, so a bad key elsewhere does not hide an inconsistent pair of thresholds.
  problems.push(...thresholdProblems(source.raw, fromOf));
  if (result.success) resolveSecrets(result.data, env, fromOf);
  // The schema's cross-schedule checks run only on otherwise valid input; report them with the rest.
  else problems.push(...reportProblems(source.raw, fromOf));
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

/** A config with defaults only, for tests and tools; overrides use the same nested shape as the file. */
export function defaultConfig(overrides: ConfigInput = {}): Config {
  const config = configSchema.parse(overrides);
  const problems = thresholdProblems(overrides as Record<string, unknown>, () => 'defaultConfig');
  resolveSecrets(config, process.env, () => 'defaultConfig');
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
