import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDb, type Db } from '../../../engine/store/db.ts';
import { directSqlOf } from '../../../engine/store/direct-sql.ts';
import { pgInteractive, pgPoolOf } from '../../../engine/store/pg-direct.ts';
import { rawRead, rawTransaction } from '../../../engine/store/raw-tx.ts';
import { dbFaultOf } from '../../../engine/store/db-faults.ts';
import { Prisma } from '../../../generated/prisma/client.ts';
import { Engine } from '../../../engine/engine.ts';
import { EventBus, type EngineEvent } from '../../../engine/events.ts';
import { Vault } from '../../../engine/vault/vault.ts';
import { enqueueOutboxRaw } from '../../../bot/store/outbox.ts';
import { testDbUrl, testDialect } from '../../harness/test-db.ts';

// `start --all` runs each batch with raw statements only, without Prisma's client: on SQLite on the adapter's
// connection, on PostgreSQL on the adapter's `pg` pool. What a start writes is read back here through Prisma, on both.
let dir: string;
let db: Db;
let engine: Engine;
let events: EngineEvent[];
const actor = { surface: 'test', id: 'admin', name: 'Zoë "Admin"' };
const N = 1200;
const POOL = 800;
const THREAD = 'test:C1/T9';

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mailferry-bulk-start-'));
  ({ db } = await openDb(testDbUrl(dir)));
  events = [];
  const bus = new EventBus();
  bus.on((e) => void events.push(e));
  engine = new Engine(db, bus, new Vault(randomBytes(32)));
});
afterEach(async () => {
  await db.$disconnect();
  rmSync(dir, { recursive: true, force: true });
});

/** A project of N items in mixed states (see below), its pool of POOL licenses partly used. */
async function seed() {
  const project = await engine.createProject(actor, {
    name: 'acme',
    sourceUrl: 'imaps://old.example',
    destinationUrl: 'imaps://new.example',
    channelRef: null,
  });
  const rows = Array.from({ length: N }, (_, i) => ({ source: `u${i}@old.example`, destination: `u${i}@new.example` }));
  const { added } = await engine.addItems(actor, project, rows, { threadRef: 'test:C1/T1' });
  const byIndex = (pred: (i: number) => boolean) => added.filter((_, i) => pred(i)).map((item) => item.id);
  // Sources by admin credentials; destinations by the user's, stored for every third item (those are queued, the
  // rest wait for their user).
  await db.project.update({
    where: { id: project.id },
    data: { sourceAuth: 'admin', destinationAuth: 'user', licensesTotal: POOL, licensesUsed: 10 },
  });
  const bytes = Buffer.from([1, 2, 3]);
  await db.credential.createMany({
    data: byIndex((i) => i % 3 === 0).map((itemId) => ({
      itemId,
      side: 'destination',
      login: 'x',
      nonce: bytes,
      ciphertext: bytes,
      tag: bytes,
      keyId: 'k',
    })),
  });
  // Every 10th is queued already (refused by the state machine); every 7th failed with its license kept.
  await db.item.updateMany({ where: { id: { in: byIndex((i) => i % 10 === 5) } }, data: { status: 'Queued' } });
  await db.item.updateMany({
    where: { id: { in: byIndex((i) => i % 7 === 1 && i % 10 !== 5) } },
    data: { status: 'Failed', failureReason: 'Network', failureDetail: 'gone', license: 'reserved' },
  });
  return { project, added: added.map((item) => ({ ...item, project })) };
}

