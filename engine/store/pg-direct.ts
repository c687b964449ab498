import type { Pool, PoolClient, QueryConfig, QueryResult } from 'pg';
import type { DirectTx } from './direct-sql.ts';

/**
 * Raw statements on PostgreSQL's `pg` pool under Prisma's driver adapter, without Prisma's
 * client: a bulk command's batch of raw statements (`rawTransaction`, raw-tx.ts) cost about as
 * much on the main thread in the client's request pipeline (its query compiler, its tracing
 * spans, the mapping of each result) as in `pg` itself. The pool is the adapter's own
 * (postgres.ts hands it to PrismaPg), so the connections are shared with the client and the
 * pool's size holds for both. Rows are typed as Prisma's `$queryRaw` types them on PostgreSQL.
 */

const PG_POOL = Symbol.for('mailferry.pgPool');

/** Records the `pg` pool under a PostgreSQL client (openPostgres does). */
export function markPgPool<T extends object>(db: T, pool: Pool): T {
  Object.defineProperty(db, PG_POOL, { value: pool, enumerable: false });
  return db;
}

/** The `pg` pool under a client opened on PostgreSQL; null elsewhere. */
export function pgPoolOf(db: object): Pool | null {
  return (db as Record<symbol, Pool | undefined>)[PG_POOL] ?? null;
}

const identity = (s: string) => s;
/** Prisma's raw reads take a TIMESTAMP as UTC, and a TIMESTAMPTZ's instant with its offset read as UTC. */
const timestamp = (s: string) => new Date(`${s.replace(' ', 'T')}+00:00`);
const timestamptz = (s: string) => new Date(s.replace(' ', 'T').replace(/[+-]\d{2}(:\d{2})?$/, '+00:00'));

/**
 * Text-format parsers by type oid, each giving the JavaScript value Prisma's `$queryRaw` gives
 * for that column type (through @prisma/adapter-pg): BOOLEAN a boolean, INTEGER a number, BIGINT
 * a bigint, TIMESTAMP(3) a Date, JSON parsed, text and enums a string.
 */
const PARSERS: Record<number, (s: string) => unknown> = {
  16: (s) => s === 't', // bool
  20: (s) => BigInt(s), // int8
  21: (s) => Number.parseInt(s, 10), // int2
  23: (s) => Number.parseInt(s, 10), // int4
  26: (s) => BigInt(s), // oid
  700: Number.parseFloat, // float4
  701: Number.parseFloat, // float8
  114: (s) => JSON.parse(s), // json
  3802: (s) => JSON.parse(s), // jsonb
  1114: timestamp,
  1184: timestamptz,
  19: identity, // name
  25: identity, // text
  1042: identity, // bpchar
  1043: identity, // varchar
  2950: identity, // uuid
  2278: identity, // void (SELECT pg_advisory_xact_lock(...))
};

/** The first oid of user-defined types: enums, read as text. */
const FIRST_USER_OID = 16384;

const types = {
  getTypeParser: (oid: number) => PARSERS[oid] ?? identity,
};

/**
 * One statement on a connection. A column of a type not in {@link PARSERS} fails the statement
 * (it would not be typed as Prisma types it); a Date argument goes as its UTC instant, which a
 * TIMESTAMP column stores as Prisma does.
 */
async function run(client: Pool | PoolClient, sql: string, args: readonly unknown[]): Promise<QueryResult> {
  const values = args.map((a) => (a instanceof Date ? a.toISOString() : a));
  // pg's typing of `types` wants parsers for the binary format too, which pg never asks for here.
  const r = await client.query({ text: sql, values, types: types as QueryConfig['types'] });
  for (const f of r.fields)
    if (!(f.dataTypeID in PARSERS) && f.dataTypeID < FIRST_USER_OID)
      throw new Error(`direct PostgreSQL read: column ${f.name} has type oid ${f.dataTypeID}, not read raw here`);
  return r;
}

/** Reads rows on the pool, outside any transaction (a connection of its own for the statement). */
export async function pgQuery<T>(pool: Pool, sql: string, args: readonly unknown[]): Promise<T[]> {
  return (await run(pool, sql, args)).rows as T[];
}

/** How long a transaction waits for a connection of the pool, as Prisma's `maxWait` (postgres.ts). */
const ACQUIRE_MS = 30_000;

/**
 * How long one statement of a transaction may run, lock waits included, before PostgreSQL
 * cancels it (`statement_timeout`) and the transaction is rolled back: Prisma's transactions
 * end after its `timeout` (60 s, postgres.ts); without a bound of its own, a batch waiting on a
 * row another session holds locked would wait for ever.
 */
const STATEMENT_MS = 60_000;

/** A connection of the pool, or an error once `ms` have passed (a connection that comes later goes back). */
async function acquire(pool: Pool, ms: number): Promise<PoolClient> {
  let timer: NodeJS.Timeout | undefined;
  let late = false;
  const connecting = pool.connect();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(new Error(`no PostgreSQL connection free after ${ms} ms (pool of ${pool.options.max})`));
    }, ms);
  });
  void connecting.then(
    (c) => late && c.release(),
    () => undefined,
  );
  try {
    return await Promise.race([connecting, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `fn` in one transaction on a connection of the pool: BEGIN, then COMMIT when it
 * resolves, ROLLBACK when it throws. The wait for a connection and each statement are bounded
 * (`limits`, by default {@link ACQUIRE_MS} and {@link STATEMENT_MS}). A connection that fails
 * meanwhile (its error is heard here, as the adapter hears it in its transactions, rather than
 * left unhandled), or whose ROLLBACK fails, is closed rather than given back. Statements take
 * `$1` placeholders.
 */
export async function pgInteractive<T>(
  pool: Pool,
  fn: (tx: DirectTx) => Promise<T>,
  limits: { acquireMs?: number; statementMs?: number } = {},
): Promise<T> {
  const client = await acquire(pool, limits.acquireMs ?? ACQUIRE_MS);
  let broken: Error | undefined;
  const onError = (e: Error) => {
    broken = e;
  };
  client.on('error', onError);
  try {
    // One round trip: BEGIN and the transaction's bound on each statement (simple query protocol).
    // Should it fail, the connection may be left inside a transaction: it is closed, not given back.
    await client
      .query(`BEGIN; SET LOCAL statement_timeout = ${Math.round(limits.statementMs ?? STATEMENT_MS)}`)
      .catch((e: Error) => {
        broken = e;
        throw e;
      });
    try {
      const result = await fn({
        query: async <R>(sql: string, args: readonly unknown[]) => (await run(client, sql, args)).rows as R[],
        execute: async (sql, args) => (await run(client, sql, args)).rowCount ?? 0,
      });
      await client.query('COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch((r: Error) => {
        broken = r;
      });
      throw e;
    }
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
