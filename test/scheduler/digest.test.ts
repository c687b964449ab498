import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { finishPass, giveCredentials, openProc, settle, tempDir, type Proc } from './helpers.ts';
import { installScheduler } from '../../bot/scheduler/install.ts';
import type { Scheduler } from '../../bot/scheduler/scheduler.ts';
import { renderText } from '../../cards/render-text.ts';
import type { Message } from '../../cards/model.ts';
import { defined } from '../harness/defined.ts';

let tmp: ReturnType<typeof tempDir>;
let p: Proc;
let scheduler: Scheduler;

beforeEach(async () => {
  tmp = tempDir();
  p = await openProc(tmp.dir);
  scheduler = installScheduler(p.app, 'console', { listLimit: 10 });
  await p.run(
    'project create acme --source imaps://old.example --destination imaps://new.example --self-service source',
  );
});
afterEach(async () => {
  await p.close();
  tmp.remove();
});

/** Every rendering of a message a surface would show, as one string per surface. */
async function renderings(m: Message): Promise<Record<string, string>> {
  const out: Record<string, string> = { text: renderText(m), fallback: m.text };
  // The Slack and Teams renderers belong to their surfaces; assert through them when they exist.
  if (existsSync(new URL('../../cards/render-block-kit.ts', import.meta.url))) {
    const { renderBlockKit } = await import('../../cards/render-block-kit.ts');
    out.blockKit = JSON.stringify(renderBlockKit(m));
  }
  if (existsSync(new URL('../../cards/render-adaptive-card.ts', import.meta.url))) {
    const { renderAdaptiveCard } = await import('../../cards/render-adaptive-card.ts');
    out.adaptiveCard = JSON.stringify(renderAdaptiveCard(m));
  }
  return out;
}

describe('digest content', () => {
  it(
    '/migrate digest posts counts, waiting, failed, ' + 'completed, throughput and licenses in the project channel',
    async () => {
      await p.run('project set acme --licenses 50');
      const csv = [
        'alice@old.example',
        'bob@old.example',
        'carol@old.example',
        'dave@old.example',
        'erin@old.example',
      ].join('\n');
      await p.run(`bulk\n${csv}`);
      for (const a of ['alice', 'bob', 'carol']) await giveCredentials(p.app, `${a}@old.example`);
      await p.run('start --all');
      await finishPass(p.app, 'alice@old.example', 'completed', { messages: 1200, bytes: 340_000_000 });
      await finishPass(p.app, 'bob@old.example', 'completed', { messages: 800, bytes: 60_000_000 });
      await finishPass(
        p.app,
        'carol@old.example',
        'failed',
        { messages: 10, bytes: 1000 },
        { reason: 'DestinationQuota', detail: 'Quota exceeded (mailbox full)' },
      );
      await settle(p);

      const r = await p.run('digest');
      await settle(p);
      expect(r.text).toMatch(/Digest of acme posted in the project's channel/);
      const digest = p.posts.filter((x) => x.message.kind === 'digest');
      expect(digest).toHaveLength(1);
      expect(defined(digest[0]).threadRef).toBe('test:C1'); // the channel itself, not a thread
      const m = defined(digest[0]).message;
      for (const [surface, s] of Object.entries(await renderings(m))) {
        expect(s, surface).toContain('acme');
        expect(s, surface).toMatch(/Completed 2/);
        expect(s, surface).toMatch(/Failed 1/);
        expect(s, surface).toMatch(/Waiting for user 2/);
        expect(s, surface).toMatch(/\b4 used, 46 left of 50\b/);
        if (surface === 'fallback') continue; // the one-line fallback has counts, not lists
        expect(s, surface).toContain('dave@old.example');
        expect(s, surface).toContain('erin@old.example');
        expect(s, surface).toMatch(
          /carol@old\.example — The destination mailbox is full\. \(Quota exceeded \(mailbox full\)\)/,
        );
        expect(s, surface).toMatch(/alice@old\.example — 1,200 messages, 340 MB/);
        expect(s, surface).toMatch(/2,000 messages, 400 MB/); // completed total
        // throughput, by the time passes ran
        expect(s, surface).toMatch(
          /2,010 messages, 400 MB copied in 3 passes — [\d,]+ messages\/h, .*\/h while copying/,
        );
        expect(s, surface).toMatch(/asked once/);
      }
      const text = renderText(m);
      expect(text).toMatch(/since the project started/);
      expect(text).not.toMatch(/Stalled/);

      // The second digest shows the change since the first, and only what happened since.
      await giveCredentials(p.app, 'dave@old.example');
      await finishPass(p.app, 'dave@old.example', 'completed', { messages: 5, bytes: 5000 });
      await p.run('digest');
      await settle(p);
      const second = renderText(defined(p.posts.filter((x) => x.message.kind === 'digest')[1]).message);
      expect(second).toMatch(/since the last digest/);
      expect(second).toMatch(/Completed 3 \(\+1\)/);
      expect(second).toMatch(/Waiting for user 1 \(−1\)/);
      expect(second).toContain('dave@old.example — 5 messages');
      expect(second).not.toContain('alice@old.example');
      expect(second).not.toContain('carol@old.example —'); // failed before the last digest
      expect(await p.app.db.digestRun.count()).toBe(2);
    },
  );

  it('summarises long lists: the first N, then "and N more" with the command that shows them', async () => {
    const csv = Array.from({ length: 223 }, (_, i) => `user${String(i).padStart(3, '0')}@old.example`).join('\n');
    await p.run(`bulk\n${csv}`);
    await p.run('start --all');
    await settle(p);
    await p.run('digest');
    await settle(p);
    const m = p.posts.find((x) => x.message.kind === 'digest')!.message;
    for (const [surface, s] of Object.entries(await renderings(m))) {
      if (surface === 'fallback') {
        expect(s).toMatch(/223 waiting for their user/);
        continue;
      }
      expect(s, surface).toMatch(/Waiting for their user \(223\)/);
      expect(s, surface).toMatch(/and 213 more \(see \W{0,3}\/migrate status/);
      expect(s.match(/user\d{3}@old\.example/g)?.length, surface).toBe(10);
    }
  }, 240_000);

  it('replies with the digest itself when this process cannot post in the project channel', async () => {
    await p.run('project create beta --source imaps://old.example --destination imaps://new.example', {
      channel: 'C9',
    });
    await p.app.db.project.update({ where: { name: 'beta' }, data: { channelRef: 'slack:C9' } });
    const project = await p.app.db.project.findUniqueOrThrow({ where: { name: 'beta' } });
    const reply = await scheduler.postDigest(project.id, { surface: 'test', id: 'admin' });
    expect(reply.kind).toBe('digest');
    expect(renderText(reply)).toMatch(/Digest — beta/);
    expect(await p.app.db.outboxPost.count({ where: { threadRef: 'slack:C9' } })).toBe(0);
  });
});
