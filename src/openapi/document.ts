// The OpenAPI 3.1 document, generated from the route declarations (src/openapi/route.ts): the parameters
// and bodies are the zod schemas the routes validate with, converted by zod's own z.toJSONSchema.
import { z } from 'zod';
import type { ErrorCode } from '../errors.js';
import { isJsonBody, type Method, pathParams, type ResponseDecl, type RouteDecl } from './route.js';

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  tags: { name: string; description?: string }[];
  paths: Record<string, Partial<Record<Method, Operation>>>;
  components: Json;
  security: Record<string, string[]>[];
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  description?: string;
  schema: Json;
}

export interface Operation {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  security: Record<string, string[]>[];
  'x-driftwatch-roles': string[];
  'x-driftwatch-serving'?: boolean;
  parameters?: Parameter[];
  requestBody?: { description?: string; required: boolean; content: Record<string, { schema?: Json }> };
  responses: Record<
    string,
    { description: string; headers?: Json; content?: Record<string, { schema: Json }> }
  >;
}

const ERROR_CODES = [
  'bad_request',
  'invalid_body',
  'unsupported_media_type',
  'payload_too_large',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'conflict',
  'precondition_failed',
  'precondition_required',
  'invalid_transition',
  'stale_version',
  'confirmation_required',
  'invalid_input',
  'deadline_exceeded',
  'unavailable',
  'internal',
] as const satisfies readonly ErrorCode[];
// Every ErrorCode is listed: a new code fails to compile here until the document names it.
const everyCode: Exclude<ErrorCode, (typeof ERROR_CODES)[number]> extends never ? true : false = true;
void everyCode;

/** The one envelope every error answers with (src/errors.ts errorBody). */
export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string().describe('What went wrong, naming the field or parameter where there is one.'),
      details: z
        .unknown()
        .optional()
        .describe('e.g. {"problems": [{"path": "records[3].model", "message": "…"}]} for a 400'),
      requestId: z.string().describe('The x-request-id of the request, to find it in the server log.'),
    }),
  })
  .meta({ description: 'The error envelope' });

/** A zod schema as JSON Schema 2020-12 (what OpenAPI 3.1 uses), for its input or output side. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return withoutSafeIntegerBounds(out) as Json;
}

/** z.number().int() bounds every integer by ±(2^53 − 1): true, but noise in a reference. */
function withoutSafeIntegerBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutSafeIntegerBounds);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'minimum' && value === Number.MIN_SAFE_INTEGER) continue;
    if (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) continue;
    out[key] = withoutSafeIntegerBounds(value);
  }
  return out;
}

const ERROR_REF = { $ref: '#/components/schemas/ErrorEnvelope' };

