import cron from 'node-cron';
import { isTimeZone, localParts, offsetAt, wallToInstant } from '../../engine/domain/zone.ts';

export { isTimeZone, serverTimeZone } from '../../engine/domain/zone.ts';

/** A cron expression expanded into the values of each field (node-cron parses it). */
export interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  /** 0 = Sunday … 6 = Saturday. */
  weekdays: Set<number>;
}

/**
 * Parses a 5-field cron expression (6 fields allowed when the seconds field is 0), with
 * node-cron's grammar (ranges, steps, lists, month and weekday names). Throws an Error whose
 * message tells the admin what is wrong. `L`, `W` and `#` are refused: a digest needs none.
 */
export function parseCron(expr: string): CronFields {
  const text = expr.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6)
    throw new Error(
      `"${expr}" is not a cron expression: expected 5 fields (minute hour ` +
        `day-of-month month day-of-week), e.g. "0 9 * * 1-5", got ${parts.length}.`,
    );
  const v = cron.validateDetailed(text);
  if (!v.valid || !v.fields) {
    const why = v.errors
      .map(
        (e) => `${e.field === 'expression' ? '' : `${e.field}: `}${e.message.replace(/\ba invalid\b/, 'an invalid')}`,
      )
      .join('; ');
    throw new Error(`"${expr}" is not a valid cron expression (${why || 'unknown error'}).`);
  }
  const f = v.fields;
  if (parts.length === 6 && !(f.second.length === 1 && f.second[0] === 0))
    throw new Error(
      `"${expr}" has a seconds field; digests run at most once a minute. Use 5 fields, e.g. "0 9 * * 1-5".`,
    );
  const nums = (name: string, list: (number | string)[]): Set<number> => {
    if (list.some((x) => typeof x !== 'number'))
      throw new Error(
        `"${expr}" uses L, W or # in the ${name} field, which digest ` +
          `schedules do not support; use plain values, ranges and steps.`,
      );
    return new Set(list as number[]);
  };
  return {
    minutes: nums('minute', f.minute),
    hours: nums('hour', f.hour),
    days: nums('day-of-month', f.dayOfMonth),
    months: nums('month', f.month),
    weekdays: new Set([...nums('day-of-week', f.dayOfWeek)].map((d) => d % 7)),
  };
}

const DAY = 86_400_000;

/**
 * The first time strictly after `after` that the cron expression names in zone `tz`, or
 * null when it names none within eight years (e.g. "0 9 30 2 *"). Each wall-clock time runs
 * once even when the clock passes it twice.
 */
export function nextRun(fields: CronFields | string, tz: string, after: Date): Date | null {
  const f = typeof fields === 'string' ? parseCron(fields) : fields;
  const from = after.getTime();
  const start = localParts(from, tz);
  const hours = [...f.hours].sort((a, b) => a - b);
  const minutes = [...f.minutes].sort((a, b) => a - b);
  // Walk the zone's calendar days; a local day is at most a few hours off its UTC twin.
  let dayUtc = Date.UTC(start.y, start.mo - 1, start.d);
  for (let i = 0; i < 366 * 8 + 2; i++, dayUtc += DAY) {
    const d = new Date(dayUtc);
    if (!f.months.has(d.getUTCMonth() + 1) || !f.days.has(d.getUTCDate()) || !f.weekdays.has(d.getUTCDay())) continue;
    // Offsets well before and after this local day: equal unless the clock changes near it.
    const before = offsetAt(dayUtc - 14 * 3_600_000, tz);
    const afterOff = offsetAt(dayUtc + DAY + 14 * 3_600_000, tz);
    let best: number | null = null;
    for (const h of hours)
      for (const mi of minutes) {
        const t = wallToInstant(dayUtc + h * 3_600_000 + mi * 60_000, tz, before, afterOff);
        // Without a clock change the instants rise with the wall time: the first one wins.
        if (t > from && before === afterOff) return new Date(t);
        if (t > from && (best === null || t < best)) best = t;
      }
    if (best !== null) return new Date(best);
  }
  return null;
}

/**
 * Checks a digest schedule as `project set` needs it: null when fine, otherwise a sentence
 * saying what is wrong and how to write it.
 */
export function validateSchedule(expr: string, tz: string): string | null {
  if (!isTimeZone(tz))
    return `"${tz}" is not a time zone I know. Use an IANA name such as Europe/Berlin or America/New_York.`;
  try {
    const f = parseCron(expr);
    if (!nextRun(f, tz, new Date()))
      return `"${expr}" never happens (no such date in the coming years); check the day and month fields.`;
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
