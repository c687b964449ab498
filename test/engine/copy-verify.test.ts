/**
 * The verification at the end of a pass, against real servers: messages the destination
 * stores differently (Cyrus replaces raw 8-bit header bytes by `X` on APPEND, keeping the
 * size; Dovecot and Courier store them as sent) are reported, each one, and nothing else is; a folder
 * whose messages were deleted at the destination behind the engine's back is reported
 * short on the next pass and healed by it (no duplicate, even for an altered message
 * without Message-ID); a pass with nothing new verifies every folder from the listing's
 * STATUS numbers alone (no SELECT, no FETCH, no NOOP on the wire, seen through a proxy);
 * a destination that acknowledges an APPEND and stores nothing (a proxy answers it) leaves
 * the folder short at the end of the pass, which says so, and the next pass heals it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import { ALTERED_REASONS } from '../../engine/copy/types.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { endpoint, hashCounts } from '../harness/copy-assert.ts';
import { describeWithServers, startServer, type ServerKind, type TestServer } from '../harness/imap-servers.ts';
import { startImapProxy, type ImapProxy } from '../harness/imap-proxy.ts';

const at = (i: number) => new Date(Date.UTC(2023, 4, 1, 0, 0, i));

/** A message whose header carries raw 8-bit bytes (UTF-8 in Subject and From, not RFC 2047 encoded). */
function eightBitMessage(o: { messageId: string | null; subject: string }): Buffer {
  const head = [
    'From: Jürgen Müller <juergen@example.test>',
    'To: Bob <bob@example.test>',
    `Subject: ${o.subject}`,
    'Date: Mon, 01 May 2023 10:00:00 +0000',
    ...(o.messageId ? [`Message-ID: ${o.messageId}`] : []),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Grüße aus Köln.',
    '',
  ].join('\r\n');
  return Buffer.from(head, 'utf8');
}

/** INBOX: two plain messages first (deleted at the destination later), then the two with 8-bit headers. */
function corpus(): Record<string, SeedMessage[]> {
  return {
    INBOX: [
      { raw: makeMessage({ size: 1800 }), flags: ['\\Seen'], internalDate: at(1) },
      { raw: makeMessage({ size: 2100 }), internalDate: at(2) },
      { raw: eightBitMessage({ messageId: '<umlaut@mailferry.test>', subject: 'Grüße' }), internalDate: at(3) },
      { raw: eightBitMessage({ messageId: null, subject: 'Übersicht ohne ID' }), internalDate: at(4) },
      { raw: makeMessage({ size: 2500 }), internalDate: at(5) },
    ],
    Sent: [{ raw: makeMessage({ size: 1500 }), flags: ['\\Seen'], internalDate: at(6) }],
  };
}
/** Source UIDs (in INBOX, seeded in order into an empty folder) of the messages with 8-bit header bytes. */
const EIGHT_BIT_UIDS = [3, 4];

const CASES: { src: ServerKind; dst: ServerKind; altersEightBit: boolean }[] = [
  { src: 'dovecot', dst: 'dovecot', altersEightBit: false },
  { src: 'dovecot', dst: 'cyrus', altersEightBit: true },
  { src: 'dovecot', dst: 'courier', altersEightBit: false },
];

