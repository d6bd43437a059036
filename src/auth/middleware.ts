import type { MiddlewareHandler } from 'hono';
import type { Role } from '../config/index.js';
import type { AppEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { isLoopback, tokenTable } from './tokens.js';

const OPEN_ACTOR = { name: 'anonymous', role: 'admin' as const };

/**
 * Lets a request through when its bearer token's role is one of `roles` (admin always passes).
 * With no tokens configured the API is open and the actor is "anonymous".
 */
export function allow(...roles: Role[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const table = tokenTable(c.get('deps').config);
    if (table.open) {
      c.set('actor', OPEN_ACTOR);
      return next();
    }
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match?.[1]) {
      c.header('www-authenticate', 'Bearer realm="driftwatch"');
      throw new ApiError(
        'unauthorized',
        header ? 'authorization header must be "Bearer <token>"' : 'a bearer token is required',
      );
    }
    const actor = table.authenticate(match[1]);
    if (!actor) {
      c.header('www-authenticate', 'Bearer realm="driftwatch", error="invalid_token"');
      throw new ApiError('unauthorized', 'the bearer token is not valid');
    }
    if (actor.role !== 'admin' && !roles.includes(actor.role)) {
      throw new ApiError(
        'forbidden',
        `role ${actor.role} may not do this; it needs ${[...roles, 'admin'].join(' or ')}`,
      );
    }
    c.set('actor', actor);
    return next();
  };
}

/** Read access: reviewers and admins. */
export const canRead = () => allow('reviewer');

/** The peer address of the request (node-server's socket), or null when there is none (app.request in tests). */
export function remoteAddress(c: { env: unknown }): string | null {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? null;
}

const LOOPBACK_SCRAPER = { name: 'loopback', role: 'metrics' as const };

/**
 * GET /metrics: open when the API is open; with tokens configured, a metrics or admin token, or no
 * credential at all from a loopback peer while `metrics.loopbackOpen` (the default) holds. A credential
 * that is sent is always checked, loopback or not.
 */
export function allowMetrics(): MiddlewareHandler<AppEnv> {
  const checkToken = allow('metrics');
  return async (c, next) => {
    const { config } = c.get('deps');
    if (!tokenTable(config).open && c.req.header('authorization') === undefined) {
      const peer = remoteAddress(c);
      if (config.metrics.loopbackOpen && peer !== null && isLoopback(peer)) {
        c.set('actor', LOOPBACK_SCRAPER);
        return next();
      }
    }
    return checkToken(c, next);
  };
}
