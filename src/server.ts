import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { isLoopback, tokenTable } from './auth/tokens.js';
import type { Config } from './config.js';
import type { AppDeps } from './context.js';
import { createJobs, type JobRegistry } from './jobs/index.js';
import { createLogger } from './logger.js';
import { Metrics } from './metrics/index.js';
import { ServingRuntime } from './serving/runtime.js';
import { scanModelsDir } from './serving/versions.js';
import { openStore } from './store/index.js';

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
  } else
    log.warn(
      'no auth tokens configured: the API is open to local processes (fine for a sidecar on loopback)',
    );
}

/**
 * Binds the listener first (a port in use fails before any database file is created), then opens the
 * store, starts the job registry and serves the API; wires graceful shutdown.
 */
export async function startServer(
  config: Config,
  options: { insecure?: boolean; instance?: string } = {},
): Promise<RunningServer> {
  const log = createLogger(config);
  checkExposure(config, options.insecure === true, { warn: (msg) => log.warn(msg) });
  let accepting = true;
  let handler: ((req: Request) => Response | Promise<Response>) | null = null;
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      {
        // Until the store is open every request gets a 503; health checks included (not ready yet).
        fetch: (req) =>
          handler
            ? handler(req)
            : Response.json({ status: 'starting' }, { status: 503, headers: { 'retry-after': '1' } }),
        hostname: config.server.host,
        port: config.server.port,
        serverOptions: {
          requestTimeout: config.server.requestTimeoutMs,
          headersTimeout: Math.min(10_000, config.server.requestTimeoutMs),
          // Node checks the timeouts every 30 s by default: a trickling client would keep its slot that long.
          connectionsCheckingInterval: Math.min(1_000, config.server.requestTimeoutMs),
        },
      },
      () => resolve(s),
    );
    s.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new StartupRefused(
              `port ${config.server.port} on ${config.server.host} is already in use (server.port, DRIFTWATCH_PORT or --port)`,
            )
          : err,
      );
    });
  });
  const address = server.address() as AddressInfo;

  let deps: AppDeps;
  let jobs: JobRegistry;
  let metrics: Metrics;
  try {
    const store = await openStore(config.database);
    deps = {
      config,
      store,
      log,
      clock: Date.now,
      ...(options.instance ? { instance: options.instance } : {}),
    };
    // One registry per app: created before the jobs and the serving runtime, which report into it.
    metrics = new Metrics(deps);
    deps.metrics = metrics;
    jobs = createJobs(deps);
    deps.jobs = jobs;
    await jobs.start();
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  // Versions in the model directory are registered (with their baselines), then every process loads the
  // live versions from the store.
  const scan = await scanModelsDir(deps);
  if (scan.registered.length > 0)
    log.info({ versions: scan.registered }, 'model versions registered from the model directory');
  for (const problem of scan.problems) log.error({ problem }, 'model version not registered');
  const serving = new ServingRuntime(deps);
  await serving.start();
  const app = createApp(deps, {
    readiness: { accepting: () => accepting },
    serving,
    metrics,
  });
  handler = (req) => app.fetch(req);
  log.info(
    { host: config.server.host, port: address.port, db: deps.store.location, leader: jobs.leader() },
    'driftwatch listening',
  );

  let closing: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    closing ??= (async () => {
      accepting = false;
      log.info({ reason }, 'shutting down: no new connections, finishing in-flight requests');
      // The listener stops accepting at once; running ticks and in-flight requests finish side by side.
      const jobsStopped = jobs.stop();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn(
            { timeout_ms: config.server.shutdownTimeoutMs },
            'in-flight requests did not finish in time',
          );
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
      await jobsStopped;
      // Predictions logged behind are flushed before the store closes; model processes end.
      await serving.close();
      await deps.store.close();
      log.info('database closed; bye');
    })();
    return closing;
  };

  return { port: address.port, host: config.server.host, deps, shutdown };
}
