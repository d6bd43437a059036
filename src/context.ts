import type { Config } from './config.js';
import type { Database } from './db/client.js';
import type { Logger } from './logger.js';
import type { Actor } from './auth/tokens.js';

/** Milliseconds since the epoch; injected so tests and jobs run on a fixed clock. */
export type Clock = () => number;

/** Everything a service function needs, passed explicitly instead of read from globals. */
export interface AppDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock: Clock;
}

export type AppEnv = {
  Variables: {
    deps: AppDeps;
    requestId: string;
    log: Logger;
    /** Who is calling, set by the auth middleware (the token's name, or "anonymous" when the API is open). */
    actor: Actor;
    /** Set by routes that know which model a request concerns, so the request log line carries it. */
    model?: string;
  };
};
