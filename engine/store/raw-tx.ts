import { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { type Dialect, markDialect, type RawTx } from './dialect.ts';
import { directSqlOf, type DirectTx } from './direct-sql.ts';
import { pgInteractive, pgPoolOf, pgQuery } from './pg-direct.ts';

/**
 * Runs `fn` in one transaction that takes raw statements only. On SQLite it is a transaction
 * on the adapter's connection run without Prisma's client (direct-sql.ts): a bulk command's
 * batch of raw statements cost about as much in the client's request pipeline (its
 * transaction, the query plan of each statement, the JSON of its parameters) as in SQLite,
 * and better-sqlite3 runs on the event loop, so every millisecond of it is taken from
 * whatever else the process runs (a copy's callbacks). On PostgreSQL it is a transaction on
 * a connection of the `pg` pool under the adapter, also without the client (pg-direct.ts: the
 * client's pipeline cost as much main-thread time as `pg`). On SQLite before its connection
 * is open, or under an adapter whose database serialise.ts cannot reach, it is a transaction
 * of Prisma's client. The statements are the same: both dialects read and write the same rows.
 */
export function rawTransaction<T>(db: Db, fn: (tx: RawTx) => Promise<T>): Promise<T> {
  const pool = pgPoolOf(db);
  if (pool) return pgInteractive(pool, (d) => fn(directRawTx(d, 'postgresql')));
  const interactive = directSqlOf(db)?.interactive;
  if (!interactive) return db.$transaction((tx) => fn(tx));
  return interactive((d) => fn(directRawTx(d, 'sqlite')));
}

/** A tagged template or a built statement as one statement. */
function statement(query: TemplateStringsArray | Prisma.Sql, values: unknown[]): Prisma.Sql {
  return query instanceof Prisma.Sql ? query : Prisma.sql(query, ...(values as Prisma.Sql[]));
}

/** Resolves with `value` once the event loop has served what was waiting (setImmediate). */
const afterTurn = <T>(value: T) => new Promise<T>((resolve) => setImmediate(() => resolve(value)));

/**
 * The raw statements of a direct transaction. On SQLite, with its `?` placeholders, each
 * statement runs synchronously (better-sqlite3), so the event loop is given back after each
 * one: a running copy's callbacks wait one statement (a few ms), not the whole transaction;
 * the connection stays locked meanwhile, so no other statement runs inside the transaction.
 * On PostgreSQL, with `$1` placeholders, each statement waits on the socket: the loop turns.
 */
function directRawTx(d: DirectTx, dialect: Dialect): RawTx {
  const pg = dialect === 'postgresql';
  const text = (s: Prisma.Sql) => (pg ? s.text : s.sql);
  const after = <T>(value: T) => (pg ? value : afterTurn(value));
  return markDialect(
    {
      $queryRaw: async <T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
        const s = statement(query, values);
        return after((await d.query<unknown>(text(s), s.values)) as T);
      },
      $executeRaw: async (query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
        const s = statement(query, values);
        return after(await d.execute(text(s), s.values));
      },
    },
    dialect,
  );
}

/**
 * One raw read, the rows typed as Prisma's `$queryRaw` gives them, without Prisma's client (a
 * read of thousands of rows cost tens of ms in the client's result mapping, all of it on the
 * event loop): on PostgreSQL on the `pg` pool, on SQLite on the adapter's connection;
 * elsewhere (SQLite's connection not open yet) through the client.
 */
export function rawRead<T>(db: Db, query: Prisma.Sql): Promise<T[]> {
  const pool = pgPoolOf(db);
  if (pool) return pgQuery<T>(pool, query.text, query.values);
  const interactive = directSqlOf(db)?.interactive;
  if (!interactive) return db.$queryRaw<T[]>(query);
  return interactive((d) => d.query<T>(query.sql, query.values));
}
