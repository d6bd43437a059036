import { describe, expect, it } from 'vitest';
import { instantOf, latestSlot, previousSlot } from '../../src/reports/schedule.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const at = (s: string) => Date.parse(s);
const berlin = (cron: string) => ({ cron, timezone: 'Europe/Berlin' });

describe('report slots in a time zone', () => {
  it('keeps 08:00 Berlin time across the change to summer time (2026-03-29)', () => {
    const daily = berlin('0 8 * * *');
    // CET (UTC+1) before, CEST (UTC+2) after: 07:00Z, then 06:00Z.
    expect(iso(latestSlot(daily, at('2026-03-28T12:00:00Z')))).toBe('2026-03-28T07:00:00.000Z');
    expect(iso(latestSlot(daily, at('2026-03-29T05:59:59Z')))).toBe('2026-03-28T07:00:00.000Z');
    expect(iso(latestSlot(daily, at('2026-03-29T06:00:00Z')))).toBe('2026-03-29T06:00:00.000Z');
    expect(iso(previousSlot(daily, at('2026-03-29T06:00:00Z')))).toBe('2026-03-28T07:00:00.000Z');
    // The period between the two is 23 hours long.
    expect(at('2026-03-29T06:00:00Z') - at('2026-03-28T07:00:00Z')).toBe(23 * 3600_000);
  });

  it('has no slot at a wall time the change skips, and one at a wall time that occurs twice', () => {
    const early = berlin('30 2 * * *');
    // 02:30 does not exist on 2026-03-29: the latest slot that day is still the 28th's.
    expect(iso(latestSlot(early, at('2026-03-29T12:00:00Z')))).toBe('2026-03-28T01:30:00.000Z');
    expect(instantOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin')).toBeNull();
    // 02:30 occurs twice on 2026-10-25 (00:30Z in CEST, 01:30Z in CET): one slot, the first.
    expect(iso(latestSlot(early, at('2026-10-25T12:00:00Z')))).toBe('2026-10-25T00:30:00.000Z');
    expect(iso(latestSlot(early, at('2026-10-25T01:45:00Z')))).toBe('2026-10-25T00:30:00.000Z');
  });

  it('after downtime names only the latest missed slot', () => {
    const daily = berlin('0 8 * * *');
    expect(iso(latestSlot(daily, at('2026-11-24T12:00:00Z')))).toBe('2026-11-24T07:00:00.000Z');
    expect(iso(latestSlot(daily, at('2026-11-24T06:59:00Z')))).toBe('2026-11-23T07:00:00.000Z');
  });

  it('reads day fields as node-cron does (weekdays, last day of the month) in other zones', () => {
    expect(
      iso(latestSlot({ cron: '0 8 * * 1', timezone: 'America/New_York' }, at('2026-11-24T12:00:00Z'))),
    ).toBe('2026-11-23T13:00:00.000Z');
    expect(iso(latestSlot({ cron: '0 8 L * *', timezone: 'UTC' }, at('2026-11-24T12:00:00Z')))).toBe(
      '2026-10-31T08:00:00.000Z',
    );
    expect(iso(latestSlot({ cron: '0 8 29 2 *', timezone: 'UTC' }, at('2026-11-24T12:00:00Z')))).toBe(
      '2024-02-29T08:00:00.000Z',
    );
  });
});
