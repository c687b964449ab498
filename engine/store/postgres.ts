import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../../generated/prisma-pg/client.ts';
import { markPgPool } from './pg-direct.ts';

const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../prisma/migrations-postgresql');

/** Key of the advisory lock held while migrations run, so two processes starting at once apply each migration once. */
const MIGRATION_LOCK = 0x6d666d67; // "mfmg"

/**
 * Applies every committed migration under prisma/migrations-postgresql that the database
 * has not seen yet, in order, each in a transaction, under an advisory lock (a second
 * process starting at the same moment waits, then finds nothing left to do). Bookkeeping
 * uses Prisma's own `_prisma_migrations` table, as `prisma migrate deploy` does.
 * Returns the names applied now.
 */
export async function applyPostgresMigrations(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const done = new Set(rows.map((r) => r.migration_name));
    const applied: string[] = [];
    for (const name of readdirSync(MIGRATIONS_DIR)
      .filter((d) => /^\d{4}_/.test(d))
      .sort()) {
      if (done.has(name)) continue;
      const sql = readFileSync(join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(sql).digest('hex');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(
          'INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, ' +
            'started_at, applied_steps_count) VALUES ($1, $2, now(), $3, now(), 1)',
          [randomUUID(), checksum, name],
        );
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK');
        throw e;
      }
      applied.push(name);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/**
 * Opens a PostgreSQL database: applies pending migrations, then returns a Prisma client on
 * the `pg` driver adapter with a connection pool. Unlike SQLite nothing is serialised here:
 * statements run side by side on the pool's connections, transactions are the database's
 * own, and claims lock the rows they take (see engine/store/dialect.ts). The pool is made
 * here and handed to the adapter (which ends it on disconnect), and recorded on the client
 * for the raw transactions run on it without the client (pg-direct.ts).
 */
export async function openPostgres(
  url: string,
): Promise<{ client: InstanceType<typeof PrismaClient>; applied: string[] }> {
  const applied = await applyPostgresMigrations(url);
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.MAILFERRY_DB_POOL ?? 10) });
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  const client = new PrismaClient({ adapter, transactionOptions: { maxWait: 30_000, timeout: 60_000 } });
  await client.$connect();
  return { client: markPgPool(client, pool), applied };
}
