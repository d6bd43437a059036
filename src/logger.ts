import { type Logger, pino } from 'pino';
import type { Config } from './config/index.js';

export type { Logger };

/** JSON lines on stdout; one logger per process, children carry per-request fields. */
export function createLogger(config: Pick<Config, 'log'>, destination?: NodeJS.WritableStream): Logger {
  return pino({ level: config.log.level, base: { service: 'driftwatch' } }, destination ?? process.stdout);
}
