import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { assertSafeName, SAFE_NAME } from '../../src/serving/names.js';

describe('safe model names and versions', () => {
  it.each(['weather', '1', '2026.11-rc_2', 'A', 'a'.repeat(64), 'v1..2'])('accepts %j', (name) => {
    expect(SAFE_NAME.test(name)).toBe(true);
    expect(() => assertSafeName('model', name)).not.toThrow();
  });

  it.each([
    '',
    '.',
    '..',
    '../etc',
    'a/b',
    'a\\b',
    '.hidden',
    '-flag',
    'a b',
    'a'.repeat(65),
    'wéather',
    'a\n',
  ])('refuses %j', (name) => {
    expect(SAFE_NAME.test(name)).toBe(false);
    expect(() => assertSafeName('version', name)).toThrow(ApiError);
  });

  it('names the field in a 400', () => {
    let caught: unknown;
    try {
      assertSafeName('version', '../1');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ApiError);
    const err = caught as ApiError;
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/^version "..\/1": must be 1–64 letters/);
    expect(err.details).toEqual({
      problems: [{ path: 'version', message: expect.stringContaining('letters') }],
    });
  });

  it('refuses a value that is not a string', () => {
    expect(() => assertSafeName('model', 3)).toThrow(/^model: expected a string, got number/);
    expect(() => assertSafeName('model', undefined)).toThrow(ApiError);
  });
});
