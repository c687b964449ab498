import { localParts, projectZone, wallToInstant } from './zone.ts';

/**
 * A project's copy window: the daily hours, in the project's time zone, when passes may
 * copy (`22:00-06:00` runs over midnight). Outside it a pass pauses at a checkpoint and
 * queued mailboxes wait for it to open.
 */
export interface CopyWindow {
  /** Minutes after local midnight when the window opens. */
  open: number;
  /** Minutes after local midnight when it closes (before `open`: the next day). */
  close: number;
}

const HHMM = /^([01]?\d|2[0-3]):([0-5]\d)$/;

/** `"22:00-06:00"` → the window; a string saying what is wrong otherwise. */
export function parseWindow(text: string): CopyWindow | string {
  const parts = text.trim().split(/\s*[-–]\s*/);
  const [open, close] = parts.map((p) => {
    const [, hh, mm] = HHMM.exec(p) ?? [];
    return hh && mm ? Number(hh) * 60 + Number(mm) : undefined;
  });
  if (parts.length !== 2 || open === undefined || close === undefined)
    return (
      `"${text}" is not a window: expected two times of day, ` +
      `e.g. "22:00-06:00" (it may run over midnight), or off.`
    );
  if (open === close)
    return `"${text}" opens and closes at the same time: give two different times, or off for no window.`;
  return { open, close };
}

/** The window as stored and shown: `22:00-06:00`. */
export function windowText(w: CopyWindow): string {
  return `${hhmm(w.open)}-${hhmm(w.close)}`;
}

/** `22:00`. */
export function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** Whether copying may run now, and when that changes: the next closing while open, the next opening while closed. */
export interface WindowState {
  open: boolean;
  /** The next instant the window opens (while closed) or closes (while open). */
  next: Date;
}

/** Where `now` falls in the window, read in zone `tz`. */
export function windowState(w: CopyWindow, tz: string, now: Date): WindowState {
  const p = localParts(now.getTime(), tz);
  const m = p.h * 60 + p.mi;
  const open = w.open < w.close ? m >= w.open && m < w.close : m >= w.open || m < w.close;
  return { open, next: nextWallTime(open ? w.close : w.open, tz, now) };
}

/** The first instant after `now` when the clock of zone `tz` shows `minutes` after midnight. */
export function nextWallTime(minutes: number, tz: string, now: Date): Date {
  const p = localParts(now.getTime(), tz);
  for (let day = 0; day < 3; day++) {
    const t = wallToInstant(Date.UTC(p.y, p.mo - 1, p.d + day, Math.floor(minutes / 60), minutes % 60), tz);
    if (t > now.getTime()) return new Date(t);
  }
  // Unreachable: a wall time comes back within two days.
  return new Date(now.getTime() + 86_400_000);
}

/** The window stored in a project's settings (`window` of its options), when there is one that reads. */
export function windowOf(stored: string | undefined): CopyWindow | undefined {
  if (!stored) return undefined;
  const w = parseWindow(stored);
  return typeof w === 'string' ? undefined : w;
}

/**
 * Where `now` falls in a project's copy window (its options' `window`, read in the project's zone); undefined without
 * one.
 */
export function projectWindowState(
  project: { options: string; digestTz: string | null },
  now: Date,
): WindowState | undefined {
  let stored: unknown;
  try {
    stored = (JSON.parse(project.options || '{}') as { window?: unknown }).window;
  } catch {
    return undefined;
  }
  const w = typeof stored === 'string' ? windowOf(stored) : undefined;
  return w ? windowState(w, projectZone(project), now) : undefined;
}
