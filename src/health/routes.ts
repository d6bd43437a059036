import { Hono } from 'hono';
import type { AppEnv } from '../context.js';
import { migrationStatus } from '../db/client.js';

export interface Readiness {
  /** False once shutdown has begun, so a load balancer stops sending traffic before the listener closes. */
  accepting: () => boolean;
}

export function healthRoutes(readiness: Readiness): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', (c) => {
    const { db } = c.get('deps');
    const checks: Record<string, string> = {};
    let ready = readiness.accepting();
    if (!ready) checks.shutdown = 'shutting down';
    if (!db.sqlite.open) {
      checks.database = 'closed';
      ready = false;
    } else {
      try {
        const m = migrationStatus(db);
        checks.database = 'open';
        checks.migrations = `${m.applied}/${m.expected} applied`;
        if (m.applied < m.expected) ready = false;
      } catch (err) {
        checks.database = `error: ${(err as Error).message}`;
        ready = false;
      }
    }
    return c.json({ status: ready ? 'ready' : 'not_ready', checks }, ready ? 200 : 503);
  });

  return app;
}
