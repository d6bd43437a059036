import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { allow, canRead } from '../auth/middleware.js';
import { parseJsonBody, parseQuery } from '../http.js';
import { bodyTime, timeParam } from '../time.js';
import { latestResults, listResults } from './queries.js';
import { featureHistogram, runDrift } from './service.js';

const runBody = z.strictObject({ from: bodyTime.optional(), to: bodyTime.optional() });

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

  app.post('/v1/models/:model/drift/run', allow('reviewer'), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const range = await parseJsonBody(c, runBody, { emptyAsObject: true });
    return c.json({ results: runDrift(c.get('deps'), model, range) });
  });

  app.get('/v1/models/:model/drift', canRead(), (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const q = parseQuery(c, seriesQuery);
    const rows = listResults(c.get('deps').db, { model, ...q, modelVersion: q.model_version });
    const results = rows.map((r) => {
      const parsed = { id: r.id, ...JSON.parse(r.result) } as { features: { feature: string }[] };
      if (q.feature) parsed.features = parsed.features.filter((f) => f.feature === q.feature);
      return parsed;
    });
    return c.json({ results });
  });

  app.get('/v1/models/:model/drift/latest', canRead(), (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const rows = latestResults(c.get('deps').db, model);
    return c.json({ results: rows.map((r) => ({ id: r.id, ...JSON.parse(r.result) })) });
  });

  app.get('/v1/models/:model/features/:feature/histogram', canRead(), (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const q = parseQuery(c, histogramQuery);
    return c.json(
      featureHistogram(c.get('deps'), model, c.req.param('feature'), {
        ...(q.from === undefined ? {} : { from: q.from }),
        ...(q.to === undefined ? {} : { to: q.to }),
        ...(q.model_version === undefined ? {} : { modelVersion: q.model_version }),
      }),
    );
  });

  return app;
}
