import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runPass } from '../../../engine/copy/index.ts';
import { Runner } from '../../../engine/runner/runner.ts';
import { createPrismaCheckpointStore } from '../../../engine/store/folder-state.ts';
import { openDb, type Db } from '../../../engine/store/db.ts';
import { COPY_TABLES, copyDatabase } from '../../../engine/store/db-copy.ts';
import { rateCounters } from '../../../bot/store/rate-counters.ts';
import { installScheduler } from '../../../bot/scheduler/install.ts';
import { Prisma } from '../../../generated/prisma/client.ts';
import {
  dovecotAvailable,
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
} from '../../harness/dovecot.ts';
import { hashCounts } from '../../harness/copy-assert.ts';
import { makeTestApp, type TestApp } from '../../harness/app.ts';
import { testDbUrl, testDialect } from '../../harness/test-db.ts';
import { defined } from '../../harness/defined.ts';

// `mailferry db copy --to postgresql://…` moves a SQLite install to PostgreSQL. The SQLite
// install is made through the product (a project, a migrated mailbox with its credentials,
// checkpoints, history and thread posts, 10,000 more mailboxes added in bulk, a rate counter),
// copied by the real command in a child process, and then the product runs on PostgreSQL:
// the same status, the same credentials, and a later pass of the migrated mailbox resumes
// from the copied checkpoints. Needs PostgreSQL (MAILFERRY_TEST_DB=postgresql) and Dovecot.

const BULK = 10_000;
const onPg = testDialect() === 'postgresql';
if (!onPg)
  console.warn(
    'SKIPPED on SQLite: the copies of test/engine/store/db-copy.test.ts (the ' +
      "copy's target is PostgreSQL; run with MAILFERRY_TEST_DB=postgresql)",
  );

let home: string;
let dv: DovecotInstance;
const open: { close(): Promise<void> }[] = [];
const msgs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    raw: makeMessage({ subject: `${tag} ${i}`, size: 2000 + i * 37 }),
    flags: i % 2 ? ['\\Seen'] : [],
  }));

