import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamCopy } from '../../engine/connectors/imap/stream-copy.ts';
import { fetchMetaRaw, parseInternalDate, parseMetaLine } from '../../engine/connectors/imap/fetch-meta.ts';
import { createMemoryCheckpointStore, runPass } from '../../engine/copy/index.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  seedMaildir,
  startDovecot,
  type DovecotInstance,
} from '../harness/dovecot.ts';
import { endpoint } from '../harness/copy-assert.ts';
import { defined } from '../harness/defined.ts';

// The streamed copy (source UID FETCH piped into a destination MULTIAPPEND with LITERAL+)
// is what every pass uses against Dovecot; these cover its edges against a real server.

let dv: DovecotInstance;
let n = 0;
function pair() {
  n++;
  const s = { name: `ss${n}`, pw: `s-${n}` };
  const d = { name: `sd${n}`, pw: `d-${n}` };
  dv.addUser(s.name, s.pw);
  dv.addUser(d.name, d.pw);
  return { s, d, source: endpoint(dv, s.name, s.pw), destination: endpoint(dv, d.name, d.pw) };
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const at = (i: number) => new Date(Date.UTC(2022, 5, 1, 0, 0, i));

beforeAll(async () => {
  dv = await startDovecot();
});
afterAll(async () => {
  await dv?.dispose();
});

describe('streamed copy', () => {
  it('the destination offers what the streamed path needs (else the pass uses the buffered path)', async () => {
    const p = pair();
    const c = await openClient(dv, p.d.name, p.d.pw);
    expect(c.capabilities.has('LITERAL+')).toBe(true);
    expect(c.capabilities.has('MULTIAPPEND')).toBe(true);
    await c.logout();
  });

  it(
    'copies the asked messages exactly, skips UIDs that no ' + 'longer exist, and hands both connections back usable',
    async () => {
      const p = pair();
      const bodies = [makeMessage({ size: 3_000 }), makeMessage({ size: 2_500_000 }), makeMessage({ size: 40_000 })];
      await seedImap(dv, p.s.name, p.s.pw, {
        INBOX: bodies.map((raw, i) => ({ raw, flags: ['\\Seen'], internalDate: at(i) })),
      });
      const src = await openClient(dv, p.s.name, p.s.pw);
      const dest = await openClient(dv, p.d.name, p.d.pw);
      await src.mailboxOpen('INBOX', { readOnly: true });
      await dest.mailboxOpen('INBOX');
      const metas = new Map(
        [1, 2, 3, 99].map((uid) => [uid, { flags: uid === 2 ? ['\\Flagged'] : [], internalDate: at(100 + uid) }]),
      );
      const r = await streamCopy(src, dest, 'INBOX', '1:3,99', metas);
      expect(r.copied).toEqual([1, 2, 3]); // UID 99 does not exist: not sent, not counted
      expect(r.bytes).toBe(bodies.reduce((s, b) => s + b.length, 0));
      expect(r.uids).toEqual([1, 2, 3]); // APPENDUID
      // Both connections still answer imapflow's own commands.
      expect(await src.status('INBOX', { messages: true })).toMatchObject({ messages: 3 });
      expect(await dest.status('INBOX', { messages: true })).toMatchObject({ messages: 3 });
      await Promise.all([src.logout(), dest.logout()]);
      const got = (await readMailbox(dv, p.d.name, p.d.pw)).messages.INBOX;
      expect(defined(got).map((m) => m.sha256)).toEqual(bodies.map(sha));
      expect(defined(got).map((m) => m.internalDate)).toEqual([101, 102, 103].map((u) => at(u).getTime()));
      expect(defined(defined(got)[1]).flags).toEqual(['\\Flagged']);
    },
  );

  it(
    'a source that drops mid-transfer leaves nothing at the ' + 'destination (all or none) and says which side failed',
    async () => {
      const p = pair();
      const bodies = [makeMessage({ size: 5_000 }), makeMessage({ size: 30 * 1024 * 1024 })];
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: bodies.map((raw, i) => ({ raw, internalDate: at(i) })) });
      const src = await openClient(dv, p.s.name, p.s.pw);
      const dest = await openClient(dv, p.d.name, p.d.pw);
      await src.mailboxOpen('INBOX', { readOnly: true });
      await dest.mailboxOpen('INBOX');
      const socket = (src as unknown as { socket: import('node:net').Socket }).socket;
      let seen = 0;
      // Cut the source once a few MB of the big message went through.
      socket.on('data', (c: Buffer) => {
        seen += c.length;
        if (seen > 3 * 1024 * 1024) socket.destroy();
      });
      const metas = new Map([1, 2].map((uid) => [uid, { flags: [], internalDate: at(uid) }]));
      const err = await streamCopy(src, dest, 'INBOX', '1:2', metas).then(
        () => null,
        (e: unknown) => e as { side?: string },
      );
      expect(err?.side).toBe('source');
      expect(dest.usable).toBe(false); // the half-sent APPEND was dropped with its connection
      const got = await readMailbox(dv, p.d.name, p.d.pw);
      expect(got.messages.INBOX ?? []).toHaveLength(0);
    },
  );

  it(
    'a destination that drops mid-transfer ends the transfer at ' +
      'once (not at the socket timeout), nothing half-written kept',
    async () => {
      const p = pair();
      const bodies = [makeMessage({ size: 5_000 }), makeMessage({ size: 40 * 1024 * 1024 })];
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: bodies.map((raw, i) => ({ raw, internalDate: at(i) })) });
      const src = await openClient(dv, p.s.name, p.s.pw);
      const dest = await openClient(dv, p.d.name, p.d.pw);
      await src.mailboxOpen('INBOX', { readOnly: true });
      await dest.mailboxOpen('INBOX');
      const internals = dest as unknown as { socket: import('node:net').Socket; writeBytesCounter: number };
      const before = internals.writeBytesCounter;
      // Drop the destination once a few MB went out (the source is then usually paused, waiting for 'drain').
      const cut = setInterval(() => {
        if (internals.writeBytesCounter - before > 3 * 1024 * 1024) {
          clearInterval(cut);
          internals.socket.destroy();
        }
      }, 2);
      const metas = new Map([1, 2].map((uid) => [uid, { flags: [], internalDate: at(uid) }]));
      const err = await streamCopy(src, dest, 'INBOX', '1:2', metas).then(
        () => null,
        (e: unknown) => e as { side?: string },
      );
      clearInterval(cut);
      expect(err?.side).toBe('destination');
      expect(src.usable).toBe(false); // mid-response: closed, not handed back half-read
      const got = await readMailbox(dv, p.d.name, p.d.pw);
      expect(got.messages.INBOX ?? []).toHaveLength(0);
    },
  );

  it('what one chunk of the source brings goes to the destination in one write, not a write per part', async () => {
    const p = pair();
    const bodies = Array.from({ length: 300 }, () => makeMessage({ size: 2_000 }));
    seedMaildir(dv, p.s.name, [
      { path: ['INBOX'], messages: bodies.map((raw, i) => ({ raw, flags: [], internalDate: at(i) })) },
    ]);
    const src = await openClient(dv, p.s.name, p.s.pw);
    const dest = await openClient(dv, p.d.name, p.d.pw);
    await src.mailboxOpen('INBOX', { readOnly: true });
    await dest.mailboxOpen('INBOX');
    // Writes that reach the destination's socket (each a system call), and chunks read from the source.
    const out = (dest as unknown as { socket: Record<string, unknown> }).socket;
    let flushes = 0;
    for (const name of ['_write', '_writev']) {
      const f = out[name] as (...a: unknown[]) => unknown;
      out[name] = function (this: unknown, ...a: unknown[]) {
        flushes++;
        return f.apply(this, a);
      };
    }
    let chunks = 0;
    (src as unknown as { socket: import('node:net').Socket }).socket.on('data', () => chunks++);
    const metas = new Map(bodies.map((_, i) => [i + 1, { flags: [], internalDate: at(i) }]));
    const r = await streamCopy(src, dest, 'INBOX', '1:*', metas);
    expect(r.copied).toHaveLength(300);
    // A write per message head and per body part would be at least 600.
    expect(flushes).toBeLessThanOrEqual(chunks + 3);
    await Promise.all([src.logout(), dest.logout()]);
    const got = (await readMailbox(dv, p.d.name, p.d.pw)).messages.INBOX;
    expect(defined(got).map((m) => m.sha256)).toEqual(bodies.map(sha));
  });

  it('a destination socket still full after the last chunk leaves the source usable for the next command', async () => {
    const p = pair();
    const bodies = [makeMessage({ size: 3_000 }), makeMessage({ size: 300_000 }), makeMessage({ size: 2_000 })];
    await seedImap(dv, p.s.name, p.s.pw, { INBOX: bodies.map((raw, i) => ({ raw, internalDate: at(i) })) });
    const src = await openClient(dv, p.s.name, p.s.pw);
    const dest = await openClient(dv, p.d.name, p.d.pw);
    await src.mailboxOpen('INBOX', { readOnly: true });
    await dest.mailboxOpen('INBOX');
    // The destination's socket reports itself full after every chunk's writes, the last one's
    // (with the FETCH's tagged reply) included, and drains just after: the source is paused
    // each time, and must be running again once the FETCH is over.
    const out = (dest as unknown as { socket: import('node:net').Socket }).socket;
    Object.defineProperty(out, 'writableNeedDrain', { get: () => true });
    Object.defineProperty(out, 'writableLength', { get: () => 1 });
    const uncork = out.uncork.bind(out);
    out.uncork = () => {
      uncork();
      setImmediate(() => out.emit('drain'));
    };
    const metas = new Map([1, 2, 3].map((uid) => [uid, { flags: [], internalDate: at(uid) }]));
    const r = await streamCopy(src, dest, 'INBOX', '1:3', metas);
    expect(r.copied).toEqual([1, 2, 3]);
    expect(await src.status('INBOX', { messages: true })).toMatchObject({ messages: 3 });
    await Promise.all([src.logout(), dest.logout()]);
  });

  it('a message with a NUL byte goes through as the source serves it, with the rest of its batch', async () => {
    const p = pair();
    const withNul = Buffer.concat([
      makeMessage({ size: 2_000, subject: 'nul' }).subarray(0, 1_500),
      Buffer.from([0, 0x41, 0x0d, 0x0a]),
    ]);
    const others = [makeMessage({ size: 4_000 }), makeMessage({ size: 6_000 })] as const;
    // Written into the Maildir directly: a client APPEND of a NUL byte needs literal8 itself.
    seedMaildir(dv, p.s.name, [
      {
        path: ['INBOX'],
        messages: [
          { raw: others[0], internalDate: at(1) },
          { raw: withNul, internalDate: at(2) },
          { raw: others[1], internalDate: at(3) },
        ],
      },
    ]);
    const r = await runPass({
      itemId: 'nul',
      source: p.source,
      destination: p.destination,
      checkpoints: createMemoryCheckpointStore(),
    });
    expect(r.outcome).toBe('completed');
    expect(r.stats.messagesCopied).toBe(3);
    const got = (await readMailbox(dv, p.d.name, p.d.pw)).messages.INBOX;
    const served = (await readMailbox(dv, p.s.name, p.s.pw)).messages.INBOX;
    // Dovecot serves a NUL byte as 0x80 over IMAP (BODY[] is no binary fetch): the copy is
    // what the source serves, byte for byte; the other messages are untouched.
    expect(defined(got).map((m) => [m.sha256, m.size, m.internalDate])).toEqual(
      defined(served).map((m) => [m.sha256, m.size, m.internalDate]),
    );
    expect(defined(got).map((m) => m.sha256)).toContain(sha(defined(others[0])));
    expect(defined(got).map((m) => m.sha256)).toContain(sha(defined(others[1])));
  });
});

