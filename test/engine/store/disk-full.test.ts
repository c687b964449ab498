/**
 * A full disk, for real: the database lives on a small tmpfs that the test fills to the last
 * byte while a copy pass is in flight (held by a throttled body fetch at an IMAP proxy).
 * SQLite then fails writes with SQLITE_FULL, COMMITs included. Every transaction must end,
 * the pass must fail its item visibly with the database's reason (once the database can
 * record it), commands must get a clear error, `/healthz` must say unhealthy until space is
 * back, and SIGTERM must still stop the server.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createApp, serveHttp } from '../../../bot/app.ts';
import { loadConfig } from '../../../bot/config.ts';
import { Logger } from '../../../bot/log.ts';
import { Runner } from '../../../engine/runner/runner.ts';
import { runPass } from '../../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../../engine/store/folder-state.ts';
import { SYSTEM_ACTOR } from '../../../engine/domain/types.ts';
import type { Engine } from '../../../engine/engine.ts';
import {
  dovecotAvailable,
  makeMessage,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../../harness/imap-proxy.ts';
import { makeTestApp, waitForPost, type TestApp } from '../../harness/app.ts';
import { mountSmallDisk, smallDiskAvailable, type SmallDisk } from '../../harness/tmpfs.ts';

const ready = dovecotAvailable() && smallDiskAvailable();
const BODY_FETCH = /BODY\.PEEK\[\]/;
const msgs = (count: number): SeedMessage[] =>
  Array.from({ length: count }, () => ({ raw: makeMessage({ size: 3000 }), flags: ['\\Seen'] }));

async function healthz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** A project and an item with both credentials, ready to `start` (source through the proxy). */
async function setUp(engine: Engine, source: string, destination: string, user: string) {
  const project = await engine.createProject(SYSTEM_ACTOR, {
    name: 'acme',
    sourceUrl: source,
    destinationUrl: destination,
    channelRef: 'test:C1',
  });
  await engine.addItems(
    SYSTEM_ACTOR,
    project,
    [{ source: `${user}@old.example`, destination: `${user}@new.example` }],
    { threadRef: 'test:C1/T1' },
  );
  let item = await engine.getItem(project, `${user}@old.example`);
  item = await engine.setCredential(SYSTEM_ACTOR, item, 'source', `${user}@old.example`, { password: 'pw-source' });
  item = await engine.setCredential(SYSTEM_ACTOR, item, 'destination', `${user}@new.example`, { password: 'pw-dest' });
  return { project, item };
}

