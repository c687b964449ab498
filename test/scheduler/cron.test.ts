import { describe, expect, it } from 'vitest';
import { nextRun, parseCron, validateSchedule } from '../../bot/scheduler/cron.ts';

/** The next `n` runs after `from`, as ISO strings. */
function runs(expr: string, tz: string, from: string, n: number): string[] {
  const out: string[] = [];
  let t = new Date(from);
  for (let i = 0; i < n; i++) {
    const next = nextRun(expr, tz, t);
    if (!next) break;
    out.push(next.toISOString());
    t = next;
  }
  return out;
}

describe('next run of a cron expression in a time zone', () => {
  it('weekdays 09:00 Berlin keeps 09:00 local across the spring DST change (08:00Z → 07:00Z)', () => {
    // 2026-03-29 (Sunday): Europe/Berlin goes from +01:00 to +02:00.
    expect(runs('0 9 * * 1-5', 'Europe/Berlin', '2026-03-26T12:00:00Z', 3)).toEqual([
      '2026-03-27T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
      '2026-03-31T07:00:00.000Z',
    ]);
  });

  it('keeps 09:00 local across the autumn change in New York (13:00Z → 14:00Z)', () => {
    // 2026-11-01 (Sunday): America/New_York goes from -04:00 to -05:00.
    expect(runs('0 9 * * *', 'America/New_York', '2026-10-30T20:00:00Z', 4)).toEqual([
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
      '2026-11-03T14:00:00.000Z',
    ]);
  });

  it('a time skipped by the clock runs just after the gap, and a time passed twice runs once', () => {
    // Berlin 2026-03-29: 02:00 → 03:00, so 02:30 does not exist; it runs at 03:30 CEST (01:30Z).
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    // Berlin 2026-10-25: 03:00 → 02:00, so 02:30 happens twice; the first one only.
    expect(runs('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('steps, lists, names, and a date that comes every four years', () => {
    expect(runs('*/20 9-10 * * mon', 'UTC', '2026-11-23T09:30:00Z', 4)).toEqual([
      '2026-11-23T09:40:00.000Z',
      '2026-11-23T10:00:00.000Z',
      '2026-11-23T10:20:00.000Z',
      '2026-11-23T10:40:00.000Z',
    ]);
    expect(runs('0 12 29 feb *', 'Asia/Tokyo', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2028-02-29T03:00:00.000Z',
      '2032-02-29T03:00:00.000Z',
    ]);
    expect(parseCron('0 9 * * 7').weekdays).toEqual(new Set([0]));
  });

  it('refuses what is not a schedule with a sentence saying why', () => {
    expect(validateSchedule('0 9 * * 1-5', 'Europe/Berlin')).toBeNull();
    expect(validateSchedule('0 9 * *', 'UTC')).toMatch(/expected 5 fields/);
    expect(validateSchedule('61 9 * * *', 'UTC')).toMatch(/minute: 61 is an invalid expression/);
    expect(validateSchedule('0 9 * * *', 'Mars/Olympus')).toMatch(/"Mars\/Olympus" is not a time zone/);
    expect(validateSchedule('0 9 L * *', 'UTC')).toMatch(/L, W or #/);
    expect(validateSchedule('*/5 0 9 * * *', 'UTC')).toMatch(/seconds field/);
    expect(validateSchedule('0 9 30 2 *', 'UTC')).toMatch(/impossible day of month/);
  });
});
