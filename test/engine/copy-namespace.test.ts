import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass, type CheckpointStore } from '../../engine/copy/index.ts';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { endpoint, folderKeys, folderNames, pathIn } from '../harness/copy-assert.ts';

// Personal namespace prefixes (RFC 2342). Three private Dovecots:
// - `prefixed`: prefix `INBOX.`, separator '.', Maildir++ (as Courier, Cyrus and older Dovecot set-ups);
// - `plain`: empty prefix, separator '/';
// - `prefixedSpecial`: prefix `INBOX.`, separator '.', with SPECIAL-USE folders INBOX.Sent and INBOX.Drafts.
let prefixed: DovecotInstance;
let plain: DovecotInstance;
let prefixedSpecial: DovecotInstance;

const d = (s: string) => new Date(s);
const msg = (flags: string[], date: string, o: Parameters<typeof makeMessage>[0] = {}): SeedMessage => ({
  raw: makeMessage(o),
  flags,
  internalDate: d(date),
});

/** Seeds a mailbox and returns the number of messages. */
async function seed(
  dv: DovecotInstance,
  user: string,
  pw: string,
  folders: Record<string, SeedMessage[]>,
): Promise<number> {
  await seedImap(dv, user, pw, folders);
  return Object.values(folders).reduce((s, l) => s + l.length, 0);
}

/** Every source folder ('/' form) holds exactly the messages of its destination folder. */
async function assertCopied(
  src: [DovecotInstance, string, string],
  dst: [DovecotInstance, string, string],
  expected: Record<string, string>,
) {
  const a = await readMailbox(...src);
  const b = await readMailbox(...dst);
  for (const [from, to] of Object.entries(expected)) {
    expect(folderKeys(b, pathIn(b, to)), `${from} → ${to}`).toEqual(folderKeys(a, pathIn(a, from)));
    expect(folderKeys(a, pathIn(a, from)).length, `${from} is seeded`).toBeGreaterThan(0);
  }
  return b;
}

/** Runs a pass, then a second one that must find nothing to do. */
async function twoPasses(
  itemId: string,
  src: [DovecotInstance, string, string],
  dst: [DovecotInstance, string, string],
  total: number,
  store: CheckpointStore,
) {
  const first = await runPass({ itemId, source: endpoint(...src), destination: endpoint(...dst), checkpoints: store });
  expect(first.outcome, first.detail).toBe('completed');
  expect(first.stats.messagesCopied).toBe(total);
  expect(first.stats.folders.filter((f) => f.error)).toEqual([]);
  const second = await runPass({ itemId, source: endpoint(...src), destination: endpoint(...dst), checkpoints: store });
  expect(second.outcome, second.detail).toBe('completed');
  expect(second.stats.messagesCopied).toBe(0);
  expect(second.stats.messagesPresent).toBe(total);
  // Checkpoints are found under the same (prefix-free) names, and destination folders under their full ones.
  expect(second.stats.folders.filter((f) => !f.unchanged).map((f) => f.sourceFolder)).toEqual([]);
  return first;
}