/** "/v1/alerts/:id/ack" → "/v1/alerts/{id}/ack". */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/** "post", "/v1/alerts/:id/ack" → "postV1AlertsByIdAck". */
function operationId(method: Method, path: string): string {
  const words = path
    .split('/')
    .filter(Boolean)
    .map((seg) => (seg.startsWith(':') ? `by-${seg.slice(1)}` : seg))
    .join('-')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return method + words.map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

function rolesOf(decl: RouteDecl): string[] {
  return decl.roles === 'public' ? [] : [...new Set([...decl.roles, 'admin'])];
}

function queryParameters(schema: z.ZodType): { params: Parameter[]; strict: boolean } {
  const s = jsonSchema(schema, 'input');
  const props = (s.properties ?? {}) as Record<string, Json>;
  const required = new Set((s.required ?? []) as string[]);
  const params = Object.entries(props).map(([name, p]) => {
    const { description, ...rest } = p;
    return {
      name,
      in: 'query' as const,
      required: required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
  return { params, strict: s.additionalProperties === false };
}

function response(decl: string | ResponseDecl, status: number) {
  const r = typeof decl === 'string' ? { description: decl } : decl;
  const contentType = r.contentType ?? 'application/json';
  const schema = r.schema ? jsonSchema(r.schema, 'output') : status >= 400 ? ERROR_REF : undefined;
  return {
    description: r.description,
    ...(r.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(r.headers).map(([name, description]) => [
              name,
              { description, schema: { type: 'string' } },
            ]),
          ),
        }
      : {}),
    ...(schema
      ? { content: { [contentType]: { schema } } }
      : r.contentType
        ? { content: { [contentType]: { schema: {} } } }
        : {}),
  };
}

export function operation(decl: RouteDecl): Operation {
  const roles = rolesOf(decl);
  const parameters: Parameter[] = pathParams(decl.path).map((name) => {
    const p = decl.params?.[name];
    return {
      name,
      in: 'path',
      required: true,
      ...(p?.description ? { description: p.description } : {}),
      schema: { type: p?.type ?? 'string' },
    };
  });
  let strictQuery = false;
  if (decl.query) {
    const q = queryParameters(decl.query);
    parameters.push(...q.params);
    strictQuery = q.strict;
  }
  for (const h of decl.headers ?? []) {
    parameters.push({
      name: h.name,
      in: 'header',
      required: h.required ?? false,
      description: h.description,
      schema: { type: 'string' },
    });
  }

  const responses: Operation['responses'] = {};
  for (const [status, r] of Object.entries(decl.responses)) responses[status] = response(r, Number(status));
  const generic = (status: number, description: string) => {
    responses[status] ??= response(description, status);
  };
  const validates = parameters.length > 0 || decl.body !== undefined;
  if (validates) generic(400, 'A parameter or the body is invalid; the message and details name it.');
  if (decl.roles !== 'public') {
    generic(401, 'No bearer token, or not a valid one (with WWW-Authenticate: Bearer).');
    generic(403, `The token's role may not do this (needs ${roles.join(' or ')}).`);
  }
  if (decl.body) generic(413, 'The body exceeds its byte limit.');
  if (!decl.unlimited) generic(503, 'Too many requests in flight; retry after the Retry-After seconds.');
  responses.default = response('Any other error, in the same envelope.', 500);

  const notes: string[] = [];
  if (decl.description) notes.push(decl.description);
  notes.push(
    decl.roles === 'public'
      ? 'Access: open, no token needed.'
      : `Access: bearer token with role ${roles.join(' or ')}${decl.authNote ? `; ${decl.authNote}` : ''}.`,
  );
  if (strictQuery) notes.push('Unknown query parameters are refused with 400.');
  if (decl.serving)
    notes.push('Served only by a process that serves models (the serving section of the config).');

  const op: Operation = {
    operationId: operationId(decl.method, decl.path),
    summary: decl.summary,
    description: notes.join('\n\n'),
    tags: [...decl.tags],
    security: decl.roles === 'public' ? [] : [{ bearer: [] }],
    'x-driftwatch-roles': roles,
    ...(decl.serving ? { 'x-driftwatch-serving': true } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    responses,
  };
  if (decl.body) {
    const b = decl.body;
    op.requestBody = isJsonBody(b)
      ? {
          ...(b.description ? { description: b.description } : {}),
          required: !b.emptyAsObject,
          content: { 'application/json': { schema: jsonSchema(b.schema, 'input') } },
        }
      : {
          description: b.description,
          required: b.required ?? true,
          content: Object.fromEntries(
            Object.entries(b.content).map(([type, c]) => [type, c.schema ? { schema: c.schema } : {}]),
          ),
        };
  }
  return op;
}

export interface DocumentInfo {
  version: string;
  tags: { name: string; description?: string }[];
}

/** The whole document for these declarations. */
export function openApiDocument(decls: readonly RouteDecl[], info: DocumentInfo): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  for (const decl of decls) {
    const path = openApiPath(decl.path);
    const item = paths[path] ?? {};
    if (item[decl.method]) throw new Error(`${decl.method.toUpperCase()} ${decl.path} is declared twice`);
    item[decl.method] = operation(decl);
    paths[path] = item;
  }
  const used = new Set(decls.flatMap((d) => d.tags));
  const known = info.tags.filter((t) => used.has(t.name));
  const extra = [...used].filter((t) => !info.tags.some((k) => k.name === t)).map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'driftwatch API',
      version: info.version,
      description: [
        'Monitors ML models in production: ingest, drift against training baselines, alerts and their review, serving.',
        'Generated from the zod schemas the routes validate with, so it describes what the running code enforces.',
        'Authentication: `Authorization: Bearer <token>`, each token with one role (ingest, reviewer, admin, metrics); admin may do everything. With no tokens configured (loopback only) the API is open and every caller acts as "anonymous" admin.',
        'Every error is one envelope: `{"error": {"code", "message", "details"?, "requestId"}}`. A method a path does not have is a 405 naming the allowed ones; an unknown path is a 404.',
      ].join('\n\n'),
    },
    tags: [...known, ...extra],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A token from the config (auth.tokens); its role decides what it may call.',
        },
      },
      schemas: { ErrorEnvelope: jsonSchema(errorEnvelope, 'output') },
    },
    security: [{ bearer: [] }],
  };
}
