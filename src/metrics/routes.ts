import { Hono } from 'hono';
import { allowMetrics } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import type { Metrics } from './metrics.js';

/** GET /metrics: the Prometheus text exposition of this app's registry. */
export function metricsRoutes(metrics: Metrics): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/metrics', allowMetrics(), async (c) => {
    const text = await metrics.text();
    return c.body(text, 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
  });
  return app;
}
