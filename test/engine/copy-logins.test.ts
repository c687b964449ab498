/**
 * Logins per pass, counted where a server would count them: every LOGIN and AUTHENTICATE
 * that reaches the real Dovecot through the harness's IMAP proxy. A lane (one source and
 * one destination connection) costs two logins and keeps them for every folder it takes;
 * a pass opens more lanes only for work that is worth them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass, type PassOptions } from '../../engine/copy/index.ts';
import {
  makeMessage,
  openClient,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { startImapProxy, type ImapProxy } from '../harness/imap-proxy.ts';
import { expectExactCopy, userPair, type UserPair } from '../harness/copy-assert.ts';

const pair = () => userPair(dv, proxy, 'l');

let dv: DovecotInstance;
let proxy: ImapProxy;
const msgs = (count: number, from: number): SeedMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    raw: makeMessage({ size: 2000 + ((from + i) % 7) * 300 }),
    flags: ['\\Seen'],
    internalDate: new Date(Date.UTC(2023, 0, 1, 0, 0, from + i)),
  }));

/** 100 messages in 5 folders, as a small mailbox has them. */
const FIVE_FOLDERS = {
  INBOX: msgs(40, 0),
  Sent: msgs(20, 100),
  Archive: msgs(20, 200),
  'Projects/Alpha': msgs(10, 300),
  Drafts: msgs(10, 400),
};

/** Runs a pass and counts the logins that reached the server during it. */
async function passLogins(
  p: UserPair,
  itemId: string,
  store: ReturnType<typeof createMemoryCheckpointStore>,
  options: PassOptions = {},
) {
  const from = proxy.events.length;
  const r = await runPass({ itemId, source: p.source, destination: p.destination, checkpoints: store, options });
  const events = proxy.events.slice(from);
  const logins = events.filter((e) => e.command === 'LOGIN' || e.command === 'AUTHENTICATE');
  const sent = (command: string) => events.filter((e) => e.command === command).length;
  /** The client writes (connection and data chunk) that carried `command`. */
  const writes = (command: string) =>
    new Set(events.filter((e) => e.command === command).map((e) => `${e.conn}/${e.chunk}`));
  return { r, logins: logins.length, connections: new Set(logins.map((e) => e.conn)).size, sent, writes };
}

beforeAll(async () => {
  dv = await startDovecot();
  proxy = await startImapProxy({ port: dv.port });
});
afterAll(async () => {
  await proxy?.close();
  await dv?.dispose();
});

describe('logins per pass', () => {
  it(
    'a 100-message mailbox in 5 folders is copied over one ' +
      'source and one destination login, and so is its next pass',
    async () => {
      const p = pair();
      await seedImap(dv, p.s.name, p.s.pw, FIVE_FOLDERS);
      const store = createMemoryCheckpointStore();
      const first = await passLogins(p, 'logins-small', store);
      expect(first.r.outcome, first.r.detail).toBe('completed');
      expect(first.r.stats.messagesCopied).toBe(100);
      expect(first.logins).toBe(2);
      await expectExactCopy(dv, p);
      // The round trips of a small pass: one LIST a side (no LSUB), the new destination folders
      // created and subscribed in one write before the lanes start (no LIST of imapflow's before
      // their SELECT), the verification's size FETCH without a NOOP (every copy has its APPENDUID
      // and was found).
      expect(first.sent('LIST')).toBe(2);
      expect(first.sent('LSUB')).toBe(0);
      expect(first.sent('CREATE')).toBe(4);
      expect(first.sent('SUBSCRIBE')).toBe(4);
      expect(new Set([...first.writes('CREATE'), ...first.writes('SUBSCRIBE')]).size).toBe(1);
      expect(first.sent('NOOP')).toBe(0);
      const dest = await openClient(dv, p.d.name, p.d.pw);
      try {
        const listed = await dest.list();
        expect(
          listed
            .filter((f) => f.subscribed)
            .map((f) => f.path)
            .sort(),
        ).toEqual(['Archive', 'Drafts', 'INBOX', 'Projects/Alpha', 'Sent'].sort());
      } finally {
        await dest.logout();
      }

      // New mail in two folders: still the one lane of the listing.
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(3, 500), Sent: msgs(2, 600) });
      const delta = await passLogins(p, 'logins-small', store);
      expect(delta.r.outcome, delta.r.detail).toBe('completed');
      expect(delta.r.stats.messagesCopied).toBe(5);
      expect(delta.logins).toBe(2);
      await expectExactCopy(dv, p);
    },
  );

  it(
    'a folder the destination will not create is reported, and a ' +
      'SUBSCRIBE sent with its CREATE is taken back; the other folders are copied',
    async () => {
      const p = pair();
      await seedImap(dv, p.s.name, p.s.pw, { INBOX: msgs(3, 700), Refused: msgs(2, 710), Kept: msgs(2, 720) });
      // A server that refuses the name but takes subscriptions of names it has not got.
      proxy.throttle({ command: 'CREATE', match: /Refused/, times: Infinity, backoffMs: 0, reply: 'Invalid name' });
      proxy.throttle({
        command: 'SUBSCRIBE',
        match: /Refused/,
        times: Infinity,
        backoffMs: 0,
        status: 'OK',
        reply: 'Done',
      });
      try {
        const r = await passLogins(p, 'logins-refused', createMemoryCheckpointStore());
        expect(r.r.outcome, r.r.detail).toBe('completed');
        expect(r.r.stats.messagesCopied).toBe(5);
        expect(r.r.stats.folders.find((f) => f.sourceFolder === 'Refused')?.error).toMatch(/refused to create/);
        expect(r.sent('UNSUBSCRIBE')).toBe(1);
        const dst = await readMailbox(dv, p.d.name, p.d.pw);
        expect(dst.folders.map((f) => f.path).sort()).toEqual(['INBOX', 'Kept']);
      } finally {
        proxy.clearRules();
      }
    },
  );

  it(
    'work worth more lanes opens them, one per destination ' +
      'folder at most and `connections` at most, two logins each',
    async () => {
      const p = pair();
      await seedImap(dv, p.s.name, p.s.pw, FIVE_FOLDERS);
      // 100 messages at 10 a lane: 10 lanes' worth, 5 destination folders, 4 connections.
      const many = await passLogins(p, 'logins-many', createMemoryCheckpointStore(), { messagesPerLane: 10 });
      expect(many.r.outcome, many.r.detail).toBe('completed');
      expect(many.logins).toBe(8);
      expect(many.connections).toBe(8);
      await expectExactCopy(dv, p);

      const q = pair();
      await seedImap(dv, q.s.name, q.s.pw, FIVE_FOLDERS);
      // 100 messages at 40 a lane: three lanes.
      const three = await passLogins(q, 'logins-three', createMemoryCheckpointStore(), { messagesPerLane: 40 });
      expect(three.r.outcome, three.r.detail).toBe('completed');
      expect(three.logins).toBe(6);
      await expectExactCopy(dv, q);
    },
  );
});