beforeAll(async () => {
  [prefixed, plain, prefixedSpecial] = await Promise.all([
    startDovecot({
      separator: '.',
      namespacePrefix: 'INBOX.',
      users: [
        { name: 'alice', password: 'a-src' },
        { name: 'carol', password: 'c-src' },
        { name: 'probe', password: 'p-src' },
      ],
    }),
    startDovecot({
      separator: '/',
      users: [
        { name: 'alice', password: 'a-dst' },
        { name: 'bob', password: 'b-src' },
      ],
    }),
    startDovecot({
      separator: '.',
      namespacePrefix: 'INBOX.',
      users: [
        { name: 'bob', password: 'b-dst' },
        { name: 'carol', password: 'c-dst' },
      ],
      specialUse: { Sent: '\\Sent', Drafts: '\\Drafts' },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([prefixed?.dispose(), plain?.dispose(), prefixedSpecial?.dispose()]);
});

describe('personal namespace prefixes (RFC 2342, real Dovecot)', () => {
  it('the harness serves the INBOX. namespace the way Courier-style servers do', async () => {
    await seed(prefixed, 'probe', 'p-src', { 'INBOX.Probe': [] });
    const box = await readMailbox(prefixed, 'probe', 'p-src');
    expect(box.folders.map((f) => f.path).sort()).toEqual(['INBOX', 'INBOX.Probe']);
    expect(prefixed.namespacePrefix).toBe('INBOX.');
    expect(plain.namespacePrefix).toBe('');
  });

  it('INBOX.* folders land at the top level of a destination without a prefix', async () => {
    const total = await seed(prefixed, 'alice', 'a-src', {
      INBOX: [msg(['\\Seen'], '2020-02-29T23:59:59Z'), msg(['\\Flagged', '$Label1', 'Work'], '2021-01-01T00:00:00Z')],
      'INBOX.Sent': [msg(['\\Seen'], '2024-02-02T10:00:00Z')],
      'INBOX.Drafts': [msg(['\\Draft'], '2024-02-03T10:00:00Z')],
      'INBOX.Projects.Alpha': [
        msg(['\\Seen', 'Project-X'], '2024-03-01T00:00:00Z', { size: 200_000 }),
        msg([], '2024-03-02T00:00:00Z', { messageId: null }),
      ],
      'INBOX.Päpierkorb & Co': [msg([], '2017-05-05T05:05:05Z')],
      'INBOX.Входящие.Архив': [msg(['\\Seen'], '2016-04-04T04:04:04Z')],
      'INBOX.日本語': [msg(['\\Answered'], '2015-03-03T03:03:03Z')],
    });
    const src: [DovecotInstance, string, string] = [prefixed, 'alice', 'a-src'];
    const dst: [DovecotInstance, string, string] = [plain, 'alice', 'a-dst'];
    const r = await twoPasses('ns-forward', src, dst, total, createMemoryCheckpointStore());
    expect(r.stats.folders.map((f) => f.sourceFolder).sort()).toEqual(
      ['Drafts', 'INBOX', 'Projects/Alpha', 'Päpierkorb & Co', 'Sent', 'Входящие/Архив', '日本語'].sort(),
    );

    const expected = {
      INBOX: 'INBOX',
      'INBOX/Sent': 'Sent',
      'INBOX/Drafts': 'Drafts',
      'INBOX/Projects/Alpha': 'Projects/Alpha',
      'INBOX/Päpierkorb & Co': 'Päpierkorb & Co',
      'INBOX/Входящие/Архив': 'Входящие/Архив',
      'INBOX/日本語': '日本語',
    };
    const b = await assertCopied(src, dst, expected);
    expect(folderNames(b)).toEqual(Object.values(expected).sort());
    // Nothing under the inbox, not even a hierarchy placeholder.
    expect(b.folders.map((f) => f.path).filter((p) => p.toUpperCase().startsWith('INBOX/'))).toEqual([]);
  });

  it(
    'a source without a prefix goes inside the INBOX. ' + 'namespace of the destination, special-use folders mapped',
    async () => {
      const total = await seed(plain, 'bob', 'b-src', {
        INBOX: [msg(['\\Seen'], '2022-12-31T12:00:00Z'), msg(['\\Answered', '$Forwarded'], '2023-01-02T03:04:05Z')],
        'Sent Items': [msg(['\\Seen'], '2024-02-02T10:00:00Z')],
        Drafts: [msg(['\\Draft'], '2024-02-03T10:00:00Z')],
        Projects: [msg([], '2018-01-01T00:00:00Z')],
        'Projects/Alpha': [msg(['\\Seen', 'Project-X'], '2024-03-01T00:00:00Z')],
        'Päpierkorb & Co': [msg([], '2017-05-05T05:05:05Z')],
        日本語: [msg([], '2015-03-03T03:03:03Z', { messageId: null })],
      });
      const src: [DovecotInstance, string, string] = [plain, 'bob', 'b-src'];
      const dst: [DovecotInstance, string, string] = [prefixedSpecial, 'bob', 'b-dst'];
      const r = await twoPasses('ns-reverse', src, dst, total, createMemoryCheckpointStore());
      expect(Object.fromEntries(r.stats.folders.map((f) => [f.sourceFolder, f.destFolder]))).toMatchObject({
        'Sent Items': 'Sent',
        'Projects/Alpha': 'Projects/Alpha',
      });

      const expected = {
        INBOX: 'INBOX',
        'Sent Items': 'INBOX/Sent', // by special use (Sent Items is guessed by name, INBOX.Sent announced)
        Drafts: 'INBOX/Drafts',
        Projects: 'INBOX/Projects',
        'Projects/Alpha': 'INBOX/Projects/Alpha',
        'Päpierkorb & Co': 'INBOX/Päpierkorb & Co',
        日本語: 'INBOX/日本語',
      };
      const b = await assertCopied(src, dst, expected);
      expect(folderNames(b)).toEqual(Object.values(expected).sort());
      expect(b.folders.find((f) => f.path === 'INBOX.Sent')?.specialUse).toBe('\\Sent');
    },
  );

  it('special use by name sees through the prefix: INBOX.Sent Items is the Sent folder', async () => {
    const total = await seed(prefixed, 'carol', 'c-src', {
      INBOX: [msg(['\\Seen'], '2024-01-01T00:00:00Z')],
      'INBOX.Sent Items': [msg(['\\Seen'], '2024-02-02T10:00:00Z'), msg(['\\Seen'], '2024-02-03T10:00:00Z')],
      'INBOX.Projects.Alpha': [msg([], '2024-03-01T00:00:00Z')],
    });
    const src: [DovecotInstance, string, string] = [prefixed, 'carol', 'c-src'];
    const dst: [DovecotInstance, string, string] = [prefixedSpecial, 'carol', 'c-dst'];
    const store = createMemoryCheckpointStore();
    await twoPasses('ns-both', src, dst, total, store);
    const expected = {
      INBOX: 'INBOX',
      'INBOX/Sent Items': 'INBOX/Sent',
      'INBOX/Projects/Alpha': 'INBOX/Projects/Alpha',
    };
    const b = await assertCopied(src, dst, expected);
    // INBOX.Drafts is the destination's own (auto-created special-use folder).
    expect(folderNames(b)).toEqual(['INBOX', 'INBOX/Drafts', 'INBOX/Projects/Alpha', 'INBOX/Sent']);
    expect([...(await store.load('ns-both')).keys()].sort()).toEqual(['INBOX', 'Projects/Alpha', 'Sent Items']);
  });
});
