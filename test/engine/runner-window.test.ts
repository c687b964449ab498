/**
 * A project's copy window (`project set --window "22:00-06:00"`), read by the runner on an
 * injected clock, against real Dovecot: a pass running when the window closes pauses at a
 * checkpoint (Queued, "Paused until 22:00 (window)" in its thread and status), nothing is
 * claimed while it is closed (a start outside it waits), and when it opens the pass resumes
 * from its checkpoint: every message at the destination exactly once.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Runner } from '../../engine/runner/runner.ts';
import { runPass } from '../../engine/copy/index.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import type { EngineEvent } from '../../engine/events.ts';
import {
  dovecotAvailable,
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
} from '../harness/dovecot.ts';
import { makeTestApp, waitForPost, type TestApp } from '../harness/app.ts';
import { defined } from '../harness/defined.ts';
import { joinedRegExp } from '../harness/regex.ts';

const PER_FOLDER = 30;
const FOLDERS = ['INBOX', 'Archive'];
/** 23:00 in Berlin (winter, UTC+1): inside the window. */
const INSIDE = new Date('2026-12-05T22:00:00Z');
/** 06:30 in Berlin the next morning: the window closed at 06:00. */
const OUTSIDE = new Date('2026-12-06T05:30:00Z');
/** 22:00:30 in Berlin that evening: open again. */
const REOPENED = new Date('2026-12-06T21:00:30Z');

