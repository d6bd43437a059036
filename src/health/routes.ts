import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
import type { ServingRuntime } from '../serving/runtime.js';

export interface Readiness {
  /** False once shutdown has begun, so a load balancer stops sending traffic before the listener closes. */
  accepting: () => boolean;
}

const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z
    .record(z.string(), z.unknown())
    .describe('database, migrations, leader, jobs, shutdown, serving (model versions that failed to load)'),
});

/** `serving`: the process's model versions, when it serves models; one it cannot load makes it unready. */
export function healthRoutes(readiness: Readiness, serving?: ServingRuntime): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // Liveness: answered without touching the store, so it stays fast under any load.
  route(
    app,
    {
      method: 'get',
      path: '/healthz',
      summary: 'Liveness: the process answers',
      description: 'Answered without touching the store.',
      tags: ['operations'],
      roles: 'public',
      unlimited: true,
      responses: { 200: { description: 'Alive.', schema: z.object({ status: z.literal('ok') }) } },
    },
    (c) => c.json({ status: 'ok' }),
  );

  route(
    app,
    {
      method: 'get',
      path: '/readyz',
      summary:
        'Readiness: the store is open and migrated, the model versions it serves loaded, and the process is not shutting down',
      description: 'Job trouble is shown in checks but does not make the process unready.',
      tags: ['operations'],
      roles: 'public',
      unlimited: true,
      responses: {
        200: { description: 'Ready.', schema: readinessSchema },
        503: {
          description:
            'Not ready (shutting down, store closed, migrations missing, model versions that failed to load).',
          schema: readinessSchema,
        },
      },
    },
    async (c) => {
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
      if (serving) {
        // A process that cannot serve a model it is configured to (say its temp directory is not writable)
        // must not receive predict traffic: it would answer every one with an error.
        const s = serving.readiness();
        checks.serving = s.ready
          ? `${serving.list().length} model version${serving.list().length === 1 ? '' : 's'} loaded`
          : { not_loaded: s.unavailable };
        if (!s.ready) ready = false;
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
    },
  );

  return app;
}
