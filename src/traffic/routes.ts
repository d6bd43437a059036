import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
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

const time = timeParam.describe('RFC 3339 time or epoch milliseconds');
const trafficQuery = z.strictObject({
  from: time.optional(),
  to: time.optional(),
  model_version: z.string().min(1).optional(),
  bucket: durationParam.optional().describe('Bucket width: 15m, 1h, 1d or milliseconds (at most 3650d).'),
});

export function trafficRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/models/:model/traffic',
      summary: "A model's request rate, latency percentiles and error rate per bucket",
      tags: ['traffic'],
      roles: ['reviewer'],
      params: { model: { description: 'The model name.' } },
      logModel: 'model',
      query: trafficQuery,
      responses: { 200: 'The series.' },
    },
    async (c, { params, query: q }) =>
      c.json(
        await trafficSeries(c.get('deps'), params.model, {
          from: q.from,
          to: q.to,
          modelVersion: q.model_version,
          bucket: q.bucket,
        }),
      ),
  );

  return app;
}
