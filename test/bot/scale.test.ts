import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../harness/app.ts';
import { installScheduler } from '../../bot/scheduler/install.ts';
import type { Scheduler } from '../../bot/scheduler/scheduler.ts';
import { statusPost } from '../../cards/item-posts.ts';
import { renderBlockKit } from '../../cards/render-block-kit.ts';
import { cardFor } from '../../adapters/teams/render-activity.ts';
import { countInChunks } from '../../engine/store/chunk.ts';
import { defined } from '../harness/defined.ts';

// A project of 10,000 mailboxes through the commands an admin runs. SQLite binds at most
// 999 parameters per statement through Prisma, so every query that takes a list of ids or
// addresses must split it: each step here failed at ~1,000 before it did.

const N = 10_000;
const csv = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@old.example,user${i}@new.example`).join('\n');

let t: TestApp;
let scheduler: Scheduler;
beforeAll(async () => {
  t = await makeTestApp();
  scheduler = installScheduler(t.app, 'console');
  await t.run('project create big --source imaps://old.example:993 --destination imaps://new.example:993');
}, 60_000);
afterAll(async () => {
  await t?.close();
});

/** The number of updates the thread's posts carry: one for a single post, N for a combined "N updates" post. */
function updatesIn(posts: { text: string }[]): number {
  return posts.reduce(
    (n, p) =>
      n +
      (/^📋 ([\d,]+) updates?:/.exec(p.text) ? Number(defined(/^📋 ([\d,]+)/.exec(p.text)![1]).replace(/,/g, '')) : 1),
    0,
  );
}

describe('a project of 10,000 mailboxes', () => {
  it('bulk adds 10,000 lines, every item in the thread the reply ' +
    'opened; the same lines again are refused as already there', async () => {
    const r = await t.run(`bulk\n${csv(N)}`);
    expect(r.result).toMatchObject({ ok: true });
    expect(r.text).toMatch(/10,000 mailboxes added to big\./);
    expect(await t.app.db.item.count({ where: { threadRef: r.thread } })).toBe(N);
    expect(await t.app.db.itemEvent.count({ where: { kind: 'item.added', toStatus: 'NotStarted' } })).toBe(N);
    const one = await t.app.engine.getItem(await t.app.engine.getProject('big'), 'user4321@old.example');
    expect(one).toMatchObject({
      destinationAddress: 'user4321@new.example',
      sourceLogin: 'user4321@old.example',
      status: 'NotStarted',
      license: 'none',
      passCount: 0,
    });

    const again = await t.run(`bulk\n${csv(N)}`);
    expect(again.text).toMatch(/0 mailboxes added to big; 10,000 lines refused\./);
    expect(again.text).toMatch(/user0@old\.example is already in project big\./);
    expect(await t.app.db.item.count()).toBe(N);
  }, 300_000);

  it('start --all submits 10,000 mailboxes, each through the state machine with its ' +
    'history line and license, and their thread gets a few summary posts, all delivered', async () => {
    // The project holds admin credentials for both sides, so nothing is missing: every item is queued.
    await t.app.db.project.updateMany({
      where: { name: 'big' },
      data: { sourceAuth: 'admin', destinationAuth: 'admin', licensesTotal: N },
    });
    const before = t.posts.length;
    const r = await t.run('start --all');
    expect(r.result).toMatchObject({ ok: true });
    expect(r.text).toMatch(/Started 10,000 mailboxes\./);
    expect(await t.app.db.item.count({ where: { status: 'Queued', license: 'reserved', threadRef: r.thread } })).toBe(
      N,
    );
    expect(
      await t.app.db.itemEvent.count({ where: { kind: 'submit', fromStatus: 'NotStarted', toStatus: 'Queued' } }),
    ).toBe(N);
    expect((await t.app.engine.getProject('big')).licensesUsed).toBe(N);
    const posts = t.posts.slice(before).filter((p) => p.threadRef === r.thread);
    const started =
      posts
        .map((p) => p.text)
        .join('\n')
        .match(/▶️ [\d,]+ mailboxes started: [\d,]+ queued$/gm) ?? [];
    expect(started.reduce((n, line) => n + Number(defined(/▶️ ([\d,]+)/.exec(line)![1]).replace(/,/g, '')), 0)).toBe(N);
    expect(posts.length).toBeLessThanOrEqual(3);
    expect(await t.app.db.outboxPost.count({ where: { state: null } })).toBe(0);

    // A second start --all finds nothing to start: they are all queued.
    const again = await t.run('start --all');
    expect(again.text).toMatch(/No mailbox of big can be started/);
    // Back to a fresh project state for the next steps.
    await countInChunks(
      (await t.app.db.item.findMany({ select: { id: true } })).map((i) => i.id),
      (part) =>
        t.app.db.item.updateMany({ where: { id: { in: part } }, data: { status: 'NotStarted', license: 'none' } }),
    );
  }, 300_000);

  it('delivers every one of 5,000 posts waiting in one thread, combined into a few posts', async () => {
    const thread = 'test:C1/T-bulk';
    const before = t.posts.length;
    // Written in one transaction, as a bulk status change leaves them in the outbox.
    const ids = await t.app.db.$transaction(
      async (tx) => {
        const out: number[] = [];
        for (let i = 0; i < 5000; i++)
          out.push(
            await t.app.notifier.enqueue(
              {
                threadRef: thread,
                address: `user${i}@old.example`,
                message: statusPost({
                  address: `user${i}@old.example`,
                  from: 'NotStarted',
                  to: 'Queued',
                  actor: 'admin',
                }),
              },
              tx,
            ),
          );
        return out;
      },
      { timeout: 240_000 },
    );
    const delivered = await Promise.all(ids.map((id) => t.app.notifier.deliver(id, thread)));
    expect(delivered.filter((ok) => !ok)).toHaveLength(0);
    const posts = t.posts.slice(before).filter((p) => p.threadRef === thread);
    expect(updatesIn(posts)).toBe(5000);
    expect(posts.length).toBeLessThanOrEqual(12);
    expect(await t.app.db.outboxPost.count({ where: { threadRef: thread, state: null } })).toBe(0);
  }, 300_000);

  it('status, digest and the reminder round of 10,000 mailboxes, 5,000 of ' +
    'them waiting for their user, are summaries within Slack and Teams limits', async () => {
    // Set-up: half the project waits for its user (the state a start --all of a self-service project leaves).
    const waiting = (
      await t.app.db.item.findMany({ select: { id: true }, orderBy: { sourceAddress: 'asc' }, take: N / 2 })
    ).map((i) => i.id);
    await countInChunks(waiting, (part) =>
      t.app.db.item.updateMany({ where: { id: { in: part } }, data: { status: 'WaitingForUser' } }),
    );

    const st = await t.run('status');
    expect(st.result).toMatchObject({ ok: true });
    expect(st.text).toMatch(/Mailboxes:?\s+10,000: Not started 5,000 · Waiting for user 5,000/);
    expect(st.text).toMatch(/…and 9,960 more/);
    for (const m of st.replies) {
      const kit = renderBlockKit(m);
      expect(kit.blocks.length).toBeLessThanOrEqual(50);
      expect(JSON.stringify(kit.blocks).length).toBeLessThan(12_000);
      expect(Buffer.byteLength(JSON.stringify(cardFor(m)))).toBeLessThan(28_000);
    }

    const dg = await t.run('digest');
    expect(dg.result).toMatchObject({ ok: true });
    const digest = t.posts.filter((p) => p.message.kind === 'digest').at(-1);
    expect(digest?.text).toMatch(/Waiting for their user \(5,000\)/);
    expect(digest?.text).toMatch(/…and 4,990 more/);
    const kit = renderBlockKit(digest!.message);
    expect(kit.blocks.length).toBeLessThanOrEqual(50);
    expect(JSON.stringify(kit.blocks).length).toBeLessThan(12_000);
    expect(Buffer.byteLength(JSON.stringify(cardFor(digest!.message)))).toBeLessThan(28_000);

    // The scheduler's reminder round keeps a row for every waiting item.
    await scheduler.tick();
    expect(await t.app.db.itemReminder.count()).toBe(N / 2);
    // Items that stop waiting lose theirs on the next round.
    await countInChunks(waiting.slice(0, 3000), (part) =>
      t.app.db.item.updateMany({ where: { id: { in: part } }, data: { status: 'Stopped' } }),
    );
    await scheduler.tick();
    expect(await t.app.db.itemReminder.count()).toBe(N / 2 - 3000);
  }, 300_000);
});
