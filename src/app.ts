import { randomUUID } from 'node:crypto';
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { alertRoutes } from './alerts/routes.js';
import { tokenTable } from './auth/tokens.js';
import { baselineRoutes } from './baselines/routes.js';
import type { AppDeps, AppEnv } from './context.js';
import { driftRoutes } from './drift/routes.js';
import { ApiError, errorBody } from './errors.js';
import { healthRoutes, type Readiness } from './health/routes.js';
import { otlpError } from './ingest/otlp.js';
import { ingestRoutes } from './ingest/routes.js';
import { jobRoutes } from './jobs/routes.js';
import { labelRoutes } from './labels/routes.js';
import { Metrics, metricsRoutes, VERSION } from './metrics/index.js';
import { modelRoutes } from './models/routes.js';
import { notificationRoutes } from './notifications/routes.js';
import { declarationsOf, type RouteDecl, referenceRoutes } from './openapi/index.js';
import { performanceRoutes } from './performance/routes.js';
import { reportRoutes } from './reports/routes.js';
import { servingDeclarations, servingRoutes } from './serving/routes.js';
import type { ServingRuntime } from './serving/runtime.js';
import { thresholdRoutes } from './thresholds/routes.js';
import { trafficRoutes } from './traffic/routes.js';
import { uiRoutes } from './ui/routes.js';
import { sessionOf } from './ui/session.js';

export interface AppOptions {
  readiness?: Readiness;
  /** The versions this process serves (POST /v1/models/:name/predict, /v2/…). */
  serving?: ServingRuntime;
  /**
   * This app's metrics registry (GET /metrics). Default: deps.metrics, else a new one, which becomes
   * deps.metrics so the services called with these deps report into it.
   */
  metrics?: Metrics;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Whether the request carries a valid credential: the API is open, a valid bearer token, or (for /ui) a
 * live session cookie. Its role is checked later by the route; this only decides which in-flight pool it
 * may take a slot from.
 */
async function authenticated(c: Context<AppEnv>): Promise<boolean> {
  const deps = c.get('deps');
  const table = tokenTable(deps.config);
  if (table.open) return true;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
  if (match?.[1]) return table.authenticate(match[1]) !== null;
  if (c.req.path === '/ui' || c.req.path.startsWith('/ui/'))
    return typeof (await sessionOf(c, deps)) === 'object';
  return false;
}

/** Builds the HTTP application without a socket, so tests drive it with app.request(). */
export function createApp(deps: AppDeps, options: AppOptions = {}): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const metrics = options.metrics ?? (deps.metrics instanceof Metrics ? deps.metrics : new Metrics(deps));
  deps.metrics ??= metrics;
  // Serving changes made through any door (API, UI, an alert's rollback decision) reach this runtime at once.
  const runtime = options.serving;
  if (runtime) deps.servingChanged ??= () => runtime.sync(true);

