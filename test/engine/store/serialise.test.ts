import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, type Db } from '../../../engine/store/db.ts';

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
