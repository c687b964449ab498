import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../engine/store/db.ts';
import { Prisma } from '../../../generated/prisma/client.ts';
import { testDbUrl, testDialect } from '../../harness/test-db.ts';
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
});
