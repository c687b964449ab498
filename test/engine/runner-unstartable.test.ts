/**
 * A pass that cannot even start (the stored credentials cannot be opened with the current
 * key) ends with the item Failed and a reason that says what to do. It used to throw out
 * of the runner: the item stayed Running under the process's lease, was taken for an
 * orphan when the lease ran out, and failed the same way again, forever.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import { makeTestApp, type TestApp } from '../harness/app.ts';

describe('a pass that cannot start', () => {
  let t: TestApp;
  let runner: Runner | undefined;
  beforeAll(async () => {
    t = await makeTestApp();
  });
  afterAll(async () => {
    await runner?.stop();
    await t?.close();
  });

  it('fails the item with a reason when its stored credentials cannot be opened', async () => {
    const engine = t.app.engine;
    // Nothing listens on port 9 of loopback: the pass must fail before it tries.
    const project = await engine.createProject(SYSTEM_ACTOR, {
      name: 'keys',
      sourceUrl: 'imap://127.0.0.1:9',
      destinationUrl: 'imap://127.0.0.1:9',
      channelRef: 'test:C1',
    });
    await engine.addItems(SYSTEM_ACTOR, project, [{ source: 'kim@old.example', destination: 'kim@new.example' }], {
      threadRef: 'test:C1/T1',
    });
    let item = await engine.getItem(project, 'kim@old.example');
    item = await engine.setCredential(SYSTEM_ACTOR, item, 'source', 'kim@old.example', { password: 'secret-pw-1' });
    item = await engine.setCredential(SYSTEM_ACTOR, item, 'destination', 'kim@new.example', {
      password: 'secret-pw-2',
    });
    // What a changed ENCRYPTION_KEY looks like to the vault: bytes it cannot authenticate.
    await t.app.db.credential.updateMany({
      where: { itemId: item.id, side: 'source' },
      data: { tag: Buffer.alloc(16, 7) },
    });
    runner = new Runner(engine, createPrismaCheckpointStore(t.app.db), runPass, t.app.log.child({ part: 'runner' }), {
      concurrency: 1,
      pollMs: 100,
      idlePollMs: 500,
      stopCheckMs: 200,
    });
    await runner.start();
    await engine.startItem(SYSTEM_ACTOR, item);
    await vi.waitFor(async () => expect((await engine.itemById(item.id))?.status).toBe('Failed'), {
      timeout: 30_000,
      interval: 100,
    });
    const failed = await engine.itemById(item.id);
    expect(failed?.failureReason).toBe('Internal');
    expect(failed?.failureDetail).toMatch(/stored source credentials cannot be opened with the current ENCRYPTION_KEY/);
    expect(failed?.failureDetail).toMatch(/rotate-key/);
    const logs = t.logs.join('\n');
    expect(logs).toMatch(/could not prepare the pass: stored credentials cannot be opened/);
    expect(logs).not.toMatch(/secret-pw/);
  });
});
