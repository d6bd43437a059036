import { Hono } from 'hono';
import type { AppEnv } from '../context.js';
import { type OpenApiDocument, openApiDocument } from './document.js';
import { renderReference } from './html.js';
import { declarationsOf, type RouteDecl, route } from './route.js';

export { jsonSchema, type OpenApiDocument } from './document.js';
export { declarationsOf, type RouteDecl, route, typed } from './route.js';

/** The tags in the order the reference shows them. */
export const TAGS = [
  { name: 'ingest', description: 'Prediction logs and labels in.' },
  { name: 'models', description: 'What each model has sent.' },
  { name: 'baselines', description: 'Training-data profiles that drift is measured against.' },
  { name: 'drift', description: 'Drift results per window, and runs on demand.' },
  { name: 'traffic', description: 'Request rate, latency and errors per model.' },
  { name: 'alerts', description: 'The review queue: alerts, their audit trail and decisions.' },
  { name: 'retrain', description: 'Retrain requests raised by decisions or by hand.' },
  { name: 'thresholds', description: 'Per-feature alert thresholds and the policy in force.' },
  { name: 'notifications', description: 'Deliveries of alert notifications.' },
  { name: 'reports', description: 'Scheduled email reports.' },
  { name: 'jobs', description: 'Background jobs and leadership.' },
  {
    name: 'serving',
    description: 'Model versions and predictions; only a process that serves models has these routes.',
  },
  { name: 'oip', description: 'Open Inference Protocol v2 (KServe); serving processes only.' },
  { name: 'operations', description: 'Health checks, metrics and this reference.' },
];

/**
 * GET /openapi.json and GET /docs for the routes `decls()` returns (read on first request, after every
 * route is mounted). Both are open: the document holds nothing a deployment configures, only what this
 * version's code accepts, and a browser cannot send a bearer token to read /docs.
 */
export function referenceRoutes(decls: () => readonly RouteDecl[], version: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  let doc: OpenApiDocument | undefined;
  let page: string | undefined;
  const document = () => {
    doc ??= openApiDocument([...decls(), ...declarationsOf(app)], { version, tags: TAGS });
    return doc;
  };

  route(
    app,
    {
      method: 'get',
      path: '/openapi.json',
      summary: 'This API as an OpenAPI 3.1 document',
      description:
        'Generated from the route declarations and the zod schemas the routes validate with. Serving routes are listed whether or not this process serves models.',
      tags: ['operations'],
      roles: 'public',
      responses: { 200: { description: 'The OpenAPI document.', schema: undefined } },
    },
    (c) => c.json(document()),
  );

  route(
    app,
    {
      method: 'get',
      path: '/docs',
      summary: 'The API reference as an HTML page',
      description: 'Rendered on the server from the same document; no script, nothing loaded from elsewhere.',
      tags: ['operations'],
      roles: 'public',
      responses: { 200: { description: 'The reference page.', contentType: 'text/html' } },
    },
    (c) => {
      page ??= renderReference(document());
      c.header(
        'content-security-policy',
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'",
      );
      return c.html(page);
    },
  );

  return app;
}
