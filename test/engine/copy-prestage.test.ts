/**
 * Date-filtered passes (pre-stage, a project's date range) and the full pass after them:
 * every source message ends at the destination exactly once, whatever the order of dates
 * among UIDs, repeated pre-stage passes copy nothing twice, and a kill -9 within or between
 * passes changes nothing of that.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass, type DateWindow } from '../../engine/copy/index.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  seedMaildir,
  startDovecot,
  type DovecotInstance,
  type ReadMailbox,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { folderKeys, hashCounts, userPair, type UserPair } from '../harness/copy-assert.ts';
import { runPassChild, type ChildConfig } from '../harness/spawn-pass-child.ts';
import { testDbUrl } from '../harness/test-db.ts';

const DAY = 86_400_000;
const NOW = Date.now();
const old = (i: number) => new Date(Date.UTC(2019, 0, 1) + i * 60_000);
const recent = (i: number) => new Date(NOW - 2 * DAY + i * 60_000);
/** A pre-stage of 30 days: messages older than that. */
const PRESTAGE: DateWindow = { before: new Date(NOW - 30 * DAY) };

/**
 * A folder whose old and recent messages alternate by UID (the order a migrated mailbox has),
 * with duplicates (same bytes, same date) and messages without Message-ID among both.
 */
function interleaved(n: number): SeedMessage[] {
  const out: SeedMessage[] = [];
  for (let i = 0; i < n; i++) {
    const d = i % 3 === 0 ? recent(i) : old(i);
    out.push({
      raw: makeMessage({ size: 3_000 + (i % 5) * 1_500, messageId: i % 11 === 0 ? null : undefined }),
      flags: i % 2 ? ['\\Seen'] : [],
      internalDate: d,
    });
  }
  const dupOld = makeMessage({ size: 5_000 });
  const dupNew = makeMessage({ size: 5_000, messageId: null });
  out.splice(
    7,
    0,
    { raw: dupOld, internalDate: old(900) },
    { raw: dupNew, internalDate: recent(900) },
    { raw: dupOld, internalDate: old(900) },
    { raw: dupNew, internalDate: recent(900) },
  );
  return out;
}

/** The hashes of a read mailbox whose INTERNALDATE is inside the window. */
function countsIn(box: ReadMailbox, w: DateWindow): Map<string, number> {
  const out = new Map<string, number>();
  for (const msgs of Object.values(box.messages))
    for (const m of msgs) {
      if ((w.since && m.internalDate < w.since.getTime()) || (w.before && m.internalDate >= w.before.getTime()))
        continue;
      out.set(m.sha256, (out.get(m.sha256) ?? 0) + 1);
    }
  return out;
}

