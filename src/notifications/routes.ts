import { Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { parseQuery } from '../http.js';
import { type DeliveryRow, getDelivery, listDeliveries, requeueFailed } from './queries.js';

const deliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  channel: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export interface DeliveryView {
  id: number;
  channel: string;
  event: string;
  status: DeliveryRow['status'];
  attempts: number;
  /** Only while pending. */
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

function deliveryView(r: DeliveryRow): DeliveryView {
  return {
    id: r.id,
    channel: r.channel,
    event: r.event,
    status: r.status,
    attempts: r.attempts,
    next_attempt_at: r.status === 'pending' ? new Date(r.next_attempt_at).toISOString() : null,
    last_error: r.last_error,
    created_at: new Date(r.created_at).toISOString(),
    delivered_at: r.delivered_at === null ? null : new Date(r.delivered_at).toISOString(),
  };
}

export function notificationRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/notifications/deliveries', canRead(), (c) => {
    const q = parseQuery(c, deliveriesQuery);
    return c.json({ deliveries: listDeliveries(c.get('deps').db, q).map(deliveryView) });
  });

  // Retrying is an operator action (admin); it starts a fresh round of attempts, due now.
  app.post('/v1/notifications/deliveries/:id/retry', allow(), (c) => {
    const { db, clock } = c.get('deps');
    const raw = c.req.param('id');
    const id = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
    const row = Number.isNaN(id) ? undefined : getDelivery(db, id);
    if (!row) throw new ApiError('not_found', `delivery ${raw} does not exist`);
    if (!requeueFailed(db, row.id, clock())) {
      throw new ApiError(
        'conflict',
        `delivery ${row.id} is ${row.status}; only failed deliveries can be retried`,
      );
    }
    const updated = getDelivery(db, row.id);
    if (!updated) throw new ApiError('not_found', `delivery ${raw} does not exist`);
    return c.json(deliveryView(updated));
  });

  return app;
}
