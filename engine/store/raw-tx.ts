import { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { markDialect, type RawTx } from './dialect.ts';
import { directSqlOf, type DirectTx } from './direct-sql.ts';

/**
 * Runs `fn` in one transaction that takes raw statements only. On SQLite it is a transaction
 * on the adapter's connection run without Prisma's client (direct-sql.ts): a bulk command's
 * batch of raw statements cost about as much in the client's request pipeline (its
 * transaction, the query plan of each statement, the JSON of its parameters) as in SQLite,
 * and better-sqlite3 runs on the event loop, so every millisecond of it is taken from
 * whatever else the process runs (a copy's callbacks). On PostgreSQL (or on SQLite before
 * its connection is open, or under an adapter whose database serialise.ts cannot reach) it is
 * a transaction of Prisma's client. The statements are the same:
 * both dialects read and write the same rows.
 */
export function rawTransaction<T>(db: Db, fn: (tx: RawTx) => Promise<T>): Promise<T> {
  const interactive = directSqlOf(db)?.interactive;
  if (!interactive) return db.$transaction((tx) => fn(tx));
  return interactive((d) => fn(directRawTx(d)));
}

/** A tagged template or a built statement as one statement. */
function statement(query: TemplateStringsArray | Prisma.Sql, values: unknown[]): Prisma.Sql {
  return query instanceof Prisma.Sql ? query : Prisma.sql(query, ...(values as Prisma.Sql[]));
}

/** Resolves with `value` once the event loop has served what was waiting (setImmediate). */
const afterTurn = <T>(value: T) => new Promise<T>((resolve) => setImmediate(() => resolve(value)));

/**
 * The raw statements of a direct SQLite transaction, with SQLite's `?` placeholders. Each
 * statement runs synchronously (better-sqlite3), so the event loop is given back after each
 * one: a running copy's callbacks wait one statement (a few ms), not the whole transaction.
 * The connection stays locked meanwhile: no other statement runs inside the transaction.
 */
function directRawTx(d: DirectTx): RawTx {
  return markDialect(
    {
      $queryRaw: async <T>(query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
        const s = statement(query, values);
        return afterTurn((await d.query<unknown>(s.sql, s.values)) as T);
      },
      $executeRaw: async (query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
        const s = statement(query, values);
        return afterTurn(await d.execute(s.sql, s.values));
      },
    },
    'sqlite',
  );
}

/**
 * One raw read, the rows typed as Prisma's `$queryRaw` gives them: on SQLite on the adapter's
 * connection without Prisma's client (a read of thousands of rows cost tens of ms in the
 * client's result mapping, all of it on the event loop), elsewhere through the client.
 */
export function rawRead<T>(db: Db, query: Prisma.Sql): Promise<T[]> {
  const interactive = directSqlOf(db)?.interactive;
  if (!interactive) return db.$queryRaw<T[]>(query);
  return interactive((d) => d.query<T>(query.sql, query.values));
}
