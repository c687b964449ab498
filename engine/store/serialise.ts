import type {
  SqlDriverAdapter,
  SqlMigrationAwareDriverAdapterFactory,
  SqlQuery,
  Transaction,
} from '@prisma/driver-adapter-utils';
import { SQLITE_DATABASE, sqliteDatabaseUnder } from './sqlite-statements.ts';

/** A FIFO lock: `acquire` resolves with the release function when it is this caller's turn. */
class Lock {
  private tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const turn = this.tail.then(() => release);
    this.tail = this.tail.then(() => mine);
    return turn;
  }
}

/**
 * Serialises every statement on the single SQLite connection of Prisma's better-sqlite3
 * adapter. The adapter locks interactive transactions against each other, but a plain
 * query issued while a transaction is open runs on the same connection, inside that
 * transaction: it reads uncommitted rows, and its write is rolled back if the transaction
 * is (a refused `start` would silently drop an outbox post or a history line written at
 * the same moment). Here a plain statement waits until no transaction is open, and a
 * transaction waits for the statement before it.
 *
 * Transactions are run here (BEGIN, and the COMMIT/ROLLBACK Prisma sends) rather than by
 * the adapter, so that every way a transaction ends gives the connection back:
 * - the adapter takes its own mutex before `BEGIN` and leaks it when `BEGIN` throws, and
 *   it releases it only in `commit()`/`rollback()`, which Prisma never calls when the
 *   COMMIT or ROLLBACK statement itself fails (Prisma 6.19: a full disk fails the COMMIT
 *   with SQLITE_FULL; SQLite may already have rolled back, so the ROLLBACK that follows a
 *   failed statement fails with "no transaction is active"); every later transaction then
 *   waited for ever. Our own lock replaces that mutex, which is never taken.
 * - a failed COMMIT is followed by a ROLLBACK here, so the connection never stays inside
 *   a half-written transaction, and the lock is released whatever happens.
 *
 * Rule this imposes: inside `db.$transaction(async (tx) => …)` use `tx`, never `db`
 * (that would wait for the transaction it runs in).
 */
export function serialiseAdapter(
  inner: SqlMigrationAwareDriverAdapterFactory,
  /**
   * Told of each connection Prisma opens, and of its closing (null): openDb keeps it for the
   * statements run without Prisma's client (direct-sql.ts).
   */
  onConnect?: (connection: SqlDriverAdapter | null) => void,
): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => {
      const connection = serialiseConnection(await inner.connect());
      if (!onConnect) return connection;
      onConnect(connection);
      return {
        ...connection,
        dispose: () => {
          onConnect(null);
          return connection.dispose();
        },
      };
    },
    connectToShadowDb: async () => serialiseConnection(await inner.connectToShadowDb()),
  };
}

const sql = (text: string): SqlQuery => ({ sql: text, args: [], argTypes: [] });
const isStatement = (q: SqlQuery, word: string) => q.sql.trim().toUpperCase() === word;
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function serialiseConnection(inner: SqlDriverAdapter): SqlDriverAdapter {
  const lock = new Lock();
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    const release = await lock.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  };
  const connection: SqlDriverAdapter & { [SQLITE_DATABASE]: ReturnType<typeof sqliteDatabaseUnder> } = {
    // The better-sqlite3 database under the adapter, for the direct path's prepared statements
    // (direct-sql.ts); they run only inside a transaction started here, under this lock.
    [SQLITE_DATABASE]: sqliteDatabaseUnder(inner),
    provider: inner.provider,
    adapterName: inner.adapterName,
    queryRaw: (q) => exclusive(() => inner.queryRaw(q)),
    executeRaw: (q) => exclusive(() => inner.executeRaw(q)),
    executeScript: (s) => exclusive(() => inner.executeScript(s)),
    getConnectionInfo: inner.getConnectionInfo ? () => inner.getConnectionInfo!() : undefined,
    dispose: () => inner.dispose(),
    startTransaction: (level) => startTransaction(inner, lock, level),
  };
  return connection;
}

/**
 * Ends whatever transaction the connection may still be in; errors ("no transaction is active") mean there was none.
 */
async function rollbackQuietly(inner: SqlDriverAdapter): Promise<void> {
  try {
    await inner.executeRaw(sql('ROLLBACK'));
  } catch {
    /* nothing to roll back */
  }
}

/** Opens a transaction on the connection. */
async function begin(inner: SqlDriverAdapter): Promise<void> {
  try {
    await inner.executeRaw(sql('BEGIN'));
  } catch (e) {
    // A transaction left open by an earlier failure is ended, then BEGIN is tried once more.
    if (!/within a transaction/i.test(message(e))) throw e;
    await rollbackQuietly(inner);
    await inner.executeRaw(sql('BEGIN'));
  }
}

/** Starts a transaction once the connection's lock is ours; the lock is released when it ends. */
async function startTransaction(
  inner: SqlDriverAdapter,
  lock: Lock,
  level: Parameters<SqlDriverAdapter['startTransaction']>[0],
): Promise<Transaction> {
  // SQLite transactions are serializable; anything else is the adapter's to refuse.
  if (level && level !== 'SERIALIZABLE') return inner.startTransaction(level);
  const release = await lock.acquire();
  try {
    await begin(inner);
  } catch (e) {
    release();
    throw e;
  }
  let open = true;
  const end = () => {
    if (!open) return;
    open = false;
    release();
  };
  return serialisedTransaction(inner, end);
}

/**
 * An open transaction on the connection: `end` (which releases the connection's lock) is called
 * however it ends, by commit(), rollback(), or a COMMIT or ROLLBACK statement that fails.
 */
function serialisedTransaction(inner: SqlDriverAdapter, end: () => void): Transaction {
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    // Prisma sends COMMIT and ROLLBACK as statements, then calls commit()/rollback().
    options: { usePhantomQuery: false },
    queryRaw: (q) => inner.queryRaw(q),
    async executeRaw(q) {
      if (isStatement(q, 'COMMIT')) {
        try {
          return await inner.executeRaw(q);
        } catch (e) {
          // Prisma will not call rollback() after a failed COMMIT: end the transaction here.
          await rollbackQuietly(inner);
          end();
          throw e;
        }
      }
      if (isStatement(q, 'ROLLBACK')) {
        try {
          return await inner.executeRaw(q);
        } catch (e) {
          end();
          // SQLite already rolled back (it does after some errors, SQLITE_FULL among them).
          if (/no transaction is active/i.test(message(e))) return 0;
          throw e;
        }
      }
      return inner.executeRaw(q);
    },
    commit: async () => end(),
    rollback: async () => end(),
  };
}
