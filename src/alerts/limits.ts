import { ApiError } from '../errors.js';

/**
 * Lengths of what reviewers write, checked by the API's schemas and again by the services, so the web UI
 * (which calls the services directly) and any other front end keep to the same bounds.
 */
export const TEXT_LIMITS = {
  assignee: 100,
  note: 10_000,
  text: 10_000,
  produced_version: 256,
} as const;

/** A 400 naming the field when `value` is longer than its limit. */
export function checkLength(field: keyof typeof TEXT_LIMITS, value: string | null | undefined): void {
  const max = TEXT_LIMITS[field];
  if (typeof value === 'string' && value.length > max) {
    const message = `at most ${max} characters (got ${value.length})`;
    throw new ApiError('bad_request', `${field}: ${message}`, { problems: [{ path: field, message }] });
  }
}