describe('planning fetch read by our own line parser', () => {
  it('parses dates with zones and padded days, and lines in any item order', () => {
    expect(parseInternalDate(' 1-Feb-2024 10:00:00 +0100')?.toISOString()).toBe('2024-02-01T09:00:00.000Z');
    expect(parseInternalDate('31-Dec-1999 23:59:59 -0500')?.toISOString()).toBe('2000-01-01T04:59:59.000Z');
    expect(parseInternalDate('31-Foo-1999 23:59:59 -0500')).toBeNull();
    expect(
      parseMetaLine(
        '* 3 FETCH (FLAGS (\\Seen $Label1) UID 17 INTERNALDATE "09-Feb-2020 03:04:05 +0000" RFC822.SIZE 1234)',
      ),
    ).toEqual({
      uid: 17,
      size: 1234,
      internalDate: new Date('2020-02-09T03:04:05Z'),
      flags: ['\\Seen', '$Label1'],
    });
    expect(
      parseMetaLine('* 3 FETCH (UID 17 RFC822.SIZE 9 INTERNALDATE "09-Feb-2020 03:04:05 +0000" FLAGS ())')?.flags,
    ).toEqual([]);
    expect(parseMetaLine('* 3 FETCH (FLAGS (\\Seen) UID 17)')).toBeNull(); // an unsolicited flag update
    expect(parseMetaLine('* 4 EXISTS')).toBeNull();
  });

  it('reads exactly what imapflow reads from a real Dovecot, and leaves the connection usable', async () => {
    const p = pair();
    await seedImap(dv, p.s.name, p.s.pw, {
      INBOX: [
        {
          raw: makeMessage({ size: 3_000 }),
          flags: ['\\Seen', '\\Flagged', '$Label1', 'Work'],
          internalDate: new Date('2019-07-04T23:30:00Z'),
        },
        { raw: makeMessage({ size: 70_000 }), flags: [], internalDate: at(1) },
        { raw: makeMessage({ size: 500 }), flags: ['\\Answered', '\\Draft'], internalDate: at(2) },
      ],
    });
    const c = await openClient(dv, p.s.name, p.s.pw);
    await c.mailboxOpen('INBOX', { readOnly: true });
    const ours = await fetchMetaRaw(c, '1:*');
    const theirs = [];
    for await (const m of c.fetch('1:*', { uid: true, size: true, internalDate: true, flags: true }, { uid: true })) {
      theirs.push({ uid: m.uid, size: m.size, internalDate: new Date(m.internalDate!), flags: [...(m.flags ?? [])] });
    }
    expect(ours.map((m) => ({ ...m, flags: [...m.flags].sort() }))).toEqual(
      theirs.map((m) => ({ ...m, flags: [...m.flags].sort() })),
    );
    expect(ours).toHaveLength(3);
    // A range past the last UID: the server answers with the last message (RFC 3501 §6.4.8); the caller filters.
    expect((await fetchMetaRaw(c, '99:*')).map((m) => m.uid)).toEqual([3]);
    expect(await c.status('INBOX', { messages: true })).toMatchObject({ messages: 3 });
    await c.logout();
  });
});
