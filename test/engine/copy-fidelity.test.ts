import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCheckpointStore, runPass, type PassProgress } from '../../engine/copy/index.ts';
import {
  makeMessage,
  readMailbox,
  seedImap,
  startDovecot,
  type DovecotInstance,
  type SeedMessage,
} from '../harness/dovecot.ts';
import { endpoint, folderKeys, folderNames, pathIn } from '../harness/copy-assert.ts';
import { defined } from '../harness/defined.ts';

// Source: '/' separator, no SPECIAL-USE (special folders recognised by name).
// Destination: '.' separator (Maildir++), its own special-use folders with other names.
let src: DovecotInstance;
let dst: DovecotInstance;
const store = createMemoryCheckpointStore();

const d = (s: string) => new Date(s);
const dup = makeMessage({ subject: 'same twice', date: d('2023-01-02T03:04:05Z') });
const noId = makeMessage({ messageId: null, subject: 'no id' });
const big = makeMessage({ size: 21 * 1024 * 1024, subject: 'big attachment' });

const corpus: Record<string, SeedMessage[]> = {
  INBOX: [
    { raw: makeMessage(), flags: ['\\Seen'], internalDate: d('2020-02-29T23:59:59Z') },
    { raw: makeMessage(), flags: ['\\Seen', '\\Flagged', '$Label1', 'Work'], internalDate: d('2019-07-01T08:00:00Z') },
    { raw: makeMessage(), flags: ['\\Answered', '$Forwarded'], internalDate: d('2022-12-31T12:00:00Z') },
    { raw: dup, flags: ['\\Seen'], internalDate: d('2023-01-02T03:04:05Z') },
    { raw: dup, flags: ['\\Seen'], internalDate: d('2023-01-02T03:04:05Z') },
    { raw: noId, flags: [], internalDate: d('2021-06-06T06:06:06Z') },
    { raw: big, flags: ['\\Seen', 'Big'], internalDate: d('2024-01-01T00:00:00Z') },
  ],
  Sent: [{ raw: makeMessage(), flags: ['\\Seen'], internalDate: d('2024-02-02T10:00:00Z') }],
  Drafts: [{ raw: makeMessage(), flags: ['\\Draft'], internalDate: d('2024-02-03T10:00:00Z') }],
  Trash: [{ raw: makeMessage(), flags: ['\\Seen', '\\Deleted'], internalDate: d('2024-02-04T10:00:00Z') }],
  Junk: [{ raw: makeMessage(), flags: ['Junk'], internalDate: d('2024-02-05T10:00:00Z') }],
  Projects: [{ raw: makeMessage(), flags: [], internalDate: d('2018-01-01T00:00:00Z') }],
  'Projects/2024': [],
  'Projects/2024/Q1': [
    { raw: makeMessage({ size: 300_000 }), flags: ['\\Seen', 'Project-X'], internalDate: d('2024-03-01T00:00:00Z') },
  ],
  'Päpierkorb & Co': [{ raw: makeMessage(), flags: [], internalDate: d('2017-05-05T05:05:05Z') }],
  'Входящие/Архив': [{ raw: makeMessage(), flags: ['\\Seen'], internalDate: d('2016-04-04T04:04:04Z') }],
  日本語: [{ raw: makeMessage({ messageId: null }), flags: [], internalDate: d('2015-03-03T03:03:03Z') }],
};

// Source folder → expected destination folder ('/' form).
const expected: Record<string, string> = {
  INBOX: 'INBOX',
  Sent: 'Sent Items',
  Drafts: 'Drafts',
  Trash: 'Deleted Items',
  Junk: 'Junk E-mail',
  Projects: 'Projects',
  'Projects/2024': 'Projects/2024',
  'Projects/2024/Q1': 'Projects/2024/Q1',
  'Päpierkorb & Co': 'Päpierkorb & Co',
  'Входящие/Архив': 'Входящие/Архив',
  日本語: '日本語',
};

