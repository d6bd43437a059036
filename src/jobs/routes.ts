import { Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseJsonBody } from '../http.js';
import { bodyTime } from '../time.js';
import { runDriftNow } from './drift-tick.js';

const runBody = z.strictObject({ from: bodyTime.optional(), to: bodyTime.optional() });

export function jobRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/jobs', canRead(), (c) => {
    const { jobs } = c.get('deps');
    return c.json({
      leader: jobs?.leader() ?? false,
      ...(jobs?.leadership ? jobs.leadership() : {}),
      jobs: jobs?.status() ?? [],
    });
  });

  app.post('/v1/models/:model/drift/run', allow('reviewer'), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const range = await parseJsonBody(c, runBody, { emptyAsObject: true });
    return c.json({ results: await runDriftNow(c.get('deps'), model, range) });
  });

  return app;
}
