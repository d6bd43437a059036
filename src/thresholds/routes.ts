import { Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseJsonBody } from '../http.js';
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

  app.get('/v1/models/:model/alert-policy', canRead(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    return c.json(await alertPolicy(c.get('deps'), model));
  });

  app.put('/v1/models/:model/features/:feature/thresholds', allow(), async (c) => {
    const body = await parseJsonBody(c, thresholdBody);
    const model = c.req.param('model');
    c.set('model', model);
    return c.json(
      await putThresholds(c.get('deps'), {
        model,
        feature: c.req.param('feature'),
        psiWarning: body.psi_warning ?? null,
        psiCritical: body.psi_critical ?? null,
        alpha: body.alpha ?? null,
        actor: c.get('actor').name,
        reason: body.reason,
      }),
    );
  });

  return app;
}
