import { Hono } from 'hono';
import { z } from 'zod';
import { allow } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { errorBody } from '../errors.js';
import { parseQuery } from '../http.js';
import { bodyFormat, parseJsonBatch, parseNdjsonBatch, readBody } from './body.js';
import { acceptInferenceEvent, PendingFull, readInferenceEvent } from './cloudevents.js';
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

  // KServe's payload logger: request and response CloudEvents, joined by id into records.
  app.post('/v1/ingest/cloudevents', allow('ingest'), async (c) => {
    const deps = c.get('deps');
    const text = await readBody(c.req.raw, {
      bytes: deps.config.ingest.bodyLimit,
      name: 'ingest body limit (ingest.bodyLimit)',
    });
    const event = readInferenceEvent(
      (name) => c.req.header(name),
      text,
      deps.config.ingest.cloudEventsModels,
    );
    c.set('model', event.model);
    try {
      const outcome = await acceptInferenceEvent(deps, event, c.get('requestId'));
      if (outcome.status !== 'joined') return c.json(outcome, outcome.status === 'pending' ? 202 : 200);
      const status =
        outcome.rejected.length === 0 ? 200 : outcome.accepted + outcome.duplicates > 0 ? 207 : 422;
      return c.json(outcome, status);
    } catch (err) {
      if (!(err instanceof PendingFull)) throw err;
      return c.json(errorBody(err, c.get('requestId')), 503, { 'retry-after': String(err.retryAfterS) });
    }
  });

  app.get('/v1/ingest/rejections', allow('reviewer'), async (c) => {
    const query = parseQuery(c, rejectionsQuery);
    return c.json({ rejections: await listRejections(c.get('deps'), query) });
  });

  return app;
}
