import type { Context } from 'hono';
import type { z } from 'zod';
import { type BodyLimit, readBody } from './body-limit.js';
import type { AppEnv } from './context.js';
import { ApiError, type FieldProblem, formatPath } from './errors.js';

function problems(error: z.ZodError, prefix: string): FieldProblem[] {
  return error.issues.flatMap((issue) =>
    // Name each unknown key, instead of reporting "(body)" for an unknown query parameter.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: formatPath(prefix, [...issue.path, key]),
          message: 'unknown field',
        }))
      : [
          {
            path: formatPath(prefix, issue.path) || prefix || '(body)',
            message: issue.message.replace(/^Invalid input: /, ''),
          },
        ],
  );
}

/** Validates query parameters; a bad one is a 400 naming the parameter. */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const result = schema.safeParse(c.req.query());
  if (result.success) return result.data;
  const list = problems(result.error, '');
  throw new ApiError('bad_request', list.map((p) => `${p.path}: ${p.message}`).join('; '), {
    problems: list,
  });
}

/**
 * Reads and validates a JSON body; unparseable JSON and schema problems are 400s naming the field.
 * An empty body is validated as `{}` when `emptyAsObject` is set (for endpoints whose body is optional).
 * The body is read within `limit` (default `server.jsonBodyLimit`): a larger one is a 413, never buffered.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context<AppEnv>,
  schema: S,
  options: { emptyAsObject?: boolean; limit?: BodyLimit } = {},
): Promise<z.infer<S>> {
  let body: unknown;
  const limit = options.limit ?? {
    bytes: c.get('deps').config.server.jsonBodyLimit,
    name: 'JSON body limit (server.jsonBodyLimit)',
  };
  const text = await readBody(c.req.raw, limit);
  if (text.trim() === '' && options.emptyAsObject) body = {};
  else {
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError('invalid_body', 'body must be valid JSON');
    }
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const list = problems(result.error, '');
  throw new ApiError('invalid_body', list.map((p) => `${p.path}: ${p.message}`).join('; '), {
    problems: list,
  });
}
