import { describe, expect, it } from 'vitest';
import { parseWindow, windowState, windowText } from '../../../engine/domain/window.ts';
import { parseLocalDateTime } from '../../../engine/domain/zone.ts';

describe('copy windows', () => {
  it('reads "22:00-06:00" and refuses what is not a window', () => {
    expect(parseWindow('22:00-06:00')).toEqual({ open: 22 * 60, close: 6 * 60 });
    expect(windowText(parseWindow(' 8:30 - 17:00 ') as never)).toBe('08:30-17:00');
    for (const bad of ['22-06', '22:00', '25:00-06:00', '22:00-22:00', 'tonight'])
      expect(typeof parseWindow(bad)).toBe('string');
  });

  it("is open across midnight in the project's zone, and says when that changes", () => {
    const w = parseWindow('22:00-06:00') as never;
    // 20:30 UTC is 21:30 in Berlin (winter): closed, opens at 22:00 Berlin = 21:00 UTC.
    const closed = windowState(w, 'Europe/Berlin', new Date('2026-12-05T20:30:00Z'));
    expect(closed).toEqual({ open: false, next: new Date('2026-12-05T21:00:00Z') });
    // 03:00 Berlin the next morning: open, closes at 06:00 Berlin = 05:00 UTC.
    expect(windowState(w, 'Europe/Berlin', new Date('2026-12-06T02:00:00Z'))).toEqual({
      open: true,
      next: new Date('2026-12-06T05:00:00Z'),
    });
    // A day-time window.
    const day = parseWindow('09:00-17:00') as never;
    expect(windowState(day, 'UTC', new Date('2026-12-05T18:00:00Z'))).toEqual({
      open: false,
      next: new Date('2026-12-06T09:00:00Z'),
    });
  });

  it('keeps its wall-clock hours across a DST change', () => {
    const w = parseWindow('22:00-06:00') as never;
    // Europe/Berlin goes from +2 to +1 on 2026-10-25 at 03:00: the window closes at 06:00 local = 05:00 UTC.
    expect(windowState(w, 'Europe/Berlin', new Date('2026-10-24T23:00:00Z'))).toEqual({
      open: true,
      next: new Date('2026-10-25T05:00:00Z'),
    });
  });

  it('reads a local date and time in a zone', () => {
    expect(parseLocalDateTime('2026-12-05 22:00', 'Europe/Berlin')).toEqual(new Date('2026-12-05T21:00:00Z'));
    expect(parseLocalDateTime('2026-07-05T22:00', 'Europe/Berlin')).toEqual(new Date('2026-07-05T20:00:00Z'));
    expect(parseLocalDateTime('2026-02-30 22:00', 'UTC')).toBeUndefined();
    expect(parseLocalDateTime('tomorrow', 'UTC')).toBeUndefined();
  });
});
