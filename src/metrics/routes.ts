import { Hono } from 'hono';
import { allowMetrics } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
import type { Metrics } from './metrics.js';

/** GET /metrics: the Prometheus text exposition of this app's registry. */
export function metricsRoutes(metrics: Metrics): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  route(
    app,
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of this process',
      tags: ['operations'],
      roles: ['metrics'],
      auth: allowMetrics(),
      authNote: 'or no credential at all from a loopback peer while metrics.loopbackOpen holds (the default)',
      unlimited: true,
      responses: {
        200: { description: 'The text exposition format.', contentType: 'text/plain; version=0.0.4' },
      },
    },
    async (c) => {
      const text = await metrics.text();
      return c.body(text, 200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
    },
  );
  return app;
}
