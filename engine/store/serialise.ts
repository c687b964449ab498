import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, Transaction } from '@prisma/driver-adapter-utils';

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
 * Rule this imposes: inside `db.$transaction(async (tx) => …)` use `tx`, never `db`
 * (that would wait for the transaction it runs in).
 */
export function serialiseAdapter(inner: SqlMigrationAwareDriverAdapterFactory): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    connect: async () => serialiseConnection(await inner.connect()),
    connectToShadowDb: async () => serialiseConnection(await inner.connectToShadowDb()),
  };
}

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
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    queryRaw: (q) => exclusive(() => inner.queryRaw(q)),
    executeRaw: (q) => exclusive(() => inner.executeRaw(q)),
    executeScript: (s) => exclusive(() => inner.executeScript(s)),
    getConnectionInfo: inner.getConnectionInfo ? () => inner.getConnectionInfo!() : undefined,
    dispose: () => inner.dispose(),
    async startTransaction(level): Promise<Transaction> {
      const release = await lock.acquire();
      let tx: Transaction;
      try {
        tx = await inner.startTransaction(level);
      } catch (e) {
        release();
        throw e;
      }
      let open = true;
      const end = async (fn: () => Promise<void>) => {
        try {
          await fn();
        } finally {
          if (open) {
            open = false;
            release();
          }
        }
      };
      return {
        provider: tx.provider,
        adapterName: tx.adapterName,
        options: tx.options,
        queryRaw: (q) => tx.queryRaw(q),
        executeRaw: (q) => tx.executeRaw(q),
        commit: () => end(() => tx.commit()),
        rollback: () => end(() => tx.rollback()),
      };
    },
  };
}
