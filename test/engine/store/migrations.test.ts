import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openDb } from '../../../engine/store/db.ts';
import { Prisma } from '../../../generated/prisma/client.ts';
import { instantOf, testDbRows, testDbUrl, testDialect } from '../../harness/test-db.ts';
import { defined } from '../../harness/defined.ts';

// The committed migrations of both databases build the schema of prisma/schema.prisma:
// every model reads back on a database migrated from empty (a missing table or column
// fails the query), on the database this run tests (MAILFERRY_TEST_DB).

const dir = mkdtempSync(join(tmpdir(), 'mailferry-migrations-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const folders = (d: string) =>
  readdirSync(join('prisma', d))
    .filter((n) => /^\d{4}_/.test(n))
    .sort();

describe('migrations', () => {
  it('each SQLite migration after the PostgreSQL baseline has a PostgreSQL twin of the same name', () => {
    // PostgreSQL's 0001_init stands for SQLite's 0001 to 0006 (PostgreSQL came after them).
    const sqlite = folders('migrations').filter((n) => n > '0006_~');
    const pg = folders('migrations-postgresql').filter((n) => n !== '0001_init');
    expect(pg).toEqual(sqlite);
  });

  it(
    `a database migrated from empty holds every model of the ` +
      `schema (${testDialect()}), and a second open applies nothing`,
    async () => {
      const url = testDbUrl(dir);
      const first = await openDb(url);
      expect(first.applied.length).toBeGreaterThan(0);
      try {
        for (const model of Object.values(Prisma.ModelName)) {
          const delegate = (first.db as unknown as Record<string, { findFirst(): Promise<unknown> }>)[
            defined(model[0]).toLowerCase() + model.slice(1)
          ];
          await expect(defined(delegate).findFirst(), model).resolves.toBeNull();
        }
      } finally {
        await first.db.$disconnect();
      }
      const again = await openDb(url);
      expect(again.applied).toEqual([]);
      await again.db.$disconnect();
    },
  );

  const moves = `0012_digest_state moves each project's digest times to DigestPlan and keeps every item`;
  it(`${moves} (${testDialect()})`, async () => {
    // A database as the release before it left it: every earlier migration applied and booked
    // as the app books them, then projects with digest times, with and without a plan.
    const sub = mkdtempSync(join(dir, 'digest-state-'));
    const url = testDbUrl(sub);
    const dirName = testDialect() === 'sqlite' ? 'migrations' : 'migrations-postgresql';
    const earlier = folders(dirName).filter((n) => n < '0012_');
    const book = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" ("id" TEXT PRIMARY KEY NOT NULL,
      "checksum" TEXT NOT NULL, "finished_at" TIMESTAMP, "migration_name" TEXT NOT NULL, "logs" TEXT,
      "rolled_back_at" TIMESTAMP, "started_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`;
    const next = Date.parse('2026-04-01T07:00:00Z');
    const last = Date.parse('2026-03-31T07:00:00Z');
    const at = (ms: number) => (testDialect() === 'sqlite' ? ms : new Date(ms).toISOString());
    const project = (id: string, nextAt: number | null, lastAt: number | null) =>
      `INSERT INTO "Project" ("id", "name", "sourceUrl", "sourceAuth", "destinationUrl", "destinationAuth",
        "createdBy", "updatedAt", "nextDigestAt", "lastDigestAt") VALUES ('${id}', '${id}', 'imaps://a', 'per-user',
        'imaps://b', 'per-user', 'test', ${sqlValue(at(next))}, ${sqlValue(nextAt && at(nextAt))},
        ${sqlValue(lastAt && at(lastAt))})`;
    const seed = [
      project('planned', next, last),
      project('asked', null, last),
      project('never', null, null),
      `INSERT INTO "DigestPlan" ("projectId", "schedule", "plannedAt")
        VALUES ('planned', '0 9 * * 1-5|UTC', ${sqlValue(at(last))})`,
      `INSERT INTO "Item" ("id", "projectId", "sourceAddress", "destinationAddress", "sourceLogin",
        "destinationLogin", "ask", "notify", "createdBy", "updatedAt") VALUES ('i1', 'planned', 'a@x', 'a@y', 'a', 'a',
        'source', 'email', 'test', ${sqlValue(at(last))})`,
    ];
    const record = (name: string) =>
      `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "started_at",
        "applied_steps_count") VALUES ('${randomUUID()}', '${checksum(dirName, name)}', CURRENT_TIMESTAMP, '${name}',
        CURRENT_TIMESTAMP, 1)`;
    const sqlFor = (name: string) => readFileSync(join('prisma', dirName, name, 'migration.sql'), 'utf8');
    if (testDialect() === 'sqlite') {
      const db = new Database(url.slice('file:'.length));
      db.exec(book.replace(/TIMESTAMP/g, 'DATETIME'));
      for (const name of earlier)
        db.exec(`${sqlFor(name)};\n${record(name).replace(/CURRENT_TIMESTAMP/g, `${Date.now()}`)}`);
      for (const q of seed) db.exec(q);
      db.close();
    } else {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(book);
      for (const name of earlier) await client.query(`${sqlFor(name)};\n${record(name)}`);
      for (const q of seed) await client.query(q);
      await client.end();
    }

    const opened = await openDb(url);
    await opened.db.$disconnect();
    expect(opened.applied).toEqual(folders(dirName).filter((n) => n >= '0012_'));
    const plans = testDbRows<Record<string, unknown>>(
      sub,
      'SELECT "projectId", "schedule", "nextDigestAt", "lastDigestAt" FROM "DigestPlan" ORDER BY "projectId"',
    );
    expect(plans.map((p) => [p.projectId, p.schedule, instantOf(p.nextDigestAt), instantOf(p.lastDigestAt)])).toEqual([
      ['asked', null, null, last],
      ['planned', '0 9 * * 1-5|UTC', next, last],
    ]);
    expect(testDbRows(sub, 'SELECT "id" FROM "Item"')).toEqual([{ id: 'i1' }]);
    expect(testDbRows(sub, 'SELECT "id" FROM "Project" ORDER BY "id"').length).toBe(3);
  });
});

/** A value written into SQL text (the seed's values come from the test, never from input). */
function sqlValue(v: string | number | null): string {
  return v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${v}'`;
}

/** The checksum the app books a migration with (the SHA-256 of its SQL). */
function checksum(dirName: string, name: string): string {
  return createHash('sha256')
    .update(readFileSync(join('prisma', dirName, name, 'migration.sql'), 'utf8'))
    .digest('hex');
}
