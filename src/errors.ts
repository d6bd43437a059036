import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ErrorCode =
  | 'bad_request'
  | 'invalid_body'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'precondition_failed'
  | 'precondition_required'
  | 'invalid_transition'
  | 'stale_version'
  | 'confirmation_required'
  | 'invalid_input'
  | 'deadline_exceeded'
  | 'unavailable'
  | 'internal';

/** A problem with one field of the input, named by its path (`records[3].features.age`). */
export interface FieldProblem {
  path: string;
  message: string;
}

export function statusOf(code: ErrorCode): ContentfulStatusCode {
  switch (code) {
    case 'bad_request':
    case 'invalid_body':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'conflict':
    case 'invalid_transition':
    case 'stale_version':
    case 'confirmation_required':
      return 409;
    case 'precondition_required':
      return 428;
    case 'precondition_failed':
      return 412;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'invalid_input':
      return 422;
    case 'unavailable':
      return 503;
    case 'deadline_exceeded':
      return 504;
    case 'internal':
      return 500;
  }
}

/** The one error type routes throw; onError turns it into the single envelope every client sees. */
export class ApiError extends HTTPException {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(statusOf(code), { message });
    this.name = 'ApiError';
  }
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; details?: unknown; requestId: string };
}

export function errorBody(err: ApiError, requestId: string): ErrorEnvelope {
  return {
    error: {
      code: err.code,
      message: err.message,
      ...(err.details === undefined ? {} : { details: err.details }),
      requestId,
    },
  };
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Renders a path such as records[3].features["petal width"]. */
export function formatPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (IDENT.test(String(key))) out += out ? `.${String(key)}` : String(key);
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
