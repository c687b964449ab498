import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Db } from './db.ts';

/**
 * Why the database cannot be written: `full` (SQLITE_FULL: no space left on the disk that
 * holds it, or a size limit), `unwritable` (an I/O error, a read-only file or disk, a
 * file that cannot be opened).
 */
export type DbFault = 'full' | 'unwritable';

/** SQLite's result codes (https://sqlite.org/rescode.html) that mean the database cannot take writes. */
const FAULTS: [RegExp, DbFault][] = [
  [/^SQLITE_FULL\b/, 'full'],
  [/^SQLITE_(IOERR|READONLY|CANTOPEN)(_|$)/, 'unwritable'],
];

/**
 * The database fault an error stands for, if any. Looks through the shapes SQLite errors
 * take on the way up: better-sqlite3's `SqliteError` (`code: 'SQLITE_FULL'`), Prisma's
 * request errors carrying the same code, a driver-adapter error's original code, a `cause`.
 */
export function dbFaultOf(e: unknown, depth = 0): DbFault | undefined {
  if (!e || typeof e !== 'object' || depth > 4) return undefined;
  const o = e as {
    code?: unknown;
    cause?: unknown;
    meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } };
    message?: unknown;
  };
  const codes = [o.code, o.meta?.driverAdapterError?.cause?.originalCode].filter(
    (c): c is string => typeof c === 'string',
  );
  for (const c of codes) for (const [re, fault] of FAULTS) if (re.test(c)) return fault;
  if (typeof o.message === 'string' && /database or disk is full/.test(o.message)) return 'full';
  return dbFaultOf(o.cause, depth + 1);
}

/** A disk with less free space than this counts as full (a few SQLite pages and WAL frames). */
export const MIN_FREE_BYTES = 64 * 1024;

/** The result of a health check of the database. */
export type DbHealth = { ok: true } | { ok: false; fault: DbFault; detail: string };

/**
 * Checks that the database can be written now: the disk holding the file has space left,
 * and a small write commits (this process's row of HealthProbe). Reads can keep working
 * on a full disk, so a read alone would say healthy while every change fails. `file` is
 * SQLite's database file; without it (PostgreSQL, on another host) only the write tells.
 */
export async function checkDatabase(
  db: Db,
  file: string | undefined,
  owner: string,
  now = new Date(),
): Promise<DbHealth> {
  if (file) {
    try {
      const fs = await statfs(dirname(file));
      const free = fs.bavail * fs.bsize;
      if (free < MIN_FREE_BYTES)
        return {
          ok: false,
          fault: 'full',
          detail: `${Math.floor(free / 1024)} KiB free on the disk holding the database`,
        };
    } catch {
      /* statfs is not offered everywhere; the write below still tells */
    }
  }
  try {
    await db.$transaction((tx) =>
      tx.healthProbe.upsert({ where: { owner }, create: { owner, checkedAt: now }, update: { checkedAt: now } }),
    );
    return { ok: true };
  } catch (e) {
    const fault = dbFaultOf(e);
    if (!fault) throw e;
    return {
      ok: false,
      fault,
      detail: e instanceof Error ? (e.message.split('\n').filter(Boolean).pop() ?? e.message) : String(e),
    };
  }
}
