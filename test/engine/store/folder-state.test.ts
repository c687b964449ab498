import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyCheckpoint } from '../../../engine/copy/checkpoint.ts';
import type { FolderCheckpoint } from '../../../engine/copy/types.ts';
import { openDb, type Db } from '../../../engine/store/db.ts';
import { createPrismaCheckpointStore } from '../../../engine/store/folder-state.ts';
import { testDbUrl } from '../../harness/test-db.ts';

// The checkpoint store's hot path (saves and the load at a pass's start) goes straight to
// SQLite's connection, not through Prisma's client: what is saved must load back exactly,
// on either database, including values past 2^53 and the columns of a missing detail row.

let dir: string;
let db: Db;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mf-folder-state-'));
  ({ db } = await openDb(testDbUrl(dir)));
  await db.project.create({
    data: {
      id: 'p',
      name: 'p',
      sourceUrl: 'imap://s',
      sourceAuth: 'admin',
      destinationUrl: 'imap://d',
      destinationAuth: 'admin',
      createdBy: 't',
    },
  });
  await db.item.create({
    data: {
      id: 'i',
      projectId: 'p',
      sourceAddress: 's@x',
      destinationAddress: 'd@x',
      sourceLogin: 's',
      destinationLogin: 'd',
      ask: 'source',
      notify: 'email',
      createdBy: 't',
    },
  });
});
afterAll(async () => {
  await db?.$disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('checkpoint store', () => {
  it('saves and loads a checkpoint exactly, its intent and big numbers included', async () => {
    const store = createPrismaCheckpointStore(db);
    const full: FolderCheckpoint = {
      ...emptyCheckpoint('Projects/Alpha', 'Projekte/Alpha', 4_294_967_295n),
      lastUid: 41,
      srcUidNext: 99,
      srcMessages: 57,
      srcBytes: 2 ** 40,
      destUidValidity: 1_700_000_001n,
      rematchAll: true,
      pendingToUid: 60,
      pendingDestUidNext: 12,
      srcHighestModseq: 9_007_199_254_740_993n,
      messagesFound: 57,
      bytesFound: 3 * 2 ** 33,
      messagesCopied: 40,
      bytesCopied: 2 ** 35,
      messagesPresent: 1,
      messagesSkipped: 2,
    };
    const fresh = emptyCheckpoint('INBOX', 'INBOX', 1n);
    await store.save('i', full);
    await store.save('i', fresh);
    expect(await store.load('i')).toEqual(
      new Map([
        ['Projects/Alpha', full],
        ['INBOX', fresh],
      ]),
    );
    // The intent confirmed: the pending range and the re-match flag read back cleared.
    const confirmed = { ...full, lastUid: 60, pendingToUid: null, pendingDestUidNext: null, rematchAll: false };
    await store.save('i', confirmed);
    expect((await store.load('i')).get('Projects/Alpha')).toEqual(confirmed);
  });

  it('a FolderState row without its CopyCheckpoint row loads with the detail defaults', async () => {
    await db.folderState.create({
      data: { itemId: 'i', sourceFolder: 'Old', destFolder: 'Old', uidValidity: 7n, lastUid: 3 },
    });
    const cp = (await createPrismaCheckpointStore(db).load('i')).get('Old');
    expect(cp).toMatchObject({
      uidValidity: 7n,
      lastUid: 3,
      srcUidNext: 0,
      srcMessages: -1,
      srcBytes: 0,
      destUidValidity: null,
      rematchAll: false,
      pendingToUid: null,
      pendingDestUidNext: null,
      srcHighestModseq: null,
    });
  });
});
