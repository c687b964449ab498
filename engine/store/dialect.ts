import { Prisma } from '../../generated/prisma/client.ts';

/** The databases MailFerry runs on: SQLite (embedded, the default) and PostgreSQL. */
export type Dialect = 'sqlite' | 'postgresql';

const DIALECT = Symbol.for('mailferry.dialect');

/** Whether a DATABASE_URL names PostgreSQL (`postgresql://` or `postgres://`). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** Records which database a client talks to (openDb does, once per client). */
export function markDialect<T extends object>(db: T, dialect: Dialect): T {
  Object.defineProperty(db, DIALECT, { value: dialect, enumerable: false });
  return db;
}

/**
 * The database a client or a transaction client runs on. A transaction client is a proxy
 * over its client and reads the mark through it; an unmarked client is SQLite's.
 */
export function dialectOf(db: object): Dialect {
  return ((db as Record<symbol, unknown>)[DIALECT] as Dialect | undefined) ?? 'sqlite';
}

/**
 * Raw reads and writes in a transaction (Prisma's tagged templates): a client, a transaction
 * client, or a transaction run without the client on SQLite's connection or PostgreSQL's `pg`
 * pool (`rawTransaction` in raw-tx.ts).
 */
export interface RawTx {
  $queryRaw<T = unknown>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): PromiseLike<T>;
  $executeRaw(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]): PromiseLike<number>;
}

/**
 * `column` is one of `values`, the list bound as one JSON parameter: SQLite's `json_each`,
 * PostgreSQL's `jsonb_array_elements_text` made an array once (`= ANY`, so the planner looks
 * the values up in the column's index rather than testing each row of another index against
 * the list). Prisma turns each bound value into JSON and back on every statement (about 30 µs
 * a value in a 500-id `updateMany`, measured on SQLite); one string of 500 ids costs a
 * fraction of that, and no statement nears SQLite's limit of bound parameters. The values are
 * text (ids). Column names come from our code, never from input.
 */
export function inList(db: object, column: string, values: readonly string[]): Prisma.Sql {
  const json = JSON.stringify(values);
  const col = Prisma.raw(`"${column}"`);
  return dialectOf(db) === 'postgresql'
    ? Prisma.sql`${col} = ANY(ARRAY(SELECT jsonb_array_elements_text(${json}::jsonb)))`
    : Prisma.sql`${col} IN (SELECT "value" FROM json_each(${json}))`;
}

/**
 * Inside a transaction, locks rows of `table` by id until it ends (PostgreSQL
 * `SELECT … FOR UPDATE`), so a read-decide-write in the transaction decides on the truth
 * while other processes wait. A no-op on SQLite, whose transactions are already serialised.
 * Table names come from our code, never from input.
 */
export async function lockRows(tx: RawTx, table: string, ids: readonly string[]): Promise<void> {
  if (dialectOf(tx) !== 'postgresql' || !ids.length) return;
  const where = ids.length === 1 ? Prisma.sql`"id" = ${ids[0]}` : inList(tx, 'id', ids);
  await tx.$queryRaw`SELECT 1 FROM ${Prisma.raw(`"${table}"`)} WHERE ${where} ORDER BY "id" FOR UPDATE`;
}
