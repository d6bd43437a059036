import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
import { listDeliveries, retryDelivery } from './service.js';

const deliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  channel: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export function notificationRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/notifications/deliveries',
      summary: 'Notification deliveries per channel, with their attempts',
      tags: ['notifications'],
      roles: ['reviewer'],
      query: deliveriesQuery,
      responses: { 200: 'The deliveries, newest first.' },
    },
    async (c, { query }) => c.json({ deliveries: await listDeliveries(c.get('deps'), query) }),
  );

  // Retrying is an operator action (admin); it starts a fresh round of attempts, due now.
  route(
    app,
    {
      method: 'post',
      path: '/v1/notifications/deliveries/:id/retry',
      summary: 'Retry a failed delivery: a fresh round of attempts, due now',
      tags: ['notifications'],
      roles: [],
      params: { id: { description: 'The delivery id.' } },
      responses: {
        200: 'The delivery, pending again.',
        404: 'No such delivery.',
        409: 'Only failed deliveries can be retried.',
      },
    },
    async (c, { params }) => c.json(await retryDelivery(c.get('deps'), params.id)),
  );

  return app;
}
