import { z } from 'zod';
import { type FieldProblem, formatPath } from '../errors.js';
import type { NewRecord } from '../store/index.js';

// The envelope one inference service sends per request. Feature *values* are deliberately loose:
// a value the baseline does not expect is drift or a data-quality signal, never a reason to drop data.

/** Model names appear in URLs and metric labels, so they stay simple. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
export const MODEL_NAME_RULE =
  'may contain only letters, digits, ".", "_", ":" and "-", starting with a letter or digit';

const EARLIEST_MS = 1e11; // 1973-03-03: anything smaller is almost certainly epoch *seconds*.
// 9999-12-31T23:59:59.999Z, the last instant an RFC 3339 string can name; beyond ±8.64e15 a Date cannot even
// be formatted, so one such record would break every listing that shows its time.
const LATEST_MS = 253_402_300_799_999;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Date.parse rolls 2026-02-30 over to March 2; a day the month does not have is a client bug, not a date. */
function dayExists(v: string): boolean {
  // Read digit by digit (RFC3339 has checked the yyyy-mm-dd shape): this runs for every record's timestamp.
  const digit = (i: number) => v.charCodeAt(i) - 48;
  const year = digit(0) * 1000 + digit(1) * 100 + digit(2) * 10 + digit(3);
  const month = digit(5) * 10 + digit(6);
  const day = digit(8) * 10 + digit(9);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[month - 1];
  return days !== undefined && day >= 1 && day <= days;
}

const identifier = (what: string) =>
  z
    .string({ error: `expected ${what} as a string` })
    .min(1, { error: 'must not be empty' })
    .max(256, { error: 'must be at most 256 characters' });

/** Event time in ms from a record's `timestamp`, or the reason it is not one. */
export function eventTime(v: number | string): number | string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < EARLIEST_MS)
      return 'epoch timestamps must be milliseconds (this looks like seconds)';
    if (v > LATEST_MS) return 'epoch milliseconds out of range (after year 9999)';
    return Math.round(v);
  }
  const ms = RFC3339.test(v) && dayExists(v) ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms)
    ? `expected RFC 3339 timestamp such as 2026-11-24T10:00:00Z, got "${v.slice(0, 40)}"`
    : ms;
}

const timestamp = z
  .union([z.number(), z.string()], { error: 'expected RFC 3339 string or epoch milliseconds' })
  .transform((v, ctx) => {
    const ms = eventTime(v);
    if (typeof ms === 'string') {
      ctx.addIssue({ code: 'custom', message: ms });
      return z.NEVER;
    }
    return ms;
  });

const featureValue = z.union([z.number(), z.string(), z.boolean(), z.null()], {
  error: 'expected number, string, boolean or null',
});

const prediction = z.union([z.number(), z.string(), z.boolean(), z.record(z.string(), z.number())], {
  error: 'expected number, string, boolean, or an object of numbers (class probabilities)',
});

export const recordSchema = z.strictObject({
  model: identifier('model name').regex(MODEL_NAME, { error: MODEL_NAME_RULE }),
  model_version: identifier('model version').optional(),
  request_id: identifier('request id'),
  timestamp: timestamp.optional(),
  features: z.record(z.string().min(1, { error: 'feature names must not be empty' }), featureValue, {
    error: 'expected object',
  }),
  prediction: prediction.optional(),
  label: z
    .union([z.number(), z.string(), z.boolean(), z.null()], {
      error: 'expected number, string, boolean or null',
    })
    .optional(),
  latency_ms: z.number({ error: 'expected number' }).nonnegative({ error: 'must be ≥ 0' }).optional(),
  status: z.enum(['ok', 'error'], { error: 'expected "ok" or "error"' }).optional(),
  error: z.string({ error: 'expected string' }).optional(),
  tags: z
    .record(z.string(), z.string({ error: 'tag values must be strings' }), {
      error: 'expected object of strings',
    })
    .optional(),
});

export type RecordInput = z.input<typeof recordSchema>;

/** A validated record, ready to store. JSON-valued fields are kept as parsed values. */
export type IngestRecord = NewRecord;

export { formatPath } from '../errors.js';

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = raw;
  for (const key of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function typeName(v: unknown): string {
  // JSON.parse turns 1e999 into Infinity, which is a number to typeof but not to the schema.
  if (typeof v === 'number' && !Number.isFinite(v)) return 'a number out of range';
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

// A "__proto__" key survives JSON.parse but not copying into a plain object, so it would vanish silently.
const MAPS = ['features', 'prediction', 'tags'] as const;

function reservedKeys(raw: Record<string, unknown>, prefix: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const field of MAPS) {
    const value = raw[field];
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      problems.push({
        path: formatPath(prefix, [field, '__proto__']),
        message: 'the name "__proto__" is not allowed',
      });
    }
  }
  return problems;
}

function problemsOf(error: z.ZodError, raw: unknown, prefix: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({ path: formatPath(prefix, [...issue.path, key]), message: 'unknown field' });
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      // The record's own error text ("expected object") would hide why the key itself was refused.
      const inner = issue.issues.map((i) => i.message).join('; ');
      problems.push({ path: formatPath(prefix, issue.path), message: inner || 'invalid key' });
      continue;
    }
    let message = issue.message.replace(/^Invalid input: /, '');
    if (issue.code === 'invalid_type' || issue.code === 'invalid_union') {
      const value = valueAt(raw, issue.path);
      message =
        value === undefined
          ? 'required'
          : `${message.replace(/, received \w+$/, '')}, got ${typeName(value)}`;
    }
    problems.push({ path: formatPath(prefix, issue.path), message });
  }
  return problems;
}

export type Validation = { ok: true; record: IngestRecord } | { ok: false; problems: FieldProblem[] };

/** Checks one record's envelope; `prefix` names it in problem paths (records[3], line[4]). */
export function validateRecord(raw: unknown, prefix: string, receivedAt: number): Validation {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: [{ path: prefix, message: `expected object, got ${typeName(raw)}` }] };
  }
  const result = recordSchema.safeParse(raw);
  const reserved = reservedKeys(raw as Record<string, unknown>, prefix);
  if (!result.success)
    return { ok: false, problems: [...problemsOf(result.error, raw, prefix), ...reserved] };
  if (reserved.length > 0) return { ok: false, problems: reserved };
  const r = result.data;
  return {
    ok: true,
    record: {
      model: r.model,
      modelVersion: r.model_version ?? '',
      requestId: r.request_id,
      ts: r.timestamp ?? receivedAt,
      features: r.features,
      prediction: r.prediction ?? null,
      label: r.label ?? null,
      latencyMs: r.latency_ms ?? null,
      status: r.status ?? null,
      error: r.error ?? null,
      tags: r.tags ?? null,
      featureCount: Object.keys(r.features).length,
    },
  };
}