describe('start --all on raw statements', () => {
  it(`starts ${N} items: rows, history, licenses, outbox posts and events read back as written`, async () => {
    // SQLite's batches run on the better-sqlite3 database under the adapter, PostgreSQL's on the `pg` pool under it.
    expect(directSqlOf(db)?.interactive !== undefined).toBe(testDialect() === 'sqlite');
    expect(pgPoolOf(db) !== null).toBe(testDialect() === 'postgresql');
    const { project, added } = await seed();
    const writes: { id: number; threadRef: string; addresses: string[] }[] = [];
    engine.batchPosts = async (tx, changes) => {
      const addresses = changes.map((c) => c.item.sourceAddress);
      const message = JSON.stringify({ kind: 'bulk-status', addresses });
      const id = await enqueueOutboxRaw(tx, { threadRef: THREAD, kind: 'bulk-status', message }, new Date(0));
      writes.push({ id, threadRef: THREAD, addresses });
      return undefined;
    };
    const now = new Date('2026-11-30T12:00:00.123Z');
    const started = new Engine(db, engine.bus, engine.vault, () => now);
    started.batchPosts = engine.batchPosts;
    const r = await started.startItems(actor, added, { threadRef: THREAD, pass: { type: 'full' } });

    // Every 10th was queued: refused. The pool (10 used of 800) runs out: the item after the last license is
    // refused and the rest are left as they are.
    const reservedBefore = added.filter((_, i) => i % 7 === 1 && i % 10 !== 5).length;
    const queued = added.filter((_, i) => i % 10 === 5).length;
    expect(r.refused.filter((e) => e.code === 'ITEM_ACTIVE')).toHaveLength(
      added.slice(0, r.changed.length + r.refused.length).filter((_, i) => i % 10 === 5).length,
    );
    expect(r.refused.at(-1)?.code).toBe('NO_LICENSES');
    const fresh = r.changed.filter((c) => c.from !== 'Failed').length;
    expect(fresh).toBe(POOL - 10);
    expect(reservedBefore + queued).toBeGreaterThan(0);

    const stored = new Map((await db.item.findMany({ include: { project: true } })).map((i) => [i.id, i] as const));
    for (const c of r.changed) {
      const row = stored.get(c.item.id);
      // The item the command returns is the row as stored, field for field and type for type.
      const { project: _p, ...item } = c.item;
      const { project: _q, ...storedItem } = row!;
      expect(item).toEqual(storedItem);
      expect(row?.status).toBe(c.to);
      expect(c.to).toBe(added.findIndex((a) => a.id === c.item.id) % 3 === 0 ? 'Queued' : 'WaitingForUser');
      expect(row).toMatchObject({
        license: 'reserved',
        failureReason: null,
        failureDetail: null,
        threadRef: THREAD,
        passKind: 'full',
        updatedAt: now,
      });
    }
    const untouched = [...stored.values()].filter((i) => !r.changed.some((c) => c.item.id === i.id));
    expect(untouched.length).toBe(N - r.changed.length);
    for (const i of untouched) expect(i.updatedAt).not.toEqual(now);
    const storedProject = await db.project.findUniqueOrThrow({ where: { id: project.id } });
    expect(storedProject.licensesUsed).toBe(POOL);
    // A raw read gives each column the type Prisma gives it (numbers, nulls, dates, text).
    expect(await rawRead(db, Prisma.sql`SELECT * FROM "Project" WHERE "id" = ${project.id}`)).toEqual([storedProject]);

    const history = await db.itemEvent.findMany({ where: { kind: 'submit' }, orderBy: { id: 'asc' } });
    expect(history.map((h) => h.itemId)).toEqual(r.changed.map((c) => c.item.id));
    for (const [i, h] of history.entries()) {
      const c = r.changed[i]!;
      expect(h).toMatchObject({
        projectId: project.id,
        address: c.item.sourceAddress,
        actor: 'test:admin (Zoë "Admin")',
        fromStatus: c.from,
        toStatus: c.to,
      });
      expect(JSON.parse(h.detail)).toEqual({
        ...(c.from === 'Failed' ? {} : { license: 'reserved' }),
        ...(c.to === 'WaitingForUser' ? { missing: ['destination'] } : {}),
        pass: 'full',
      });
    }

    // One outbox post per batch, as the writer wrote it, its id the one the insert returned.
    const posts = await db.outboxPost.findMany({ orderBy: { id: 'asc' } });
    expect(posts.map((p) => p.id)).toEqual(writes.map((w) => w.id));
    expect(writes.flatMap((w) => w.addresses)).toEqual(r.changed.map((c) => c.item.sourceAddress));
    for (const [i, p] of posts.entries())
      expect(p).toMatchObject({
        threadRef: THREAD,
        itemId: null,
        address: null,
        kind: 'bulk-status',
        message: JSON.stringify({ kind: 'bulk-status', addresses: writes[i]?.addresses }),
        replaceKey: null,
        solo: false,
        attempts: 0,
        state: null,
        claimedBy: null,
        availableAt: new Date(0),
        createdAt: new Date(0),
      });

    // An event per status change, after the commit, with its post already written.
    const status = events.filter((e) => e.type === 'item.status');
    expect(status.map((e) => e.type === 'item.status' && [e.item.id, e.to, e.posted])).toEqual(
      r.changed.map((c) => [c.item.id, c.to, true]),
    );
  }, 120_000);

  it('a batch one of whose items changed meanwhile is not written at all; the batches before it are kept', async () => {
    const { project, added } = await seed();
    // The update of one item of the second batch is skipped as if another writer had changed it first.
    const victim = 'u700@old.example';
    if (testDialect() === 'postgresql') {
      await db.$executeRawUnsafe(`CREATE FUNCTION skip_one() RETURNS trigger AS $$ BEGIN
        IF OLD."sourceAddress" = '${victim}' THEN RETURN NULL; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
      await db.$executeRawUnsafe(
        'CREATE TRIGGER skip_one BEFORE UPDATE ON "Item" FOR EACH ROW EXECUTE FUNCTION skip_one()',
      );
    } else {
      await db.$executeRawUnsafe(`CREATE TRIGGER skip_one BEFORE UPDATE ON "Item" FOR EACH ROW
        WHEN OLD."sourceAddress" = '${victim}' BEGIN SELECT RAISE(IGNORE); END`);
    }
    let posts = 0;
    engine.batchPosts = async (tx, changes) => {
      await enqueueOutboxRaw(tx, { threadRef: THREAD, kind: 'k', message: '{}' }, new Date());
      posts += changes.length ? 1 : 0;
      return undefined;
    };
    await expect(engine.startItems(actor, added, { threadRef: THREAD, batch: 500 })).rejects.toThrow(
      /bulk start: 1 of \d+ items changed while being started/,
    );
    // The first batch is kept whole; nothing of the second (rows, history, licenses, post).
    const first = new Set(added.slice(0, 500).map((i) => i.id));
    const history = await db.itemEvent.findMany({ where: { kind: 'submit' } });
    expect(history.length).toBeGreaterThan(0);
    expect(history.every((h) => first.has(h.itemId!))).toBe(true);
    const changed = await db.item.findMany({ where: { threadRef: THREAD } });
    expect(changed.map((i) => i.id).sort()).toEqual(history.map((h) => h.itemId).sort());
    const fresh = history.filter((h) => h.fromStatus !== 'Failed').length;
    expect((await db.project.findUniqueOrThrow({ where: { id: project.id } })).licensesUsed).toBe(10 + fresh);
    // The second batch failed its count check before its post was written.
    expect(await db.outboxPost.count()).toBe(1);
    expect(posts).toBe(1);
    expect(events.filter((e) => e.type === 'item.status')).toHaveLength(history.length);
  }, 120_000);

  it('bulk add, start --all and start --waiting rest between their batches only while a pass is running', async () => {
    const rests: number[] = [];
    engine.sleep = async (ms) => void rests.push(ms);
    // N = 1,200 items: 3 batches of 500, so 2 rests when it rests. Nothing runs yet: no rest.
    const { project, added } = await seed();
    expect(rests).toEqual([]);
    await engine.startItems(actor, added.slice(0, 600), { threadRef: THREAD });
    expect(rests).toEqual([]);
    // A pass is running (in any process: the database says so): both commands rest after every batch but the last.
    await db.item.update({ where: { id: added[N - 1]!.id }, data: { status: 'Running' } });
    const more = Array.from({ length: 1001 }, (_, i) => ({
      source: `v${i}@old.example`,
      destination: `v${i}@new.example`,
    }));
    await engine.addItems(actor, project, more, { threadRef: 'test:C1/T1' });
    expect(rests).toHaveLength(2);
    await engine.startItems(actor, added.slice(0, N - 1), { threadRef: THREAD });
    expect(rests).toHaveLength(4);
    // start --waiting: the items now waiting for their user asked again, in batches of 200 here.
    const waiting = await db.item.findMany({ where: { status: 'WaitingForUser' }, include: { project: true } });
    expect(waiting.length).toBeGreaterThan(400);
    await engine.resendItems(actor, waiting, { batch: 200 });
    expect(rests).toHaveLength(4 + Math.ceil(waiting.length / 200) - 1);
    expect(rests.every((ms) => ms >= 0)).toBe(true);
  });

  it.skipIf(testDialect() !== 'postgresql')(
    "PostgreSQL's raw reads on the pool type each column as Prisma's do, refuse a type they do not know",
    async () => {
      const sql = Prisma.sql`SELECT 1::int AS "i", 9007199254740993::bigint AS "b", true AS "t", 1.5::float8 AS "f",
        '2026-11-30 12:00:00.123'::timestamp(3) AS "ts", '2026-11-30 12:00:00.5+00'::timestamptz AS "tz",
        ${'Zoë'}::text AS "s", NULL::int AS "n", '{"a":[1,"x"]}'::jsonb AS "j",
        ${new Date(Date.UTC(2026, 0, 2))}::timestamp(3) AS "d"`;
      expect(await rawRead(db, sql)).toEqual(await db.$queryRaw(sql));
      await expect(rawRead(db, Prisma.sql`SELECT 1.5::numeric AS "x"`)).rejects.toThrow(/type oid 1700/);
      // A transaction that fails is rolled back and its connection serves again.
      const { added } = await seed();
      const id = added[0]!.id;
      await expect(
        rawTransaction(db, async (tx) => {
          await tx.$executeRaw`UPDATE "Item" SET "status" = 'Queued' WHERE "id" = ${id}`;
          await tx.$queryRaw`SELECT 1/0`;
        }),
      ).rejects.toThrow(/division by zero/);
      expect((await db.item.findUniqueOrThrow({ where: { id } })).status).toBe('NotStarted');
      for (let i = 0; i < 12; i++) expect(await rawTransaction(db, async (tx) => tx.$executeRaw`SELECT 1`)).toBe(1);
    },
  );

  it.skipIf(testDialect() !== 'postgresql')(
    'a batch waiting on a row another session holds is cancelled, and a wait for a connection is bounded',
    async () => {
      const pool = pgPoolOf(db);
      if (!pool) throw new Error('no pg pool under the client');
      const { added } = await seed();
      const id = added[0]!.id;
      // Another session (a stuck admin's psql) holds the item's row locked.
      const holder = await pool.connect();
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM "Item" WHERE "id" = $1 FOR UPDATE', [id]);
      try {
        const lockedUpdate = (d: { execute(sql: string, args: readonly unknown[]): Promise<number> }) =>
          d.execute(`UPDATE "Item" SET "status" = 'Queued' WHERE "id" = $1`, [id]);
        await expect(pgInteractive(pool, lockedUpdate, { statementMs: 300 })).rejects.toThrow(/statement timeout/);
        // Every other connection of the pool taken: the next transaction gives up waiting for one.
        const held = [];
        while (pool.totalCount < (pool.options.max ?? 10) || pool.idleCount > 0) held.push(await pool.connect());
        await expect(pgInteractive(pool, async () => 1, { acquireMs: 200 })).rejects.toThrow(
          /no PostgreSQL connection free after 200 ms/,
        );
        for (const c of held) c.release();
      } finally {
        await holder.query('ROLLBACK');
        holder.release();
      }
      // The row was never written, and the pool serves transactions again.
      expect((await db.item.findUniqueOrThrow({ where: { id } })).status).toBe('NotStarted');
      expect(
        await rawTransaction(
          db,
          async (tx) => tx.$executeRaw`UPDATE "Item" SET "status" = 'Queued' WHERE "id" = ${id}`,
        ),
      ).toBe(1);
      expect(pool.waitingCount).toBe(0);
    },
    60_000,
  );

  it.skipIf(testDialect() !== 'sqlite')(
    'a full database fails the batch with SQLITE_FULL, told apart as such, and leaves the connection usable',
    async () => {
      const { added } = await seed();
      // SQLite's page cap stands in for a full disk: the next page the batch needs cannot be had.
      const [pages] = await db.$queryRawUnsafe<{ page_count: bigint }[]>('PRAGMA page_count');
      await db.$queryRawUnsafe(`PRAGMA max_page_count = ${Number(pages?.page_count)}`);
      const e = await engine.startItems(actor, added, { threadRef: THREAD }).catch((err: unknown) => err);
      expect(dbFaultOf(e)).toBe('full');
      await db.$queryRawUnsafe('PRAGMA max_page_count = 1073741823');
      // Nothing of the failed batch was kept, and the connection takes statements again.
      expect(await db.itemEvent.count({ where: { kind: 'submit' } })).toBe(0);
      expect(await db.item.count({ where: { threadRef: THREAD } })).toBe(0);
      const r = await engine.startItems(actor, added, { threadRef: THREAD });
      expect(r.changed.length).toBeGreaterThan(0);
    },
    120_000,
  );
});