for (const c of CASES) {
  describeWithServers(`verification ${c.src} → ${c.dst}`, [c.src, c.dst], () => {
    let src: TestServer;
    let dst: TestServer;
    let srcProxy: ImapProxy;
    let dstProxy: ImapProxy;
    const store = createMemoryCheckpointStore();
    const item = `verify-${c.src}-${c.dst}`;
    beforeAll(async () => {
      src = await startServer(c.src, [{ name: 'vsrc', password: 'vs-pw' }]);
      dst = c.dst === c.src ? src : await startServer(c.dst, []);
      await dst.addUser('vdst', 'vd-pw');
      await seedImap(
        src,
        'vsrc',
        'vs-pw',
        Object.fromEntries(Object.entries(corpus()).map(([k, v]) => [src.path(k), v])),
      );
      [srcProxy, dstProxy] = await Promise.all([
        startImapProxy({ port: src.port }),
        startImapProxy({ port: dst.port }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([srcProxy?.close(), dstProxy?.close()]);
      await Promise.all([src?.dispose(), dst !== src ? dst?.dispose() : undefined]);
    });
    const pass = () =>
      runPass({
        itemId: item,
        source: endpoint(srcProxy, 'vsrc', 'vs-pw'),
        destination: endpoint(dstProxy, 'vdst', 'vd-pw'),
        checkpoints: store,
      });
    const counts = async () => {
      const [a, b] = await Promise.all([readMailbox(src, 'vsrc', 'vs-pw'), readMailbox(dst, 'vdst', 'vd-pw')]);
      return { a, b, inbox: [a.messages[src.path('INBOX')]?.length, b.messages[dst.path('INBOX')]?.length] };
    };

    const reported = c.altersEightBit
      ? 'exactly the messages whose 8-bit header bytes the server replaced'
      : 'no altered message';
    it(`the first pass verifies every folder and reports ${reported}`, async () => {
      const r = await pass();
      expect(r.outcome, r.detail).toBe('completed');
      const v = r.stats.verification;
      expect(v.foldersChecked).toBe(2);
      expect(v.foldersShort).toEqual([]);
      expect(v.missing).toBe(0);
      expect(v.unchecked).toBe(0);
      const altered = store.listAltered(item);
      if (c.altersEightBit) {
        expect(v.altered).toBe(EIGHT_BIT_UIDS.length);
        expect(v.alteredReasons).toEqual({ [ALTERED_REASONS.eightBit]: EIGHT_BIT_UIDS.length });
        expect(altered.map((a) => [a.sourceFolder, a.uid, a.reason]).sort()).toEqual(
          EIGHT_BIT_UIDS.map((u) => ['INBOX', u, ALTERED_REASONS.eightBit]),
        );
        // Same size: only the bytes changed.
        for (const a of altered) expect(a.destSize).toBe(a.sourceSize);
      } else {
        expect(v.altered).toBe(0);
        expect(v.alteredReasons).toEqual({});
        expect(altered).toEqual([]);
        const { a, b } = await counts();
        expect(hashCounts(b)).toEqual(hashCounts(a));
      }
    });

    it(
      'messages deleted at the destination between passes: the next ' +
        'pass reports the folder short and copies them again, once',
      async () => {
        const cl = await openClient(dst, 'vdst', 'vd-pw');
        try {
          await cl.mailboxOpen('INBOX');
          await cl.messageDelete('1:2');
        } finally {
          await cl.logout().catch(() => undefined);
        }
        expect((await counts()).inbox).toEqual([5, 3]);
        const r = await pass();
        expect(r.outcome, r.detail).toBe('completed');
        expect(r.stats.verification.foldersShort).toEqual([
          { folder: 'INBOX', missingAtStart: 2, recopied: 2, missing: 0 },
        ]);
        expect(r.stats.messagesCopied).toBe(2);
        // The altered copies (one without Message-ID) were matched, not copied a second time.
        expect(r.stats.verification.altered).toBe(0);
        const { a, b, inbox } = await counts();
        expect(inbox).toEqual([5, 5]);
        if (!c.altersEightBit) expect(hashCounts(b)).toEqual(hashCounts(a));
      },
    );

    it('a pass with nothing new verifies every folder from the listing alone: no SELECT, FETCH or NOOP', async () => {
      const from = [srcProxy.events.length, dstProxy.events.length];
      const r = await pass();
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(0);
      const v = r.stats.verification;
      expect(v).toMatchObject({ foldersChecked: 2, foldersShort: [], missing: 0, altered: 0, commands: 0 });
      const sent = [...srcProxy.events.slice(from[0]), ...dstProxy.events.slice(from[1])].map((e) => e.command);
      expect(sent.filter((cmd) => /^(UID )?(FETCH|SEARCH)$|^SELECT$|^EXAMINE$|^NOOP$/.test(cmd))).toEqual([]);
    });
  });
}

describeWithServers('verification: a destination that says OK to an APPEND and stores nothing', ['dovecot'], () => {
  let dv: DovecotInstance;
  let proxy: ImapProxy;
  const store = createMemoryCheckpointStore();
  beforeAll(async () => {
    dv = await startDovecot({
      users: [
        { name: 'lsrc', password: 'ls-pw' },
        { name: 'ldst', password: 'ld-pw' },
      ],
    });
    await seedImap(dv, 'lsrc', 'ls-pw', {
      INBOX: Array.from({ length: 5 }, (_, i) => ({
        raw: makeMessage({ size: 1200 + i * 50 }),
        internalDate: at(10 + i),
      })),
    });
    proxy = await startImapProxy({ port: dv.port });
  });
  afterAll(async () => {
    await proxy?.close();
    await dv?.dispose();
  });
  const pass = () =>
    runPass({
      itemId: 'lossy',
      source: endpoint(dv, 'lsrc', 'ls-pw'),
      destination: endpoint(proxy, 'ldst', 'ld-pw'),
      checkpoints: store,
      options: { batchMessages: 2, connections: 1 },
    });

  it(
    'the pass ends reporting the folder short (never ' + 'silent) and the next pass copies what is missing, once',
    async () => {
      // The first APPEND (a batch of two) is answered OK by the proxy: the server never sees it.
      proxy.throttle({ command: 'APPEND', nth: 1, times: 1, status: 'OK', reply: 'APPEND completed', backoffMs: 0 });
      const r = await pass();
      proxy.clearRules();
      expect(r.outcome, r.detail).toBe('completed');
      expect(r.stats.messagesCopied).toBe(5);
      expect(r.stats.verification.foldersShort).toEqual([
        { folder: 'INBOX', missingAtStart: 0, recopied: 0, missing: 2 },
      ]);
      expect(r.stats.verification.missing).toBe(2);
      // The two acknowledged without APPENDUID are counted as not compared; the others were.
      expect(r.stats.verification.unchecked).toBe(2);
      expect((await readMailbox(dv, 'ldst', 'ld-pw')).messages.INBOX).toHaveLength(3);

      const heal = await pass();
      expect(heal.outcome, heal.detail).toBe('completed');
      expect(heal.stats.messagesCopied).toBe(2);
      expect(heal.stats.verification).toMatchObject({ foldersShort: [], missing: 0 });
      const [a, b] = await Promise.all([readMailbox(dv, 'lsrc', 'ls-pw'), readMailbox(dv, 'ldst', 'ld-pw')]);
      expect(hashCounts(b, 'INBOX')).toEqual(hashCounts(a, 'INBOX'));

      const again = await pass();
      expect(again.stats.messagesCopied).toBe(0);
      expect(again.stats.verification).toMatchObject({ foldersShort: [], missing: 0, commands: 0 });
    },
  );
});
