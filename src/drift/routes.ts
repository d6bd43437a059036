import { Hono } from 'hono';
import { z } from 'zod';
import { canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseQuery } from '../http.js';
import { timeParam } from '../time.js';
import { driftSeries, featureHistogram, latestDrift } from './service.js';

// Reading drift results. Running drift on demand (POST …/drift/run) raises alerts too, so it lives with
// the composing step in jobs/.

const seriesQuery = z.strictObject({
  from: timeParam.optional(),
  to: timeParam.optional(),
  feature: z.string().min(1).optional(),
  kind: z.enum(['bucket', 'rolling', 'range']).optional(),
  model_version: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(500),
});

const histogramQuery = z.strictObject({
  from: timeParam.optional(),
  to: timeParam.optional(),
  model_version: z.string().min(1).optional(),
});

export function driftRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/models/:model/drift', canRead(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const q = parseQuery(c, seriesQuery);
    return c.json({
      results: await driftSeries(c.get('deps'), model, { ...q, modelVersion: q.model_version }),
    });
  });

  app.get('/v1/models/:model/drift/latest', canRead(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    return c.json({ results: await latestDrift(c.get('deps'), model) });
  });

  app.get('/v1/models/:model/features/:feature/histogram', canRead(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const q = parseQuery(c, histogramQuery);
    return c.json(
      await featureHistogram(c.get('deps'), model, c.req.param('feature'), {
        ...(q.from === undefined ? {} : { from: q.from }),
        ...(q.to === undefined ? {} : { to: q.to }),
        ...(q.model_version === undefined ? {} : { modelVersion: q.model_version }),
      }),
    );
  });

  return app;
}
