import { Hono } from 'hono';
import { z } from 'zod';
import { allow } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseQuery } from '../http.js';
import { bodyFormat, parseJsonBatch, parseNdjsonBatch, readBody } from './body.js';
import { ingestBatch, listRejections } from './service.js';

const rejectionsQuery = z.strictObject({
  model: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  before: z.coerce.number().int().positive().optional(),
});

export function ingestRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.post('/v1/ingest', allow('ingest'), async (c) => {
    const deps = c.get('deps');
    const format = bodyFormat(c.req.header('content-type'));
    const text = await readBody(c.req.raw, {
      bytes: deps.config.ingest.bodyLimit,
      name: 'ingest body limit',
      advice: 'send smaller batches',
    });
    const batch = format === 'json' ? parseJsonBatch(text) : await parseNdjsonBatch(text);
    const result = await ingestBatch(deps, batch, c.get('requestId'));
    // 200: nothing rejected; 207: some stored, some rejected; 422: records sent but none stored, all rejected.
    const status = result.rejected.length === 0 ? 200 : result.accepted + result.duplicates > 0 ? 207 : 422;
    return c.json(result, status);
  });

  app.get('/v1/ingest/rejections', allow('reviewer'), async (c) => {
    const query = parseQuery(c, rejectionsQuery);
    return c.json({ rejections: await listRejections(c.get('deps'), query) });
  });

  return app;
}
