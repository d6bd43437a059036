import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
import { alertPolicy, putThresholds } from './service.js';

const note = z.string().trim().min(1, { error: 'a note is required' }).max(10_000);
const thresholdBody = z.strictObject({
  psi_warning: z.number().positive().nullable().optional(),
  psi_critical: z.number().positive().nullable().optional(),
  alpha: z.number().gt(0).lt(1).nullable().optional(),
  reason: note,
});

export function thresholdRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/alert-policy',
      summary: "The thresholds in force for each of a model's features, and where each comes from",
      tags: ['thresholds'],
      roles: ['reviewer'],
      params: { model: { description: 'The model name.' } },
      logModel: 'model',
      responses: { 200: 'The policy.' },
    },
    async (c, { params }) => c.json(await alertPolicy(c.get('deps'), params.model)),
  );

  route(
    app,
    {
      method: 'put',
      path: '/v1/models/:model/features/:feature/thresholds',
      summary: "Set a feature's own thresholds (null: back to the default)",
      tags: ['thresholds'],
      roles: [],
      params: { model: { description: 'The model name.' }, feature: { description: 'The feature name.' } },
      logModel: 'model',
      body: { schema: thresholdBody },
      responses: { 200: 'The thresholds now in force for the feature.' },
    },
    async (c, { params, body }) => {
      const model = params.model;
      return c.json(
        await putThresholds(c.get('deps'), {
          model,
          feature: params.feature,
          psiWarning: body.psi_warning ?? null,
          psiCritical: body.psi_critical ?? null,
          alpha: body.alpha ?? null,
          actor: c.get('actor').name,
          reason: body.reason,
        }),
      );
    },
  );

  return app;
}