describe.skipIf(!ready)('a full disk under the database', () => {
  let dv: DovecotInstance;
  let proxy: ImapProxy;
  let disk: SmallDisk;

  beforeAll(async () => {
    dv = await startDovecot();
    proxy = await startImapProxy({ port: dv.port });
    disk = mountSmallDisk(4096);
  });
  afterAll(async () => {
    disk?.free();
    disk?.dispose();
    await proxy?.close();
    await dv?.dispose();
  });

  /** Holds the first body fetch of the next pass and fills the disk at that moment. */
  function fillDuringPass(): Promise<void> {
    proxy.clearRules();
    proxy.throttle({ command: 'UID FETCH', match: BODY_FETCH, nth: 1, backoffMs: 3000 });
    return new Promise((resolveFilled) => {
      proxy.onThrottle = () => {
        proxy.onThrottle = undefined;
        disk.fill();
        resolveFilled();
      };
    });
  }

  it(
    'the pass fails its item with "the database is full", commands get ' +
      'a clear error, /healthz is 503 until space is back, nothing hangs',
    async () => {
      for (const u of ['alice']) {
        dv.addUser(`${u}@old.example`, 'pw-source');
        dv.addUser(`${u}@new.example`, 'pw-dest');
      }
      await seedImap(dv, 'alice@old.example', 'pw-source', { INBOX: msgs(12), Archive: msgs(6) });
      const t: TestApp = await makeTestApp({ DATABASE_URL: `file:${join(disk.dir, 'a', 'db.sqlite')}` });
      const runner = new Runner(
        t.app.engine,
        createPrismaCheckpointStore(t.app.db),
        runPass,
        t.app.log.child({ part: 'runner' }),
        { concurrency: 1, pollMs: 200, stopCheckMs: 200, recordRetryMaxMs: 300 },
      );
      try {
        const { port } = await serveHttp(t.app);
        expect(await healthz(port)).toMatchObject({ status: 200, body: { ok: true } });
        await runner.start();
        const { item } = await setUp(t.app.engine, proxy.url, dv.url, 'alice');
        const filled = fillDuringPass();
        await t.app.engine.startItem(SYSTEM_ACTOR, item);
        await filled;

        // The database cannot be written: /healthz says so.
        await vi.waitFor(
          async () =>
            expect(await healthz(port)).toEqual({
              status: 503,
              body: { ok: false, db: 'full', error: 'the database is full' },
            }),
          { timeout: 20_000, interval: 200 },
        );
        // The pass ends on its next checkpoint and waits to record its outcome.
        await vi.waitFor(() => expect(t.logs.join('\n')).toMatch(/pass ended: the database cannot be written/), {
          timeout: 30_000,
          interval: 200,
        });
        await vi.waitFor(() => expect(t.logs.join('\n')).toMatch(/cannot record the outcome of a pass/), {
          timeout: 30_000,
          interval: 200,
        });

        // Commands: a clear error, every time (no lock was left held by the failed transactions).
        for (const who of ['bob', 'carol']) {
          const r = await t.run(`add ${who}@old.example`);
          expect(r.result).toMatchObject({ ok: false, code: 'DATABASE_FULL' });
          expect(r.text).toMatch(/The database is full: MailFerry cannot save anything until space is freed/);
        }
        // Reads still answer.
        expect((await t.run('status')).text).toMatch(/alice@old\.example/);
        expect(await healthz(port)).toMatchObject({ status: 503 });

        // Space is back: the item fails visibly with the database's reason, the post goes out, all is well again.
        disk.free();
        await vi.waitFor(
          async () => {
            const it = await t.app.engine.itemById(item.id);
            expect(it).toMatchObject({ status: 'Failed', failureReason: 'DatabaseFull' });
          },
          { timeout: 30_000, interval: 200 },
        );
        await waitForPost(t, /alice@old\.example\*? failed: The database is full/, 30_000);
        await vi.waitFor(async () => expect(await healthz(port)).toMatchObject({ status: 200, body: { ok: true } }), {
          timeout: 10_000,
          interval: 200,
        });
        const r = await t.run('add bob@old.example');
        expect(r.result).toMatchObject({ ok: true });
        expect(t.logs.join('\n')).toMatch(/the database can be written again/);
      } finally {
        disk.free();
        await runner.stop();
        await t.close();
      }
    },
  );

  it('serve: a pass in flight when the disk fills; /healthz says 503 and SIGTERM still stops the process', async () => {
    dv.addUser('dan@old.example', 'pw-source');
    dv.addUser('dan@new.example', 'pw-dest');
    await seedImap(dv, 'dan@old.example', 'pw-source', { INBOX: msgs(12) });
    const dataDir = mkdtempSync(join(tmpdir(), 'mailferry-full-'));
    const env = {
      DATABASE_URL: `file:${join(disk.dir, 'b', 'db.sqlite')}`,
      MAILFERRY_DATA_DIR: dataDir,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      PORT: '0',
      SMTP_URL: '',
      SLACK_SIGNING_SECRET: '',
      SLACK_BOT_TOKEN: '',
      MicrosoftAppId: '',
      MAILFERRY_DEV: '',
      LOG_LEVEL: 'info',
    };
    // The item is queued by a first process that runs no pass; the server takes it.
    const setup = await createApp(loadConfig(env, '/nonexistent'), { log: new Logger(() => {}, 'error') });
    const { item } = await setUp(setup.engine, proxy.url, dv.url, 'dan');
    await setup.engine.startItem(SYSTEM_ACTOR, item);
    await setup.close();

    const filled = fillDuringPass();
    const p = spawn(process.execPath, [resolve('bin/mailferry.mjs'), 'serve'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    p.stdout.on('data', (d) => (log += d));
    p.stderr.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => p.on('close', r));
    try {
      await filled;
      const port = await vi.waitFor(
        () => {
          const m = /listening on port (\d+)/.exec(log);
          if (!m) throw new Error(`no listen line yet:\n${log}`);
          return Number(m[1]);
        },
        { timeout: 30_000, interval: 100 },
      );
      await vi.waitFor(() => expect(log).toMatch(/cannot record the outcome of a pass/), {
        timeout: 30_000,
        interval: 200,
      });
      expect(await healthz(port)).toEqual({
        status: 503,
        body: { ok: false, db: 'full', error: 'the database is full' },
      });
      p.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(log).toMatch(/SIGTERM: shutting down/);
      expect(log).toMatch(/INFO {2}stopped$/m);
    } finally {
      if (p.exitCode === null) p.kill('SIGKILL');
      disk.free();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
