import { type Context, Hono } from 'hono';
import { z } from 'zod';
import { allow, canRead } from '../auth/middleware.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { parseJsonBody, parseQuery } from '../http.js';
import { bodyTime } from '../time.js';
import type { AlertView } from '../views.js';
import { decideAlert } from './decisions.js';
import { createRetrainRequest, listRetrainRequests, updateRetrainStatus } from './retrain.js';
import { ackAlert, alertDetail, assignAlert, closeAlert, commentAlert, listAlerts } from './review.js';

const STATUSES = ['open', 'acknowledged', 'decided', 'snoozed', 'closed'] as const;

const listQuery = z.strictObject({
  // Comma-separated; "active" means every status but closed.
  status: z
    .string()
    .transform((v, ctx) => {
      const parts = v
        .split(',')
        .flatMap((p) => (p === 'active' ? STATUSES.filter((s) => s !== 'closed') : [p]));
      const bad = parts.filter((p) => !(STATUSES as readonly string[]).includes(p));
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `unknown status ${bad.join(', ')}; use ${STATUSES.join(', ')} or active`,
        });
        return z.NEVER;
      }
      return parts as (typeof STATUSES)[number][];
    })
    .optional(),
  model: z.string().min(1).optional(),
  severity: z.enum(['warning', 'critical']).optional(),
  assignee: z.string().min(1).optional(),
  kind: z.enum(['drift', 'data_quality', 'prediction_drift', 'latency', 'error_rate']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const version = z.number().int().positive().optional();
const note = z.string().trim().min(1, { error: 'a note is required' }).max(10_000);

const assignBody = z.strictObject({
  assignee: z.string().min(1).max(100).nullable(),
  note: z.string().max(10_000).optional(),
  version,
});
const ackBody = z.strictObject({ note: z.string().max(10_000).optional(), version });
const commentBody = z.strictObject({
  text: z.string().trim().min(1, { error: 'text must not be empty' }).max(10_000),
});
const closeBody = z.strictObject({ note: z.string().max(10_000).optional(), version });
const decisionBody = z.strictObject({
  decision: z.enum(['retrain', 'accept_shift', 'rollback', 'false_positive', 'snooze']),
  note,
  snooze_until: bodyTime.optional(),
  confirm: z.boolean().optional(),
  raise_thresholds: z.boolean().optional(),
  version,
});
const retrainBody = z.strictObject({
  model: z.string().min(1),
  model_version: z.string().min(1).optional(),
  alert_ids: z.array(z.number().int().positive()).default([]),
  reason: note,
});
const retrainStatusBody = z.strictObject({
  status: z.enum(['requested', 'accepted', 'in_progress', 'done', 'rejected']),
  produced_version: z.string().min(1).max(256).optional(),
  note: z.string().max(10_000).optional(),
  version,
});
const retrainQuery = z.strictObject({
  model: z.string().min(1).optional(),
  status: z.enum(['requested', 'accepted', 'in_progress', 'done', 'rejected']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const idOf = (v: string, what = 'alert') => {
  const id = Number(v);
  if (!Number.isInteger(id) || id < 1)
    throw new ApiError('bad_request', `${what} id must be a positive integer, got "${v}"`);
  return id;
};

/** The version a client saw: If-Match ("3", W/"3" or 3) or "version" in the body. */
function expectedVersion(header: string | undefined, body: number | undefined): number | undefined {
  if (header !== undefined) {
    const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
    if (!m) throw new ApiError('bad_request', `If-Match must be the alert version, e.g. "3"; got ${header}`);
    const v = Number(m[1]);
    if (body !== undefined && body !== v)
      throw new ApiError('bad_request', 'If-Match and body version disagree');
    return v;
  }
  return body;
}

/** Who changes which alert, and the version they saw. */
function changeOf(c: Context<AppEnv>, bodyVersion: number | undefined) {
  return {
    id: idOf(c.req.param('id') ?? ''),
    actor: c.get('actor').name,
    version: expectedVersion(c.req.header('if-match'), bodyVersion),
  };
}

/** The alert as JSON, with its version as the ETag for the next If-Match. */
function withEtag(c: Context<AppEnv>, alert: AlertView) {
  c.header('etag', `"${alert.version}"`);
  return c.json(alert);
}

export function alertRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/v1/alerts', canRead(), async (c) => {
    const q = parseQuery(c, listQuery);
    return c.json({ alerts: await listAlerts(c.get('deps'), q) });
  });

  app.get('/v1/alerts/:id', canRead(), async (c) => {
    const alert = await alertDetail(c.get('deps'), idOf(c.req.param('id')));
    c.header('etag', `"${alert.version}"`);
    return c.json(alert);
  });

  app.post('/v1/alerts/:id/assign', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, assignBody);
    return withEtag(
      c,
      await assignAlert(c.get('deps'), {
        ...changeOf(c, body.version),
        assignee: body.assignee,
        note: body.note,
      }),
    );
  });

  app.post('/v1/alerts/:id/ack', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, ackBody, { emptyAsObject: true });
    return withEtag(c, await ackAlert(c.get('deps'), { ...changeOf(c, body.version), note: body.note }));
  });

  app.post('/v1/alerts/:id/comments', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, commentBody);
    return c.json(
      await commentAlert(c.get('deps'), {
        id: idOf(c.req.param('id')),
        actor: c.get('actor').name,
        text: body.text,
      }),
      201,
    );
  });

  app.post('/v1/alerts/:id/decision', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, decisionBody);
    const outcome = await decideAlert(c.get('deps'), {
      ...changeOf(c, body.version),
      decision: body.decision,
      note: body.note,
      snoozeUntil: body.snooze_until,
      confirm: body.confirm,
      raiseThresholds: body.raise_thresholds,
    });
    c.header('etag', `"${outcome.alert.version}"`);
    return c.json(outcome);
  });

  app.post('/v1/alerts/:id/close', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, closeBody, { emptyAsObject: true });
    return withEtag(c, await closeAlert(c.get('deps'), { ...changeOf(c, body.version), note: body.note }));
  });

  app.get('/v1/retrain-requests', canRead(), async (c) => {
    const q = parseQuery(c, retrainQuery);
    return c.json({ retrain_requests: await listRetrainRequests(c.get('deps'), q) });
  });

  app.post('/v1/retrain-requests', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, retrainBody);
    const request = await createRetrainRequest(c.get('deps'), {
      model: body.model,
      modelVersion: body.model_version ?? '',
      alertIds: body.alert_ids,
      actor: c.get('actor').name,
      reason: body.reason,
    });
    return c.json(request, 201);
  });

  app.post('/v1/retrain-requests/:id/status', allow('reviewer'), async (c) => {
    const body = await parseJsonBody(c, retrainStatusBody);
    return c.json(
      await updateRetrainStatus(c.get('deps'), {
        id: idOf(c.req.param('id'), 'retrain request'),
        actor: c.get('actor').name,
        status: body.status,
        producedVersion: body.produced_version,
        note: body.note,
        version: expectedVersion(c.req.header('if-match'), body.version),
      }),
    );
  });

  return app;
}
