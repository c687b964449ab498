import { describe, expect, it } from 'vitest';
import { classifyImapError } from '../../engine/connectors/imap/classify-error.ts';
import { imapOptions } from '../../engine/connectors/imap/open-imap.ts';
import { withConfirmed, withPending, emptyCheckpoint } from '../../engine/copy/checkpoint.ts';
import { keptFlags, splitBatches, uidSet } from '../../engine/copy/copy-batch.ts';
import { Pacer } from '../../engine/copy/pacer.ts';
import { folderJobs, type FolderJob } from '../../engine/copy/folder-jobs.ts';
import { createMemoryCheckpointStore } from '../../engine/copy/index.ts';
import { laneCount } from '../../engine/copy/lane-scheduler.ts';
import { emptyStats, PassState, passSettings } from '../../engine/copy/pass-state.ts';
import {
  appendCommandChunks,
  encodeMailboxName,
  formatInternalDate,
  mailboxArgument,
  parseAppendUid,
} from '../../engine/connectors/imap/append.ts';
import { fingerprintOf, FingerprintBag } from '../../engine/copy/fingerprint.ts';
import type { MailFolder } from '../../engine/copy/list-folders.ts';
import { globMatches, mapFolders } from '../../engine/copy/map-folders.ts';
import { personalNamespace, prefixSegments, withoutPrefix, withPrefix } from '../../engine/copy/namespace.ts';
import { defined } from '../harness/defined.ts';

const folder = (path: string, sep = '/', specialUse?: string, fromServer = false): MailFolder => ({
  path,
  segments: path.split(sep),
  delimiter: sep,
  specialUse,
  specialUseFromServer: fromServer,
  selectable: true,
});

describe('map folders', () => {
  it('translates separators, maps special use, applies rules', () => {
    const src = [
      folder('INBOX', '/', '\\Inbox'),
      folder('Sent', '/', '\\Sent'),
      folder('A/B.C', '/'),
      folder('Projects/Archive', '/', '\\Archive'),
      folder('Old/X', '/'),
    ];
    const dst = [
      folder('INBOX', '.'),
      folder('Sent Items', '.', '\\Sent', true),
      folder('Archive', '.', '\\Archive', true),
    ];
    const m = mapFolders(src, dst, { rename: { Old: 'Legacy/Old' } });
    const by = Object.fromEntries(m.map((x) => [x.sourceName, x.destSegments]));
    expect(by.INBOX).toEqual(['INBOX']);
    expect(by.Sent).toEqual(['Sent Items']);
    expect(by['A/B.C']).toEqual(['A', 'B_C']); // '.' is the destination separator
    expect(by['Projects/Archive']).toEqual(['Projects', 'Archive']); // a nested name guess is no archive
    expect(by['Old/X']).toEqual(['Legacy', 'Old', 'X']);
    expect(mapFolders(src, dst, { include: ['Old'] }).map((x) => x.sourceName)).toEqual(['Old/X']);
    expect(mapFolders(src, dst, { exclude: ['*/Archive', 'A'] }).map((x) => x.sourceName)).toEqual([
      'INBOX',
      'Old/X',
      'Sent',
    ]);
  });
  it('globs cover subtrees', () => {
    expect(globMatches('Skip', 'Skip/Deep')).toBe(true);
    expect(globMatches('Skip', 'Skipper')).toBe(false);
    expect(globMatches('inbox', 'INBOX')).toBe(true);
  });
});