beforeAll(async () => {
  if (!onPg) return;
  home = mkdtempSync(join(tmpdir(), 'mailferry-dbcopy-'));
  dv = await startDovecot();
  dv.addUser('alice@old.example', 'alice-old-pw');
  dv.addUser('alice@new.example', 'alice-new-pw');
  await seedImap(dv, 'alice@old.example', 'alice-old-pw', { INBOX: msgs(30, 'inbox'), Archive: msgs(10, 'archive') });
});
afterAll(async () => {
  for (const o of open.reverse()) await o.close();
  await dv?.dispose();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** A test app on `url` with the install's key file, and a runner working its queue. */
async function product(url: string): Promise<TestApp> {
  const t = await makeTestApp({ DATABASE_URL: url, MAILFERRY_DATA_DIR: home });
  const runner = new Runner(
    t.app.engine,
    createPrismaCheckpointStore(t.app.db),
    runPass,
    t.app.log.child({ part: 'runner' }),
    { concurrency: 1, pollMs: 200, stopCheckMs: 200 },
  );
  await runner.start();
  const entry = {
    async close() {
      await runner.stop();
      await t.close();
    },
  };
  open.push(entry);
  return { ...t, close: entry.close };
}

async function passEnds(t: TestApp, address: string, passCount: number) {
  await vi.waitFor(
    async () => {
      const item = await t.app.engine.getItem(await t.app.engine.getProject('acme'), address);
      if (item.passCount < passCount || !['Completed', 'Failed'].includes(item.status))
        throw new Error(`still ${item.status}`);
    },
    { timeout: 120_000, interval: 200 },
  );
  return t.app.engine.getItem(await t.app.engine.getProject('acme'), address);
}

/** Runs `mailferry db …` (by default on the SQLite install). */
function mailferryDb(
  args: string[],
  env: Record<string, string> = { DATABASE_URL: sqliteUrl(), MAILFERRY_DATA_DIR: home },
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [resolve('bin/mailferry.mjs'), 'db', ...args],
      { env: { ...process.env, ...env }, maxBuffer: 1 << 24 },
      (e, out, err) => res({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}
const dbCopy = (args: string[]) => mailferryDb(['copy', ...args]);
const sqliteUrl = () => testDbUrl(home, 'db', 'sqlite');
/** The target's URL with a password in it (the server trusts the test user; the output must not show it). */
const pgUrl = () => testDbUrl(home, 'target', 'postgresql').replace('://root@', '://root:hunter2-secret@');

/** Every row of every table, sorted by primary key, through Prisma (BigInt, bytes and instants as values). */
async function everything(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const t of COPY_TABLES) {
    const rows = await defined(
      (db as unknown as Record<string, { findMany(): Promise<Record<string, unknown>[]> }>)[
        t.model.charAt(0).toLowerCase() + t.model.slice(1)
      ],
    ).findMany();
    const key = (r: Record<string, unknown>) => t.key.map((k) => String(r[k])).join('\0');
    out[t.model] = rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
  return out;
}

describe('mailferry db: its help and misuse', () => {
  // Six processes one after the other: on a loaded 2-core machine (load 19) one `mailferry db --help`
  // took 3.8 s compiled and 7.4 to 10.5 s from the sources (an edited checkout); at 60 s it timed out.
  it('explains itself, and refuses a missing or non-PostgreSQL ' +
    'target and a PostgreSQL source before connecting anywhere', async () => {
    const env = { DATABASE_URL: 'file:/nonexistent/never-opened.db', MAILFERRY_DATA_DIR: '/nonexistent' };
    const help = await mailferryDb(['--help'], env);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^Usage: mailferry db copy --to postgresql:\/\/USER:PASSWORD@HOST:5432\/DB \[--force\]/);
    expect(help.out).toMatch(/--force +deletes every MailFerry row in the target first/);
    expect((await mailferryDb([], env)).err).toMatch(/Which db command\? See: mailferry db --help/);
    expect((await mailferryDb(['copy'], env)).err).toMatch(
      /Give the target database: mailferry db copy --to postgresql:\/\/…/,
    );
    expect((await mailferryDb(['copy', '--to', 'file:/tmp/x.db'], env)).err).toMatch(
      /The target must be a postgresql:\/\/ URL/,
    );
    expect((await mailferryDb(['copy', '--to=postgresql://h/db', '--fast'], env)).err).toMatch(
      /Unknown argument --fast for "db copy"/,
    );
    const pg = await mailferryDb(['copy', '--to', 'postgresql://h/db'], {
      ...env,
      DATABASE_URL: 'postgresql://u:pw@h/src',
    });
    expect(pg.code).toBe(2);
    expect(pg.err).toMatch(/DATABASE_URL already names a PostgreSQL database/);
  }, 180_000);
});

describe.skipIf(!onPg)('mailferry db copy: a SQLite install to PostgreSQL', () => {
  it('knows every table of the schema', () => {
    expect(COPY_TABLES.map((t) => t.model).sort()).toEqual(Object.values(Prisma.ModelName).sort());
  });

  it('keeps nothing in the target when another process writes to the source during the copy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailferry-dbcopy-race-'));
    open.push({ close: async () => rmSync(dir, { recursive: true, force: true }) });
    const t = await makeTestApp({ DATABASE_URL: testDbUrl(dir, 'db', 'sqlite'), MAILFERRY_DATA_DIR: dir });
    open.push(t);
    await t.run('project create acme --source imaps://old.example:993 --destination imaps://new.example:993');
    await t.run('add alice@old.example');
    const [source, target] = [
      (await openDb(testDbUrl(dir, 'db', 'sqlite'))).db,
      (await openDb(testDbUrl(dir, 'target', 'postgresql'))).db,
    ];
    open.push({ close: () => source.$disconnect() }, { close: () => target.$disconnect() });
    // The still-running app adds a mailbox while the first table is being copied.
    let wrote = false;
    const copy = copyDatabase(source, target, {
      progress: async () => {
        if (!wrote) await t.run('add bob@old.example');
        wrote = true;
      },
    });
    await expect(copy).rejects.toThrow(/Another process wrote to the source database during the copy/);
    expect(await target.item.count()).toBe(0);
    expect(await target.project.count()).toBe(0);
    // Once it has stopped, the copy goes through, and has both mailboxes.
    expect((await copyDatabase(source, target)).find((c) => c.table === 'Item')).toEqual({
      table: 'Item',
      source: 2,
      target: 2,
    });
  });

  it('copies every row with its values, refuses what it must, and ' +
    'the product carries on on PostgreSQL from the copied checkpoints', async () => {
    expect(dovecotAvailable()).toBe(true);
    // The SQLite install: one mailbox migrated, 10,000 more added.
    const before = await product(sqliteUrl());
    await before.run(`project create acme --source ${dv.url} --destination ${dv.url}`);
    await before.run('add alice@old.example alice@new.example');
    let alice = await before.app.engine.getItem(await before.app.engine.getProject('acme'), 'alice@old.example');
    alice = await before.app.engine.setCredential(
      { surface: 'test', id: 'admin' },
      alice,
      'source',
      'alice@old.example',
      { password: 'alice-old-pw' },
    );
    await before.app.engine.setCredential({ surface: 'test', id: 'admin' }, alice, 'destination', 'alice@new.example', {
      password: 'alice-new-pw',
    });
    await before.run('start alice@old.example');
    expect((await passEnds(before, 'alice@old.example', 1)).messagesCopied).toBe(40);
    await before.run(
      `bulk\n${Array.from({ length: BULK }, (_, i) => `user${i}@old.example,user${i}@new.example`).join('\n')}`,
    );
    await rateCounters(before.app.db).hit([{ key: 'client:192.0.2.1', windowMs: 600_000 }]);
    // The digest's schedule state and a digest asked for (DigestPlan, DigestRun).
    await installScheduler(before.app, 'console').digests();
    expect((await before.run('digest')).text).toMatch(/digest/i);
    const statusBefore = (await before.run('status acme')).text;
    const aliceBefore = (await before.run('status alice@old.example')).text;
    await before.close();

    const source = (await openDb(sqliteUrl())).db;
    open.push({ close: () => source.$disconnect() });
    // A pass running on the source (its lease not run out): refused, nothing written.
    const saved = await source.item.findUniqueOrThrow({ where: { id: alice.id } });
    await source.item.update({
      where: { id: alice.id },
      data: { status: 'Running', leaseUntil: new Date(Date.now() + 600_000) },
    });
    const refused = await dbCopy(['--to', pgUrl()]);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/1 migration pass\(es\) are running on the source database/);
    await source.item.update({
      where: { id: alice.id },
      data: { status: saved.status, leaseUntil: saved.leaseUntil, updatedAt: saved.updatedAt },
    });

    const copied = await dbCopy(['--to', pgUrl()]);
    expect(copied.err).toBe('');
    expect(copied.code).toBe(0);
    expect(copied.out).toMatch(/Item: 10,000 \/ 10,001/);
    expect(copied.out).toMatch(/Copied and verified/);
    expect(copied.out).toMatch(/^ {2}Item +10,001 +10,001$/m);
    expect(copied.out + copied.err).not.toContain('hunter2-secret');

    // A second copy into the now filled database is refused; --force replaces its rows.
    const again = await dbCopy(['--to', pgUrl()]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/The target database is not empty: Project \(1\), Item \(10001\)/);
    expect((await dbCopy(['--to', pgUrl(), '--force'])).code).toBe(0);

    // Every row, value for value: ids, BigInt counters, encrypted bytes, instants.
    const target = (await openDb(testDbUrl(home, 'target', 'postgresql'))).db;
    open.push({ close: () => target.$disconnect() });
    const [src, dst] = [await everything(source), await everything(target)];
    for (const t of COPY_TABLES) expect(dst[t.model], t.model).toEqual(src[t.model]);
    expect(defined(src.FolderState).length).toBe(2);
    expect(defined(src.OutboxPost).length).toBeGreaterThan(0);
    expect(defined(src.DigestPlan)).toEqual([
      expect.objectContaining({ nextDigestAt: expect.any(Date), lastDigestAt: expect.any(Date) }),
    ]);
    expect(defined(src.DigestRun).length).toBe(1);

    // The product on PostgreSQL: the same status, the credentials decrypt with the same key,
    // and a later pass copies only what arrived since (the checkpoints came along).
    const after = await product(testDbUrl(home, 'target', 'postgresql'));
    expect((await after.run('status acme')).text).toBe(statusBefore);
    expect((await after.run('status alice@old.example')).text).toBe(aliceBefore);
    expect((await after.app.engine.credentialOf(alice.id, 'source'))?.secret.password).toBe('alice-old-pw');
    await seedImap(dv, 'alice@old.example', 'alice-old-pw', { INBOX: msgs(5, 'later') });
    await after.run('start alice@old.example');
    const done = await passEnds(after, 'alice@old.example', 2);
    expect(done.status).toBe('Completed');
    expect(done.messagesCopied).toBe(45);
    const folders = await after.app.db.folderState.findMany({
      where: { itemId: alice.id },
      orderBy: { sourceFolder: 'asc' },
    });
    expect(folders.map((f) => [f.sourceFolder, f.lastUid, f.messagesCopied])).toEqual([
      ['Archive', 10, 10],
      ['INBOX', 35, 35],
    ]);
    // The unchanged folder was not even opened: its copied checkpoint matched the source's STATUS.
    const archive = (src.FolderState as { sourceFolder: string; updatedAt: Date }[]).find(
      (f) => f.sourceFolder === 'Archive',
    )!;
    expect(defined(folders[0]).updatedAt).toEqual(archive.updatedAt);
    const inbox = (src.CopyCheckpoint as { sourceFolder: string; updatedAt: Date }[]).find(
      (f) => f.sourceFolder === 'INBOX',
    )!;
    expect(
      (
        await after.app.db.copyCheckpoint.findFirstOrThrow({ where: { itemId: alice.id, sourceFolder: 'INBOX' } })
      ).updatedAt.getTime(),
    ).toBeGreaterThan(inbox.updatedAt.getTime());
    expect(hashCounts(await readMailbox(dv, 'alice@new.example', 'alice-new-pw'))).toEqual(
      hashCounts(await readMailbox(dv, 'alice@old.example', 'alice-old-pw')),
    );
    // New history rows got ids after the copied ones (the sequences were moved on).
    const maxCopied = Math.max(...(src.ItemEvent as { id: number }[]).map((e) => e.id));
    expect((await after.app.db.itemEvent.findMany({ where: { id: { gt: maxCopied } } })).map((e) => e.kind)).toContain(
      'claim',
    );
  }, 600_000);
});
