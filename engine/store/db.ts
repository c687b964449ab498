import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaClient } from '../../generated/prisma/client.ts';
import type { SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import { markDirectSql } from './direct-sql.ts';
import { serialiseAdapter } from './serialise.ts';
import { isPostgresUrl, markDialect } from './dialect.ts';

/**
 * The Prisma client type every store function takes. Both generated clients (SQLite's in
 * generated/prisma, PostgreSQL's in generated/prisma-pg) come from the one schema and have
 * the same model API; the rest of the code is written against this one type.
 */
export type Db = InstanceType<typeof PrismaClient>;

const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../prisma/migrations');

/** Path of the SQLite file named by a `file:` DATABASE_URL (relative to the working directory). */
export function sqlitePath(url: string): string {
  if (!url.startsWith('file:'))
    throw new Error(`DATABASE_URL must be a file: URL for SQLite, got ${url.split(':')[0]}:…`);
  return resolve(url.slice('file:'.length).replace(/\?.*$/, ''));
}

/** The files SQLite keeps for a database: the file itself, its WAL, its shared-memory index, a rollback journal. */
export function sqliteFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/**
 * Makes the database readable by this user only (0600, like the key file): it holds logins,
 * addresses and the history in clear. A new file is created 0600 before SQLite opens it,
 * so no data is ever written world-readable; SQLite gives the WAL, shared-memory and journal
 * files the mode of the database file. Existing files (older installs) are set to 0600 too.
 * A directory created here is 0700.
 */
export function protectDatabaseFiles(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
  for (const f of sqliteFiles(file)) {
    try {
      chmodSync(f, 0o600);
    } catch (e) {
      // Absent, or not ours to change (a file another user owns): nothing to do here.
      const code = (e as { code?: string }).code;
      if (code !== 'ENOENT' && code !== 'EPERM') throw e;
    }
  }
}

/**
 * Applies every committed migration under prisma/migrations that the database has not
 * seen yet, in order, each in a transaction. Bookkeeping uses Prisma's own
 * `_prisma_migrations` table so `prisma migrate deploy` and this agree.
 * Returns the names applied now.
 */
export function applyMigrations(file: string): string[] {
  protectDatabaseFiles(file);
  const sqlite = new Database(file);
  try {
    // WAL lets the engine write while the bot reads; the busy timeout waits out the
    // short write locks of another process (a `mailferry worker`) instead of failing.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" TEXT PRIMARY KEY NOT NULL, "checksum" TEXT NOT NULL, "finished_at" DATETIME,
      "migration_name" TEXT NOT NULL, "logs" TEXT, "rolled_back_at" DATETIME,
      "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
      "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0)`);
    const done = new Set(
      (
        sqlite
          .prepare(
            'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
          )
          .all() as { migration_name: string }[]
      ).map((r) => r.migration_name),
    );
    const applied: string[] = [];
    const names = readdirSync(MIGRATIONS_DIR)
      .filter((d) => /^\d{4}_/.test(d))
      .sort();
    for (const name of names) {
      if (done.has(name)) continue;
      const sql = readFileSync(join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      sqlite.transaction(() => {
        sqlite.exec(sql);
        sqlite
          .prepare(
            'INSERT INTO _prisma_migrations (id, checksum, finished_at, ' +
              'migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, ?, 1)',
          )
          .run(randomUUID(), checksum, Date.now(), name, Date.now());
      })();
      applied.push(name);
    }
    return applied;
  } finally {
    sqlite.close();
  }
}

/**
 * Opens the database named by a DATABASE_URL: applies pending migrations, then returns a
 * Prisma client. `file:` is SQLite on the better-sqlite3 driver adapter (WAL, busy timeout,
 * statements serialised on its one connection); `postgresql://` is PostgreSQL on the `pg`
 * driver adapter with a pool (engine/store/postgres.ts).
 */
export async function openDb(url: string): Promise<{ db: Db; applied: string[] }> {
  if (isPostgresUrl(url)) {
    // Loaded only for PostgreSQL: a SQLite install never loads pg or the second Prisma client.
    const { openPostgres } = await import('./postgres.ts');
    const { client, applied } = await openPostgres(url);
    // Same schema, same model API: the PostgreSQL client is used through the shared type.
    return { db: markDialect(client as unknown as Db, 'postgresql'), applied };
  }
  const file = sqlitePath(url);
  const applied = applyMigrations(file);
  // The open connection, for the hot statements run without Prisma's client (direct-sql.ts).
  let connection: SqlDriverAdapter | null = null;
  const adapter = serialiseAdapter(
    new PrismaBetterSQLite3({ url: `file:${file}`, timeout: 5000 }),
    (c) => (connection = c),
  );
  // Statements are serialised on the one connection (see serialise.ts): a transaction may
  // wait its turn behind a burst of others, so allow it more than Prisma's 2 s default.
  const db = new PrismaClient({ adapter, transactionOptions: { maxWait: 30_000, timeout: 60_000 } });
  await db.$connect();
  await db.$queryRawUnsafe('PRAGMA busy_timeout = 5000');
  return { db: markDirectSql(markDialect(db, 'sqlite'), () => connection), applied };
}

/** A transaction client or the client itself. */
export type Tx = Omit<Db, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

/**
 * Runs writes in a transaction of their own. On SQLite every query shares one connection:
 * a plain write that runs while another caller's interactive transaction is open becomes
 * part of it, and is silently rolled back with it when that transaction fails (checked with
 * Prisma 6.19 and the better-sqlite3 adapter). Transactions are serialised, so a write in
 * its own transaction waits its turn and is kept.
 */
export function ownTx<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.$transaction((tx) => fn(tx));
}