  app.use(async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('deps', deps);
    c.set('requestId', requestId);
    c.set('log', deps.log.child({ request_id: requestId }));
    c.header('x-request-id', requestId);
    await next();
    const status = c.res.status;
    const seconds = (performance.now() - started) / 1000;
    // The route pattern ("/v1/models/:model", "/*" when nothing matched) keeps the label set bounded.
    metrics.httpRequest(c.req.method, c.req.routePath, status, seconds);
    const line = {
      method: c.req.method,
      route: c.req.routePath,
      path: c.req.path,
      status,
      duration_ms: Math.round(seconds * 1e6) / 1000,
      ...(c.get('model') ? { model: c.get('model') } : {}),
      ...(c.res.headers.get('x-model-version')
        ? { model_version: c.res.headers.get('x-model-version') }
        : {}),
    };
    // A 503 for overload is the service protecting itself, not a fault: a warning, not an error.
    if (status >= 500 && status !== 503) c.get('log').error(line, 'request');
    else if (status === 503) c.get('log').warn(line, 'request');
    else c.get('log').info(line, 'request');
  });

  // A bound on the work in flight: beyond it, 503 with Retry-After rather than bodies queued in memory.
  // Health checks are never counted or refused, so they answer however busy the API is.
  const inFlight = { all: 0, ingest: 0, labels: 0, predict: 0, anonymous: 0 };
  const { maxInFlight, maxIngestInFlight, maxLabelsInFlight, maxAnonymousInFlight } = deps.config.server;
  // Predictions have a bound of their own: small bodies, answered in milliseconds, and already queued per
  // model (with a deadline) — a burst of them must not take the API's slots, nor wait behind an upload.
  const maxPredictInFlight = deps.config.serving.maxInFlight;
  const PREDICT = /^\/(v1\/models\/[^/]+\/predict|v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer)$/;
  const busy = (what: string, keys: string): never => {
    throw new ApiError('unavailable', `driftwatch is busy (${what} in flight, ${keys}); retry after 1 s`);
  };
  app.use(async (c, next) => {
    const path = c.req.path;
    // Health checks and scrapes are never counted or refused.
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') return next();
    if (c.req.method === 'POST' && PREDICT.test(path)) {
      if (inFlight.predict >= maxPredictInFlight)
        busy(`${maxPredictInFlight} predict requests`, 'serving.maxInFlight');
      inFlight.predict++;
      try {
        return await next();
      } finally {
        inFlight.predict--;
      }
    }
    // A caller with no valid credential (a browser on the sign-in form, a bad token) has a small pool of its
    // own: however many of them trickle bodies in, ingest and signed-in reviewers keep the API's slots.
    if (!(await authenticated(c))) {
      if (inFlight.anonymous >= maxAnonymousInFlight)
        busy(`${maxAnonymousInFlight} requests without credentials`, 'server.maxAnonymousInFlight');
      inFlight.anonymous++;
      try {
        return await next();
      } finally {
        inFlight.anonymous--;
      }
    }
    // OTLP logs (POST /v1/logs) carry ingest bodies too, and share ingest's bound.
    const ingest = c.req.method === 'POST' && (path.startsWith('/v1/ingest') || path === '/v1/logs');
    const labels = c.req.method === 'POST' && path === '/v1/labels';
    if (inFlight.all >= maxInFlight) busy(`${maxInFlight} requests`, 'server.maxInFlight');
    if (ingest && inFlight.ingest >= maxIngestInFlight)
      busy(`${maxIngestInFlight} ingest requests`, 'server.maxInFlight / server.maxIngestInFlight');
    if (labels && inFlight.labels >= maxLabelsInFlight)
      busy(`${maxLabelsInFlight} label uploads`, 'server.maxInFlight / server.maxLabelsInFlight');
    inFlight.all++;
    if (ingest) inFlight.ingest++;
    if (labels) inFlight.labels++;
    try {
      await next();
    } finally {
      inFlight.all--;
      if (ingest) inFlight.ingest--;
      if (labels) inFlight.labels--;
    }
  });

  // Each group of routes is mounted with its declarations, which GET /openapi.json and /docs describe.
  const declarations: RouteDecl[] = [];
  const mount = (routes: Hono<AppEnv>) => {
    app.route('/', routes);
    declarations.push(...declarationsOf(routes));
  };
  mount(healthRoutes(options.readiness ?? { accepting: () => true }, options.serving));
  mount(ingestRoutes());
  mount(modelRoutes());
  mount(baselineRoutes());
  mount(driftRoutes());
  mount(performanceRoutes());
  mount(trafficRoutes());
  mount(labelRoutes());
  mount(alertRoutes());
  mount(notificationRoutes());
  mount(thresholdRoutes());
  mount(jobRoutes());
  mount(reportRoutes());
  mount(metricsRoutes(metrics));
  // The bundled inference endpoint, when this process serves models; documented either way.
  if (options.serving) mount(servingRoutes(options.serving));
  else declarations.push(...servingDeclarations());
  app.route(
    '/',
    referenceRoutes(() => declarations, VERSION),
  );
  // The reviewers' web UI: its own middleware (session cookie, CSRF), pages instead of JSON errors; not part
  // of the API reference.
  app.route('/ui', uiRoutes() as unknown as Hono<AppEnv>);

  // A path that exists under other methods is a 405 naming them, not a 404.
  const routes = app.routes
    .filter((r) => r.method !== 'ALL')
    .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.replace(/:[^/]+/g, '[^/]+')}$`) }));
  app.notFound((c) => {
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(c.req.path)).map((r) => r.method))];
    if (allowed.length > 0) {
      c.header('allow', allowed.join(', '));
      const err = new ApiError(
        'method_not_allowed',
        `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(' or ')}`,
      );
      return c.json(errorBody(err, c.get('requestId') ?? ''), 405);
    }
    const err = new ApiError('not_found', `no route for ${c.req.method} ${c.req.path}`);
    return c.json(errorBody(err, c.get('requestId') ?? ''), 404);
  });

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? '';
    if (err instanceof ApiError) {
      // An OTLP exporter reads a google.rpc.Status in its own encoding, protobuf included.
      if (c.req.path === '/v1/logs') {
        const res = otlpError(err, requestId, c.req.header('content-type'));
        // The auth middleware's challenge (401) is on the context's response, not on this new one.
        const challenge = c.res.headers.get('www-authenticate');
        if (challenge) res.headers.set('www-authenticate', challenge);
        return res;
      }
      if (err.code === 'unavailable') c.header('retry-after', '1');
      return c.json(errorBody(err, requestId), err.status);
    }
    if (err instanceof HTTPException) {
      const wrapped = new ApiError(err.status === 413 ? 'payload_too_large' : 'bad_request', err.message);
      return c.json(errorBody(wrapped, requestId), err.status);
    }
    (c.get('log') ?? deps.log).error({ err }, 'unhandled error');
    return c.json(
      errorBody(
        new ApiError('internal', 'internal error; see the server log for this request id'),
        requestId,
      ),
      500,
    );
  });

  return app;
}
