import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryCheckpointStore, runPass, type CheckpointStore } from '../../engine/copy/index.ts';
import { planFlagUpdates } from '../../engine/copy/sync-flags.ts';
import { openDb, type Db } from '../../engine/store/db.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type ReadMessage,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { endpoint, folderKeys, hashCounts, messageKey } from '../harness/copy-assert.ts';
import { testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';
import { crashingStore } from '../harness/crashing-store.ts';

const at = (i: number) => new Date(Date.UTC(2023, 4, 1, 0, 0, i));
const msg = (i: number, flags: string[], o: Parameters<typeof makeMessage>[0] = {}): SeedMessage => ({
  raw: makeMessage({ size: 1200 + i * 41, ...o }),
  flags,
  internalDate: at(i),
});

/** Changes flags at the source (or anywhere) the way a mail client would: UID STORE on a selected folder. */
async function store(
  dv: { port: number },
  user: string,
  pw: string,
  folder: string,
  uid: number,
  op: 'add' | 'remove',
  flags: string[],
): Promise<void> {
  const c = await openClient(dv, user, pw);
  try {
    await c.mailboxOpen(folder);
    const ok =
      op === 'add'
        ? await c.messageFlagsAdd(String(uid), flags, { uid: true })
        : await c.messageFlagsRemove(String(uid), flags, { uid: true });
    if (!ok) throw new Error(`STORE ${op} ${flags.join(' ')} on ${folder} UID ${uid} failed`);
  } finally {
    await c.logout().catch(() => undefined);
  }
}

/** The destination's messages of a folder as comparable keys, without the given (destination-only) ones. */
function keysWithout(msgs: ReadMessage[], exclude: ReadMessage[]): string[] {
  const drop = new Set(exclude.map((m) => m.uid));
  return msgs
    .filter((m) => !drop.has(m.uid))
    .map(messageKey)
    .sort();
}

describe('flag pairing (unit)', () => {
  const perm = new Set(['\\*']);
  it('sets only what differs, one STORE per flag set, never a destination message without a source counterpart', () => {
    const updates = planFlagUpdates(
      [
        { uid: 1, fp: 'a', flags: ['\\Seen'] },
        { uid: 2, fp: 'b', flags: ['\\Seen', '$Work'] },
        { uid: 3, fp: 'c', flags: ['\\Seen'] },
      ],
      [
        { uid: 10, fp: 'a', flags: ['\\seen'] }, // already equal (case differs)
        { uid: 11, fp: 'b', flags: [] },
        { uid: 12, fp: 'c', flags: ['\\Flagged', '\\Recent'] },
        { uid: 13, fp: 'x', flags: ['$Mine'] }, // destination-only
      ],
      perm,
    );
    expect(updates).toEqual([
      { flags: ['\\Seen', '$Work'], uids: [11] },
      { flags: ['\\Seen'], uids: [12] },
    ]);
  });

  it('duplicates: pairs equal flags first, so the multiset of flags ends equal', () => {
    // Source: two identical messages, one seen, one not. Destination: both copies, neither
    // seen. The unseen source message takes the first copy as it is; one STORE on the other.
    const updates = planFlagUpdates(
      [
        { uid: 1, fp: 'd', flags: [] },
        { uid: 2, fp: 'd', flags: ['\\Seen'] },
      ],
      [
        { uid: 7, fp: 'd', flags: [] },
        { uid: 8, fp: 'd', flags: [] },
      ],
      perm,
    );
    expect(updates).toEqual([{ flags: ['\\Seen'], uids: [8] }]);
  });

  it('keywords the destination does not keep are not asked for', () => {
    expect(
      planFlagUpdates(
        [{ uid: 1, fp: 'a', flags: ['\\Seen', '$NotKept'] }],
        [{ uid: 5, fp: 'a', flags: ['\\Seen'] }],
        new Set(['\\Seen', '\\Flagged']),
      ),
    ).toEqual([]);
  });
});

describe('delta passes carry flag changes (CONDSTORE source)', () => {
  let dv: DovecotInstance;
  let dir: string;
  let db: Db;
  beforeAll(async () => {
    dv = await startDovecot({
      separator: '/',
      users: [
        { name: 'src', password: 'ps' },
        { name: 'dst', password: 'pd' },
      ],
    });
    dir = mkdtempSync(join(tmpdir(), 'mf-flags-db-'));
    ({ db } = await openDb(testDbUrl(dir)));
    await db.project.create({
      data: {
        id: 'p1',
        name: 'flags',
        sourceUrl: dv.url,
        sourceAuth: 'admin',
        destinationUrl: dv.url,
        destinationAuth: 'admin',
        createdBy: 'test',
      },
    });
    await db.item.create({
      data: {
        id: 'i1',
        projectId: 'p1',
        sourceAddress: 'src@x.test',
        destinationAddress: 'dst@x.test',
        sourceLogin: 'src',
        destinationLogin: 'dst',
        ask: 'source',
        notify: 'email',
        createdBy: 'test',
      },
    });
  });
  afterAll(async () => {
    await db?.$disconnect();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await dv?.dispose();
  });

  it(
    'source flags and keywords win on copied messages, untouched folders stay ' +
      'skipped, destination-only mail is left alone, a crash redoes the sync',
    async () => {
      const dup = msg(9, []);
      await seedImap(dv, 'src', 'ps', {
        INBOX: [
          msg(1, []),
          msg(2, ['\\Seen']),
          msg(3, ['\\Flagged', '\\Seen']),
          msg(4, ['$Label1']),
          msg(5, [], { messageId: null }),
          dup,
          { ...dup },
          msg(6, ['\\Answered']),
        ],
        Archive: [msg(20, ['\\Seen']), msg(21, [])],
      });
      const source = endpoint(dv, 'src', 'ps');
      const destination = endpoint(dv, 'dst', 'pd');
      const checkpoints = createPrismaCheckpointStore(db);
      const run = (cps: CheckpointStore = checkpoints) =>
        runPass({ itemId: 'i1', source, destination, checkpoints: cps });

      const r1 = await run();
      expect(r1.outcome, r1.detail).toBe('completed');
      expect(r1.stats.messagesCopied).toBe(10);
      expect(r1.stats.flagsUpdated).toBe(0);
      const modseq1 = (await checkpoints.load('i1')).get('INBOX')!.srcHighestModseq;
      expect(typeof modseq1).toBe('bigint');

      // A destination-only message (the user's own, with its own flags) in the same folder.
      await seedImap(dv, 'dst', 'pd', { INBOX: [msg(50, ['$Mine'])] });
      const ownBefore = defined((await readMailbox(dv, 'dst', 'pd')).messages.INBOX).find((m) =>
        m.keywords.includes('$Mine'),
      )!;

      // At the source: \Seen and a keyword on two messages (one without Message-ID), \Flagged
      // removed from another, one of two true duplicates seen.
      await store(dv, 'src', 'ps', 'INBOX', 1, 'add', ['\\Seen', '$Project']);
      await store(dv, 'src', 'ps', 'INBOX', 5, 'add', ['\\Seen', '$Project']);
      await store(dv, 'src', 'ps', 'INBOX', 3, 'remove', ['\\Flagged']);
      await store(dv, 'src', 'ps', 'INBOX', 7, 'add', ['\\Seen']);

      const r2 = await run();
      expect(r2.outcome, r2.detail).toBe('completed');
      expect(r2.stats.messagesCopied).toBe(0);
      expect(r2.stats.flagsUpdated).toBe(4);
      const inbox2 = r2.stats.folders.find((f) => f.sourceFolder === 'INBOX')!;
      expect(inbox2.unchanged).toBe(false);
      expect(inbox2.flagsUpdated).toBe(4);
      expect(r2.stats.folders.find((f) => f.sourceFolder === 'Archive')!.unchanged).toBe(true);

      const src = await readMailbox(dv, 'src', 'ps');
      let dst = await readMailbox(dv, 'dst', 'pd');
      const own = defined(dst.messages.INBOX).filter((m) => m.keywords.includes('$Mine'));
      expect(own).toHaveLength(1);
      expect(messageKey(defined(own[0]))).toBe(messageKey(ownBefore));
      // Each source message once, with the source's flags and keywords (duplicates as a multiset).
      expect(keysWithout(defined(dst.messages.INBOX), own)).toEqual(folderKeys(src, 'INBOX'));
      expect(folderKeys(dst, 'Archive')).toEqual(folderKeys(src, 'Archive'));
      const counts = hashCounts(dst, 'INBOX');
      for (const [h, k] of hashCounts(src, 'INBOX')) expect(counts.get(h)).toBe(k);
      expect((await checkpoints.load('i1')).get('INBOX')!.srcHighestModseq! > modseq1!).toBe(true);

      // Nothing changed since: every folder is skipped on STATUS alone.
      const r3 = await run();
      expect(r3.outcome, r3.detail).toBe('completed');
      expect(r3.stats.folders.every((f) => f.unchanged)).toBe(true);
      expect(r3.stats.flagsUpdated).toBe(0);

      // A crash after the flag sync, before the folder's completion is written: the modseq is
      // not recorded, so the next pass does the sync again (STORE FLAGS is idempotent).
      await store(dv, 'src', 'ps', 'Archive', 2, 'add', ['\\Flagged']);
      const before = (await checkpoints.load('i1')).get('Archive')!.srcHighestModseq;
      // a flag-only folder's one write: its completion (its start goes with it)
      const crashed = await run(crashingStore(checkpoints, 1));
      expect(crashed.outcome).toBe('failed');
      expect((await checkpoints.load('i1')).get('Archive')!.srcHighestModseq).toBe(before);
      await store(dv, 'src', 'ps', 'Archive', 1, 'remove', ['\\Seen']);
      const r4 = await run();
      expect(r4.outcome, r4.detail).toBe('completed');
      expect(r4.stats.folders.find((f) => f.sourceFolder === 'Archive')!.unchanged).toBe(false);
      expect(r4.stats.messagesCopied).toBe(0);
      dst = await readMailbox(dv, 'dst', 'pd');
      expect(folderKeys(dst, 'Archive')).toEqual(folderKeys(await readMailbox(dv, 'src', 'ps'), 'Archive'));
      expect((await run()).stats.folders.every((f) => f.unchanged)).toBe(true);
    },
  );

  it(
    'a folder opened for new mail syncs only what changed ' + 'at the source, and new mail arrives with its flags',
    async () => {
      const p = { s: 'src2', d: 'dst2' };
      dv.addUser(p.s, 'ps2');
      dv.addUser(p.d, 'pd2');
      await seedImap(dv, p.s, 'ps2', {
        Work: Array.from({ length: 30 }, (_, i) => msg(100 + i, i % 2 ? ['\\Seen'] : [])),
      });
      const checkpoints = createMemoryCheckpointStore();
      const run = () =>
        runPass({
          itemId: 'm',
          source: endpoint(dv, p.s, 'ps2'),
          destination: endpoint(dv, p.d, 'pd2'),
          checkpoints,
          options: { batchMessages: 7 },
        });
      expect((await run()).stats.messagesCopied).toBe(30);
      await store(dv, p.s, 'ps2', 'Work', 4, 'add', ['$Urgent']);
      // A note the destination user made on a message unchanged at the source: CHANGEDSINCE
      // does not return that message, so it is not compared (and the note stays).
      await store(dv, p.d, 'pd2', 'Work', 10, 'add', ['$DestNote']);
      await seedImap(dv, p.s, 'ps2', { Work: [msg(200, ['\\Flagged', '$New'])] });
      const r = await run();
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(1);
      expect(r.stats.flagsUpdated).toBe(1);
      const dst = await readMailbox(dv, p.d, 'pd2');
      expect(defined(dst.messages.Work).find((m) => m.uid === 10)!.keywords).toEqual(['$DestNote']);
      const withoutNote = defined(dst.messages.Work)
        .map((m) => messageKey({ ...m, keywords: m.keywords.filter((k) => k !== '$DestNote') }))
        .sort();
      expect(withoutNote).toEqual(folderKeys(await readMailbox(dv, p.s, 'ps2'), 'Work'));
    },
  );
});

describe('a source without CONDSTORE', () => {
  // Dovecot's own capability list without CONDSTORE and QRESYNC: imapflow then neither
  // ENABLEs CONDSTORE nor asks for HIGHESTMODSEQ (checked below).
  const caps =
    'IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES ' +
    'THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE ' +
    'UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS ' +
    'BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY';
  let dv: DovecotInstance;
  beforeAll(async () => {
    dv = await startDovecot({
      separator: '/',
      users: [
        { name: 'a', password: 'pa' },
        { name: 'b', password: 'pb' },
      ],
      extraConfig: `imap_capability = ${caps}`,
    });
  });
  afterAll(async () => {
    await dv?.dispose();
  });

  it('flags are compared whenever the folder is opened anyway; an unchanged STATUS still skips it', async () => {
    const c = await openClient(dv, 'a', 'pa');
    expect(c.capabilities.has('CONDSTORE')).toBe(false);
    expect(c.enabled.has('CONDSTORE')).toBe(false);
    await c.logout();

    await seedImap(dv, 'a', 'pa', { INBOX: [msg(1, []), msg(2, ['\\Flagged']), msg(3, ['$Old'])] });
    const checkpoints = createMemoryCheckpointStore();
    const run = () =>
      runPass({ itemId: 'n', source: endpoint(dv, 'a', 'pa'), destination: endpoint(dv, 'b', 'pb'), checkpoints });
    expect((await run()).stats.messagesCopied).toBe(3);
    expect((await checkpoints.load('n')).get('INBOX')!.srcHighestModseq).toBeNull();
    await seedImap(dv, 'b', 'pb', { INBOX: [msg(60, ['$Mine'])] }); // destination-only

    // Flags change, STATUS does not: without mod-sequences the folder looks unchanged (documented).
    await store(dv, 'a', 'pa', 'INBOX', 1, 'add', ['\\Seen', '$Project']);
    const quiet = await run();
    expect(quiet.stats.folders.find((f) => f.sourceFolder === 'INBOX')!.unchanged).toBe(true);

    // A new message opens the folder: every flag is compared, the changes are carried.
    await store(dv, 'a', 'pa', 'INBOX', 2, 'remove', ['\\Flagged']);
    await store(dv, 'a', 'pa', 'INBOX', 3, 'remove', ['$Old']);
    await seedImap(dv, 'a', 'pa', { INBOX: [msg(4, ['\\Seen'])] });
    const r = await run();
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(1);
    expect(r.stats.flagsUpdated).toBe(3);
    const dst = await readMailbox(dv, 'b', 'pb');
    const own = defined(dst.messages.INBOX).filter((m) => m.keywords.includes('$Mine'));
    expect(own).toHaveLength(1);
    expect(keysWithout(defined(dst.messages.INBOX), own)).toEqual(
      folderKeys(await readMailbox(dv, 'a', 'pa'), 'INBOX'),
    );
  });
});
