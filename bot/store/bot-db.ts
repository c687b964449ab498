import type { Tx } from '../../engine/store/db.ts';

/**
 * The bot's own tables: chat-side state that the engine never reads. Projects, items, their
 * history, credentials, links and copy state are the engine's, reached through `Engine`.
 */
export type BotTable =
  | 'outboxPost'
  | 'chatConversation'
  | 'seenRequest'
  | 'rateCounter'
  | 'itemReminder'
  | 'digestRun'
  | 'digestPlan';

/**
 * A transaction (or the client) narrowed to the bot's tables, plus raw statements for the
 * stores that need SQL Prisma does not write (an upsert with a condition, a lock). The
 * engine's transactions are handed to bot hooks as this type.
 */
export type BotTx = Pick<Tx, BotTable | '$executeRaw' | '$queryRaw'>;

/**
 * The database handle bot code gets: its tables, and transactions whose client is narrowed
 * the same way. A query of an engine table from bot code does not type-check. The full
 * client (`Db`) is assignable to it; the composition root hands it over as this type.
 */
export type BotDb = BotTx & {
  $transaction<T>(fn: (tx: BotTx) => Promise<T>): Promise<T>;
};

/**
 * Runs bot writes in a transaction of their own: on SQLite every query shares one
 * connection, and a plain write made while another caller's transaction is open would
 * become part of it (see `ownTx` in engine/store/db.ts, the engine's twin of this).
 */
export function botTx<T>(db: BotDb, fn: (tx: BotTx) => Promise<T>): Promise<T> {
  return db.$transaction((tx) => fn(tx));
}
