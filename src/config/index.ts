// Configuration, parsed once at start and injected: the schema (schema.ts), loading it from the file, the
// environment and flags (load.ts, the only reader of process.env), cross-field checks (checks.ts), secrets
// named by the config (secrets.ts), and the one error type (errors.ts).
export { ConfigError } from './errors.js';
export { defaultConfig, ENV_KEYS, type LoadConfigOptions, loadConfig } from './load.js';
export * from './schema.js';
export { smtpLogin } from './secrets.js';
