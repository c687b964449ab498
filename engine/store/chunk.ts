/**
 * Values one statement binds from a list (`in: [...]`). SQLite takes at most 999 bound
 * parameters per statement as Prisma's JS engine sees it ("The query parameter limit
 * supported by your database is exceeded" beyond); Prisma splits a lone `in` of a plain
 * `findMany` itself, but not an `in` beside other conditions, nor any `updateMany`,
 * `deleteMany`, `groupBy` or `notIn`. 500 leaves room for a query's other parameters.
 */
export const SET_CHUNK = 500;

/** Splits a list into consecutive parts of at most `size`. */
export function chunks<T>(list: readonly T[], size = SET_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Runs a set query once per part of `list` (one after the other: SQLite has one writer)
 * and joins the rows. Nothing runs for an empty list.
 */
export async function inChunks<T, R>(
  list: readonly T[],
  query: (part: T[]) => Promise<R[]>,
  size = SET_CHUNK,
): Promise<R[]> {
  const out: R[] = [];
  for (const part of chunks(list, size)) out.push(...(await query(part)));
  return out;
}

/** Runs an `updateMany`/`deleteMany` once per part of `list`; returns the total count. */
export async function countInChunks<T>(
  list: readonly T[],
  write: (part: T[]) => Promise<{ count: number }>,
  size = SET_CHUNK,
): Promise<number> {
  let count = 0;
  for (const part of chunks(list, size)) count += (await write(part)).count;
  return count;
}

/**
 * The parts of `list` a bulk command writes one transaction each, giving the event loop back
 * between two parts: requests, timers and a running copy's callbacks are served between the
 * batches of a command of thousands instead of after it.
 */
export async function* yieldingChunks<T>(list: readonly T[], size = SET_CHUNK): AsyncGenerator<T[]> {
  for (let i = 0; i < list.length; i += size) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    yield list.slice(i, i + size);
  }
}
