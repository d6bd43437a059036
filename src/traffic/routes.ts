import { Hono } from 'hono';
import { z } from 'zod';
import { canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseQuery } from '../http.js';
import { timeParam } from '../time.js';
import { trafficSeries } from './service.js';

const MAX_BUCKET_MS = 3650 * 86_400_000;

/** A query-string duration: "15m", "1h", "1d" or milliseconds. */
const durationParam = z.string().transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(v.trim());
  const unit = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m?.[2] ?? 'ms'];
  const ms = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms < 1) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 15m, 1h or 1d, got "${v}"` });
    return z.NEVER;
  }
  // Ten years: beyond, bucket boundaries leave the range of dates.
  if (ms > MAX_BUCKET_MS) {
    ctx.addIssue({ code: 'custom', message: `at most 3650d, got "${v}"` });
    return z.NEVER;
  }
  return ms;
});

const trafficQuery = z.strictObject({
  from: timeParam.optional(),
  to: timeParam.optional(),
  model_version: z.string().min(1).optional(),
  bucket: durationParam.optional(),
});

export function trafficRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/models/:model/traffic', canRead(), async (c) => {
    const model = c.req.param('model');
    c.set('model', model);
    const q = parseQuery(c, trafficQuery);
    return c.json(
      await trafficSeries(c.get('deps'), model, {
        from: q.from,
        to: q.to,
        modelVersion: q.model_version,
        bucket: q.bucket,
      }),
    );
  });

  return app;
}
