import { Hono } from 'hono';
import { z } from 'zod';
import { canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { parseQuery } from '../http.js';
import { timeParam } from '../time.js';
import { listModels, recentRecords } from './service.js';

const recordsQuery = z.strictObject({
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function modelRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/models', canRead(), async (c) => c.json({ models: await listModels(c.get('deps')) }));

  app.get('/v1/models/:model', canRead(), async (c) => {
    const model = c.req.param('model');
    const [summary] = await listModels(c.get('deps'), model);
    if (!summary) throw new ApiError('not_found', `model ${model} has sent no records`);
    return c.json(summary);
  });

  app.get('/v1/models/:model/records', canRead(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const q = parseQuery(c, recordsQuery);
    if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
      throw new ApiError('bad_request', 'from must be before to', {
        problems: [{ path: 'from', message: 'must be before to' }],
      });
    }
    return c.json({ records: await recentRecords(c.get('deps'), { model, ...q }) });
  });

  return app;
}
