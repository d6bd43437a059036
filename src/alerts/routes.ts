import { type Context, Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.js';
import { featureHistogramSchema } from '../drift/routes.js';
import { ApiError } from '../errors.js';
import { route, typed } from '../openapi/index.js';
import { ALERT_KINDS } from '../rules/alerts.js';
import { bodyTime } from '../time.js';
import type { AlertView, RetrainRequestView } from '../views.js';
import { decideAlert } from './decisions.js';
import { TEXT_LIMITS } from './limits.js';
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
    .optional()
    .describe(
      'Comma-separated statuses (open, acknowledged, decided, snoozed, closed); "active" is all but closed.',
    ),
  model: z.string().min(1).optional(),
  severity: z.enum(['warning', 'critical']).optional(),
  assignee: z.string().min(1).optional(),
  kind: z.enum(ALERT_KINDS).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const version = z
  .number()
  .int()
  .positive()
  .optional()
  .describe('The alert version you saw (or send If-Match): required to change an alert.');
const note = z.string().trim().min(1, { error: 'a note is required' }).max(TEXT_LIMITS.note);

const assignBody = z.strictObject({
  assignee: z.string().min(1).max(TEXT_LIMITS.assignee).nullable(),
  note: z.string().max(TEXT_LIMITS.note).optional(),
  version,
});
const ackBody = z.strictObject({ note: z.string().max(TEXT_LIMITS.note).optional(), version });
const commentBody = z.strictObject({
  text: z.string().trim().min(1, { error: 'text must not be empty' }).max(TEXT_LIMITS.text),
});
const closeBody = z.strictObject({ note: z.string().max(TEXT_LIMITS.note).optional(), version });
const decisionBody = z.strictObject({
  decision: z.enum(['retrain', 'accept_shift', 'rollback', 'false_positive', 'snooze']),
  note,
  snooze_until: bodyTime.optional().describe('For snooze: until when (RFC 3339 time or epoch milliseconds).'),
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
  produced_version: z.string().min(1).max(TEXT_LIMITS.produced_version).optional(),
  note: z.string().max(TEXT_LIMITS.note).optional(),
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
function changeOf(c: Context<AppEnv>, id: number, bodyVersion: number | undefined) {
  return {
    id,
    actor: c.get('actor').name,
    version: expectedVersion(c.req.header('if-match'), bodyVersion),
  };
}

/** The alert as JSON, with its version as the ETag for the next If-Match. */
function withEtag(c: Context<AppEnv>, alert: AlertView) {
  c.header('etag', `"${alert.version}"`);
  return c.json(alert);
}

const iso = z.string().describe('RFC 3339 time');
const windowSchema = z.object({ from: iso, to: iso });
const kinds = z.enum(ALERT_KINDS);

export const alertSchema = typed<AlertView>()(
  z.object({
    id: z.number().int(),
    model: z.string(),
    model_version: z.string().nullable(),
    feature: z.string(),
    kind: kinds,
    severity: z.enum(['warning', 'critical']),
    status: z.enum(STATUSES),
    assignee: z.string().nullable(),
    version: z.number().int().describe('Changes with every change; send it back as If-Match.'),
    recovered: z.boolean(),
    recovered_at: iso.nullable(),
    snoozed_until: iso.nullable(),
    decision: z.string().nullable(),
    decision_note: z.string().nullable(),
    evidence_count: z.number().int(),
    first_seen: iso,
    last_seen: iso,
    latest: z
      .record(z.string(), z.unknown())
      .describe('Measures of the latest drifted window (psi, ks_pvalue, …).'),
    peak: z.record(z.string(), z.unknown()).describe('Measures of the window with the highest PSI so far.'),
    created_at: iso,
    updated_at: iso,
    closed_at: iso.nullable(),
  }),
);

export const retrainRequestSchema = typed<RetrainRequestView>()(
  z.object({
    id: z.number().int(),
    model: z.string(),
    model_version: z.string().nullable(),
    alert_ids: z.array(z.number().int()),
    requested_by: z.string(),
    reason: z.string(),
    status: z.enum(['requested', 'accepted', 'in_progress', 'done', 'rejected']),
    produced_version: z.string().nullable(),
    version: z.number().int(),
    created_at: iso,
    updated_at: iso,
  }),
);

const alertDetailSchema = typed<Awaited<ReturnType<typeof alertDetail>>>()(
  alertSchema.extend({
    evidence: z.array(
      z.object({
        drift_result_id: z.number().int().nullable(),
        window_kind: z.string(),
        window: windowSchema,
        severity: z.string(),
        measures: z.unknown(),
      }),
    ),
    histogram: featureHistogramSchema.nullable(),
    events: z.array(
      z.object({
        at: iso,
        actor: z.string(),
        action: z.string(),
        from: z.string().nullable(),
        to: z.string().nullable(),
        note: z.string().nullable(),
        data: z.unknown(),
      }),
    ),
    retrain_requests: z.array(retrainRequestSchema),
  }),
);

const alertId = {
  description: 'The alert id, a positive integer.',
  type: 'integer' as const,
  parse: (v: string) => idOf(v),
};
const ifMatch = [
  {
    name: 'if-match',
    description: 'The alert version you saw ("3", W/"3" or 3); a newer one is a 409 stale_version.',
  },
];
const noVersion = 'No version sent: If-Match or "version" in the body is required to change an alert.';
const etag = { etag: 'The alert version, for the next If-Match.' };
const changed = (what: string) => ({
  200: { description: `The alert, ${what}.`, schema: alertSchema, headers: etag },
  404: 'No such alert.',
  409: 'The alert changed since the version sent (stale_version), or the change is not allowed now (invalid_transition).',
  428: noVersion,
});

export function alertRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  route(
    app,
    {
      method: 'get',
      path: '/v1/alerts',
      summary: 'List alerts',
      description: 'Newest first, filtered by status, model, severity, assignee and kind.',
      tags: ['alerts'],
      roles: ['reviewer'],
      query: listQuery,
      responses: { 200: { description: 'The alerts.', schema: z.object({ alerts: z.array(alertSchema) }) } },
    },
    async (c, { query }) => c.json({ alerts: await listAlerts(c.get('deps'), query) }),
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/alerts/:id',
      summary: 'One alert with its evidence, histogram, audit trail and retrain requests',
      tags: ['alerts'],
      roles: ['reviewer'],
      params: { id: alertId },
      responses: {
        200: { description: 'The alert.', schema: alertDetailSchema, headers: etag },
        404: 'No such alert.',
      },
    },
    async (c, { params }) => {
      const alert = await alertDetail(c.get('deps'), params.id);
      c.header('etag', `"${alert.version}"`);
      return c.json(alert);
    },
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/alerts/:id/assign',
      summary: 'Assign an alert (or unassign it with null)',
      tags: ['alerts'],
      roles: ['reviewer'],
      params: { id: alertId },
      headers: ifMatch,
      body: { schema: assignBody },
      responses: changed('assigned'),
    },
    async (c, { params, body }) =>
      withEtag(
        c,
        await assignAlert(c.get('deps'), {
          ...changeOf(c, params.id, body.version),
          assignee: body.assignee,
          note: body.note,
        }),
      ),
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/alerts/:id/ack',
      summary: 'Acknowledge an alert',
      tags: ['alerts'],
      roles: ['reviewer'],
      params: { id: alertId },
      headers: ifMatch,
      body: { schema: ackBody, emptyAsObject: true },
      responses: changed('acknowledged'),
    },
    async (c, { params, body }) =>
      withEtag(
        c,
        await ackAlert(c.get('deps'), { ...changeOf(c, params.id, body.version), note: body.note }),
      ),
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/alerts/:id/comments',
      summary: 'Comment on an alert',
      tags: ['alerts'],
      roles: ['reviewer'],
      params: { id: alertId },
      body: { schema: commentBody },
      responses: { 201: 'The comment, as an audit-trail event.', 404: 'No such alert.' },
    },
    async (c, { params, body }) =>
      c.json(
        await commentAlert(c.get('deps'), { id: params.id, actor: c.get('actor').name, text: body.text }),
        201,
      ),
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/alerts/:id/decision',
      summary: 'Decide an alert: retrain, accept_shift, rollback, false_positive or snooze',
      description:
        'accept_shift builds a new baseline from the recent window and needs "confirm": true (409 confirmation_required says what it would do); rollback activates the previous served version at once when driftwatch serves the model.',
      tags: ['alerts'],
      roles: ['reviewer'],
      params: { id: alertId },
      headers: ifMatch,
      body: { schema: decisionBody },
      responses: {
        200: {
          description: 'The decided alert and what the decision did.',
          schema: z.object({ alert: alertSchema }).loose(),
          headers: etag,
        },
        404: 'No such alert.',
        409: 'Stale version, a transition not allowed now, or confirmation required.',
        428: noVersion,
      },
    },
    async (c, { params, body }) => {
      const outcome = await decideAlert(c.get('deps'), {
        ...changeOf(c, params.id, body.version),
        decision: body.decision,
        note: body.note,
        snoozeUntil: body.snooze_until,
        confirm: body.confirm,
        raiseThresholds: body.raise_thresholds,
      });
      c.header('etag', `"${outcome.alert.version}"`);
      return c.json(outcome);
    },
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/alerts/:id/close',
      summary: 'Close an alert',
      tags: ['alerts'],
      roles: ['reviewer'],
      params: { id: alertId },
      headers: ifMatch,
      body: { schema: closeBody, emptyAsObject: true },
      responses: changed('closed'),
    },
    async (c, { params, body }) =>
      withEtag(
        c,
        await closeAlert(c.get('deps'), { ...changeOf(c, params.id, body.version), note: body.note }),
      ),
  );

  route(
    app,
    {
      method: 'get',
      path: '/v1/retrain-requests',
      summary: 'List retrain requests',
      tags: ['retrain'],
      roles: ['reviewer'],
      query: retrainQuery,
      responses: {
        200: {
          description: 'The retrain requests.',
          schema: z.object({ retrain_requests: z.array(retrainRequestSchema) }),
        },
      },
    },
    async (c, { query }) => c.json({ retrain_requests: await listRetrainRequests(c.get('deps'), query) }),
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/retrain-requests',
      summary: 'Request a retrain of a model',
      tags: ['retrain'],
      roles: ['reviewer'],
      body: { schema: retrainBody },
      responses: { 201: { description: 'The new request.', schema: retrainRequestSchema } },
    },
    async (c, { body }) => {
      const request = await createRetrainRequest(c.get('deps'), {
        model: body.model,
        modelVersion: body.model_version ?? '',
        alertIds: body.alert_ids,
        actor: c.get('actor').name,
        reason: body.reason,
      });
      return c.json(request, 201);
    },
  );

  route(
    app,
    {
      method: 'post',
      path: '/v1/retrain-requests/:id/status',
      summary: 'Move a retrain request on (accepted, in_progress, done, rejected)',
      tags: ['retrain'],
      roles: ['reviewer'],
      params: {
        id: {
          description: 'The retrain request id, a positive integer.',
          type: 'integer',
          parse: (v: string) => idOf(v, 'retrain request'),
        },
      },
      headers: [{ name: 'if-match', description: 'The request version you saw; a newer one is a 409.' }],
      body: { schema: retrainStatusBody },
      responses: {
        200: { description: 'The updated request.', schema: retrainRequestSchema },
        404: 'No such retrain request.',
        409: 'Stale version or a transition not allowed.',
      },
    },
    async (c, { params, body }) =>
      c.json(
        await updateRetrainStatus(c.get('deps'), {
          id: params.id,
          actor: c.get('actor').name,
          status: body.status,
          producedVersion: body.produced_version,
          note: body.note,
          version: expectedVersion(c.req.header('if-match'), body.version),
        }),
      ),
  );

  return app;
}