describe('personal namespace prefixes (RFC 2342)', () => {
  const ns = (prefix: string, delimiter: string | null = '.') => ({ prefix, delimiter });
  const byName = (m: ReturnType<typeof mapFolders>) => Object.fromEntries(m.map((x) => [x.sourceName, x.destSegments]));

  it('strips and adds the prefix as hierarchy levels', () => {
    expect(prefixSegments(ns('INBOX.'))).toEqual(['INBOX']);
    expect(prefixSegments(ns(''))).toEqual([]);
    expect(prefixSegments(ns('Mail/', '/'))).toEqual(['Mail']);
    expect(prefixSegments(ns('INBOX.', null))).toEqual([]);
    expect(prefixSegments(undefined)).toEqual([]);
    expect(withoutPrefix(['INBOX', 'Projects', 'Alpha'], ['INBOX'])).toEqual(['Projects', 'Alpha']);
    expect(withoutPrefix(['inbox', 'Sent'], ['INBOX'])).toEqual(['Sent']);
    expect(withoutPrefix(['INBOX'], ['INBOX'])).toEqual(['INBOX']);
    expect(withoutPrefix(['INBOX', 'INBOX'], ['INBOX'])).toEqual(['INBOX', 'INBOX']); // never a second INBOX
    expect(withoutPrefix(['Shared', 'X'], ['INBOX'])).toEqual(['Shared', 'X']);
    expect(withPrefix(['Projects', 'Alpha'], ['INBOX'])).toEqual(['INBOX', 'Projects', 'Alpha']);
    expect(withPrefix(['INBOX'], ['INBOX'])).toEqual(['INBOX']);
    expect(withPrefix(['INBOX', 'Old'], ['INBOX'])).toEqual(['INBOX', 'Old']); // already inside
    expect(withPrefix(['Sent'], [])).toEqual(['Sent']);
    expect(personalNamespace({ namespace: { prefix: 'INBOX.', delimiter: '.' } })).toEqual(ns('INBOX.'));
    expect(personalNamespace({ namespace: undefined })).toEqual(ns('', null));
  });

  it('a source under INBOX. lands at the top level of a prefix-free destination', () => {
    const src = [
      folder('INBOX', '.', '\\Inbox'),
      folder('INBOX.Sent', '.', '\\Sent'),
      folder('INBOX.Drafts', '.', '\\Drafts'),
      folder('INBOX.Projects.Alpha', '.'),
      folder('INBOX.Sent Items', '.'),
      folder('INBOX.Projects.Archive', '.', '\\Archive'),
    ];
    const dst = [folder('INBOX', '/'), folder('Sent', '/', '\\Sent', true), folder('Archive', '/', '\\Archive', true)];
    const m = mapFolders(src, dst, undefined, { source: ns('INBOX.'), destination: ns('', '/') });
    expect(byName(m)).toEqual({
      INBOX: ['INBOX'],
      Sent: ['Sent'],
      Drafts: ['Drafts'],
      'Projects/Alpha': ['Projects', 'Alpha'],
      'Sent Items': ['Sent Items'],
      'Projects/Archive': ['Projects', 'Archive'], // a nested name guess is still no archive
    });
    expect(m.find((x) => x.sourceName === 'Sent')?.dest?.path).toBe('Sent');
    expect(m.map((x) => x.destName)).toEqual([
      'Drafts',
      'INBOX',
      'Projects/Alpha',
      'Projects/Archive',
      'Sent',
      'Sent Items',
    ]);
  });

  it('a prefix-free source goes inside the INBOX. namespace of the destination', () => {
    const src = [
      folder('INBOX', '/'),
      folder('Sent Items', '/', '\\Sent'),
      folder('Projects/Alpha', '/'),
      folder('A.B', '/'),
      folder('Old', '/'),
    ];
    const dst = [folder('INBOX', '.'), folder('INBOX.Sent', '.', '\\Sent'), folder('INBOX.Projects.Alpha', '.')];
    const m = mapFolders(
      src,
      dst,
      { rename: { Old: 'Legacy/Old' } },
      { source: ns('', '/'), destination: ns('INBOX.') },
    );
    expect(byName(m)).toEqual({
      INBOX: ['INBOX'],
      'Sent Items': ['INBOX', 'Sent'],
      'Projects/Alpha': ['INBOX', 'Projects', 'Alpha'],
      'A.B': ['INBOX', 'A_B'],
      Old: ['INBOX', 'Legacy', 'Old'],
    });
    // Existing destination folders are found under their full names; names shown without the prefix.
    expect(m.find((x) => x.sourceName === 'Projects/Alpha')?.dest?.path).toBe('INBOX.Projects.Alpha');
    expect(m.find((x) => x.sourceName === 'Sent Items')?.destName).toBe('Sent');
    expect(m.find((x) => x.sourceName === 'Old')?.destName).toBe('Legacy/Old');
  });

  it('rules are written against the prefix-free names', () => {
    const src = [
      folder('INBOX', '.'),
      folder('INBOX.Projects.Alpha', '.'),
      folder('INBOX.Projects.Beta', '.'),
      folder('INBOX.Trash', '.'),
    ];
    const dst = [folder('INBOX', '.')];
    const both = { source: ns('INBOX.'), destination: ns('INBOX.') };
    expect(mapFolders(src, dst, { exclude: ['Projects/Beta', 'Trash'] }, both).map((x) => x.sourceName)).toEqual([
      'INBOX',
      'Projects/Alpha',
    ]);
    expect(mapFolders(src, dst, { include: ['Projects'] }, both).map((x) => x.sourceName)).toEqual([
      'Projects/Alpha',
      'Projects/Beta',
    ]);
    // Same prefix on both sides: names stay inside the namespace, rename targets go there too.
    expect(byName(mapFolders(src, dst, { rename: { 'Projects/Alpha': 'Alpha' } }, both))).toEqual({
      INBOX: ['INBOX'],
      'Projects/Alpha': ['INBOX', 'Alpha'],
      'Projects/Beta': ['INBOX', 'Projects', 'Beta'],
      Trash: ['INBOX', 'Trash'],
    });
  });

  it('without namespaces (or empty prefixes) the mapping is what it always was', () => {
    const src = [
      folder('INBOX', '/'),
      folder('INBOX/Sub', '/'),
      folder('Sent', '/', '\\Sent'),
      folder('Projects/A', '/'),
    ];
    const dst = [folder('INBOX', '.'), folder('Sent Items', '.', '\\Sent', true)];
    const plain = mapFolders(src, dst);
    expect(mapFolders(src, dst, undefined, { source: ns('', '/'), destination: ns('') })).toEqual(plain);
    expect(byName(plain)).toEqual({
      INBOX: ['INBOX'],
      'INBOX/Sub': ['INBOX', 'Sub'],
      Sent: ['Sent Items'],
      'Projects/A': ['Projects', 'A'],
    });
  });
});

