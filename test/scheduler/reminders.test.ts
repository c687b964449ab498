import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { giveCredentials, openProc, settle, tempDir, type Proc } from './helpers.ts';
import { installScheduler } from '../../bot/scheduler/install.ts';
import { cadenceAt } from '../../bot/scheduler/reminders.ts';
import type { Scheduler } from '../../bot/scheduler/scheduler.ts';
import { renderText } from '../../cards/render-text.ts';
import { defined } from '../harness/defined.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
let tmp: ReturnType<typeof tempDir>;
let p: Proc;
let s: Scheduler;

/**
 * Moves the clock on by `ms` the way the scheduler's half-hourly cron sees it: one tick at every half hour passed, each
 * run to its end with what it sets off (requests, posts). Only `Date` is faked: the database's and the mail's I/O
 * and their timers are real, which a faked `setTimeout` would stall on PostgreSQL.
 */
async function advance(ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (let at = nextHalfHour(Date.now()); at <= end; at = nextHalfHour(at)) {
    vi.setSystemTime(at);
    await tick();
  }
  vi.setSystemTime(end);
  await settle(p);
}

/** One scheduler round, as the cron (or a start) runs it, and what it sets off. */
async function tick(): Promise<void> {
  await s.tick();
  await settle(p);
}

function nextHalfHour(ms: number): number {
  return (Math.floor(ms / (30 * MIN)) + 1) * 30 * MIN;
}

/** Requests sent to one address, in order. */
function asked(address: string) {
  return p.requests.filter((r) => r.recipient === address);
}

beforeEach(async () => {
  tmp = tempDir();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-03-02T09:00:00Z'));
  p = await openProc(tmp.dir);
  await p.run(
    'project create acme --source imaps://old.example --destination imaps://new.example --self-service source',
  );
  await p.run('project set acme --digest off');
  s = installScheduler(p.app, 'console', { tick: '*/30 * * * *' });
});
afterEach(async () => {
  await s.stop();
  await p.close();
  vi.useRealTimers();
  tmp.remove();
});

describe('reminders', () => {
  it(
    'remind after 1 and 3 days with a new link, stop when the user ' +
      'answers or the admin stops, then the digest lists them as stalled',
    async () => {
      await p.run('bulk\nalice@old.example\nbob@old.example\ncarol@old.example\ndave@old.example');
      await p.run('start --all');
      // One request each (sent side by side: their order is not promised).
      expect(p.requests.map((r) => [r.recipient, r.reminder]).sort()).toEqual(
        ['alice', 'bob', 'carol', 'dave'].map((n) => [`${n}@old.example`, false]),
      );
      await tick(); // the scheduler starts: its first round runs at once

      await advance(DAY - 31 * MIN);
      expect(p.requests).toHaveLength(4); // not yet
      await advance(HOUR);
      expect(p.requests).toHaveLength(8);
      for (const n of ['alice', 'bob', 'carol', 'dave']) {
        const [first, reminder] = asked(`${n}@old.example`);
        expect(defined(reminder).reminder).toBe(true);
        expect(defined(reminder).url).not.toBe(defined(first).url); // a new link
        expect(defined(reminder).at.getTime() - defined(first).at.getTime()).toBeGreaterThanOrEqual(DAY);
        expect(defined(reminder).at.getTime() - defined(first).at.getTime()).toBeLessThanOrEqual(DAY + 30 * MIN);
      }
      const aliceItem = await p.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } });
      const links = await p.app.db.credentialLink.findMany({
        where: { itemId: aliceItem.id },
        orderBy: { createdAt: 'asc' },
      });
      expect(links).toHaveLength(2);
      expect(defined(links[0]).revokedAt).not.toBeNull(); // the old link dies with the new one
      expect(defined(links[1]).revokedAt).toBeNull();
      // The thread hears about the reminder too.
      expect(
        p.posts.some(
          (x) =>
            /^🔔 Reminded 4 users: 4 by email\./.test(x.message.text) &&
            /asked alice@old\.example by email/.test(x.message.text),
        ),
      ).toBe(true);

      // Alice answers, the admin stops Bob: their reminders stop at once.
      await giveCredentials(p.app, 'alice@old.example');
      await p.run('stop bob@old.example');
      expect((await p.app.db.itemReminder.findMany()).map((r) => r.itemId).sort()).toHaveLength(2);

      await advance(2 * DAY + HOUR);
      expect(asked('alice@old.example')).toHaveLength(2);
      expect(asked('bob@old.example')).toHaveLength(2);
      expect(asked('carol@old.example')).toHaveLength(3);
      expect(asked('dave@old.example')).toHaveLength(3);
      await advance(3 * DAY);
      expect(p.requests).toHaveLength(10); // after the last reminder, none

      await p.run('digest');
      await settle(p);
      const digest = renderText(p.posts.filter((x) => x.message.kind === 'digest').pop()!.message);
      expect(digest).toMatch(/Stalled — no answer after the last reminder \(2\)/);
      expect(digest).toMatch(/carol@old\.example — waiting 6 d( \d+ h)?, asked 3 times/);
      expect(digest).toMatch(/dave@old\.example — waiting 6 d( \d+ h)?, asked 3 times/);
      expect(digest).not.toMatch(/Waiting for their user/); // everyone waiting is stalled
    },
  );

  it('reminders due while the server was down go out once on start; a resend starts the cadence again', async () => {
    await p.run('bulk\neve@old.example\nfrank@old.example');
    await p.run('start --all');
    await tick();
    await advance(HOUR);
    await s.stop();
    vi.setSystemTime(new Date(Date.now() + 5 * DAY)); // down over both reminder times
    await p.run('resend frank@old.example'); // frank is asked again by the admin meanwhile
    s = installScheduler(p.app, 'console', { tick: '*/30 * * * *' });
    await tick();
    await advance(HOUR);
    expect(asked('eve@old.example').map((r) => r.reminder)).toEqual([false, true]); // one, not two
    const eve = await p.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'eve@old.example' } });
    expect(await p.app.db.itemReminder.findUnique({ where: { itemId: eve.id } })).toMatchObject({
      sent: 2,
      nextAt: null,
    }); // both times counted: stalled
    expect(asked('frank@old.example').map((r) => r.reminder)).toEqual([false, false]); // the resend, no reminder yet
    await advance(DAY);
    expect(asked('frank@old.example').map((r) => r.reminder)).toEqual([false, false, true]);
  });

  it('cadence arithmetic: missed times count as passed', () => {
    const a = new Date('2026-03-02T09:00:00Z');
    expect(cadenceAt([1, 3], a, new Date('2026-03-02T10:00:00Z'))).toEqual({
      passed: 0,
      nextAt: new Date('2026-03-03T09:00:00Z'),
    });
    expect(cadenceAt([1, 3], a, new Date('2026-03-04T10:00:00Z'))).toEqual({
      passed: 1,
      nextAt: new Date('2026-03-05T09:00:00Z'),
    });
    expect(cadenceAt([1, 3], a, new Date('2026-03-09T10:00:00Z'))).toEqual({ passed: 2, nextAt: null });
  });
});
