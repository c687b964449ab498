import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { advanceClock, openProc, raceChildren, settle, tempDir, type Proc } from './helpers.ts';
import { installScheduler } from '../../bot/scheduler/install.ts';
import type { Scheduler } from '../../bot/scheduler/scheduler.ts';
import { renderText } from '../../cards/render-text.ts';
import { defined } from '../harness/defined.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
let tmp: ReturnType<typeof tempDir>;
const open: Proc[] = [];

async function proc(name: string): Promise<Proc> {
  const p = await openProc(tmp.dir, name);
  open.push(p);
  return p;
}

/** Moves the fake clock, letting every tick and delivery finish before it moves on. */
async function advance(ms: number, procs: Proc[], schedulers: Scheduler[]): Promise<void> {
  await advanceClock(ms, async () => {
    for (const s of schedulers) await s.idle();
    await settle(...procs);
  });
}

function digests(...procs: Proc[]) {
  return procs.flatMap((p) => p.posts.filter((x) => x.message.kind === 'digest'));
}

beforeEach(() => {
  tmp = tempDir();
  // Only timers and the clock are fake: the database driver keeps its own scheduling.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
  vi.useRealTimers();
  tmp.remove();
});

describe('digest schedule', () => {
  it('posts weekdays at 09:00 Berlin time in the project channel, across the spring DST change', async () => {
    vi.setSystemTime(new Date('2026-03-26T12:00:00Z')); // Thursday
    const p = await proc('p1');
    await p.run('project create acme --source imaps://old.example --destination imaps://new.example');
    expect((await p.run('project set acme --digest "0 9 * * 1-5" --tz Europe/Berlin')).text).toMatch(
      /digest "0 9 \* \* 1-5"; time zone Europe\/Berlin/,
    );
    // An hourly tick: the digests fall on the hour, and each tick is a round of database work (about 0.1 s on
    // PostgreSQL at load 5; a 30-minute tick made this test take 26 s there, over 60 s at load 20).
    const s = installScheduler(p.app, 'console', { tick: '0 * * * *' });
    s.start();
    await advance(5 * 24 * HOUR, [p], [s]);
    await s.stop();
    const runs = await p.app.db.digestRun.findMany({ orderBy: { id: 'asc' } });
    // Friday 09:00 CET = 08:00Z; the clocks go forward on Sunday; Monday and Tuesday 09:00 CEST = 07:00Z.
    expect(runs.map((r) => r.at.toISOString())).toEqual([
      '2026-03-27T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
      '2026-03-31T07:00:00.000Z',
    ]);
    const posted = digests(p);
    expect(posted.map((x) => x.at.toISOString())).toEqual(runs.map((r) => r.at.toISOString()));
    expect(posted.every((x) => x.threadRef === 'test:C1')).toBe(true);
    expect((await p.app.db.digestPlan.findFirstOrThrow()).nextDigestAt?.toISOString()).toBe('2026-04-01T07:00:00.000Z');
  });

  it('a digest missed while the server was down is sent once on start, not once per missed time', async () => {
    vi.setSystemTime(new Date('2026-03-26T12:00:00Z'));
    const p1 = await proc('p1');
    await p1.run('project create acme --source imaps://old.example --destination imaps://new.example');
    await p1.run('project set acme --tz Europe/Berlin'); // the default schedule: weekdays 09:00
    const s1 = installScheduler(p1.app, 'console');
    s1.start();
    await s1.idle();
    expect((await p1.app.db.digestPlan.findFirstOrThrow()).nextDigestAt?.toISOString()).toBe(
      '2026-03-27T08:00:00.000Z',
    );
    await s1.stop();
    await p1.close();
    open.splice(open.indexOf(p1), 1);

    // Down from Thursday to Tuesday 12:00 Berlin: Friday, Monday and Tuesday were missed.
    vi.setSystemTime(new Date('2026-03-31T10:00:00Z'));
    const p2 = await proc('p2');
    const s2 = installScheduler(p2.app, 'console', { tick: '*/30 * * * *' });
    s2.start();
    await advance(6 * HOUR, [p2], [s2]);
    await s2.stop();
    expect(digests(p2)).toHaveLength(1);
    expect(defined(digests(p2)[0]).at.toISOString()).toBe('2026-03-31T10:00:00.000Z');
    expect(await p2.app.db.digestRun.count()).toBe(1);
    expect((await p2.app.db.digestPlan.findFirstOrThrow()).nextDigestAt?.toISOString()).toBe(
      '2026-04-01T07:00:00.000Z',
    );
  });

  it('three server processes racing for due digests post each one once (a database claim)', async () => {
    vi.useRealTimers(); // real processes, real clocks
    const p = await proc('setup');
    const names = ['acme', 'beta', 'gamma', 'delta', 'eps', 'zeta'];
    for (const [i, n] of names.entries())
      await p.run(`project create ${n} --source imaps://old.example --destination imaps://new.example`, {
        channel: `C${i}`,
      });
    const s = installScheduler(p.app, 'console');
    await s.tick(); // plans every project
    await p.app.db.digestPlan.updateMany({ data: { nextDigestAt: new Date(Date.now() - MIN) } });
    const results = await raceChildren<{ digests: string[] }>(new URL('./race-child.ts', import.meta.url), tmp.dir, [
      'a',
      'b',
      'c',
    ]);
    const posted = results.flatMap((r) => r.digests);
    // each project's digest once, whoever won it
    expect(posted.sort()).toEqual(names.map((_, i) => `test:C${i}`).sort());
    expect(await p.app.db.digestRun.count()).toBe(names.length);
    expect(await p.app.db.outboxPost.count({ where: { kind: 'digest' } })).toBe(names.length);
  }, 120_000);

  it(
    'refuses an invalid cron expression or zone when set, ' + 'stops on "off", and plans a changed schedule anew',
    async () => {
      vi.setSystemTime(new Date('2026-03-26T12:00:00Z'));
      const p = await proc('p1');
      const s = installScheduler(p.app, 'console', { tick: '*/30 * * * *' });
      await p.run('project create acme --source imaps://old.example --destination imaps://new.example');
      expect((await p.run('project set acme --digest "61 9 * * *"')).text).toMatch(
        /minute: 61 is an invalid expression for minute/,
      );
      expect((await p.run('project set acme --digest "0 9 * *"')).text).toMatch(/expected 5 fields/);
      expect((await p.run('project set acme --digest "0 9 * * *" --tz Mars/Olympus')).text).toMatch(
        /"Mars\/Olympus" is not a time zone/,
      );
      expect((await p.run('project set acme --tz Mars/Olympus')).text).toMatch(/not a time zone/);
      const row = await p.app.db.project.findFirstOrThrow();
      expect([row.digestCron, row.digestTz]).toEqual(['0 9 * * 1-5', null]);

      await p.run('project set acme --digest "30 17 * * *" --tz America/New_York');
      await s.tick();
      expect((await p.app.db.digestPlan.findFirstOrThrow()).nextDigestAt?.toISOString()).toBe(
        '2026-03-26T21:30:00.000Z', // 17:30 EDT
      );

      await p.run('project set acme --digest off');
      s.start();
      await advance(3 * 24 * HOUR, [p], [s]);
      await s.stop();
      expect((await p.app.db.digestPlan.findFirstOrThrow()).nextDigestAt).toBeNull();
      expect(digests(p)).toHaveLength(0);
    },
  );

  it('only serve runs timers; /migrate digest works in every mode', async () => {
    vi.setSystemTime(new Date('2026-03-26T12:00:00Z'));
    const p = await proc('p1');
    await p.run('project create acme --source imaps://old.example --destination imaps://new.example');
    for (const mode of ['console', 'worker'] as const) {
      const before = vi.getTimerCount();
      installScheduler(p.app, mode);
      expect(vi.getTimerCount(), mode).toBe(before);
      expect(p.app.services.postDigest, mode).toBeTypeOf('function');
    }
    const r = await p.run('digest');
    await settle(p);
    expect(r.text).toMatch(/Digest of acme posted/);
    expect(renderText(defined(digests(p)[0]).message)).toMatch(/== Digest — acme ==/);
    const before = vi.getTimerCount();
    const s = installScheduler(p.app, 'serve');
    expect(vi.getTimerCount()).toBeGreaterThan(before);
    await s.stop();
  });
});
