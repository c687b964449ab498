import { SQLITE_DATABASE, type SqliteDatabase, sqliteExecute, sqliteQuery } from './sqlite-statements.ts';
import type { ArgScalarType, SqlDriverAdapter, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';

/**
 * Statements run on the driver adapter's connection without Prisma's client: a hot path's
 * fixed SQL, where the client's request pipeline (the query compiler's plan, its
 * interpreter, the batch transaction) costs several times what SQLite itself does (a
 * checkpoint save: ~1 ms of CPU against ~0.1 ms, measured). Only on SQLite, where openDb
 * wraps the one connection (serialise.ts): the statements take the same lock as Prisma's,
 * so they never run inside another caller's transaction. Elsewhere {@link directSqlOf}
 * gives null and the caller uses the client.
 */
export interface DirectSql {
  /** Runs the statements in one transaction (all or none); durable when this resolves. */
  transaction(statements: { sql: string; args: unknown[] }[]): Promise<void>;
  /**
   * Reads rows, each keyed by column name. Values come as the driver adapter gives them:
   * integers as decimal strings (whatever their size), text as strings, NULL as null.
   */
  query(sql: string, args: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Runs `fn` in one transaction (BEGIN, then COMMIT when it resolves, ROLLBACK when it
   * throws); the connection's lock is held until it ends, as for Prisma's transactions. Its
   * statements run on the better-sqlite3 database under the adapter, each prepared once
   * (sqlite-statements.ts); absent when serialise.ts found no such database under the adapter.
   */
  interactive?: <T>(fn: (tx: DirectTx) => Promise<T>) => Promise<T>;
}

/** The statements of an open `interactive` transaction. */
export interface DirectTx {
  /**
   * Reads rows keyed by column name, each value of the JavaScript type Prisma's `$queryRaw`
   * gives for its column's declared type: INTEGER a number, BIGINT a bigint, BOOLEAN a
   * boolean, DATETIME a Date, text a string, NULL null.
   */
  query<T>(sql: string, args: readonly unknown[]): Promise<T[]>;
  /** Runs a write; resolves with the number of rows it changed. */
  execute(sql: string, args: readonly unknown[]): Promise<number>;
}

const DIRECT = Symbol.for('mailferry.directSql');

/** Records where a client's current connection is (openDb does, on SQLite). */
export function markDirectSql<T extends object>(db: T, connection: () => SqlDriverAdapter | null): T {
  Object.defineProperty(db, DIRECT, { value: connection, enumerable: false });
  return db;
}

/** The direct path of a client opened on SQLite while its connection is open; null otherwise. */
export function directSqlOf(db: object): DirectSql | null {
  const connection = (db as Record<symbol, (() => SqlDriverAdapter | null) | undefined>)[DIRECT]?.();
  if (!connection) return null;
  const sqlite = (connection as { [SQLITE_DATABASE]?: SqliteDatabase | null })[SQLITE_DATABASE];
  return {
    transaction: (statements) => runTransaction(connection, sqlite ?? null, statements),
    query: (sql, args) => runQuery(connection, sql, args),
    ...(sqlite ? { interactive: <T>(fn: (tx: DirectTx) => Promise<T>) => runInteractive(connection, sqlite, fn) } : {}),
  };
}

async function runQuery(connection: SqlDriverAdapter, sql: string, args: unknown[]) {
  const r = await connection.queryRaw(query(sql, args)).catch((e: unknown) => Promise.reject(driverError(e)));
  return r.rows.map((row) => Object.fromEntries(r.columnNames.map((c, i) => [c, row[i]])));
}

function argType(v: unknown): ArgScalarType {
  if (typeof v === 'bigint') return 'bigint';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  if (v instanceof Date) return 'datetime';
  return 'unknown';
}

const query = (sql: string, args: unknown[] = []): SqlQuery => ({
  sql,
  args,
  argTypes: args.map((a) => ({ scalarType: argType(a), arity: 'scalar' })),
});

/**
 * The driver's error as SQLite gave it (code and message), as the client's errors carry it:
 * a full disk is still told apart (db-faults.ts).
 */
function driverError(e: unknown): unknown {
  const cause = (e as { cause?: { originalCode?: unknown; originalMessage?: unknown } } | null)?.cause;
  if (!cause || typeof cause.originalMessage !== 'string') return e;
  return Object.assign(new Error(cause.originalMessage, { cause: e }), { code: cause.originalCode });
}

/**
 * `body` inside BEGIN … COMMIT on the connection, as Prisma ends a transaction on it
 * (serialise.ts holds the connection's lock until it ends); ROLLBACK when anything throws.
 */
async function inTransaction<T>(connection: SqlDriverAdapter, body: (tx: Transaction) => Promise<T>): Promise<T> {
  const tx = await connection.startTransaction().catch((e: unknown) => Promise.reject(driverError(e)));
  try {
    const result = await body(tx);
    await tx.executeRaw(query('COMMIT'));
    await tx.commit();
    return result;
  } catch (e) {
    try {
      await tx.executeRaw(query('ROLLBACK'));
    } catch {
      /* already ended (a failed COMMIT is rolled back by serialise.ts) */
    }
    await tx.rollback();
    throw driverError(e);
  }
}

/**
 * BEGIN, the statements, COMMIT. On the better-sqlite3 database under the adapter when there
 * is one, each statement prepared once (the adapter prepares its statement again on every call,
 * 5% of a small mailbox's pass in a CPU profile); else through the adapter.
 */
function runTransaction(
  connection: SqlDriverAdapter,
  sqlite: SqliteDatabase | null,
  statements: { sql: string; args: unknown[] }[],
) {
  return inTransaction(connection, async (tx) => {
    for (const s of statements)
      if (sqlite) sqliteExecute(sqlite, s.sql, s.args);
      else await tx.executeRaw(query(s.sql, s.args));
  });
}

/** `fn` in a transaction of its own on the connection (see `DirectSql.interactive`). */
function runInteractive<T>(
  connection: SqlDriverAdapter,
  sqlite: SqliteDatabase,
  fn: (tx: DirectTx) => Promise<T>,
): Promise<T> {
  return inTransaction(connection, () =>
    fn({
      query: async <R>(sql: string, args: readonly unknown[]) => sqliteQuery<R>(sqlite, sql, args),
      execute: async (sql, args) => sqliteExecute(sqlite, sql, args),
    }),
  );
}
