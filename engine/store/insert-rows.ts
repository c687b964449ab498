import { Prisma } from '../../generated/prisma/client.ts';
import type { Tx } from './db.ts';
import { dialectOf, type RawTx } from './dialect.ts';

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

/** A column an `insertJsonRows` statement sets to one bound value for every row, with its PostgreSQL type. */
export interface FixedColumn {
  column: string;
  value: Cell;
  pgType: string;
}

/** Rows per statement of `insertJsonRows` (one JSON parameter each). */
const JSON_ROWS = 1000;

/**
 * Inserts many rows of text (or null) columns, in the order given, with each statement's rows
 * bound as one JSON parameter (SQLite's `json_each`, PostgreSQL's `jsonb_array_elements`),
 * and `fixed` columns bound once. Prisma turns each bound value into JSON and back: a 9-column
 * history line cost ~60 µs a row through `insertRows`, a few here. Table and column names come
 * from our code, never from input.
 */
export async function insertJsonRows(
  tx: Pick<RawTx, '$executeRaw'>,
  table: string,
  fixed: readonly FixedColumn[],
  columns: readonly string[],
  rows: readonly (string | null)[][],
): Promise<void> {
  if (!rows.length) return;
  const pg = dialectOf(tx) === 'postgresql';
  const names = [...fixed.map((f) => f.column), ...columns].map((c) => `"${c}"`).join(', ');
  const head = Prisma.raw(`INSERT INTO "${table}" (${names}) SELECT `);
  const values = [
    ...fixed.map((f) => (pg ? Prisma.sql`CAST(${f.value} AS ${Prisma.raw(f.pgType)})` : Prisma.sql`${f.value}`)),
    ...columns.map((_, i) => Prisma.raw(pg ? `"r" ->> ${i}` : `json_extract("value", '$[${i}]')`)),
  ];
  for (let i = 0; i < rows.length; i += JSON_ROWS) {
    const json = JSON.stringify(rows.slice(i, i + JSON_ROWS));
    const from = pg
      ? Prisma.sql`FROM jsonb_array_elements(${json}::jsonb) WITH ORDINALITY AS "t"("r", "n") ORDER BY "n"`
      : Prisma.sql`FROM json_each(${json}) ORDER BY "key"`;
    await tx.$executeRaw`${head}${Prisma.join(values)} ${from}`;
  }
}