describe('fingerprints', () => {
  it('use Message-ID, size and internal date; fall back to header hash', () => {
    const h = Buffer.from('Message-ID:\r\n <a@b>\r\nSubject: x\r\n');
    expect(fingerprintOf({ size: 10, internalDate: new Date(1_700_000_000_500), headers: h })).toBe(
      'm:<a@b>|10|1700000000',
    );
    const n1 = fingerprintOf({ size: 10, internalDate: 0, headers: Buffer.from('Subject: a\r\nFrom: x\r\n') });
    const n2 = fingerprintOf({ size: 10, internalDate: 0, headers: Buffer.from('From: x\r\nSubject: b\r\n') });
    expect(n1).toMatch(/^h:/);
    expect(n1).not.toBe(n2);
    const bag = new FingerprintBag();
    bag.add('x');
    bag.add('x');
    expect([bag.take('x'), bag.take('x'), bag.take('x')]).toEqual([true, true, false]);
  });
});

describe('checkpoint intent', () => {
  it('keeps the oldest destination floor until the whole pending range is confirmed', () => {
    let cp = emptyCheckpoint('INBOX', 'INBOX', 7n);
    cp = withPending(cp, 10, 100, 9n);
    cp = withConfirmed(cp, 5);
    expect(cp).toMatchObject({ lastUid: 5, pendingToUid: 10, pendingDestUidNext: 100 });
    cp = withPending(cp, 20, 104, 9n);
    expect(cp).toMatchObject({ pendingToUid: 20, pendingDestUidNext: 100 });
    cp = withConfirmed(cp, 20);
    expect(cp).toMatchObject({ lastUid: 20, pendingToUid: null, pendingDestUidNext: null });
  });
});

