/**
 * The copy engine between every pair of real IMAP servers it is tested against (Dovecot,
 * Cyrus, Courier; test/harness/imap-servers.ts), in both directions, one table: fidelity
 * (exact bytes, flags, keywords, dates; folder names with `&`, umlauts, Cyrillic, a
 * hierarchy), a delta pass with flag changes, a pass with nothing new, and kill -9 mid-pass
 * then resume (exactly once). Corpora are small: the point is what each server does
 * differently (namespace prefixes, separators, UTF8=ACCEPT, no UIDNEXT on SELECT, no
 * MULTIAPPEND/LITERAL+/CONDSTORE), not volume. One server of each kind serves every row
 * (each row has its own users), and only the pass that is killed runs in a child process:
 * the resume and the pass after it run here, on the same SQLite checkpoint file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import { openDb } from '../../engine/store/db.ts';
import { createPrismaCheckpointStore } from '../../engine/store/folder-state.ts';
import { makeMessage, openClient, readMailbox, seedImap, type SeedMessage } from '../harness/dovecot.ts';
import { endpoint, folderKeys, hashCounts } from '../harness/copy-assert.ts';
import { describeWithServers, startServer, type ServerKind, type TestServer } from '../harness/imap-servers.ts';
import { runPassChild, type ChildConfig } from '../harness/spawn-pass-child.ts';
import { testDbUrl } from '../harness/test-db.ts';
import { defined } from '../harness/defined.ts';

const PAIRS: [ServerKind, ServerKind][] = [
  ['dovecot', 'cyrus'],
  ['cyrus', 'dovecot'],
  ['dovecot', 'courier'],
  ['courier', 'dovecot'],
  ['cyrus', 'courier'],
  ['courier', 'cyrus'],
];

const at = (i: number) => new Date(Date.UTC(2022, 2, 1, 0, 0, i));
const msg = (i: number, flags: string[] = [], o: Parameters<typeof makeMessage>[0] = {}): SeedMessage => ({
  raw: makeMessage({ size: 1500 + i * 97, ...o }),
  flags,
  internalDate: at(i),
});
/** Folder names as a user would have them (logical, `/` for hierarchy). */
const FOLDERS = ['INBOX', 'Sent', 'Kunden & Partner', 'Projekte/Übersicht', 'Привет мир'];

function corpus(): Record<string, SeedMessage[]> {
  const dup = makeMessage({ subject: 'same twice' });
  const noId = makeMessage({ messageId: null, subject: 'no id' });
  return {
    INBOX: [
      msg(1, ['\\Seen']),
      msg(2, ['\\Seen', '\\Flagged', 'Work']),
      msg(3, ['\\Answered', '$Forwarded']),
      { raw: dup, flags: ['\\Seen'], internalDate: at(4) },
      { raw: dup, flags: ['\\Seen'], internalDate: at(4) },
      { raw: noId, flags: [], internalDate: at(5) },
      msg(6, [], { size: 200_000 }),
    ],
    Sent: [msg(7, ['\\Seen']), msg(8, ['\\Seen'])],
    'Kunden & Partner': [msg(9), msg(10, ['\\Seen']), msg(11, ['Kunde'])],
    'Projekte/Übersicht': [msg(12), msg(13, ['\\Draft'])],
    'Привет мир': [msg(14), msg(15, ['\\Seen']), msg(16, ['\\Deleted'])],
  };
}

function onServer(s: TestServer, c: Record<string, SeedMessage[]>): Record<string, SeedMessage[]> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [s.path(k), v]));
}

/** One running server per kind, started on first use and shared by the rows (each row logs in as its own users). */
const servers = new Map<ServerKind, Promise<TestServer>>();
function serverOf(kind: ServerKind): Promise<TestServer> {
  if (!servers.has(kind)) servers.set(kind, startServer(kind));
  return servers.get(kind)!;
}
afterAll(async () => {
  await Promise.all([...servers.values()].map(async (p) => (await p.catch(() => null))?.dispose()));
});

/** Runs one pass in this process on the SQLite checkpoint file a child used. */
async function runHere(cfg: ChildConfig): Promise<{ outcome: string; copied: number; detail?: string }> {
  const { db } = await openDb(cfg.dbUrl);
  try {
    const r = await runPass({
      itemId: cfg.itemId,
      source: cfg.source,
      destination: cfg.destination,
      checkpoints: createPrismaCheckpointStore(db),
      options: cfg.options,
    });
    return { outcome: r.outcome, copied: r.stats.messagesCopied, detail: r.detail };
  } finally {
    await db.$disconnect();
  }
}

