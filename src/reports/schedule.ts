import cron from 'node-cron';

// When a report schedule is due: the slots of a five-field cron expression read in an IANA time zone, on
// any clock (the job's `now`, a test's fixed time), where node-cron itself only looks ahead of the real
// clock. Which wall times match is node-cron's own rule (its matcher decides, so L, #, names and ranges
// mean the same as for every other job); the walk over candidate times and the wall-time → instant
// conversion are ours:
//  - a wall time that a DST change skips (02:30 on 2026-03-29 in Europe/Berlin) does not occur, so it is
//    no slot that day (as node-cron, which matches on wall time, never fires it);
//  - a wall time that occurs twice (02:30 on 2026-10-25) is one slot, at its first occurrence.

const MINUTE = 60_000;
/** How far back a slot is looked for: a yearly schedule, and leap days (29 Feb) up to 8 years apart. */
const MAX_DAYS_BACK = 366 * 8 + 2;

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall time in `timeZone` at instant `t`. */
export function wallTime(t: number, timeZone: string): WallTime & { second: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 0,
    day: parts.day ?? 0,
    hour: parts.hour ?? 0,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
  };
}

/** Minutes `timeZone` is ahead of UTC at instant `t`. */
function offsetMinutes(t: number, timeZone: string): number {
  const w = wallTime(t, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(t / 1000) * 1000) / MINUTE);
}

/**
 * The instant a wall time in `timeZone` occurs at: the first one when it occurs twice (a DST change
 * back), null when it does not occur (a DST change forward skips it).
 */
export function instantOf(w: WallTime, timeZone: string): number | null {
  const naive = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);
  // The offsets in force half a day either side cover any transition near this wall time.
  const candidates = new Set([
    naive - offsetMinutes(naive - 12 * 3600_000, timeZone) * MINUTE,
    naive - offsetMinutes(naive + 12 * 3600_000, timeZone) * MINUTE,
  ]);
  const hits = [...candidates].filter((t) => {
    const back = wallTime(t, timeZone);
    return (
      back.year === w.year &&
      back.month === w.month &&
      back.day === w.day &&
      back.hour === w.hour &&
      back.minute === w.minute
    );
  });
  return hits.length === 0 ? null : Math.min(...hits);
}

export interface CronSchedule {
  cron: string;
  timezone: string;
}

/**
 * The latest slot of the schedule at or before `now` (ms), or null when none falls within the last eight
 * years. After downtime this is the one slot to catch up on, however many were missed.
 */
export function latestSlot(s: CronSchedule, now: number): number | null {
  return slotAtOrBefore(s, now);
}

/** The slot before `slot` (the start of the period a report "since the last one" covers). */
export function previousSlot(s: CronSchedule, slot: number): number | null {
  return slotAtOrBefore(s, slot - MINUTE);
}

function slotAtOrBefore(s: CronSchedule, now: number): number | null {
  const fields = cron.parse(s.cron);
  const hours = [...fields.hour].sort((a, b) => b - a);
  const minutes = [...fields.minute].sort((a, b) => b - a);
  // node-cron's matcher for the day fields (L, #, weekday names); a task is created but never started.
  const task = cron.createTask(s.cron, () => undefined, { timezone: s.timezone });
  try {
    const today = wallTime(now, s.timezone);
    // Walk local calendar days backwards from today.
    const day = new Date(Date.UTC(today.year, today.month - 1, today.day));
    for (let i = 0; i < MAX_DAYS_BACK; i++, day.setUTCDate(day.getUTCDate() - 1)) {
      const date = { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate() };
      if (!fields.month.includes(date.month)) continue;
      for (const hour of hours) {
        for (const minute of minutes) {
          const t = instantOf({ ...date, hour, minute }, s.timezone);
          if (t === null || t > now) continue;
          // The first occurrence of a repeated wall time is the slot; match() checks the day fields.
          if (task.match(new Date(t))) return t;
        }
      }
    }
    return null;
  } finally {
    void task.destroy();
  }
}
