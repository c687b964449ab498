/**
 * Stopping the job runner while a claim is in flight: the claim is answered after `stop`
 * began, and the item it took must go back to the queue rather than start a pass that
 * nothing waits for (the server would close the database under it).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Runner } from '../../engine/runner/runner.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { SYSTEM_ACTOR } from '../../engine/domain/types.ts';
import type { Engine } from '../../engine/engine.ts';
import type { runPass } from '../../engine/copy/index.ts';
import { makeTestApp, type TestApp } from '../harness/app.ts';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('the job runner stopped while it claims an item', () => {
  it('gives the item back to the queue and begins no pass after stop', async () => {
    t = await makeTestApp();
    const engine = t.app.engine;
    const project = await engine.createProject(SYSTEM_ACTOR, {
      name: 'acme',
      sourceUrl: 'imaps://127.0.0.1:1',
      destinationUrl: 'imaps://127.0.0.1:2',
      channelRef: 'test:C1',
    });
    await engine.addItems(SYSTEM_ACTOR, project, [{ source: 'alice@old.example' }], { threadRef: 'test:C1/T1' });
    let item = await engine.getItem(project, 'alice@old.example');
    item = await engine.setCredential(SYSTEM_ACTOR, item, 'source', 'alice@old.example', { password: 'pw' });
    item = await engine.setCredential(SYSTEM_ACTOR, item, 'destination', 'alice@old.example', { password: 'pw' });

    // The engine as the runner sees it: a claim is answered only when the test lets it through.
    let claimedNow: () => void = () => {};
    const claimed = new Promise<void>((r) => {
      claimedNow = r;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const gated = new Proxy(engine, {
      get(target, key) {
        if (key !== 'claimNext') return Reflect.get(target, key);
        return async (...args: Parameters<Engine['claimNext']>) => {
          const got = await target.claimNext(...args);
          if (got) {
            claimedNow();
            await gate;
          }
          return got;
        };
      },
    });
    const passes: string[] = [];
    const pass: typeof runPass = async (input) => {
      passes.push(input.itemId);
      throw new Error('a pass began');
    };
    const runner = new Runner(gated, createPrismaCheckpointStore(t.app.db), pass, t.app.log.child({ part: 'runner' }), {
      concurrency: 1,
      pollMs: 50,
      stopCheckMs: 50,
    });
    await runner.start();
    await engine.startItem(SYSTEM_ACTOR, item);
    await claimed;
    // The claim has taken the item (Running, leased) and waits: stop now, then let the answer through.
    expect((await engine.getItem(project, 'alice@old.example')).status).toBe('Running');
    const stopping = runner.stop();
    release();
    await stopping;
    expect(passes).toEqual([]);
    const after = await engine.getItem(project, 'alice@old.example');
    expect([after.status, after.leaseOwner]).toEqual(['Queued', null]);
    expect((await engine.history(after.id)).map((h) => h.kind)).toContain('interrupted');
  });
});
