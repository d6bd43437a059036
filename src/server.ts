import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { openDatabase } from './db/client.js';
import { startScheduler } from './jobs/scheduler.js';
import { createLogger } from './logger.js';
import { isLoopback, tokenTable } from './auth/tokens.js';
import { type RetentionResult, runRetentionTick } from './retention/tick.js';
import { type DriftTickResult, runDriftTick } from './drift/service.js';
import { type DeliveryTickResult, runAlertmanagerResendTick, runDeliveryTick } from './notifications/service.js';


export interface RunningServer {
  port: number;
  host: string;
  deps: AppDeps;
  /** Stops accepting, lets in-flight requests finish (up to the configured timeout), closes the database. */
  shutdown(reason: string): Promise<void>;
}

export class StartupRefused extends Error {}

/**
 * Refuses an open API on a network address: anyone who can reach the port could change baselines.
 * On loopback an open API is the embedded default, with a warning.
 */
export function checkExposure(config: Config, insecure: boolean, log: { warn: (msg: string) => void }): void {
  if (!tokenTable(config).open) return;
  if (!isLoopback(config.server.host)) {
    if (!insecure) {
      throw new StartupRefused(
        `refusing to listen on ${config.server.host} with no auth tokens configured: add auth.tokens to the config, ` +
          'listen on 127.0.0.1, or pass --insecure to run an open API on the network',
      );
    }
    log.warn(`--insecure: the API on ${config.server.host} is open to anyone who can reach it`);
  } else log.warn('no auth tokens configured: the API is open to local processes (fine for a sidecar on loopback)');
}

/** Opens the database, starts jobs and the listener, and wires graceful shutdown. */
export async function startServer(config: Config, options: { insecure?: boolean } = {}): Promise<RunningServer> {
  const log = createLogger(config);
  checkExposure(config, options.insecure === true, { warn: (msg) => log.warn(msg) });
  const db = openDatabase(config.database.path, { synchronous: config.database.synchronous });
  const deps: AppDeps = { config, db, log, clock: Date.now };
  let accepting = true;
  const app = createApp(deps, { readiness: { accepting: () => accepting } });

  let lastResend = 0;
  // Re-sends open alerts to Alertmanager every notifications.alertmanagerResend (checked each minute).
  const resendIfDue = (now: number) => {
    if (now - lastResend < config.notifications.alertmanagerResend) return 0;
    lastResend = now;
    return runAlertmanagerResendTick(deps, now);
  };
  const scheduler = startScheduler(
    [
      {
        name: 'retention',
        schedule: config.retention.pruneSchedule,
        run: (now) => runRetentionTick(deps, now),
        idle: (r: RetentionResult) => r.records + r.rejections === 0,
      },
      {
        name: 'drift',
        schedule: config.drift.schedule,
        run: (now) => runDriftTick(deps, now),
        idle: (r: DriftTickResult) => r.evaluated === 0,
      },
      // Every 5 s: the first retry of a failed delivery is due 5 s after it failed.
      {
        name: 'deliveries',
        schedule: '*/5 * * * * *',
        run: (now) => runDeliveryTick(deps, now),
        idle: (r: DeliveryTickResult) => r.sent + r.failed + r.retried === 0,
      },
      { name: 'alertmanager-resend', schedule: '* * * * *', run: resendIfDue, idle: (n: number) => n === 0 },
    ],
    log,
    deps.clock,
  );

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  log.info({ host: config.server.host, port: address.port, db: config.database.path }, 'driftwatch listening');

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      log.info({ reason }, 'shutting down: no new connections, finishing in-flight requests');
      await scheduler.stop();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn({ timeout_ms: config.server.shutdownTimeoutMs }, 'in-flight requests did not finish in time');
          if ('closeAllConnections' in server) server.closeAllConnections();
          resolve();
        }, config.server.shutdownTimeoutMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Keep-alive connections with no request in flight would otherwise hold close() open.
        if ('closeIdleConnections' in server) server.closeIdleConnections();
      });
      db.close();
      log.info('database closed; bye');
    })();
    return closing;
  };

  return { port: address.port, host: config.server.host, deps, shutdown };
}
