import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../engine/store/db.ts';
import { dbFaultOf } from '../../../engine/store/db-faults.ts';
import { defined } from '../../harness/defined.ts';

let dir: string;
let db: Db;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-serialise-'));
  ({ db } = await openDb(`file:${join(dir, 'db.sqlite')}`));
});
afterEach(async () => {
  await db.$disconnect();
  rmSync(dir, { recursive: true, force: true });
});

const event = (kind: string) => ({ data: { projectId: 'p', actor: 'test:t', kind } });

describe('one SQLite connection, serialised', () => {
  it('a plain write made while a transaction is open survives that transaction rolling back', async () => {
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    const failing = db
      .$transaction(async (tx) => {
        await tx.itemEvent.create(event('doomed'));
        inside();
        await new Promise((r) => setTimeout(r, 50));
        throw new Error('refused');
      })
      .catch((e: Error) => e.message);
    await opened;
    const plain = db.itemEvent.create(event('kept')).then((x) => x); // Prisma promises are lazy: start it now
    expect(await failing).toBe('refused');
    await plain;
    expect((await db.itemEvent.findMany()).map((e) => e.kind)).toEqual(['kept']);
  });

  it('a plain read never sees rows of a transaction that is still open (and may yet roll back)', async () => {
    let inside!: () => void;
    const opened = new Promise<void>((r) => (inside = r));
    let finish!: () => void;
    const hold = new Promise<void>((r) => (finish = r));
    const tx = db
      .$transaction(async (t) => {
        await t.itemEvent.create(event('pending'));
        inside();
        await hold;
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    await opened;
    const read = db.itemEvent.count().then((n) => n);
    await new Promise((r) => setTimeout(r, 20));
    finish();
    await tx;
    expect(await read).toBe(0);
  });
});

describe('a database error ends its transaction and gives the connection back', () => {
  // SQLite's own size limit makes the real engine answer SQLITE_FULL, like a full disk.
  const limitPages = async (extra: number) => {
    const [row] = await db.$queryRawUnsafe<{ page_count: bigint }[]>('PRAGMA page_count');
    const page_count = defined(row, 'page_count row').page_count;
    await db.$queryRawUnsafe(`PRAGMA max_page_count = ${Number(page_count) + extra}`);
  };
  const big = (kind: string) => ({ data: { projectId: 'p', actor: 'test:t', kind, detail: 'x'.repeat(50_000) } });

  it(
    'SQLITE_FULL inside a transaction: it fails with that code, the next ' +
      'transactions and statements run, and work resumes once space is back',
    async () => {
      await limitPages(2);
      for (let i = 0; i < 3; i++) {
        const err = await db
          .$transaction(async (tx) => void (await tx.itemEvent.create(big(`full-${i}`))))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(dbFaultOf(err)).toBe('full');
      }
      const plain = await db.itemEvent.create(big('plain')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(dbFaultOf(plain)).toBe('full');
      // Reads go on; nothing half-written is visible.
      expect(await db.itemEvent.count({ where: { kind: { startsWith: 'full-' } } })).toBe(0);
      await limitPages(1000);
      await db.$transaction(async (tx) => void (await tx.itemEvent.create(big('after'))));
      await db.itemEvent.create(event('plain-after'));
      expect(await db.itemEvent.count({ where: { kind: { in: ['after', 'plain-after'] } } })).toBe(2);
    },
  );

  it('a transaction left open on the connection by a failure is ended before the next BEGIN', async () => {
    // As after a COMMIT that failed and a ROLLBACK that could not run.
    await db.$executeRawUnsafe('BEGIN');
    await db.$transaction(async (tx) => void (await tx.itemEvent.create(event('next'))));
    expect(await db.itemEvent.count({ where: { kind: 'next' } })).toBe(1);
  });
});
