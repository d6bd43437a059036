import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';
import type { Config } from './schema.js';

// Secrets are named in the config (an environment variable, a file) and read at load; what cannot be read
// is kept as a problem on the config rather than failing the load, so commands that never send mail work.

/**
 * Secrets given by reference (reports.smtp.auth.pass_env / pass_file) are read once, at load, into `pass`.
 * One that cannot be read does not fail the load: rendering a report to a file, a preview or any command
 * that sends no mail has no use for it. The problem is kept on the config (`auth.unresolved`) and
 * smtpLogin throws it where a password is needed: serve's start-up with reports.smtp configured, and
 * every send.
 */
export function resolveSecrets(
  config: Config,
  env: NodeJS.ProcessEnv,
  fromOf: (path: string) => string,
): void {
  const auth = config.reports.smtp?.auth;
  if (!auth || auth.pass !== undefined) return;
  if (auth.pass_env !== undefined) {
    const value = env[auth.pass_env];
    if (value === undefined || value === '')
      auth.unresolved = `reports.smtp.auth.pass_env: environment variable ${auth.pass_env} is not set [from ${fromOf('reports.smtp.auth.pass_env')}]`;
    else auth.pass = value;
    return;
  }
  if (auth.pass_file !== undefined) {
    try {
      auth.pass = readFileSync(auth.pass_file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      auth.unresolved = `reports.smtp.auth.pass_file: cannot read ${auth.pass_file} (${(err as NodeJS.ErrnoException).code ?? String(err)}) [from ${fromOf('reports.smtp.auth.pass_file')}]`;
    }
  }
}

/**
 * The SMTP login (undefined without reports.smtp.auth); throws a ConfigError naming the field when the
 * password was given by pass_env / pass_file and could not be read at load.
 */
export function smtpLogin(config: Config): { user: string; pass: string } | undefined {
  const auth = config.reports.smtp?.auth;
  if (!auth) return undefined;
  if (auth.unresolved !== undefined) throw new ConfigError([auth.unresolved]);
  return { user: auth.user, pass: auth.pass ?? '' };
}
