import { createHash } from 'node:crypto';
/**
 * What the engine owes whatever the server: a refused login closes its connection; a
 * database error ends the pass at once as ours (never retried as an IMAP error, no side
 * named); a message is skipped only for its content, skipped messages are tried again on
 * the next pass, and skip records left by an older version (TRYCREATE) heal by themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyCredentials } from '../../engine/connectors/imap/verify-credentials.ts';
import { createMemoryCheckpointStore, runPass, type CheckpointStore } from '../../engine/copy/index.ts';
import { makeMessage, readMailbox, seedImap, startDovecot, type DovecotInstance } from '../harness/dovecot.ts';
import { endpoint, hashCounts } from '../harness/copy-assert.ts';
import { startImapProxy } from '../harness/imap-proxy.ts';
import { describeWithServers, establishedConnections, startServer, type TestServer } from '../harness/imap-servers.ts';
import { defined } from '../harness/defined.ts';

async function settle(cond: () => boolean): Promise<boolean> {
  // The kernel drops a closed connection from its table once both sides closed; wait for the event.
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

for (const kind of ['dovecot', 'cyrus', 'courier'] as const) {
  describeWithServers(`a refused login on ${kind}`, [kind], () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startServer(kind, [{ name: 'lina', password: 'right-pw' }]);
    });
    afterAll(async () => s?.dispose());
    it('leaves no connection open', async () => {
      expect(establishedConnections(s.port)).toBe(0);
      // One wrong password (servers slow down repeated failures from one address).
      const r = await verifyCredentials(s.url, 'lina', { password: 'wrong-pw' }, 'source');
      expect(r).toMatchObject({ ok: false, kind: 'refused' });
      expect(
        await settle(() => establishedConnections(s.port) === 0),
        `connections still open: ${establishedConnections(s.port)}`,
      ).toBe(true);
      expect(await verifyCredentials(s.url, 'lina', { password: 'right-pw' }, 'source')).toEqual({ ok: true });
    });
  });
}

describe('errors keep their origin', () => {
  let dv: DovecotInstance;
  beforeAll(async () => {
    dv = await startDovecot({
      users: [
        { name: 'osrc', password: 'o1' },
        { name: 'odst', password: 'o2' },
      ],
    });
    await seedImap(dv, 'osrc', 'o1', { INBOX: [{ raw: makeMessage() }, { raw: makeMessage() }] });
  });
  afterAll(async () => dv?.dispose());

  it('a database error ends the pass at once as an internal error, not a server error, not retried', async () => {
    const inner = createMemoryCheckpointStore();
    let saves = 0;
    const broken: CheckpointStore = {
      ...inner,
      load: (i) => inner.load(i),
      listSkipped: (i) => inner.listSkipped(i),
      recordSkipped: (i, l) => inner.recordSkipped(i, l),
      clearSkipped: (i, f, u) => inner.clearSkipped(i, f, u),
      async save() {
        saves++;
        throw new Error('NOT NULL constraint failed: CopyCheckpoint.srcUidNext');
      },
    };
    const r = await runPass({
      itemId: 'origin',
      source: endpoint(dv, 'osrc', 'o1'),
      destination: endpoint(dv, 'odst', 'o2'),
      checkpoints: broken,
      options: { retryBaseMs: 1 },
    });
    expect(r.outcome).toBe('failed');
    expect(r.reason).toBe('Internal');
    expect(r.detail).toMatch(/^internal error: the checkpoint store failed/);
    expect(r.detail).not.toMatch(/^(source|destination):/);
    expect(saves).toBe(1);
  });

  it('a programming error thrown outside any IMAP command is not retried either', async () => {
    const inner = createMemoryCheckpointStore();
    let loads = 0;
    const buggy: CheckpointStore = {
      ...inner,
      load: async (i) => {
        loads++;
        return inner.load(i);
      },
      listSkipped: async () => null as unknown as [], // a bug: not a list
      recordSkipped: (i, l) => inner.recordSkipped(i, l),
      clearSkipped: (i, f, u) => inner.clearSkipped(i, f, u),
      save: (i, c) => inner.save(i, c),
    };
    const r = await runPass({
      itemId: 'bug',
      source: endpoint(dv, 'osrc', 'o1'),
      destination: endpoint(dv, 'odst', 'o2'),
      checkpoints: buggy,
      options: { retryBaseMs: 1 },
    });
    expect(r.outcome).toBe('failed');
    expect(r.reason).toBe('Internal');
    expect(r.detail).not.toMatch(/^(source|destination):/);
    expect(loads).toBe(1);
  });
});

describe('skipped only for content, and tried again', () => {
  let dv: DovecotInstance;
  beforeAll(async () => {
    dv = await startDovecot({
      quota: true,
      users: [
        { name: 'ssrc', password: 's1' },
        { name: 'sdst', password: 's2', maxMailSize: '100k' },
        { name: 'hsrc', password: 'h1' },
        { name: 'hdst', password: 'h2' },
        { name: 'gsrc', password: 'g1' },
        { name: 'gdst', password: 'g2', maxMailSize: '100k' },
      ],
    });
  });
  afterAll(async () => dv?.dispose());

  it(
    'a message refused for its size is skipped with the ' + 'reason and tried again on the next pass (one record)',
    async () => {
      await seedImap(dv, 'ssrc', 's1', {
        INBOX: [
          { raw: makeMessage({ size: 3000 }) },
          { raw: makeMessage({ size: 300_000 }) },
          { raw: makeMessage({ size: 4000 }) },
        ],
      });
      const store = createMemoryCheckpointStore();
      const pass = () =>
        runPass({
          itemId: 'size',
          source: endpoint(dv, 'ssrc', 's1'),
          destination: endpoint(dv, 'sdst', 's2'),
          checkpoints: store,
        });
      const r1 = await pass();
      expect(r1.outcome, r1.detail).toBe('completed');
      expect(r1.stats.messagesCopied).toBe(2);
      expect(r1.stats.skipped).toHaveLength(1);
      expect(r1.stats.skipped[0]).toMatchObject({ sourceFolder: 'INBOX', uid: 2 });
      expect(defined(r1.stats.skipped[0]).reason.length).toBeGreaterThan(0);
      // Next pass, nothing changed at the source: the refused message is tried again (and refused again).
      const r2 = await pass();
      expect(r2.outcome, r2.detail).toBe('completed');
      expect(r2.stats.folders.find((f) => f.sourceFolder === 'INBOX')?.unchanged).toBe(false);
      expect(r2.stats.messagesCopied).toBe(0);
      expect(r2.stats.skipped).toHaveLength(1);
      expect(await store.listSkipped('size')).toHaveLength(1);
    },
  );

  it('a true duplicate of a message copied long ago, pending when its APPEND failed, is still copied', async () => {
    // The folder has a refused message to try again (a whole-folder match for it) and an intent
    // whose APPEND never reached the server. The pending message must be matched only against
    // what was appended since the intent, not against its twin copied by an earlier pass.
    dv.addUser('tsrc', 't1');
    dv.addUser('tdst', 't2', { maxMailSize: '100k' });
    const twin = { raw: makeMessage({ size: 3000 }), internalDate: new Date('2025-01-02T03:04:05Z') };
    await seedImap(dv, 'tsrc', 't1', { INBOX: [twin, { raw: makeMessage({ size: 300_000 }) }] });
    const dst = await startImapProxy({ port: dv.port });
    try {
      const store = createMemoryCheckpointStore();
      const pass = () =>
        runPass({
          itemId: 'twin',
          source: endpoint(dv, 'tsrc', 't1'),
          destination: endpoint(dst, 'tdst', 't2'),
          checkpoints: store,
          options: { retryBaseMs: 1 },
        });
      const r1 = await pass();
      expect(r1.outcome, r1.detail).toBe('completed');
      expect(r1.stats.messagesCopied).toBe(1);
      expect(r1.stats.skipped).toHaveLength(1);
      // The same message again (same bytes, same internal date): a true duplicate.
      await seedImap(dv, 'tsrc', 't1', { INBOX: [twin] });
      // The next APPEND is answered by the proxy and never reaches the server.
      dst.throttle({ command: 'APPEND', backoffMs: 1 });
      const r2 = await pass();
      expect(r2.outcome, r2.detail).toBe('completed');
      expect(dst.events.filter((e) => e.command === 'APPEND').length).toBeGreaterThan(1);
      await expectTwice(dv, 'tsrc', 't1', 'tdst', 't2', twin.raw);
    } finally {
      await dst.close();
    }
  });

  it('a true duplicate refused once is copied when tried again, not taken for its twin', async () => {
    dv.addUser('rsrc', 'r1');
    dv.addUser('rdst', 'r2');
    const twin = { raw: makeMessage({ size: 3000 }), internalDate: new Date('2025-01-02T03:04:05Z') };
    await seedImap(dv, 'rsrc', 'r1', { INBOX: [twin] });
    const dst = await startImapProxy({ port: dv.port });
    try {
      const store = createMemoryCheckpointStore();
      const pass = () =>
        runPass({
          itemId: 'retwin',
          source: endpoint(dv, 'rsrc', 'r1'),
          destination: endpoint(dst, 'rdst', 'r2'),
          checkpoints: store,
          options: { retryBaseMs: 1 },
        });
      expect((await pass()).stats.messagesCopied).toBe(1);
      await seedImap(dv, 'rsrc', 'r1', { INBOX: [twin] });
      // The twin is refused for its content once (the proxy answers for the server)...
      dst.throttle({ command: 'APPEND', times: Infinity, backoffMs: 1, reply: '[LIMIT] Message too large' });
      const r2 = await pass();
      expect(r2.outcome, r2.detail).toBe('completed');
      expect(r2.stats.skipped).toHaveLength(1);
      dst.clearRules();
      // ...and copied when tried again.
      const r3 = await pass();
      expect(r3.outcome, r3.detail).toBe('completed');
      expect(r3.stats.skipped).toHaveLength(0);
      await expectTwice(dv, 'rsrc', 'r1', 'rdst', 'r2', twin.raw);
    } finally {
      await dst.close();
    }
  });

  it(
    'a refusal that arrives while the message is still streaming ' +
      'leaves both connections in step (no hang, nothing lost)',
    async () => {
      // Dovecot answers NO as soon as it reads the size of a literal over the limit, and then
      // reads on to the end of the command (LITERAL+: the client must send every byte it
      // announced). Here the source is held in the middle of the big message until that NO
      // has reached the engine: whatever the engine then sends must still end the APPEND
      // exactly where the server expects, or the next command is read as message bytes.
      await seedImap(dv, 'gsrc', 'g1', {
        INBOX: [
          { raw: makeMessage({ size: 3000 }) },
          { raw: makeMessage({ size: 300_000 }) },
          { raw: makeMessage({ size: 4000 }) },
        ],
      });
      const src = await startImapProxy({ port: dv.port });
      const dst = await startImapProxy({ port: dv.port });
      try {
        const hold = src.holdAnswers(/BODY\[\] \{3\d{5}\}\r\n/, 16_384);
        let refusedWhileHeld = false;
        let holding = false;
        void hold.held.then(() => (holding = true));
        dst.rewriteAnswers((text) => {
          if (/^\S+ NO /m.test(text)) {
            refusedWhileHeld ||= holding;
            // Let the engine see the NO before the rest of the message arrives.
            setTimeout(() => hold.release(), 50);
          }
          return text;
        });
        const store = createMemoryCheckpointStore();
        const r = await runPass({
          itemId: 'gate',
          source: endpoint(src, 'gsrc', 'g1'),
          destination: endpoint(dst, 'gdst', 'g2'),
          checkpoints: store,
        });
        expect(refusedWhileHeld, 'the refusal came while the source was held mid-message').toBe(true);
        expect(r.outcome, r.detail).toBe('completed');
        expect(r.stats.messagesCopied).toBe(2);
        expect(r.stats.skipped).toMatchObject([{ sourceFolder: 'INBOX', uid: 2 }]);
        const a = await readMailbox(dv, 'gsrc', 'g1');
        const b = await readMailbox(dv, 'gdst', 'g2');
        const small = Object.fromEntries(
          Object.entries(a.messages).map(([p, msgs]) => [p, msgs.filter((m) => m.size < 100_000)]),
        );
        expect(hashCounts(b)).toEqual(hashCounts({ ...a, messages: small }));
      } finally {
        await src.close();
        await dst.close();
      }
    },
  );

  it(
    'skip records an older version wrote for a missing folder ' +
      '(TRYCREATE) heal on the next pass, without duplicates',
    async () => {
      const msgs = Array.from({ length: 6 }, (_, i) => ({
        raw: makeMessage({ size: 2000 + i }),
        internalDate: new Date(Date.UTC(2021, 0, 1, 0, 0, i)),
      }));
      await seedImap(dv, 'hsrc', 'h1', { 'Kunden & Partner': msgs });
      const store = createMemoryCheckpointStore();
      const pass = () =>
        runPass({
          itemId: 'heal',
          source: endpoint(dv, 'hsrc', 'h1'),
          destination: endpoint(dv, 'hdst', 'h2'),
          checkpoints: store,
        });
      const r1 = await pass();
      expect(r1.outcome, r1.detail).toBe('completed');
      // What the old version left: the folder checkpointed as done, every message "skipped".
      // One of them did arrive meanwhile (copied before a crash): it must not be copied twice.
      const box = await readMailbox(dv, 'hdst', 'h2');
      const path = box.folders.find((f) => f.path.startsWith('Kunden'))!.path;
      const { ImapFlow } = await import('imapflow');
      const c = new ImapFlow({
        host: '127.0.0.1',
        port: dv.port,
        secure: false,
        auth: { user: 'hdst', pass: 'h2' },
        logger: false,
      });
      await c.connect();
      await c.mailboxOpen(path);
      await c.messageDelete('3:6', { uid: true });
      await c.logout();
      await store.recordSkipped(
        'heal',
        [1, 2, 3, 4, 5, 6].slice(1).map((uid) => ({
          sourceFolder: 'Kunden & Partner',
          uid,
          size: 2000,
          reason: '[TRYCREATE] Must create mailbox before append',
        })),
      );
      const r2 = await pass();
      expect(r2.outcome, r2.detail).toBe('completed');
      expect(r2.stats.messagesCopied).toBe(4);
      expect(await store.listSkipped('heal')).toEqual([]);
      const a = await readMailbox(dv, 'hsrc', 'h1');
      const b = await readMailbox(dv, 'hdst', 'h2');
      expect(hashCounts(b)).toEqual(hashCounts(a));
      // And healed for good.
      const r3 = await pass();
      expect(r3.stats.messagesCopied).toBe(0);
      expect(r3.stats.folders.every((f) => f.unchanged)).toBe(true);
    },
  );
});

/** Source and destination each hold `raw` exactly twice (a true duplicate copied as one). */
async function expectTwice(
  dv: DovecotInstance,
  srcUser: string,
  srcPw: string,
  dstUser: string,
  dstPw: string,
  raw: Buffer,
): Promise<void> {
  const twinHash = createHash('sha256').update(raw).digest('hex');
  const src = hashCounts(await readMailbox(dv, srcUser, srcPw));
  const dst = hashCounts(await readMailbox(dv, dstUser, dstPw));
  expect(src.get(twinHash)).toBe(2);
  expect(dst.get(twinHash)).toBe(2);
}
