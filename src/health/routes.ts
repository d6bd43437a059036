import { Hono } from 'hono';
import type { AppEnv } from '../context.js';

export interface Readiness {
  /** False once shutdown has begun, so a load balancer stops sending traffic before the listener closes. */
  accepting: () => boolean;
}

export function healthRoutes(readiness: Readiness): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Liveness: answered without touching the store, so it stays fast under any load.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    const { store, jobs } = c.get('deps');
    const checks: Record<string, unknown> = {};
    let ready = readiness.accepting();
    if (!ready) checks.shutdown = 'shutting down';
    if (!store.isOpen()) {
      checks.database = 'closed';
      ready = false;
    } else {
      try {
        const m = await store.migrationStatus();
        checks.database = `${store.dialect} open`;
        checks.migrations = `${m.applied}/${m.expected} applied`;
        if (m.applied < m.expected) ready = false;
      } catch (err) {
        checks.database = `error: ${(err as Error).message}`;
        ready = false;
      }
    }
    if (jobs) {
      // Job trouble is shown, not made a reason to take the API out of service.
      checks.leader = jobs.leader();
      if (jobs.leadership) checks.leadership = jobs.leadership().mechanism;
      checks.jobs = Object.fromEntries(
        jobs
          .status()
          .map((j) => [
            j.name,
            j.last_error && (j.last_success === null || (j.last_error_at ?? '') > j.last_success)
              ? `failing: ${j.last_error}`
              : j.last_success
                ? 'ok'
                : 'not run yet',
          ]),
      );
    }
    return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
  });

  return app;
}
