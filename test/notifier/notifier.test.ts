import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { giveCredentials, openProc, raceChildren, settle, tempDir, type Proc } from '../scheduler/helpers.ts';
import { Notifier, type ThreadPost } from '../../bot/notifier.ts';
import { plain } from '../../cards/model.ts';
import { defined } from '../harness/defined.ts';
import { LEASE_OWNER } from '../../engine/engine.ts';

let tmp: ReturnType<typeof tempDir>;
const open: Proc[] = [];
async function proc(name: string, opts: Parameters<typeof openProc>[2] = {}): Promise<Proc> {
  const p = await openProc(tmp.dir, name, opts);
  open.push(p);
  return p;
}
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  tmp.remove();
});

/** How many item posts a thread post stands for (a combined post says "N updates"). */
function covers(m: { kind: string; text: string }): number {
  return m.kind === 'thread-updates' ? Number(defined(/^📋 ([\d,]+) update/.exec(m.text)![1]).replace(/,/g, '')) : 1;
}

describe('notifier', () => {
  it('start --all of 500 waiting items: their thread gets the status summary and one ' +
    'request summary; a burst of 500 single posts makes a handful of posts, none lost', async () => {
    const p = await proc('p1');
    await p.run(
      'project create acme --source imaps://old.example --destination imaps://new.example --self-service source',
    );
    const csv = Array.from({ length: 500 }, (_, i) => `u${String(i).padStart(3, '0')}@old.example`).join('\n');
    await p.run(`bulk\n${csv}`);
    await p.run('start --all');
    await settle(p);
    expect(p.requests).toHaveLength(500);
    const thread = (await p.app.db.item.findFirstOrThrow()).threadRef!;
    const batch = p.posts.filter((x) => x.threadRef === thread).map((x) => x.text);
    expect(batch).toHaveLength(2);
    expect(batch[0]).toMatch(/^▶️ 500 mailboxes started: 500 waiting for user/);
    expect(batch[1]).toMatch(/^📨 Asked 500 users for their credentials: 500 by email\./);

    // 500 posts of single requests (one resend each) written at once into one thread.
    const { credentialsRequestedPost } = await import('../../cards/item-posts.ts');
    const items = await p.app.db.item.findMany({ orderBy: { sourceAddress: 'asc' } });
    const before = p.posts.length;
    await Promise.all(
      items.map((i) =>
        p.app.notifier.post({
          threadRef: thread,
          address: i.sourceAddress,
          itemId: i.id,
          message: credentialsRequestedPost(
            i.sourceAddress,
            ['source'],
            [{ recipient: i.sourceAddress, via: 'email', ok: true }],
            true,
          ),
        }),
      ),
    );
    await settle(p);
    const posts = p.posts.slice(before).filter((x) => x.threadRef === thread);
    expect(posts.length).toBeGreaterThan(1);
    // How many posts it makes depends on how many were written before each drain (the
    // machine's speed, the database): the bound says coalesced, not sent one by one.
    expect(posts.length).toBeLessThanOrEqual(50);
    expect(posts.reduce((n, x) => n + covers(x.message), 0)).toBe(500);
    expect(posts.filter((x) => x.message.kind === 'thread-updates').length).toBeGreaterThan(0);
    const combined = [...posts].sort((a, b) => covers(b.message) - covers(a.message))[0];
    expect(defined(combined).text).toMatch(/asked for credentials/);
    expect(defined(combined).text).toMatch(/and [\d,]+ more \(see `\/migrate status`\)/);
    // The surfaces' renderers take the combined post like any other message.
    const { renderBlockKit } = await import('../../cards/render-block-kit.ts');
    const { renderAdaptiveCard } = await import('../../cards/render-adaptive-card.ts');
    expect(JSON.stringify(renderBlockKit(defined(combined).message))).toMatch(/updates: [\d,]+ asked for credentials/);
    expect(JSON.stringify(renderAdaptiveCard(defined(combined).message))).toMatch(
      /updates: [\d,]+ asked for credentials/,
    );
    const states = await p.app.db.outboxPost.groupBy({ by: ['state'], _count: true });
    expect(Object.fromEntries(states.map((s) => [s.state, s._count]))).toEqual({
      sent: 2 + posts.length,
      merged: 500 - posts.length,
    });
  }, 180_000);

  it('keeps the order of a thread, retries a failed delivery, and drops progress a newer one replaced', async () => {
    const p = await proc('p1', { poster: false });
    const seen: string[] = [];
    let failures = 2;
    const n = new Notifier(p.app.engine, p.app.db, p.app.log, { retryMs: 20, burst: 50 });
    n.register('x', async (post) => {
      if (failures-- > 0) throw new Error('503 Service Unavailable');
      seen.push(post.message.text);
    });
    const post = (text: string, replaceKey?: string): ThreadPost => ({
      threadRef: 'x:T1',
      itemId: 'i1',
      message: plain('item-status', text),
      replaceKey,
    });
    const first = n.post(post('A queued'));
    const rest = [
      n.post(post('progress 10%', 'progress:i1')),
      n.post(post('progress 60%', 'progress:i1')),
      n.post(post('B completed')),
    ];
    expect(await first).toBe(false); // the first attempt failed; it is retried in the background
    await Promise.all(rest);
    for (let i = 0; i < 50 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['A queued', 'progress 60%', 'B completed']);
    const rows = await p.app.db.outboxPost.findMany({ orderBy: { id: 'asc' } });
    expect(rows.map((r) => [r.state, r.attempts])).toEqual([
      ['sent', 2],
      ['superseded', 0],
      ['sent', 0],
      ['sent', 0],
    ]);
    expect(defined(rows[0]).lastError).toBe('503 Service Unavailable');
    await n.close();
  });

  it('flush waits out the rate limit: posts held for a refill go out before it resolves (console --wait)', async () => {
    const p = await proc('p1', { poster: false });
    const seen: { kind: string; text: string }[] = [];
    const n = new Notifier(p.app.engine, p.app.db, p.app.log, { burst: 1, refillMs: 400 });
    n.register('x', async (post) => {
      seen.push({ kind: post.message.kind, text: post.message.text });
    });
    const post = (text: string): ThreadPost => ({
      threadRef: 'x:T1',
      itemId: 'i1',
      message: plain('item-status', text),
    });
    // The first post takes the thread's one token; the next two, written as a status change writes them and
    // handed to delivery without waiting for it (as the console does), wait for the refill.
    expect(await n.post(post('A queued'))).toBe(true);
    const ids = await p.app.db.$transaction(async (tx) => [
      await n.enqueue(post('A running'), tx),
      await n.enqueue(post('A completed'), tx),
    ]);
    for (const id of ids) void n.deliver(id, 'x:T1');
    await n.flush();
    const rows = await p.app.db.outboxPost.findMany({ orderBy: { id: 'asc' } });
    // Posts that waited for the refill go out as one combined post: 'merged' rows are delivered ones.
    expect(rows.filter((r) => r.state !== 'sent' && r.state !== 'merged')).toEqual([]);
    expect(seen.reduce((sum, m) => sum + covers(m), 0)).toBe(3);
    await n.close();
  });

  it('gives a post up after its last attempt and says so in the item history', async () => {
    const p = await proc('p1', { poster: false });
    await p.run('project create acme --source imaps://old.example --destination imaps://new.example');
    await p.run('add alice@old.example');
    const item = await p.app.db.item.findFirstOrThrow();
    const n = new Notifier(p.app.engine, p.app.db, p.app.log, { retryMs: 10, maxAttempts: 3 });
    n.register('x', async () => {
      throw new Error('channel_not_found');
    });
    await n.post({
      threadRef: 'x:T1',
      itemId: item.id,
      address: item.sourceAddress,
      message: plain('item-queued', 'alice queued'),
    });
    for (let i = 0; i < 100; i++) {
      if ((await p.app.db.outboxPost.findFirst())?.state === 'dead') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect((await p.app.db.outboxPost.findFirstOrThrow()).state).toBe('dead');
    const history = await p.app.engine.history(item.id);
    expect(history.find((h) => h.kind === 'post.failed')?.detail).toMatchObject({
      message: 'could not post "item-queued" to the thread',
      error: 'channel_not_found',
    });
    await n.close();
  });

  it(
    'nothing is lost across a restart: posts written while no ' +
      'surface could take them are delivered on the next start',
    async () => {
      const p1 = await proc('p1', { poster: false });
      await p1.run('project create acme --source imaps://old.example --destination imaps://new.example');
      await p1.run('add alice@old.example');
      await giveCredentials(p1.app, 'alice@old.example');
      await p1.run('start alice@old.example');
      const pending = await p1.app.db.outboxPost.findMany({ where: { state: null }, orderBy: { id: 'asc' } });
      expect(pending.map((r) => r.kind)).toEqual([
        'item-credentials-received',
        'item-credentials-received',
        'item-queued',
      ]);
      await p1.close();
      open.splice(open.indexOf(p1), 1);

      const p2 = await proc('p2'); // registers its poster: the outbox is drained
      for (let i = 0; i < 50 && p2.posts.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      await settle(p2);
      // `add` and `start` each opened a thread: per thread, the posts come in the order they were written.
      const byThread = (list: { threadRef: string; kind: string }[]) => {
        const out: Record<string, string[]> = {};
        for (const x of list) (out[x.threadRef] ??= []).push(x.kind);
        return out;
      };
      const written = byThread(pending.map((r) => ({ threadRef: r.threadRef, kind: r.kind })));
      const got = byThread(p2.posts.map((x) => ({ threadRef: x.threadRef, kind: x.message.kind })));
      expect(got).toEqual(written);
      expect(p2.posts.find((x) => x.message.kind === 'item-queued')!.text).toMatch(/alice@old\.example is queued/);
      expect(await p2.app.db.outboxPost.count({ where: { state: null } })).toBe(0);
    },
  );

  it("a post written while another caller's transaction fails is kept (SQLite shares one connection)", async () => {
    const p = await proc('p1');
    const failing = p.app.db
      .$transaction(async (tx) => {
        await tx.digestRun.create({ data: { projectId: 'x', at: new Date(), counts: '{}', trigger: 'test' } });
        await new Promise((r) => setTimeout(r, 50));
        throw new Error('refused');
      })
      .catch(() => 'rolled back');
    await new Promise((r) => setTimeout(r, 10));
    const ok = await p.app.notifier.post({ threadRef: 'test:C1/T1', message: plain('item-status', 'kept') });
    expect(await failing).toBe('rolled back');
    expect(ok).toBe(true);
    expect(p.posts.map((x) => x.text)).toEqual(['kept']);
    expect(await p.app.db.outboxPost.count({ where: { state: 'sent' } })).toBe(1);
    expect(await p.app.db.digestRun.count()).toBe(0);
  });

  it(
    'posts claimed by a process of this host that died are delivered at once, ' + 'not after the claim runs out',
    async () => {
      const p = await proc('p1', { poster: false });
      for (const t of ['T1', 'T2'])
        await p.app.notifier.post({ threadRef: `x:${t}`, message: plain('item-status', t) });
      // A process that claimed T1's post and died (a pid that existed and has exited), and a live one holding T2's.
      const exited = spawnSync(process.execPath, ['-e', '']).pid;
      const host = LEASE_OWNER.split(':')[0];
      const claim = (ref: string, holder: string) =>
        p.app.db.outboxPost.updateMany({
          where: { threadRef: ref },
          data: { claimedBy: holder, claimedUntil: new Date(Date.now() + 600_000) },
        });
      await claim('x:T1', `${host}:${exited}:0a1b2c3d:n00000000`);
      await claim('x:T2', `${host}:${process.ppid}:0a1b2c3d:n00000000`);
      const seen: string[] = [];
      const n = new Notifier(p.app.engine, p.app.db, p.app.log);
      n.register('x', async (post) => {
        seen.push(post.message.text);
      });
      await vi.waitFor(() => expect(seen).toEqual(['T1']), { timeout: 20_000 });
      await n.idle();
      const rows = await p.app.db.outboxPost.findMany({ orderBy: { threadRef: 'asc' } });
      expect(rows.map((r) => [r.threadRef, r.state])).toEqual([
        ['x:T1', 'sent'],
        ['x:T2', null],
      ]);
      await n.close();
    },
  );

  it('two server processes draining one outbox deliver each post once', async () => {
    const p = await proc('setup', { poster: false });
    for (let i = 0; i < 12; i++)
      await p.app.notifier.post({ threadRef: `test:C1/T${i % 3}`, message: plain('item-status', `post ${i}`) });
    const results = await raceChildren<{ delivered: string[] }>(new URL('./drain-child.ts', import.meta.url), tmp.dir, [
      'a',
      'b',
    ]);
    const delivered = results.flatMap((r) => r.delivered);
    // Each post once, alone or inside a combined post.
    const lines = delivered.flatMap((t) => t.split('\n')).filter((l) => /^post \d+$/.test(l));
    expect(lines.sort()).toEqual(Array.from({ length: 12 }, (_, i) => `post ${i}`).sort());
    expect(await p.app.db.outboxPost.count({ where: { state: null } })).toBe(0);
  }, 120_000);
});
