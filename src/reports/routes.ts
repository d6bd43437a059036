import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { route } from '../openapi/index.js';
import { inlineImages } from './render.js';
import { latestSlot } from './schedule.js';
import { renderFor, reportRunView, scheduleNamed, sendReportNow } from './service.js';

const runsQuery = z.strictObject({
  schedule: z.string().min(1).optional(),
  status: z.enum(['pending', 'sent', 'failed', 'skipped']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const previewQuery = z.strictObject({ schedule: z.string().min(1) });

export function reportRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  // The schedules as configured (recipients included: reviewers may see who gets what), with their next slot.
  route(
    app,
    {
      method: 'get',
      path: '/v1/reports/schedules',
      summary: 'The report schedules as configured, with their latest slot, and the SMTP relay',
      tags: ['reports'],
      roles: ['reviewer'],
      responses: { 200: 'The SMTP relay (or null) and the schedules.' },
    },
    (c) => {
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
    },
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/reports/runs',
      summary: 'Report runs (one per schedule slot), newest first',
      tags: ['reports'],
      roles: ['reviewer'],
      query: runsQuery,
      responses: { 200: 'The runs.' },
    },
    async (c, { query }) => {
      const rows = await c.get('deps').store.read((tx) => tx.reportRuns.list(query));
      return c.json({ runs: rows.map(reportRunView) });
    },
  );

  // The report the schedule would send now (the period ending now), as HTML.
  route(
    app,
    {
      method: 'get',
      path: '/v1/reports/preview',
      summary: 'The report a schedule would send now, as HTML (charts inline as data: URIs)',
      tags: ['reports'],
      roles: ['reviewer'],
      query: previewQuery,
      responses: { 200: { description: 'The report.', contentType: 'text/html' }, 404: 'No such schedule.' },
    },
    async (c, { query }) => {
      const deps = c.get('deps');
      const rendered = await renderFor(deps, scheduleNamed(deps.config, query.schedule), deps.clock());
      // A browser cannot resolve the mail's cid: references: the charts go inline as data: URIs.
      return c.html(inlineImages(rendered.html, rendered.images));
    },
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/reports/:name/send',
      summary: "Send a schedule's report now",
      tags: ['reports'],
      roles: [],
      params: { name: { description: 'The schedule name.' } },
      responses: {
        200: 'Sent: the run.',
        202: 'Not sent yet (the relay failed; the run is retried): the run.',
        404: 'No such schedule.',
        409: 'reports.smtp is not configured.',
      },
    },
    async (c, { params }) => {
      const run = await sendReportNow(c.get('deps'), params.name);
      return c.json(reportRunView(run), run.status === 'sent' ? 200 : 202);
    },
  );

  return app;
}