beforeAll(async () => {
  src = await startDovecot({ separator: '/', users: [{ name: 'alice', password: 'src-pw' }] });
  dst = await startDovecot({
    separator: '.',
    users: [{ name: 'alice', password: 'dst-pw' }],
    specialUse: {
      'Sent Items': '\\Sent',
      'Deleted Items': '\\Trash',
      'Junk E-mail': '\\Junk',
      Drafts: '\\Drafts',
      Archive: '\\Archive',
    },
  });
  await seedImap(src, 'alice', 'src-pw', corpus);
});
afterAll(async () => {
  await src?.dispose();
  await dst?.dispose();
});

async function assertFidelity() {
  const a = await readMailbox(src, 'alice', 'src-pw');
  const b = await readMailbox(dst, 'alice', 'dst-pw');
  for (const [from, to] of Object.entries(expected)) {
    expect(folderKeys(b, pathIn(b, to)), `${from} → ${to}`).toEqual(folderKeys(a, pathIn(a, from)));
  }
  return { a, b };
}

describe('copy fidelity (IMAP → IMAP, real Dovecot)', () => {
  it('copies every folder with exact bytes, flags, keywords and internal dates', async () => {
    const progress: PassProgress[] = [];
    const r = await runPass({
      itemId: 'fid',
      source: endpoint(src, 'alice', 'src-pw'),
      destination: endpoint(dst, 'alice', 'dst-pw'),
      checkpoints: store,
      onProgress: (p) => progress.push(p),
      options: { progressIntervalMs: 50 },
    });
    expect(r.outcome, r.detail).toBe('completed');
    const total = Object.values(corpus).reduce((s, l) => s + l.length, 0);
    expect(r.stats.messagesFound).toBe(total);
    expect(r.stats.messagesCopied).toBe(total);
    expect(r.stats.messagesPresent).toBe(0);
    expect(r.stats.bytesCopied).toBeGreaterThan(21 * 1024 * 1024);
    expect(progress.at(-1)?.final).toBe(true);
    expect(progress.at(-1)?.messagesCopied).toBe(total);

    const { b } = await assertFidelity();
    // Hierarchy translated to '.', special-use folders mapped, no stray copies of them.
    const names = folderNames(b);
    for (const to of Object.values(expected)) expect(names).toContain(to);
    for (const stray of ['Sent', 'Trash', 'Junk']) expect(names).not.toContain(stray);
    // The duplicate pair is copied as a pair; the 21 MiB message arrived whole.
    const inbox = b.messages[pathIn(b, 'INBOX')];
    expect(defined(inbox).length).toBe(defined(corpus.INBOX).length);
    expect(defined(inbox).some((m) => m.size > 21 * 1024 * 1024)).toBe(true);
  });

  it('a delta pass copies only what is new', async () => {
    await seedImap(src, 'alice', 'src-pw', {
      INBOX: [
        { raw: makeMessage(), flags: ['\\Seen', 'New'], internalDate: d('2025-01-01T00:00:00Z') },
        { raw: dup, flags: ['\\Seen'], internalDate: d('2023-01-02T03:04:05Z') },
      ],
      'Projects/2024/Q1': [
        { raw: makeMessage({ messageId: null }), flags: [], internalDate: d('2025-01-02T00:00:00Z') },
      ],
    });
    const r = await runPass({
      itemId: 'fid',
      source: endpoint(src, 'alice', 'src-pw'),
      destination: endpoint(dst, 'alice', 'dst-pw'),
      checkpoints: store,
    });
    expect(r.outcome, r.detail).toBe('completed');
    expect(r.stats.messagesCopied).toBe(3);
    expect(r.stats.folders.find((f) => f.sourceFolder === 'Sent')?.unchanged).toBe(true);
    expect(r.stats.folders.find((f) => f.sourceFolder === 'INBOX')?.messagesCopied).toBe(2);
    await assertFidelity();
  });

  it('a pass with nothing new copies nothing and skips every folder on STATUS', async () => {
    const r = await runPass({
      itemId: 'fid',
      source: endpoint(src, 'alice', 'src-pw'),
      destination: endpoint(dst, 'alice', 'dst-pw'),
      checkpoints: store,
    });
    expect(r.outcome).toBe('completed');
    expect(r.stats.messagesCopied).toBe(0);
    expect(r.stats.folders.filter((f) => !f.unchanged).map((f) => f.sourceFolder)).toEqual([]);
    expect(r.stats.messagesPresent).toBe(r.stats.messagesFound);
  });
});
