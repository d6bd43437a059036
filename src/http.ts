import type { Context } from 'hono';
import type { z } from 'zod';
import { ApiError, type FieldProblem } from './errors.js';
import { formatPath } from './ingest/record.js';

function problems(error: z.ZodError, prefix: string): FieldProblem[] {
  return error.issues.map((issue) => ({
    path: formatPath(prefix, issue.path) || prefix || '(body)',
    message: issue.message.replace(/^Invalid input: /, ''),
  }));
}

/** Validates query parameters; a bad one is a 400 naming the parameter. */
export function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const result = schema.safeParse(c.req.query());
  if (result.success) return result.data;
  const list = problems(result.error, '');
  throw new ApiError('bad_request', list.map((p) => `${p.path}: ${p.message}`).join('; '), { problems: list });
}

/** Reads and validates a JSON body; unparseable JSON and schema problems are 400s naming the field. */
export async function parseJsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError('invalid_body', 'body must be valid JSON with content-type application/json');
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const list = problems(result.error, '');
  throw new ApiError('invalid_body', list.map((p) => `${p.path}: ${p.message}`).join('; '), { problems: list });
}
