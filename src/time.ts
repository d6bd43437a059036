import { z } from 'zod';

/** A query-string time: RFC 3339 or epoch milliseconds, parsed to ms. */
export const timeParam = z.string().transform((v, ctx) => {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `expected RFC 3339 time or epoch milliseconds, got "${v}"` });
    return z.NEVER;
  }
  return ms;
});

/** A time in a JSON body: RFC 3339 string or epoch milliseconds, parsed to ms. */
export const bodyTime = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `expected RFC 3339 time or epoch milliseconds, got "${v}"` });
    return z.NEVER;
  }
  return ms;
});
