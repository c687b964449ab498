/**
 * `start … --at`: the start is kept in the database and fired by the scheduler (on an
 * injected clock) once it is due, exactly once, by whichever process is running then;
 * `stop` cancels it; `status` shows it in the project's zone and UTC.
 */
import { describe, expect, it } from 'vitest';
import { giveCredentials, procsPerTest, settle, type Proc } from './helpers.ts';
import { Scheduler } from '../../bot/scheduler/scheduler.ts';

const { proc, forget } = await procsPerTest();

const status = async (p: Proc, address: string) =>
  (await p.app.db.item.findFirstOrThrow({ where: { sourceAddress: address } })).status;

describe('scheduled starts', () => {
  it('fire once when due, after a restart; stop cancels one; status shows them', async () => {
    const p1 = await proc('p1');
    await p1.run('project create acme --source imaps://old.example:993 --destination imaps://new.example:993');
    await p1.run('project set acme --tz Europe/Berlin');
    for (const u of ['alice', 'bob', 'carol']) await p1.run(`add ${u}@old.example ${u}@new.example`);
    for (const u of ['alice', 'bob']) await giveCredentials(p1.app, `${u}@old.example`);

    expect((await p1.run('start alice@old.example --at "2020-01-01 10:00"')).text).toMatch(
      /2020-01-01 10:00 Europe\/Berlin \(09:00 UTC\) is already past/,
    );
    expect((await p1.run('start alice@old.example --at "next friday"')).text).toContain(
      'is not a date and time: expected "YYYY-MM-DD HH:MM"',
    );
    const r = await p1.run('start --all --at "2030-12-05 22:00"');
    expect(r.text).toContain('Scheduled: 3 mailboxes start 2030-12-05 22:00 Europe/Berlin (21:00 UTC).');
    const items = await p1.app.db.item.findMany({ orderBy: { sourceAddress: 'asc' } });
    expect(items.map((i) => [i.status, i.startAt?.toISOString()])).toEqual(
      Array(3).fill(['NotStarted', '2030-12-05T21:00:00.000Z']),
    );
    // The zone can be given: 22:00 in New York is 03:00 UTC the next day.
    expect((await p1.run('start carol@old.example --at "2030-12-05 22:00" --tz America/New_York')).text).toContain(
      '2030-12-05 22:00 America/New_York (2030-12-06 03:00 UTC)',
    );
    await p1.run('start carol@old.example --at "2030-12-05 22:00"');

    const s = await p1.run('status');
    expect(s.text).toContain(
      'alice@old.example → alice@new.example — Not started — ' +
        'scheduled to start 2030-12-05 22:00 Europe/Berlin (21:00 UTC)',
    );
    expect(s.text).toMatch(/Scheduled:?\s*3 mailboxes, the next 2030-12-05 22:00 Europe\/Berlin \(21:00 UTC\)/);
    expect((await p1.run('status bob@old.example')).text).toMatch(/Scheduled:?\s*2030-12-05 22:00 Europe\/Berlin/);

    const stopped = await p1.run('stop bob@old.example');
    expect(stopped.text).toContain(
      'bob@old.example: its start scheduled for 2030-12-05 22:00 Europe/Berlin (21:00 UTC) is cancelled.',
    );
    expect((await p1.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'bob@old.example' } })).startAt).toBeNull();
    expect((await p1.run('stop bob@old.example')).text).toContain('there is nothing to stop');
    // A restart: the schedule lives in the database.
    await p1.close();
    forget(p1);

    const p2 = await proc('p2');
    let clock = new Date('2030-12-05T20:59:00Z');
    const scheduler = new Scheduler(
      { db: p2.app.db, engine: p2.app.engine, notifier: p2.app.notifier, outreach: p2.app.outreach, log: p2.app.log },
      { now: () => clock },
    );
    await scheduler.tick();
    await settle(p2);
    expect(await status(p2, 'alice@old.example')).toBe('NotStarted');

    clock = new Date('2030-12-05T21:00:30Z');
    await scheduler.tick();
    await settle(p2);
    expect(await status(p2, 'alice@old.example')).toBe('Queued');
    expect(await status(p2, 'carol@old.example')).toBe('WaitingForUser'); // no credentials: its user is asked
    expect(await status(p2, 'bob@old.example')).toBe('NotStarted'); // cancelled
    // (The same tick's reminder sweep also reminds carol: on the injected clock her request, timed by the database's
    // real clock, is years old.)
    expect([...new Set(p2.requests.map((q) => q.recipient))]).toEqual(['carol@old.example']);
    // In the name of the admin who scheduled it, posted in the thread opened when it was scheduled.
    const alice = await p2.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'alice@old.example' } });
    expect(alice.startAt).toBeNull();
    const submit = (await p2.app.engine.history(alice.id)).find((h) => h.kind === 'submit')!;
    expect(submit.actor).toContain('test:admin');
    expect(p2.posts.some((x) => x.threadRef === alice.threadRef && /alice@old\.example/.test(x.text))).toBe(true);

    // Fired once: a later tick starts nothing again.
    const submits = await p2.app.db.itemEvent.count({ where: { kind: 'submit' } });
    clock = new Date('2030-12-05T21:30:00Z');
    await scheduler.tick();
    await settle(p2);
    expect(await p2.app.db.itemEvent.count({ where: { kind: 'submit' } })).toBe(submits);
  });

  it('a scheduled start the license pool refuses is dropped and said in the thread', async () => {
    const p = await proc('p1');
    await p.run(
      'project create acme --source imaps://old.example:993 --destination imaps://new.example:993 --licenses 1',
    );
    for (const u of ['alice', 'bob']) {
      await p.run(`add ${u}@old.example ${u}@new.example`);
      await giveCredentials(p.app, `${u}@old.example`);
    }
    await p.run('start bob@old.example --at "2030-12-05 22:00" --tz UTC');
    await p.run('start alice@old.example'); // takes the only license now
    let clock = new Date('2030-12-05T22:00:00Z');
    const scheduler = new Scheduler(
      { db: p.app.db, engine: p.app.engine, notifier: p.app.notifier, outreach: p.app.outreach, log: p.app.log },
      { now: () => clock },
    );
    await scheduler.tick();
    await settle(p);
    const bob = await p.app.db.item.findFirstOrThrow({ where: { sourceAddress: 'bob@old.example' } });
    expect(bob.status).toBe('NotStarted');
    expect(bob.startAt).toBeNull();
    expect(p.posts.map((x) => x.text).join('\n')).toContain(
      'bob@old.example did not start as scheduled (2030-12-05 ' +
        '22:00 UTC): Project acme has no license left (1 of 1 used).',
    );
    expect((await p.app.engine.history(bob.id)).map((h) => h.kind)).toContain('start.refused');
    clock = new Date('2030-12-05T23:00:00Z');
    await scheduler.tick();
  });
});