let dv: DovecotInstance;
let dir: string;
beforeAll(async () => {
  dv = await startDovecot();
  dir = mkdtempSync(join(tmpdir(), 'mf-prestage-'));
});
afterAll(async () => {
  await dv?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const read = (p: UserPair) => Promise.all([readMailbox(dv, p.s.name, p.s.pw), readMailbox(dv, p.d.name, p.d.pw)]);

describe('pre-stage passes, then the full pass', () => {
  it('copies only old mail, repeats without copying twice, and the full pass copies exactly the rest', async () => {
    const p = userPair(dv, dv, 'ps');
    const inbox = interleaved(90);
    // Over IMAP, in this order: a Maildir seeded on disk gets its UIDs in the order of dates.
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: inbox });
    seedMaildir(dv, p.s.name, [
      {
        path: ['Archive'],
        messages: Array.from({ length: 20 }, (_, i) => ({ raw: makeMessage(), internalDate: old(2000 + i) })),
      },
      {
        path: ['Recent'],
        messages: Array.from({ length: 12 }, (_, i) => ({ raw: makeMessage(), internalDate: recent(2000 + i) })),
      },
    ]);
    const checkpoints = createMemoryCheckpointStore();
    const pass = (dates?: DateWindow) =>
      runPass({
        itemId: 'ps',
        source: p.source,
        destination: p.destination,
        checkpoints,
        dates,
        options: { batchMessages: 7 },
      });

    const first = await pass(PRESTAGE);
    expect(first.outcome, first.detail).toBe('completed');
    let [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(countsIn(src, PRESTAGE));
    const oldCount = [...countsIn(src, PRESTAGE).values()].reduce((a, b) => a + b, 0);
    expect(first.stats.messagesCopied).toBe(oldCount);
    expect(first.stats.messagesLeftOut).toBe(inbox.length + 20 + 12 - oldCount);
    // The destination holds what the window selected: the verification expects no more.
    expect(first.stats.verification.missing).toBe(0);

    // Repeated: nothing new is old enough, nothing is copied again.
    const again = await pass(PRESTAGE);
    expect(again.outcome).toBe('completed');
    expect(again.stats.messagesCopied).toBe(0);

    // Meanwhile: a message pre-staged above the first left-out UID is flagged at the source,
    // an old message arrives (moved in by its user) and a new one is delivered.
    const c = await openClient(dv, p.s.name, p.s.pw);
    try {
      await c.mailboxOpen('INBOX');
      // Old and recent alternate by UID: the first UID is recent, so everything pre-staged lies above it.
      const first = await c.fetchOne('1', { internalDate: true });
      expect(first && new Date(first.internalDate!).getTime()).toBeGreaterThan(PRESTAGE.before!.getTime());
      const late = [...((await c.search({ before: PRESTAGE.before! }, { uid: true })) || [])].sort((a, b) => b - a)[0];
      await c.messageFlagsAdd(String(late), ['\\Flagged'], { uid: true });
    } finally {
      await c.logout();
    }
    await seedImap(dv, p.s.name, p.s.pw, {
      INBOX: [
        { raw: makeMessage(), internalDate: old(5000) },
        { raw: makeMessage(), internalDate: recent(5000) },
      ],
    });
    const third = await pass(PRESTAGE);
    expect(third.stats.messagesCopied).toBe(1);
    [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(countsIn(src, PRESTAGE));

    const full = await pass();
    expect(full.outcome, full.detail).toBe('completed');
    [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
    expect(full.stats.messagesCopied).toBe(inbox.length + 2 + 20 + 12 - oldCount - 1);
    expect(full.stats.messagesLeftOut).toBe(0);
    // Bytes, flags (the \Flagged set after the pre-stage included) and dates, folder by folder.
    for (const f of ['INBOX', 'Archive', 'Recent']) expect(folderKeys(dst, f)).toEqual(folderKeys(src, f));

    // Complete now: the next full pass skips every folder on STATUS.
    const quiet = await pass();
    expect(quiet.stats.messagesCopied).toBe(0);
    expect(quiet.stats.folders.every((f) => f.unchanged)).toBe(true);
  }, 240_000);

  it("a project's date range copies only its messages; widening it copies exactly the rest", async () => {
    const p = userPair(dv, dv, 'pw');
    const msgs: SeedMessage[] = Array.from({ length: 40 }, (_, i) => ({
      raw: makeMessage(),
      internalDate: new Date(Date.UTC(2018 + (i % 5), i % 12, 1 + (i % 27))),
    }));
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs });
    const checkpoints = createMemoryCheckpointStore();
    const window: DateWindow = { since: new Date(Date.UTC(2019, 0, 1)), before: new Date(Date.UTC(2021, 0, 1)) };
    const r = await runPass({ itemId: 'pw', source: p.source, destination: p.destination, checkpoints, dates: window });
    expect(r.outcome).toBe('completed');
    let [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(countsIn(src, window));
    expect(r.stats.messagesCopied).toBe(16);
    // The same range again: nothing.
    expect(
      (await runPass({ itemId: 'pw', source: p.source, destination: p.destination, checkpoints, dates: window })).stats
        .messagesCopied,
    ).toBe(0);
    const all = await runPass({ itemId: 'pw', source: p.source, destination: p.destination, checkpoints });
    [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
    expect(all.stats.messagesCopied).toBe(24);
  }, 120_000);
});

describe('a pre-stage into a destination that already holds some of the mail', () => {
  it('matches what is there (whole-folder match kept until ' +
    'the folder is complete) and copies each message once', async () => {
    const p = userPair(dv, dv, 'pm');
    const inbox = interleaved(40);
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: inbox });
    // An earlier tool copied every fourth message, old and recent alike.
    await seedImap(dv, p.d.name, p.d.pw, { INBOX: inbox.filter((_, i) => i % 4 === 0) });
    const checkpoints = createMemoryCheckpointStore();
    const pass = (dates?: DateWindow) =>
      runPass({
        itemId: 'pm',
        source: p.source,
        destination: p.destination,
        checkpoints,
        dates,
        options: { batchMessages: 4 },
      });
    const staged = await pass(PRESTAGE);
    expect(staged.outcome, staged.detail).toBe('completed');
    let [src, dst] = await read(p);
    const expected = countsIn(src, PRESTAGE);
    for (const [i, m] of inbox.entries()) if (i % 4 === 0 && !inWindowOf(m)) expected.set(sha(dst, m), 1);
    expect(hashCounts(dst)).toEqual(expected);
    expect((await pass(PRESTAGE)).stats.messagesCopied).toBe(0);
    const full = await pass();
    expect(full.outcome, full.detail).toBe('completed');
    [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
  }, 120_000);
});

/** Whether a seeded message is old enough for the pre-stage. */
function inWindowOf(m: SeedMessage): boolean {
  return m.internalDate!.getTime() < PRESTAGE.before!.getTime();
}

/** The hash of a seeded message as read back (the bytes are stored as sent). */
function sha(box: ReadMailbox, m: SeedMessage): string {
  const want = createHash('sha256').update(m.raw).digest('hex');
  if (!Object.values(box.messages).some((l) => l.some((x) => x.sha256 === want)))
    throw new Error('seeded message not found');
  return want;
}

describe('kill -9 within and between pass types', () => {
  it('a pre-stage killed mid-APPEND, pre-staged again, a full pass ' +
    'killed mid-APPEND and run again: each message exactly once', async () => {
    const p = userPair(dv, dv, 'pk');
    const inbox = interleaved(160);
    const other: SeedMessage[] = Array.from({ length: 50 }, (_, i) => ({
      raw: makeMessage({ size: 6_000 }),
      internalDate: i % 2 ? old(3000 + i) : recent(3000 + i),
    }));
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: inbox, Other: other });
    const cfg: ChildConfig = {
      dbUrl: testDbUrl(dir, 'state'),
      itemId: 'prestage-kill9',
      source: p.source,
      destination: p.destination,
      options: { batchMessages: 5, connections: 2, messagesPerLane: 1 },
    };
    const prestage: ChildConfig = { ...cfg, dates: { before: PRESTAGE.before!.toISOString() } };
    expect((await runPassChild(prestage, 20)).killed).toBe(true);
    const staged = await runPassChild(prestage);
    expect(staged.result?.outcome, staged.result?.detail).toBe('completed');
    let [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(countsIn(src, PRESTAGE));
    expect((await runPassChild(prestage)).result).toMatchObject({ outcome: 'completed', copied: 0 });

    expect((await runPassChild(cfg, 15)).killed).toBe(true);
    const full = await runPassChild(cfg);
    expect(full.result?.outcome, full.result?.detail).toBe('completed');
    [src, dst] = await read(p);
    expect(hashCounts(dst)).toEqual(hashCounts(src));
    expect((await runPassChild(cfg)).result).toMatchObject({ outcome: 'completed', copied: 0 });
  }, 600_000);
});
