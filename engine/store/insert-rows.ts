import { Prisma } from '../../generated/prisma/client.ts';
import type { Tx } from './db.ts';

/** Bound parameters per statement (SQLite's limit as Prisma's JS engine sees it is 999). */
const MAX_PARAMS = 990;

/** A value one column takes (Prisma binds Dates and BigInts as each database stores them). */
export type Cell = string | number | boolean | bigint | Date | null;

/**
 * Inserts many rows with multi-row `INSERT … VALUES (…), (…)` statements, as many rows
 * per statement as the parameter limit allows. Used by bulk commands: Prisma's
 * `createMany` took ~0.35 ms a row (worse than linear in one call) against ~0.12 ms here,
 * measured on 4,000 rows. The SQL is the common subset of SQLite and PostgreSQL (quoted
 * identifiers, bound values). Table and column names come from our code, never from input.
 */
export async function insertRows(
  tx: Pick<Tx, '$executeRaw'>,
  table: string,
  columns: readonly string[],
  rows: readonly Cell[][],
  opts: { skipExisting?: boolean } = {},
): Promise<void> {
  if (!rows.length) return;
  const per = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  const head = Prisma.raw(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES `);
  // `skipExisting`: a row whose key is already there is left as it is (another process wrote it first).
  const tail = Prisma.raw(opts.skipExisting ? ' ON CONFLICT DO NOTHING' : '');
  for (let i = 0; i < rows.length; i += per) {
    const values = rows.slice(i, i + per).map((r) => Prisma.sql`(${Prisma.join(r)})`);
    await tx.$executeRaw`${head}${Prisma.join(values)}${tail}`;
  }
}