describe('protocol helpers', () => {
  it('modified UTF-7, dates, flags, uid sets, batches', () => {
    expect(encodeMailboxName('Päpierkorb & Co')).toBe('P&AOQ-pierkorb &- Co');
    expect(encodeMailboxName('日本語')).toBe('&ZeVnLIqe-');
    expect(formatInternalDate(new Date('2020-02-09T03:04:05Z'))).toBe('09-Feb-2020 03:04:05 +0000');
    expect(keptFlags(['\\seen', '\\Recent', '$Label1', 'bad(kw', 'Work'], new Set(['\\Seen', '\\*']))).toEqual([
      '\\Seen',
      '$Label1',
      'Work',
    ]);
    expect(keptFlags(['Work', '\\Flagged'], new Set(['\\Flagged', '\\Seen']))).toEqual(['\\Flagged']);
    expect(uidSet([5, 1, 2, 3, 9, 10])).toBe('1:3,5,9:10');
    const metas = [1, 2, 3, 4, 5].map((uid) => ({
      uid,
      size: uid === 3 ? 50 : 10,
      internalDate: new Date(0),
      flags: [],
    }));
    expect(splitBatches(metas, 2, 30).map((b) => b.map((m) => m.uid))).toEqual([[1, 2], [3], [4, 5]]);
  });
  it('APPEND command bytes: LITERAL+ markers, quoted names, literal8 for NUL, APPENDUID sets', () => {
    const body = Buffer.from('Subject: x\r\n\r\nhi\r\n');
    const withNul = Buffer.from('a\0b');
    const chunks = appendCommandChunks(
      'A1',
      'Sent Items/Päp',
      [
        { flags: ['\\Seen', '$Label1'], internalDate: new Date('2020-02-09T03:04:05Z'), body },
        { flags: [], internalDate: new Date('2021-01-01T00:00:00Z'), body: withNul },
      ],
      true,
    );
    // Bodies are written as they are (the same Buffer objects), never copied.
    expect(chunks[1]).toBe(body);
    expect(chunks[3]).toBe(withNul);
    expect(Buffer.concat(chunks).toString('latin1')).toBe(
      'A1 APPEND "Sent Items/P&AOQ-p" (\\Seen $Label1) "09-Feb-2020 03:04:05 +0000" {' +
        body.length +
        '+}\r\n' +
        body.toString('latin1') +
        ' () "01-Jan-2021 00:00:00 +0000" ~{3+}\r\na\0b\r\n',
    );
    expect(mailboxArgument('INBOX')).toBe('INBOX');
    expect(mailboxArgument('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(() => mailboxArgument('a\r\nb')).toThrow();
    expect(() =>
      appendCommandChunks('A1', 'INBOX', [{ flags: ['bad kw'], internalDate: new Date(0), body }], false),
    ).toThrow(/flag/);
    expect(parseAppendUid([{ value: 'APPENDUID' }, { value: '38505' }, { value: '3955:3957,3960' }])).toEqual({
      uids: [3955, 3956, 3957, 3960],
      uidValidity: 38505n,
    });
    expect(parseAppendUid([{ value: 'TRYCREATE' }])).toEqual({});
  });
  it('classifies errors and keeps secrets out of options logging', () => {
    expect(classifyImapError({ authenticationFailed: true })).toBe('refused');
    expect(classifyImapError({ code: 'ECONNREFUSED' })).toBe('unreachable');
    expect(classifyImapError({ code: 'ETHROTTLE', throttleReset: 1000 })).toBe('throttled');
    expect(classifyImapError({ responseStatus: 'NO', responseText: 'Quota exceeded (mailbox for user is full)' })).toBe(
      'quota',
    );
    expect(classifyImapError({ responseStatus: 'NO', serverResponseCode: 'OVERQUOTA', responseText: 'x' })).toBe(
      'quota',
    );
    const o = imapOptions({
      url: 'imaps://mail.example.test',
      login: 'u',
      secret: { accessToken: 'tok' },
      options: { tls: { rejectUnauthorized: false } },
    });
    expect(o).toMatchObject({
      host: 'mail.example.test',
      port: 993,
      secure: true,
      logger: false,
      auth: { user: 'u', accessToken: 'tok' },
      tls: { rejectUnauthorized: false },
    });
    expect(
      imapOptions({
        url: 'imap://h:1143',
        login: 'u',
        secret: { password: 'p' },
        master: { user: 'adm', style: 'separator' },
      }),
    ).toMatchObject({ port: 1143, secure: false, auth: { user: 'u*adm', pass: 'p' } });
  });
});

describe('pacer', () => {
  it('lets the first batch go at once, then spaces batches by the rate; a batch holds a minute at most', () => {
    let now = 1_000_000;
    const pacer = new Pacer(3600, () => now); // one a second
    expect(pacer.perMinute).toBe(60);
    expect(pacer.reserve(60)).toBe(0);
    expect(pacer.reserve(60)).toBe(60_000);
    now += 30_000;
    expect(pacer.reserve(10)).toBe(90_000); // behind the two reserved minutes
    now += 10 * 60_000; // idle for a while: no credit is saved up beyond one batch
    expect(pacer.reserve(5)).toBe(0);
    expect(pacer.reserve(5)).toBe(5_000);
    expect(new Pacer(30).perMinute).toBe(1);
  });
});

describe('lanes worth their logins', () => {
  const job = (name: string, messages: number, bytes = 0): FolderJob => ({
    mapping: defined(mapFolders([folder(name)], [])[0]),
    stats: emptyStats(name, name),
    weight: bytes || messages,
    work: { messages, bytes },
  });
  it(
    'one lane per 500 messages or 32 MiB of work, at most one ' +
      'per destination folder and `connections`, at least one',
    () => {
      const small = ['INBOX', 'Sent', 'Archive', 'Drafts', 'Projects/Alpha'].map((f) => job(f, 20));
      expect(laneCount(small, 4, 500)).toBe(1);
      expect(laneCount(small, 4, 10)).toBe(4);
      expect(laneCount(small, 8, 10)).toBe(5); // one per destination folder
      expect(laneCount(small, 4, 40)).toBe(3);
      expect(laneCount([job('INBOX', 2000), job('Sent', 501)], 4, 500)).toBe(2);
      // Few messages, many bytes: 100 MiB in 10 messages.
      expect(laneCount([job('INBOX', 5, 60 << 20), job('Sent', 5, 40 << 20)], 4, 500)).toBe(2);
      // STATUS did not tell: as many as allowed.
      expect(laneCount([job('A', Infinity, Infinity), job('B', 1)], 4, 500)).toBe(2);
      // Two source folders into one destination folder: one lane, whatever the work.
      expect(laneCount([job('Sent Items', 5000), job('sent items', 5000)], 4, 500)).toBe(1);
      expect(laneCount([], 4, 500)).toBe(1);
    },
  );
  it('where folders can be split over lanes, one big folder is worth as many lanes as its work', () => {
    expect(laneCount([job('INBOX', 5000)], 4, 500)).toBe(1);
    expect(laneCount([job('INBOX', 5000)], 4, 500, true)).toBe(4);
    expect(laneCount([job('INBOX', 800)], 4, 500, true)).toBe(2);
    expect(laneCount([job('Sent Items', 5000), job('sent items', 5000)], 4, 500, true)).toBe(4);
    expect(laneCount([job('INBOX', 100)], 4, 500, true)).toBe(1);
  });
});

describe('work of a folder, estimated before it is opened', () => {
  const withStatus = (path: string, status: MailFolder['status']): MailFolder => ({ ...folder(path), status });
  const pass = () => {
    const nowhere = { url: 'imap://127.0.0.1:1', login: 'x', secret: { password: 'x' } };
    return new PassState(
      { itemId: 'w', source: nowhere, destination: nowhere, checkpoints: createMemoryCheckpointStore() },
      passSettings(),
    );
  };
  it('new UIDs above the checkpoint (at most the message count) plus refused ones; the whole folder otherwise', () => {
    const p = pass();
    const done = {
      ...emptyCheckpoint('INBOX', 'INBOX', 7n),
      lastUid: 900,
      srcUidNext: 901,
      srcMessages: 900,
      destUidValidity: 1n,
    };
    p.checkpoints.set('INBOX', done);
    p.checkpoints.set('Old', { ...emptyCheckpoint('Old', 'Old', 5n), lastUid: 50 });
    p.setSkipped([{ sourceFolder: 'INBOX', uid: 12, size: 10, reason: 'too big' }]);
    const src = [
      withStatus('INBOX', { messages: 905, uidNext: 906, uidValidity: 7n, size: 905 * 4000 }),
      withStatus('Old', { messages: 80, uidNext: 81, uidValidity: 6n }), // UIDVALIDITY changed: everything is matched
      withStatus('New', { messages: 30, uidNext: 31, uidValidity: 1n, size: 300_000 }),
      folder('Dark'), // no STATUS
    ];
    const jobs = folderJobs(
      p,
      mapFolders(src, [withStatus('INBOX', { messages: 900, uidNext: 901, uidValidity: 1n })]),
    );
    const work = Object.fromEntries(jobs.map((j) => [j.mapping.sourceName, j.work]));
    expect(work.INBOX).toEqual({ messages: 6, bytes: 24_000 }); // 5 new + 1 refused, in proportion of the folder's size
    expect(work.Old).toEqual({ messages: 80, bytes: 0 });
    expect(work.New).toEqual({ messages: 30, bytes: 300_000 });
    expect(work.Dark).toEqual({ messages: Infinity, bytes: Infinity });
    expect(
      laneCount(
        jobs.filter((j) => j.mapping.sourceName !== 'Dark'),
        4,
        500,
      ),
    ).toBe(1);
    expect(laneCount(jobs, 4, 500)).toBe(4);
  });
});
