import { z } from 'zod';

// 0001-01-01 … 9999-12-31: what an RFC 3339 string can name and a Date can always print.
const EARLIEST = -62_135_596_800_000;
const LATEST = 253_402_300_799_999;

function toMs(v: string | number): number {
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  return Number.isFinite(ms) && ms >= EARLIEST && ms <= LATEST ? ms : Number.NaN;
}

/** A query-string time: RFC 3339 or epoch milliseconds, parsed to ms. */
export const timeParam = z.string().transform((v, ctx) => {
  const ms = toMs(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected RFC 3339 time or epoch milliseconds (years 1–9999), got "${v}"`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A time in a JSON body: RFC 3339 string or epoch milliseconds, parsed to ms. */
export const bodyTime = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = toMs(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected RFC 3339 time or epoch milliseconds (years 1–9999), got "${v}"`,
    });
    return z.NEVER;
  }
  return ms;
});
