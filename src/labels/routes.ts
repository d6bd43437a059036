import { Hono } from 'hono';
import { z } from 'zod';
import { allow } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseJsonBody } from '../http.js';
import { applyLabels } from './service.js';

const label = z.strictObject({
  model: z.string().min(1),
  request_id: z.string().min(1),
  label: z.union([z.number(), z.string(), z.boolean(), z.null()], {
    error: 'expected number, string, boolean or null',
  }),
});
// A bare array or {"labels": [...]}; an object is validated as the latter so its problems name real paths.
const body = z
  .preprocess(
    (v) => (Array.isArray(v) ? { labels: v } : v),
    z.strictObject(
      { labels: z.array(label, { error: 'expected an array of {model, request_id, label}' }) },
      {
        error: 'expected an array of {model, request_id, label} or {"labels": [...]}',
      },
    ),
  )
  .transform((b) => b.labels);

export function labelRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post('/v1/labels', allow('ingest'), async (c) => {
    const labels = await parseJsonBody(c, body, {
      limit: {
        bytes: c.get('deps').config.ingest.labelsBodyLimit,
        name: 'labels body limit (ingest.labelsBodyLimit)',
        advice: 'send smaller batches',
      },
    });
    return c.json(await applyLabels(c.get('deps'), labels));
  });
  return app;
}
