/**
 * The job runner rests while idle (its look at the queue backs off to `idlePollMs`) yet a
 * start made in its own process begins at once, and a start queued by another process on
 * the same database is picked up by the next look. Real Dovecot on both sides, real passes;
 * the "other process" is a second app on the same SQLite file, whose events the runner's
 * process never hears.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import type { Engine } from '../../engine/engine.ts';
import {
  dovecotAvailable,
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
} from '../harness/dovecot.ts';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { testDbUrl } from '../harness/test-db.ts';

const HOUR = 3_600_000;

/** An item with both credentials in project `name`, ready to start. */
async function ready(engine: Engine, name: string, dv: DovecotInstance, user: string) {
  const project = await engine.createProject(SYSTEM_ACTOR, {
    name,
    sourceUrl: dv.url,
    destinationUrl: dv.url,
    channelRef: 'test:C1',
  });
  await engine.addItems(
    SYSTEM_ACTOR,
    project,
    [{ source: `${user}@old.example`, destination: `${user}@new.example` }],
    { threadRef: 'test:C1/T1' },
  );
  let item = await engine.getItem(project, `${user}@old.example`);
  item = await engine.setCredential(SYSTEM_ACTOR, item, 'source', `${user}@old.example`, { password: 'pw' });
  item = await engine.setCredential(SYSTEM_ACTOR, item, 'destination', `${user}@new.example`, { password: 'pw' });
  return item;
}

describe.skipIf(!dovecotAvailable())('the job runner while idle', () => {
  let dv: DovecotInstance;
  let a: TestApp;
  let b: TestApp;
  const runners: Runner[] = [];

  beforeAll(async () => {
    dv = await startDovecot({
      users: ['alice', 'bob'].flatMap((u) => [
        { name: `${u}@old.example`, password: 'pw' },
        { name: `${u}@new.example`, password: 'pw' },
      ]),
    });
    for (const u of ['alice', 'bob'])
      await seedImap(dv, `${u}@old.example`, 'pw', { INBOX: [{ raw: makeMessage({ subject: `hello ${u}` }) }] });
    a = await makeTestApp();
    // Another process's view of the same database (and key): its own engine, bus and connection.
    b = await makeTestApp({ DATABASE_URL: testDbUrl(a.dir), MAILFERRY_DATA_DIR: a.dir });
  }, 120_000);
  afterAll(async () => {
    for (const r of runners) await r.stop();
    await b?.close();
    await a?.close();
    await dv?.dispose();
  });

  const runnerOf = (t: TestApp, pollMs: number, idlePollMs: number) => {
    const r = new Runner(
      t.app.engine,
      createPrismaCheckpointStore(t.app.db),
      runPass,
      t.app.log.child({ part: 'runner' }),
      { concurrency: 1, pollMs, idlePollMs, stopCheckMs: 200 },
    );
    runners.push(r);
    return r;
  };

  it('begins a start made in its own process at once, though its next look is an hour away', async () => {
    const runner = runnerOf(a, HOUR, HOUR);
    await runner.start(); // the first look finds nothing: the next one is planned an hour on
    const item = await ready(a.app.engine, 'here', dv, 'alice');
    await a.app.engine.startItem(SYSTEM_ACTOR, item);
    await vi.waitFor(async () => expect((await a.app.engine.itemById(item.id))?.status).toBe('Completed'), {
      timeout: 120_000,
      interval: 200,
    });
    expect((await readMailbox(dv, 'alice@new.example', 'pw')).messages.INBOX).toHaveLength(1);
    await runner.stop();
  }, 180_000);

  it('picks up a start queued by another process on the same database', async () => {
    const runner = runnerOf(a, 100, 1_000);
    await runner.start();
    // Let it find nothing a few times (its wait grows to the idle one) before the other process starts an item.
    await new Promise((r) => setTimeout(r, 2_000));
    const item = await ready(b.app.engine, 'there', dv, 'bob');
    await b.app.engine.startItem(SYSTEM_ACTOR, item);
    await vi.waitFor(async () => expect((await a.app.engine.itemById(item.id))?.status).toBe('Completed'), {
      timeout: 120_000,
      interval: 200,
    });
    expect((await readMailbox(dv, 'bob@new.example', 'pw')).messages.INBOX).toHaveLength(1);
    // The pass ran in the runner's process: the other one has no runner.
    expect(a.logs.join('\n')).toMatch(/pass finished/);
  }, 180_000);
});
