import { Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseQuery } from '../http.js';
import { listDeliveries, retryDelivery } from './service.js';

const deliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  channel: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function notificationRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/notifications/deliveries', canRead(), async (c) => {
    const q = parseQuery(c, deliveriesQuery);
    return c.json({ deliveries: await listDeliveries(c.get('deps'), q) });
  });

  // Retrying is an operator action (admin); it starts a fresh round of attempts, due now.
  app.post('/v1/notifications/deliveries/:id/retry', allow(), async (c) =>
    c.json(await retryDelivery(c.get('deps'), c.req.param('id'))),
  );

  return app;
}
