import type BetterSqlite3 from 'better-sqlite3';

/** A better-sqlite3 database. */
export type SqliteDatabase = BetterSqlite3.Database;
type SqliteStatement = BetterSqlite3.Statement<unknown[], unknown>;

/** Where a serialised SQLite connection keeps the better-sqlite3 database under it (serialise.ts). */
export const SQLITE_DATABASE = Symbol.for('mailferry.sqliteDatabase');

/**
 * The better-sqlite3 database under Prisma's adapter, if it is one: the adapter keeps it as
 * `client` (adapter-better-sqlite3 6.19). Null when it does not (another version): callers
 * then go through the adapter's own statements.
 */
export function sqliteDatabaseUnder(adapter: object): SqliteDatabase | null {
  const client = (adapter as { client?: Partial<SqliteDatabase> }).client;
  return typeof client?.prepare === 'function' && typeof client.exec === 'function' ? (client as SqliteDatabase) : null;
}

/** A value bound as Prisma's adapter binds it: a Date as ISO text (`+00:00`), a boolean as 1 or 0. */
function bindValue(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (v instanceof Date) return v.toISOString().replace('Z', '+00:00');
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** How a column's value is read back, by its declared type (as the adapter maps declared types). */
type Reader = (v: unknown) => unknown;
const asNumber: Reader = (v) => (v === null ? null : Number(v));
const asBigInt: Reader = (v) => (v === null ? null : BigInt(v as bigint | number | string));
const asBoolean: Reader = (v) => (v === null ? null : v !== 0 && v !== 0n && v !== '0');
const asDate: Reader = (v) => (v === null ? null : new Date(typeof v === 'string' ? v : Number(v)));
const asIs: Reader = (v) => (typeof v === 'bigint' ? Number(v) : v);

function readerOf(declared: string | null): Reader {
  switch ((declared ?? '').toUpperCase()) {
    case 'INTEGER':
    case 'INT':
    case 'TINYINT':
    case 'SMALLINT':
    case 'MEDIUMINT':
    case 'INT2':
    case 'REAL':
    case 'FLOAT':
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
    case 'NUMERIC':
    case 'DECIMAL':
      return asNumber;
    case 'BIGINT':
    case 'INT8':
    case 'UNSIGNED BIG INT':
      return asBigInt;
    case 'BOOLEAN':
      return asBoolean;
    case 'DATETIME':
    case 'TIMESTAMP':
    case 'DATE':
      return asDate;
    default:
      return asIs;
  }
}

/** A prepared statement and, for a read, its columns' names and readers. */
interface Prepared {
  statement: SqliteStatement;
  columns?: { name: string; read: Reader }[];
}

/** Statements kept per database; a handful of fixed texts are used, the cap only guards against a leak. */
const CACHE_LIMIT = 64;
const caches = new WeakMap<SqliteDatabase, Map<string, Prepared>>();

function prepared(db: SqliteDatabase, sql: string): Prepared {
  let cache = caches.get(db);
  if (!cache) caches.set(db, (cache = new Map()));
  let p = cache.get(sql);
  if (!p) {
    if (cache.size >= CACHE_LIMIT) cache.clear();
    const statement = db.prepare(sql) as SqliteStatement;
    p = statement.reader
      ? {
          statement: statement.raw(true),
          columns: statement.columns().map((c) => ({ name: c.name, read: readerOf(c.type) })),
        }
      : { statement };
    cache.set(sql, p);
  }
  return p;
}

/**
 * Reads rows with a statement prepared once per database, each keyed by column name and typed
 * as Prisma's `$queryRaw` types it (see `DirectTx.query`).
 */
export function sqliteQuery<T>(db: SqliteDatabase, sql: string, args: readonly unknown[]): T[] {
  const p = prepared(db, sql);
  const rows = p.statement.all(...args.map(bindValue)) as unknown[][];
  const columns = p.columns ?? [];
  const out: T[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as unknown[];
    const o: Record<string, unknown> = {};
    for (let c = 0; c < columns.length; c++) {
      const col = columns[c] as { name: string; read: Reader };
      o[col.name] = col.read(row[c] ?? null);
    }
    out[i] = o as T;
  }
  return out;
}

/** Runs a write with a statement prepared once per database; returns the number of rows it changed. */
export function sqliteExecute(db: SqliteDatabase, sql: string, args: readonly unknown[]): number {
  const p = prepared(db, sql);
  if (p.columns) {
    p.statement.all(...args.map(bindValue));
    return 0;
  }
  return p.statement.run(...args.map(bindValue)).changes;
}
