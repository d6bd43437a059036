import { Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { parseQuery } from '../http.js';
import { latestSlot } from './schedule.js';
import { renderFor, reportRunView, scheduleNamed, sendReportNow } from './service.js';

const runsQuery = z.strictObject({
  schedule: z.string().min(1).optional(),
  status: z.enum(['pending', 'sent', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const previewQuery = z.strictObject({ schedule: z.string().min(1) });

export function reportRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // The schedules as configured (recipients included: reviewers may see who gets what), with their next slot.
  app.get('/v1/reports/schedules', canRead(), (c) => {
    const { config, clock } = c.get('deps');
    const now = clock();
    return c.json({
      smtp: config.reports.smtp
        ? { host: config.reports.smtp.host, port: config.reports.smtp.port, from: config.reports.smtp.from }
        : null,
      schedules: config.reports.schedules.map((s) => {
        const last = latestSlot(s, now);
        return {
          name: s.name,
          cron: s.cron,
          timezone: s.timezone,
          to: s.to,
          period_ms: s.period,
          models: s.models ?? null,
          last_slot: last === null ? null : new Date(last).toISOString(),
        };
      }),
    });
  });

  app.get('/v1/reports/runs', canRead(), async (c) => {
    const q = parseQuery(c, runsQuery);
    const rows = await c.get('deps').store.read((tx) => tx.reportRuns.list(q));
    return c.json({ runs: rows.map(reportRunView) });
  });

  // The report the schedule would send now (the period ending now), as HTML.
  app.get('/v1/reports/preview', canRead(), async (c) => {
    const q = parseQuery(c, previewQuery);
    const deps = c.get('deps');
    const rendered = await renderFor(deps, scheduleNamed(deps.config, q.schedule), deps.clock());
    return c.html(rendered.html);
  });

  app.post('/v1/reports/:name/send', allow(), async (c) => {
    const run = await sendReportNow(c.get('deps'), c.req.param('name'));
    return c.json(reportRunView(run), run.status === 'sent' ? 200 : 202);
  });

  return app;
}
