// One declaration per route: the helper registers the hono route, runs its auth and validation from the
// declaration, and records the declaration for the OpenAPI document (GET /openapi.json, /docs). What the
// document says a route takes is what the route enforces, because both are read from the same object.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import type { z } from 'zod';
import { allow } from '../auth/middleware.js';
import type { BodyLimit } from '../body-limit.js';
import type { Role } from '../config/index.js';
import type { AppEnv } from '../context.js';
import { parseJsonBody, parseQuery } from '../http.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

/** A path parameter: what it is, and the check the route applies to it (throwing an ApiError). */
export interface ParamDecl<T = string> {
  description: string;
  /** The JSON type the parameter holds (it always arrives as text). */
  type?: 'string' | 'integer';
  /** Validates and converts the raw value; the handler gets the result in input.params. */
  parse?: (value: string) => T;
}

/** A JSON body validated with `schema` (by parseJsonBody unless `read` is given). */
export interface JsonBodyDecl<S extends z.ZodType = z.ZodType> {
  schema: S;
  description?: string;
  /** An empty body is validated as `{}`: the body is optional. */
  emptyAsObject?: boolean;
  /** The byte limit, when not server.jsonBodyLimit. */
  limit?: (c: Context<AppEnv>) => BodyLimit;
  /** Reads and validates the body in the route's own way, with this same schema. */
  read?(c: Context<AppEnv>, schema: S): Promise<z.output<S>>;
}

/** A body the handler reads itself (NDJSON, CSV, CloudEvents…): documented, not validated here. */
export interface RawBodyDecl {
  description: string;
  /** Content types accepted, each with an optional JSON Schema of its own. */
  content: Record<string, { schema?: Record<string, unknown>; description?: string }>;
  required?: boolean;
}

export type BodyDecl = JsonBodyDecl | RawBodyDecl;

export interface ResponseDecl {
  description: string;
  /** The body's shape (documentation: responses are not validated at run time; tests check them). */
  schema?: z.ZodType;
  /** Default application/json; a status ≥ 400 without schema gets the error envelope. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface HeaderDecl {
  name: string;
  description: string;
  required?: boolean;
}

export interface RouteDecl<
  P extends string = string,
  Q extends z.ZodType | undefined = z.ZodType | undefined,
  B extends BodyDecl | undefined = BodyDecl | undefined,
  PS extends Record<string, ParamDecl<unknown> | undefined> = Record<string, ParamDecl<unknown>>,
> {
  method: Method;
  /** The hono path, `:name` for parameters. */
  path: P;
  summary: string;
  description?: string;
  tags: readonly string[];
  /**
   * Who may call: the roles (admin always may; `[]` is admin only), or 'public' for no credential at all.
   */
  roles: readonly Role[] | 'public';
  /** A middleware of the route's own instead of allow(...roles); `authNote` then says what it does. */
  auth?: MiddlewareHandler<AppEnv>;
  authNote?: string;
  /** Every `:name` of the path, described (registration fails when one is missing or unknown). */
  params?: PS;
  query?: Q;
  body?: B;
  headers?: readonly HeaderDecl[];
  responses: Record<number, string | ResponseDecl>;
  /** The path parameter naming the model, set for the request log line once it passed its check. */
  logModel?: string;
  /** Never refused with 503 for load (health checks and scrapes). */
  unlimited?: boolean;
  /** Registered only when this process serves models. */
  serving?: boolean;
}

type ParamsOut<PS> = { [K in keyof PS]: PS[K] extends { parse: (value: string) => infer T } ? T : string };
type QueryOut<Q> = Q extends z.ZodType ? z.output<Q> : undefined;
type BodyOut<B> = B extends JsonBodyDecl<infer S> ? z.output<S> : undefined;

export interface RouteInput<PS, Q, B> {
  params: ParamsOut<PS>;
  query: QueryOut<Q>;
  body: BodyOut<B>;
}

export function isJsonBody(body: BodyDecl): body is JsonBodyDecl {
  return 'schema' in body;
}

/** The `:name` parameters of a hono path, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);
}

const declared = new WeakMap<Hono<AppEnv>, RouteDecl[]>();

/** The declarations of the routes registered on `app` with route(). */
export function declarationsOf(app: Hono<AppEnv>): readonly RouteDecl[] {
  return declared.get(app) ?? [];
}

/**
 * Registers a route from its declaration: auth for `roles`, then path parameters, query and body checked
 * in that order (each failure the usual 400 envelope naming the field), then the handler with the results.
 */
export function route<
  P extends string,
  Q extends z.ZodType | undefined = undefined,
  B extends BodyDecl | undefined = undefined,
  PS extends Record<string, ParamDecl<unknown> | undefined> = Record<never, never>,
>(
  app: Hono<AppEnv>,
  decl: RouteDecl<P, Q, B, PS>,
  handler: (c: Context<AppEnv, P>, input: RouteInput<PS, Q, B>) => Response | Promise<Response>,
): void {
  const names = pathParams(decl.path);
  const described = Object.keys(decl.params ?? {});
  const missing = names.filter((n) => !described.includes(n));
  const unknown = described.filter((n) => !names.includes(n));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      `${decl.method.toUpperCase()} ${decl.path}: path parameters ${[...missing.map((n) => `${n} undescribed`), ...unknown.map((n) => `${n} not in the path`)].join(', ')}`,
    );
  }
  const auth = decl.auth ?? (decl.roles === 'public' ? undefined : allow(...decl.roles));
  const run: MiddlewareHandler<AppEnv, P> = async (c) => {
    const params: Record<string, unknown> = {};
    for (const name of names) {
      const raw = c.req.param(name as never) as string;
      const p = decl.params?.[name] as ParamDecl<unknown>;
      params[name] = p.parse ? p.parse(raw) : raw;
    }
    if (decl.logModel) c.set('model', String(params[decl.logModel]));
    const query = decl.query ? parseQuery(c, decl.query) : undefined;
    let body: unknown;
    if (decl.body && isJsonBody(decl.body)) {
      const b = decl.body;
      body = b.read
        ? await b.read(c, b.schema)
        : await parseJsonBody(c, b.schema, {
            ...(b.emptyAsObject ? { emptyAsObject: true } : {}),
            ...(b.limit ? { limit: b.limit(c) } : {}),
          });
    }
    return handler(c, { params, query, body } as RouteInput<PS, Q, B>);
  };
  if (auth) app.on(decl.method.toUpperCase(), decl.path, auth, run);
  else app.on(decl.method.toUpperCase(), decl.path, run);
  const list = declared.get(app) ?? [];
  list.push(decl as unknown as RouteDecl);
  declared.set(app, list);
}

/**
 * A response schema whose output type is exactly T (each assignable to the other), so the document
 * cannot describe a shape other than the one the handler's service returns: `typed<AlertView>()(z.object(…))`.
 */
export function typed<T>() {
  return <S extends z.ZodType>(
    schema: S & ([z.output<S>] extends [T] ? ([T] extends [z.output<S>] ? unknown : never) : never),
  ): S => schema;
}