describe.skipIf(!dovecotAvailable())('a copy window that closes and opens during a pass', () => {
  let dv: DovecotInstance;
  let t: TestApp;
  let runner: Runner;
  let clock = INSIDE;
  const events: EngineEvent[] = [];

  beforeAll(async () => {
    dv = await startDovecot({
      users: ['alice', 'bob'].flatMap((u) => [
        { name: `${u}@old.example`, password: 'pw' },
        { name: `${u}@new.example`, password: 'pw' },
      ]),
    });
    for (const u of ['alice', 'bob'])
      await seedImap(
        dv,
        `${u}@old.example`,
        'pw',
        Object.fromEntries(
          FOLDERS.map((f) => [
            f,
            Array.from({ length: PER_FOLDER }, (_, i) => ({
              raw: makeMessage({ subject: `${u} ${f} ${i}`, seed: `${u}-${f}-${i}` }),
            })),
          ]),
        ),
      );
    t = await makeTestApp();
    t.app.bus.on((e) => void events.push(e));
    // The clock the engine and the runner read: the test sets the time of day.
    Object.defineProperty(t.app.engine, 'now', { value: () => clock });
    // One connection and small batches: under the project's rate (2 messages a second) the pass is still copying when
    // the window closes.
    runner = new Runner(
      t.app.engine,
      createPrismaCheckpointStore(t.app.db),
      runPass,
      t.app.log.child({ part: 'runner' }),
      {
        concurrency: 2,
        pollMs: 100,
        idlePollMs: 300,
        stopCheckMs: 100,
        now: () => clock,
        pass: { connections: 1, batchMessages: 2, progressIntervalMs: 200 },
      },
    );
    await t.run(`project create acme --source ${dv.url} --destination ${dv.url}`);
    await t.run('project set acme --window "22:00-06:00" --tz Europe/Berlin --rate 7200');
    for (const u of ['alice', 'bob']) {
      await t.run(`add ${u}@old.example ${u}@new.example`);
      const project = await t.app.engine.getProject('acme');
      let item = await t.app.engine.getItem(project, `${u}@old.example`);
      item = await t.app.engine.setCredential({ surface: 'form', id: u }, item, 'source', `${u}@old.example`, {
        password: 'pw',
      });
      await t.app.engine.setCredential({ surface: 'form', id: u }, item, 'destination', `${u}@new.example`, {
        password: 'pw',
      });
    }
    await runner.start();
  }, 180_000);
  afterAll(async () => {
    await runner?.stop();
    await t?.close();
    await dv?.dispose();
  });

  const item = async (u: string) => t.app.engine.getItem(await t.app.engine.getProject('acme'), `${u}@old.example`);
  const kinds = async (u: string) => (await t.app.engine.history((await item(u)).id)).map((h) => h.kind);
  const copiedSoFar = async (u: string) => {
    const box = await readMailbox(dv, `${u}@new.example`, 'pw');
    return FOLDERS.reduce((n, f) => n + (box.messages[f]?.length ?? 0), 0);
  };

  it('pauses a running pass at a checkpoint when the window closes', async () => {
    const r = await t.run('start alice@old.example');
    expect(r.text).toContain('alice@old.example');
    // Copying: the first progress with messages copied.
    await vi.waitFor(
      () =>
        expect(
          events.some(
            (e) =>
              e.type === 'item.progress' &&
              e.item.sourceAddress === 'alice@old.example' &&
              e.figures.messagesCopied > 0,
          ),
        ).toBe(true),
      { timeout: 60_000, interval: 50 },
    );
    clock = OUTSIDE;
    await vi.waitFor(async () => expect(await kinds('alice')).toContain('paused'), { timeout: 60_000, interval: 100 });
    const paused = await item('alice');
    expect(paused.status).toBe('Queued');
    const copied = await copiedSoFar('alice');
    expect(copied).toBeGreaterThan(0);
    expect(copied).toBeLessThan(PER_FOLDER * FOLDERS.length);
    // What the paused pass copied is counted on the item.
    expect(paused.messagesCopied).toBe(copied);
    await waitForPost(
      t,
      joinedRegExp(
        /alice@old\.example: Paused until 22:00 \(window\)\. /,
        /The copy window closed; the pass resumes from its last checkpoint /,
        /when it opens, 2026-12-06 22:00 Europe\/Berlin \(21:00 UTC\)/,
      ),
    );
    const status = await t.run('status');
    expect(status.text).toContain(
      'Copy window: 22:00-06:00 Europe/Berlin: closed now, opens 2026-12-06 22:00 Europe/Berlin (21:00 UTC)',
    );
    expect(status.text).toMatch(/alice@old\.example → alice@new\.example — Queued — Paused until 22:00 \(window\)/);
  }, 120_000);

  it('claims nothing while the window is closed: a start outside it waits', async () => {
    const r = await t.run('start bob@old.example');
    expect(r.text).toContain('bob@old.example');
    expect((await item('bob')).status).toBe('Queued');
    // The runner looks every 100-300 ms: after several looks both are still waiting.
    const claimsBefore = events.filter((e) => e.type === 'item.status' && e.to === 'Running').length;
    await new Promise((res) => setTimeout(res, 1_500));
    expect(events.filter((e) => e.type === 'item.status' && e.to === 'Running').length).toBe(claimsBefore);
    expect((await item('bob')).status).toBe('Queued');
    expect((await item('alice')).status).toBe('Queued');
    const status = await t.run('status bob@old.example');
    expect(status.text).toMatch(/Window:?\s*waits for the copy window \(opens 22:00\)/);
  }, 60_000);

  it('resumes from the checkpoint when the window opens: every message exactly once', async () => {
    await t.run('project set acme --rate off');
    clock = REOPENED;
    for (const u of ['alice', 'bob'])
      await vi.waitFor(async () => expect((await item(u)).status).toBe('Completed'), {
        timeout: 120_000,
        interval: 200,
      });
    for (const u of ['alice', 'bob']) {
      const src = await readMailbox(dv, `${u}@old.example`, 'pw');
      const dst = await readMailbox(dv, `${u}@new.example`, 'pw');
      for (const f of FOLDERS) {
        const hashes = defined(dst.messages[f]).map((m) => m.sha256);
        expect(new Set(hashes).size, `${u} ${f}: no message twice`).toBe(hashes.length);
        expect([...hashes].sort(), `${u} ${f}: every message`).toEqual(
          defined(src.messages[f])
            .map((m) => m.sha256)
            .sort(),
        );
      }
    }
    // alice: claimed, paused, claimed again, completed; the second pass only copied the rest.
    const h = await kinds('alice');
    expect(h.filter((k) => k === 'claim')).toHaveLength(2);
    expect(h.indexOf('paused')).toBeLessThan(h.lastIndexOf('claim'));
    expect((await item('alice')).messagesCopied).toBe(PER_FOLDER * FOLDERS.length);
    expect(t.logs.join('\n')).toMatch(/pass paused: the copy window closed/);
  }, 180_000);
});
