/** Human figures: 1.2 MB, 3 min 4 s, 1,234. Pure, shared by every card. */
export function formatBytes(n: number | bigint): string {
  let v = Number(n);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** A duration in words, coarse: `45 s`, `3 min 4 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
  const d = Math.floor(h / 24);
  return `${d} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** A count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1 mailbox` / `3 mailboxes`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/**
 * A timestamp as people read it: `2026-11-25 09:00 UTC`, or with a time zone (IANA name)
 * other than UTC, that zone's time first and UTC after it:
 * `2026-11-25 10:00 Europe/Berlin (09:00 UTC)` (the UTC date too when it differs). An
 * unknown zone falls back to UTC alone.
 */
export function formatTime(d: Date, timeZone?: string): string {
  const utc = d.toISOString().slice(0, 16).replace('T', ' ');
  const local = timeZone && !/^(utc|etc\/utc|gmt|etc\/gmt|z)$/i.test(timeZone) ? zoned(d, timeZone) : undefined;
  if (!local || local === utc) return `${utc} UTC`;
  return `${local} ${timeZone} (${local.slice(0, 10) === utc.slice(0, 10) ? utc.slice(11) : utc} UTC)`;
}

/** The time of day of an instant in a time zone, `22:00` (UTC for a zone Intl does not know). */
export function formatClock(d: Date, timeZone?: string): string {
  return ((timeZone && zoned(d, timeZone)) || d.toISOString().slice(0, 16).replace('T', ' ')).slice(11);
}

/** `YYYY-MM-DD HH:MM` of an instant in a time zone; undefined for a zone Intl does not know. */
function zoned(d: Date, timeZone: string): string | undefined {
  try {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      })
        .formatToParts(d)
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  } catch {
    return undefined;
  }
}