PAIRS.forEach(([srcKind, dstKind], row) => {
  describeWithServers(`copy ${srcKind} → ${dstKind}`, [srcKind, dstKind], () => {
    let src: TestServer;
    let dst: TestServer;
    let dir: string;
    const store = createMemoryCheckpointStore();
    const item = `${srcKind}-${dstKind}`;
    // This row's users on the shared servers ([a-z0-9] suits every kind's user names).
    const [fsrc, fdst, ksrc, kdst] = ['fs', 'fd', 'ks', 'kd'].map((u) => `r${row}${u}`);
    beforeAll(async () => {
      [src, dst] = await Promise.all([serverOf(srcKind), serverOf(dstKind)]);
      await Promise.all([
        src.addUser(defined(fsrc), 'fs-pw'),
        src.addUser(defined(ksrc), 'ks-pw'),
        dst.addUser(defined(fdst), 'fd-pw'),
        dst.addUser(defined(kdst), 'kd-pw'),
      ]);
      dir = mkdtempSync(join(tmpdir(), 'mf-servers-'));
      await seedImap(src, defined(fsrc), 'fs-pw', onServer(src, corpus()));
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });
    const pass = () =>
      runPass({
        itemId: item,
        source: endpoint(src, defined(fsrc), 'fs-pw'),
        destination: endpoint(dst, defined(fdst), 'fd-pw'),
        checkpoints: store,
      });
    const assertSame = async () => {
      const a = await readMailbox(src, defined(fsrc), 'fs-pw');
      const b = await readMailbox(dst, defined(fdst), 'fd-pw');
      for (const f of FOLDERS) expect(folderKeys(b, dst.path(f)), `${f}`).toEqual(folderKeys(a, src.path(f)));
    };

    it('copies every folder exactly (bytes, flags, keywords, dates), names included', async () => {
      const r = await pass();
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.skipped).toEqual([]);
      expect(r.stats.messagesCopied).toBe(Object.values(corpus()).flat().length);
      // Verified: every folder's count, and nothing stored differently (no 8-bit header here).
      expect(r.stats.verification).toMatchObject({ foldersShort: [], missing: 0, altered: 0, unchecked: 0 });
      expect(r.stats.verification.foldersChecked).toBeGreaterThanOrEqual(FOLDERS.length);
      await assertSame();
    });

    it('a delta pass copies what is new and carries flag changes', async () => {
      await seedImap(
        src,
        defined(fsrc),
        'fs-pw',
        onServer(src, { INBOX: [msg(20, ['New'])], 'Привет мир': [msg(21)] }),
      );
      // Flag changes in a folder that also got new mail: a source without CONDSTORE (Courier)
      // compares flags only in folders whose STATUS changed.
      const c = await openClient(src, defined(fsrc), 'fs-pw');
      try {
        await c.mailboxOpen(src.path('INBOX'));
        await c.messageFlagsAdd('1', ['\\Seen', '\\Flagged'], { uid: true });
        await c.messageFlagsRemove('2', ['\\Seen'], { uid: true });
      } finally {
        await c.logout().catch(() => undefined);
      }
      const r = await pass();
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(2);
      expect(r.stats.flagsUpdated).toBe(2);
      await assertSame();
    });

    it('a pass with nothing new copies nothing', async () => {
      const r = await pass();
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(0);
      expect(r.stats.skipped).toEqual([]);
      // Verified from the listing alone: no command of its own.
      expect(r.stats.verification).toMatchObject({ foldersShort: [], missing: 0, commands: 0 });
      expect(r.stats.verification.foldersChecked).toBeGreaterThanOrEqual(FOLDERS.length);
      await assertSame();
    });

    it('kill -9 mid-pass, then resume: every source message exactly once', async () => {
      const big: SeedMessage[] = Array.from({ length: 60 }, (_, i) =>
        msg(100 + i, i % 2 ? ['\\Seen'] : [], { size: 4000 }),
      );
      const dupe = makeMessage({ subject: 'dup in kill test' });
      big.splice(10, 0, { raw: dupe, internalDate: at(999) }, { raw: dupe, internalDate: at(999) });
      await seedImap(src, defined(ksrc), 'ks-pw', onServer(src, { INBOX: big, 'Привет мир': big.slice(0, 20) }));
      const cfg: ChildConfig = {
        dbUrl: testDbUrl(dir, 'state'),
        itemId: `k-${item}`,
        source: endpoint(src, defined(ksrc), 'ks-pw'),
        destination: endpoint(dst, defined(kdst), 'kd-pw'),
        options: { batchMessages: 5, connections: 2, messagesPerLane: 1 },
      };
      const first = await runPassChild(cfg, 12);
      expect(first.killed).toBe(true);
      const last = await runHere(cfg);
      expect(last.outcome, last.detail).toBe('completed');
      const a = await readMailbox(src, defined(ksrc), 'ks-pw');
      const b = await readMailbox(dst, defined(kdst), 'kd-pw');
      for (const f of ['INBOX', 'Привет мир'])
        expect(hashCounts(b, dst.path(f)), f).toEqual(hashCounts(a, src.path(f)));
      const again = await runHere(cfg);
      expect(again).toMatchObject({ outcome: 'completed', copied: 0 });
    });
  });
});
