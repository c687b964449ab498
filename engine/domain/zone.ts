/**
 * Wall-clock time in an IANA time zone, without a time-zone library: the runtime's Intl
 * gives the parts of an instant in a zone, and an instant is found for a wall time from the
 * zone's offset around it.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** True when the runtime knows the IANA zone. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The zone the server runs in: the default of a project without `--tz`. */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** The zone a project's times are set and shown in: its own (`project set --tz`), else the server's. */
export function projectZone(project: { digestTz: string | null }): string {
  return project.digestTz ?? serverTimeZone();
}

/** Wall-clock parts of an instant in a zone. */
export function localParts(
  t: number,
  tz: string,
): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  const o: Partial<Record<Intl.DateTimeFormatPartTypes, number>> = {};
  for (const p of formatter(tz).formatToParts(new Date(t))) if (p.type !== 'literal') o[p.type] = Number(p.value);
  // The formatter asks for every one of these parts; a missing one would be a bug of the runtime's Intl.
  const part = (k: Intl.DateTimeFormatPartTypes): number => {
    const v = o[k];
    if (v === undefined) throw new Error(`Intl gave no ${k} for ${tz}`);
    return v;
  };
  const h = part('hour');
  return {
    y: part('year'),
    mo: part('month'),
    d: part('day'),
    h: h === 24 ? 0 : h,
    mi: part('minute'),
    s: part('second'),
  };
}

/** Offset of the zone from UTC at an instant, in ms (Europe/Berlin in winter: +3 600 000). */
export function offsetAt(t: number, tz: string): number {
  const p = localParts(t, tz);
  return Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant a wall-clock time of a zone names (`wall`: the wall time read as if it were
 * UTC, in ms). When the clock passes it twice (autumn, DST ends) the first; when it skips
 * it (spring, DST starts) the instant the same distance after the gap starts (02:30 on a
 * day that jumps 02:00 → 03:00 is 03:30), so a planned time is moved, never lost.
 * `before`/`after`: the zone's offsets well before and after that time (computed when absent).
 */
export function wallToInstant(
  wall: number,
  tz: string,
  before = offsetAt(wall - 14 * 3_600_000, tz),
  after = offsetAt(wall + 14 * 3_600_000, tz),
): number {
  if (before === after) return wall - before;
  const ok = (t: number) => offsetAt(t, tz) === wall - t;
  const candidates = [wall - before, wall - after].filter(ok).sort((a, b) => a - b);
  return candidates[0] ?? wall - before;
}

/**
 * Reads a local date and time as admins type it (`2026-12-05 22:00`, `2026-12-05T22:00`)
 * in a zone; undefined when it is not one.
 */
export function parseLocalDateTime(text: string, tz: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const [y = NaN, mo = NaN, d = NaN, h = NaN, mi = NaN] = m.slice(1).map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const check = new Date(wall);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59)
    return undefined;
  return new Date(wallToInstant(wall, tz));
}
