import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
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
  .describe('{"labels": [...]}, or the bare array of labels')
  .transform((b) => b.labels);

export function labelRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  route(
    app,
    {
      method: 'post',
      path: '/v1/labels',
      summary: 'Attach ground-truth labels to logged predictions, by model and request id',
      tags: ['ingest'],
      roles: ['ingest'],
      body: {
        schema: body,
        limit: (c: Context<AppEnv>) => ({
          bytes: c.get('deps').config.ingest.labelsBodyLimit,
          name: 'labels body limit (ingest.labelsBodyLimit)',
          advice: 'send smaller batches',
        }),
      },
      responses: {
        200: 'Counts of labels updated and unchanged, and the ones whose record was not found or not scored.',
      },
    },
    async (c, { body: labels }) => c.json(await applyLabels(c.get('deps'), labels)),
  );
  return app;
}
