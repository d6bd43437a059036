import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { route, typed } from '../openapi/index.js';
import { timeParam } from '../time.js';
import { listModels, type ModelSummary, recentRecords } from './service.js';

const time = timeParam.describe('RFC 3339 time or epoch milliseconds');
const recordsQuery = z.strictObject({
  from: time.optional(),
  to: time.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const iso = z.string().describe('RFC 3339 time');
const tally = {
  record_count: z.number().int(),
  first_timestamp: iso,
  last_timestamp: iso,
  last_received_at: iso,
};
export const modelSummarySchema = typed<ModelSummary>()(
  z.object({
    model: z.string(),
    ...tally,
    versions: z.array(z.object({ model_version: z.string().nullable(), ...tally })),
  }),
);

const model = { description: 'The model name.' };

export function modelRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/models',
      summary: 'Every model that has sent records, with counts per version',
      tags: ['models'],
      roles: ['reviewer'],
      responses: {
        200: { description: 'The models.', schema: z.object({ models: z.array(modelSummarySchema) }) },
      },
    },
    async (c) => c.json({ models: await listModels(c.get('deps')) }),
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model',
      summary: 'One model, with counts per version',
      tags: ['models'],
      roles: ['reviewer'],
      params: { model },
      responses: {
        200: { description: 'The model.', schema: modelSummarySchema },
        404: 'The model has sent no records.',
      },
    },
    async (c, { params }) => {
      const [summary] = await listModels(c.get('deps'), params.model);
      if (!summary) throw new ApiError('not_found', `model ${params.model} has sent no records`);
      return c.json(summary);
    },
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/records',
      summary: "A model's most recent records",
      tags: ['models'],
      roles: ['reviewer'],
      params: { model },
      logModel: 'model',
      query: recordsQuery,
      responses: { 200: 'The records, newest first.' },
    },
    async (c, { params, query: q }) => {
      if (q.from !== undefined && q.to !== undefined && q.from >= q.to) {
        throw new ApiError('bad_request', 'from must be before to', {
          problems: [{ path: 'from', message: 'must be before to' }],
        });
      }
      return c.json({ records: await recentRecords(c.get('deps'), { model: params.model, ...q }) });
    },
  );

  return app;
}
