import { ApiError } from '../errors.js';

// Model names and versions become directories (models/<name>/<version>/), so they are kept to one safe
// path segment: no separators, no leading dot (so never "." or ".."), at most 64 characters.

export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SAFE_NAME_RULE =
  'must be 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit';

export type NameKind = 'model' | 'version';

/** Why `value` is not a safe name, or undefined when it is one. */
export function safeNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a string, got ${value === null ? 'null' : typeof value}`;
  return SAFE_NAME.test(value) ? undefined : SAFE_NAME_RULE;
}

/** Refuses a model name or version that is not one safe path segment: a 400 naming the field. */
export function assertSafeName(kind: NameKind, value: unknown): asserts value is string {
  const problem = safeNameProblem(value);
  if (problem === undefined) return;
  const shown = typeof value === 'string' ? ` "${value.slice(0, 80)}"` : '';
  throw new ApiError('bad_request', `${kind}${shown}: ${problem}`, {
    problems: [{ path: kind, message: problem }],
  });
}
