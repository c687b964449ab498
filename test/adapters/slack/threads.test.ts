import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itemRef } from '../../../engine/engine.ts';
import type { CredentialRequest } from '../../../bot/outreach/outreach.ts';
import type { SlackCall } from './fake-slack.ts';
import { blockText, startSlackTest, TEST_PROGRESS_INTERVAL_MS, type SlackTest } from './slack-harness.ts';
import { defined } from '../../harness/defined.ts';

const FORM = { surface: 'form', id: 'alice@old.example', name: 'alice@old.example' };

describe('threads, live summary and end-user DMs', () => {
  let s: SlackTest;
  const emailed: CredentialRequest[] = [];
  let anchorTs = '';
  const inThread = (): SlackCall[] => s.fake.of('chat.postMessage').filter((c) => c.args.thread_ts === anchorTs);
  const item = async (a: string) => s.t.app.engine.getItem(await s.t.app.engine.getProject('acme'), a);

  beforeAll(async () => {
    s = await startSlackTest({ MAILFERRY_ORG_NAME: 'ACME Corp', MAILFERRY_SUPPORT_CONTACT: 'helpdesk@acme.example' });
    s.fake.users.set('alice@old.example', { id: 'UALICE', name: 'alice' });
    s.fake.users.set('bob@new.example', { id: 'UBOB', name: 'bob' });
    s.t.app.outreach.addSender({ kind: 'email', send: async (r) => (emailed.push(r), { ok: true, via: 'email' }) });
    // Slack runs commands as they come, side by side: each one is let finish before the next.
    for (const line of [
      'project create acme --source imaps://old.example:993 --destination imaps://new.example:993 --notify chat',
      ...['alice@old.example', 'bob@old.example bob@new.example', 'carol@old.example'].map((a) => `add ${a}`),
    ]) {
      await s.command(line);
      await s.settle();
    }
  });
  afterAll(async () => s?.close());

  it(
    'start --all posts one anchor for the batch; each user ' + 'is asked by DM, or by email when not in the workspace',
    async () => {
      const before = s.fake.of('chat.postMessage').length;
      await s.command('start --all');
      await s.settle();
      const anchor = s.fake
        .of('chat.postMessage')
        .slice(before)
        .find((c) => !c.args.thread_ts && c.args.channel === 'C1')!;
      expect(anchor.args.text).toContain('Starting 3 mailboxes');
      anchorTs = anchor.result!.ts;
      for (const a of ['alice@old.example', 'bob@old.example', 'carol@old.example'])
        expect((await item(a)).threadRef).toBe(`slack:T1/C1/${anchorTs}`);

      // Alice: found by her source address, DM opened, the link button carries only the link (the answer buttons beside
      // it carry no link).
      expect(s.fake.of('users.lookupByEmail').map((c) => c.args.email)).toEqual(
        expect.arrayContaining(['alice@old.example', 'bob@old.example', 'bob@new.example', 'carol@old.example']),
      );
      expect(
        s.fake
          .of('conversations.open')
          .map((c) => c.args.users)
          .sort(),
      ).toEqual(['UALICE', 'UBOB']);
      const dm = s.fake.of('chat.postMessage').find((c) => c.args.channel === 'DALICE')!;
      expect(dm.args.text).toContain('ACTION REQUIRED: Information required for your migration');
      expect(dm.args.text).not.toContain('/c/');
      expect(String(dm.args.unfurl_links)).toBe('false');
      const actions = dm.args.blocks.filter((b: any) => b.type === 'actions');
      expect(actions).toHaveLength(1);
      expect(actions[0].elements.map((e: any) => e.text.text)).toEqual([
        'Open the secure form',
        'Start now',
        'Remind me tomorrow',
        'This mailbox is not mine / not used',
      ]);
      for (const e of actions[0].elements.slice(1)) expect(e.url).toBeUndefined();
      const button = actions[0].elements[0];
      expect(Object.keys(button).sort()).toEqual(['action_id', 'style', 'text', 'type', 'url']);
      expect(button.url).toMatch(/^https:\/\/mailferry\.example\/c\/[A-Za-z0-9_-]{40,}$/);
      expect(button.action_id).toBe('mf_link_0');
      expect(blockText(dm.args.blocks)).toContain('Never type a password in Slack');
      // Who asks, and whom to ask when in doubt.
      expect(blockText(dm.args.blocks)).toContain('Action required: your mailbox migration at ACME Corp');
      expect(blockText(dm.args.blocks)).toContain('Contact helpdesk@acme.example');
      // No input element anywhere: the password is never asked in Slack.
      expect(JSON.stringify(dm.args.blocks)).not.toMatch(/plain_text_input|"input"/);

      // Carol is not in the workspace: email fallback.
      expect(emailed.map((r) => r.recipient)).toEqual(['carol@old.example']);

      // The thread says who was asked and how, in one summary of the batch.
      const texts = inThread()
        .map((c) => c.args.text)
        .join('\n');
      expect(texts).toContain('Asked 3 users for their credentials: 2 by Slack DM, 1 by email.');
      expect(texts).toContain('asked alice@old.example by Slack DM to @alice');
      expect(texts).toContain('asked bob@old.example by Slack DM to @bob (found as bob@new.example)');
      expect(texts).toContain(
        'could not reach carol@old.example by Slack DM: carol@old.example is not a member of this Slack workspace',
      );
      expect(texts).toContain('asked carol@old.example by email');

      // The link never reaches the log.
      expect(s.t.logs.join('\n')).not.toMatch(/\/c\/[A-Za-z0-9_-]{16,}/);
    },
  );

  it('keeps the anchor current with counts per status (chat.update on the anchor)', async () => {
    const upd = await s.fake.waitFor(
      () =>
        s.fake
          .of('chat.update')
          .filter((c) => c.args.ts === anchorTs)
          .at(-1),
      3000,
      'anchor summary',
    );
    expect(upd.args.channel).toBe('C1');
    expect(upd.args.text).toContain('Now: Waiting for user 3');
    expect(blockText(upd.args.blocks)).toContain('Starting 3 mailboxes');
    expect(upd.args.blocks.at(-1)).toMatchObject({ type: 'context', elements: [{ type: 'mrkdwn' }] });
    expect(upd.args.blocks.at(-1).elements[0].text).toContain('📊 Now: Waiting for user 3');
  });

  it('posts credentials received and Queued in the thread, then updates the counts', async () => {
    let a = await item('alice@old.example');
    a = await s.t.app.engine.setCredential(FORM, a, 'source', 'alice', { password: 'pw1' });
    await s.t.app.engine.setCredential(FORM, a, 'destination', 'alice', { password: 'pw2' });
    await s.settle();
    const texts = inThread().map((c) => c.args.text);
    expect(
      texts.some((t) => t.includes('🔐 alice@old.example: source credentials received from alice@old.example')),
    ).toBe(true);
    expect(texts.some((t) => t.includes('🕒 alice@old.example is queued for migration.'))).toBe(true);
    await s.fake.waitFor(
      () =>
        s.fake
          .of('chat.update')
          .some(
            (c) =>
              c.args.ts === anchorTs &&
              /Now: .*Queued 1/.test(c.args.text) &&
              c.args.text.includes('Waiting for user 2'),
          ),
      3000,
      `updated counts; last: ${s.fake.of('chat.update').at(-1)?.args.text}`,
    );
    expect(s.t.logs.join('\n')).not.toContain('pw1');
  });

  it('edits one progress message per item, at most one edit per interval, latest figures winning', async () => {
    const ref = itemRef(await item('alice@old.example'));
    const figures = (copied: number) => ({
      messagesFound: 100,
      bytesFound: 1e6,
      messagesCopied: copied,
      bytesCopied: copied * 1e4,
      messagesPresent: 0,
      messagesSkipped: 0,
      durationMs: copied * 100,
    });
    const beforePosts = inThread().length;
    const beforeUpdates = s.fake.of('chat.update').length;
    const t0 = Date.now();
    s.t.app.bus.emit({ type: 'item.progress', item: ref, figures: figures(10), folder: 'INBOX' });
    const first = await s.fake.waitFor(() => inThread().slice(beforePosts)[0], 3000, 'first progress post');
    expect(first.args.text).toContain('alice@old.example: 10%');
    for (const n of [20, 30, 40, 50, 60])
      s.t.app.bus.emit({ type: 'item.progress', item: ref, figures: figures(n), folder: 'INBOX' });
    await s.settle();
    const editsOf = () =>
      s.fake
        .of('chat.update')
        .slice(beforeUpdates)
        .filter((c) => c.args.ts === first.result!.ts);
    await s.fake.waitFor(
      () => editsOf().some((e) => e.args.text.includes('60% — 60 of 100 messages copied')),
      3000,
      'progress edit with the latest figures',
    );
    await new Promise((r) => setTimeout(r, 500));
    // One message for the item, edited in place. The gate keeps each edit at least one interval
    // after the message's previous send, so over the time this test ran there can be no more edits
    // than whole intervals (normally one edit for the five updates; a loaded machine that spreads
    // the five over more intervals may send more, never more than the gate allows). Arrival times
    // at the stand-in are not compared: under load they jitter by more than the gate.
    const elapsed = Date.now() - t0;
    expect(inThread().slice(beforePosts)).toHaveLength(1);
    const edits = editsOf();
    expect(edits.length).toBeGreaterThanOrEqual(1);
    expect(edits.length).toBeLessThanOrEqual(Math.min(5, Math.floor(elapsed / TEST_PROGRESS_INTERVAL_MS)));
    expect(edits.at(-1)!.args.text).toContain('60% — 60 of 100 messages copied');
  });

  it(
    'posts Completed with messages, bytes, skipped and ' + 'duration, and Failed with the reason and the server detail',
    async () => {
      const ref = itemRef(await item('alice@old.example'));
      s.t.app.bus.emit({
        type: 'item.status',
        item: ref,
        actor: { surface: 'system', id: 'mailferry' },
        from: 'Running',
        to: 'Completed',
        figures: {
          messagesFound: 1234,
          bytesFound: 56e6,
          messagesCopied: 1230,
          bytesCopied: 56e6,
          messagesPresent: 0,
          messagesSkipped: 4,
          durationMs: 184_000,
          skippedReasons: { 'too large': 4 },
        },
      });
      const bob = itemRef(await item('bob@old.example'));
      s.t.app.bus.emit({
        type: 'item.status',
        item: bob,
        actor: { surface: 'system', id: 'mailferry' },
        from: 'Running',
        to: 'Failed',
        reason: 'SourceCredentials',
        detail: 'AUTHENTICATIONFAILED Invalid credentials (Failure)',
      });
      await s.settle();
      const done = inThread().find((c) => c.args.text.startsWith('✅ alice@old.example completed'))!;
      expect(done.args.blocks[1].fields.map((f: any) => f.text)).toEqual([
        '*Copied*\n1,230 messages, 56 MB',
        '*Already there*\n0',
        '*Skipped*\n4 (4 too large)',
        '*Duration*\n3 min 4 s',
      ]);
      const failed = inThread().find((c) => c.args.text.startsWith('❌ bob@old.example failed'))!;
      expect(failed.args.text).toMatch(
        /failed: .*source.*The server said: "AUTHENTICATIONFAILED Invalid credentials \(Failure\)"/i,
      );
      expect(failed.args.blocks[1]).toEqual({
        type: 'context',
        elements: [{ type: 'mrkdwn', text: 'Server said: AUTHENTICATIONFAILED Invalid credentials (Failure)' }],
      });
    },
  );

  it('waits out a 429 with Retry-After and delivers the post', async () => {
    const ref = itemRef(await item('carol@old.example'));
    s.fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 });
    const t0 = Date.now();
    s.t.app.bus.emit({
      type: 'item.status',
      item: ref,
      actor: { surface: 'system', id: 'mailferry' },
      from: 'WaitingForUser',
      to: 'Stopped',
    });
    await s.settle();
    const attempts = s.fake
      .of('chat.postMessage')
      .filter((c) => c.args.text?.startsWith('⏹️ carol@old.example stopped'));
    expect(attempts).toHaveLength(2);
    expect(defined(attempts[1]).at - defined(attempts[0]).at).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  it('retries as text when Slack refuses the blocks', async () => {
    const ref = itemRef(await item('carol@old.example'));
    s.fake.failNext('chat.postMessage', { error: 'invalid_blocks' });
    s.t.app.bus.emit({
      type: 'item.status',
      item: ref,
      actor: { surface: 'system', id: 'mailferry' },
      from: 'Stopped',
      to: 'Queued',
    });
    await s.settle();
    const attempts = s.fake
      .of('chat.postMessage')
      .filter((c) => c.args.text?.startsWith('🕒 carol@old.example is queued'));
    expect(attempts).toHaveLength(2);
    expect(defined(attempts[0]).args.blocks.length).toBeGreaterThan(0);
    expect(defined(attempts[1]).args.blocks ?? []).toEqual([]);
    expect(defined(attempts[1]).args.thread_ts).toBe(anchorTs);
  });

  it('retries as text when Slack finds the blocks too long in all (msg_blocks_too_long)', async () => {
    const ref = itemRef(await item('carol@old.example'));
    const before = s.fake.of('chat.postMessage').length;
    s.fake.failNext('chat.postMessage', { error: 'msg_blocks_too_long' });
    s.t.app.bus.emit({
      type: 'item.status',
      item: ref,
      actor: { surface: 'system', id: 'mailferry' },
      from: 'Queued',
      to: 'Stopped',
    });
    await s.settle();
    const attempts = s.fake
      .of('chat.postMessage')
      .slice(before)
      .filter((c) => c.args.text?.startsWith('⏹️ carol@old.example stopped'));
    expect(attempts).toHaveLength(2);
    expect(defined(attempts[0]).args.blocks.length).toBeGreaterThan(0);
    expect(defined(attempts[1]).args.blocks ?? []).toEqual([]);
    expect(defined(attempts[1]).args.thread_ts).toBe(anchorTs);
  });

  it('records a post that cannot be delivered in the item history', async () => {
    const carol = await item('carol@old.example');
    const before = s.fake.of('chat.postMessage').length;
    s.fake.failAlways('chat.postMessage', { status: 500 });
    s.t.app.bus.emit({
      type: 'item.status',
      item: itemRef(carol),
      actor: { surface: 'system', id: 'mailferry' },
      from: 'Stopped',
      to: 'Queued',
    });
    // The outbox retries (3 attempts here), each attempt with the Web API's own quick retries.
    const failed = await (async () => {
      for (let i = 0; i < 100; i++) {
        const h = (await s.t.app.engine.history(carol.id)).find((x) => x.kind === 'post.failed');
        if (h) return h;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    s.fake.failAlways('chat.postMessage', null);
    // 3 outbox attempts × (1 call + 2 client retries)
    expect(s.fake.of('chat.postMessage').slice(before).length).toBe(9);
    expect(failed?.detail).toMatchObject({ text: expect.stringContaining('carol@old.example is queued') });
  });
});
