import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { driftResultsSchema } from '../drift/routes.js';
import { route } from '../openapi/index.js';
import { bodyTime } from '../time.js';
import { runDriftNow } from './drift-tick.js';

const runBody = z.strictObject({ from: bodyTime.optional(), to: bodyTime.optional() });

export function jobRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/jobs',
      summary:
        "The background jobs' schedules, last runs and errors, the log sources' lag and throughput, and this process's leadership",
      tags: ['jobs'],
      roles: ['reviewer'],
      responses: {
        200: 'Leader or not, how leadership is held, each job, and each log source (consuming on the leader only).',
      },
    },
    (c) => {
      const { jobs, sources } = c.get('deps');
      return c.json({
        leader: jobs?.leader() ?? false,
        ...(jobs?.leadership ? jobs.leadership() : {}),
        jobs: jobs?.status() ?? [],
        sources: sources?.status() ?? [],
      });
    },
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/models/:model/drift/run',
      summary: 'Run drift now over a range (default: the latest window), raising alerts as the job would',
      tags: ['drift'],
      roles: ['reviewer'],
      params: { model: { description: 'The model name.' } },
      logModel: 'model',
      body: { schema: runBody, emptyAsObject: true },
      responses: {
        200: { description: 'The results of the run.', schema: driftResultsSchema },
        404: 'The model has sent no records and has no baseline.',
      },
    },
    async (c, { params, body }) => c.json({ results: await runDriftNow(c.get('deps'), params.model, body) }),
  );

  return app;
}
