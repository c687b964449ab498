import type { Db } from './db.ts';
import { dialectOf } from './dialect.ts';
import { directSqlOf, type DirectSql } from './direct-sql.ts';
import type { AlteredMessage, CheckpointStore, FolderCheckpoint, SkippedMessage } from '../copy/types.ts';

/**
 * The copy engine's {@link CheckpointStore} on Prisma: per-folder counters and the
 * UIDVALIDITY/last-UID checkpoint in FolderState, the crash-safety details beside it in
 * CopyCheckpoint (same key, written in the same transaction), refused messages in
 * SkippedMessage, messages the destination stored differently in AlteredMessage. SQLite commits are durable when the
 * promise resolves (WAL).
 */
export function createPrismaCheckpointStore(db: Db): CheckpointStore {
  return {
    load: (itemId) => loadCheckpoints(db, itemId),
    save: (itemId, cp) => saveCheckpoint(db, itemId, cp),
    recordSkipped: (itemId, list) => recordSkipped(db, itemId, list),
    clearSkipped: (itemId, sourceFolder, uids) => clearSkipped(db, itemId, sourceFolder, uids),
    recordAltered: (itemId, list) => recordAltered(db, itemId, list),
    listSkipped: (itemId) => listSkipped(db, itemId),
  };
}

/** A FolderState row joined with its CopyCheckpoint row (absent: its columns null). */
const LOAD_SQL =
  `SELECT s."sourceFolder", s."destFolder", s."uidValidity", s."lastUid", s."messagesFound", s."bytesFound", ` +
  `s."messagesCopied", s."bytesCopied", s."messagesPresent", s."messagesSkipped", d."srcUidNext", d."srcMessages", ` +
  `d."srcBytes", d."destUidValidity", d."rematchAll", d."pendingToUid", d."pendingDestUidNext", ` +
  `d."srcHighestModseq" FROM "FolderState" s LEFT JOIN "CopyCheckpoint" d ` +
  `ON d."itemId" = s."itemId" AND d."sourceFolder" = s."sourceFolder" WHERE s."itemId" = ?`;

/** A column read by the direct path (integers as decimal strings) as a number, or `absent` for NULL. */
function num<T>(v: unknown, absent: T): number | T {
  return v === null || v === undefined ? absent : Number(v);
}
function big<T>(v: unknown, absent: T): bigint | T {
  return v === null || v === undefined ? absent : BigInt(v as string);
}

/** The checkpoints of an item read straight from SQLite's connection (one query; direct-sql.ts). */
async function loadDirect(direct: DirectSql, itemId: string): Promise<Map<string, FolderCheckpoint>> {
  const out = new Map<string, FolderCheckpoint>();
  for (const r of await direct.query(LOAD_SQL, [itemId])) {
    const sourceFolder = String(r.sourceFolder);
    out.set(sourceFolder, {
      sourceFolder,
      destFolder: String(r.destFolder),
      uidValidity: BigInt(r.uidValidity as string),
      lastUid: Number(r.lastUid),
      srcUidNext: num(r.srcUidNext, 0),
      srcMessages: num(r.srcMessages, -1),
      srcBytes: num(r.srcBytes, 0),
      destUidValidity: big(r.destUidValidity, null),
      rematchAll: r.rematchAll !== null && r.rematchAll !== undefined && Number(r.rematchAll) !== 0,
      pendingToUid: num(r.pendingToUid, null),
      pendingDestUidNext: num(r.pendingDestUidNext, null),
      srcHighestModseq: big(r.srcHighestModseq, null),
      messagesFound: Number(r.messagesFound),
      bytesFound: Number(r.bytesFound),
      messagesCopied: Number(r.messagesCopied),
      bytesCopied: Number(r.bytesCopied),
      messagesPresent: Number(r.messagesPresent),
      messagesSkipped: Number(r.messagesSkipped),
    });
  }
  return out;
}

/** All folder checkpoints of an item, keyed by source folder path (`CheckpointStore.load`). */
async function loadCheckpoints(db: Db, itemId: string): Promise<Map<string, FolderCheckpoint>> {
  const direct = directSqlOf(db);
  if (direct) return loadDirect(direct, itemId);
  const [states, details] = await Promise.all([
    db.folderState.findMany({ where: { itemId } }),
    db.copyCheckpoint.findMany({ where: { itemId } }),
  ]);
  const byFolder = new Map(details.map((d) => [d.sourceFolder, d]));
  const out = new Map<string, FolderCheckpoint>();
  for (const s of states) {
    const d = byFolder.get(s.sourceFolder);
    out.set(s.sourceFolder, {
      sourceFolder: s.sourceFolder,
      destFolder: s.destFolder,
      uidValidity: s.uidValidity,
      lastUid: s.lastUid,
      srcUidNext: d?.srcUidNext ?? 0,
      srcMessages: d?.srcMessages ?? -1,
      srcBytes: Number(d?.srcBytes ?? 0),
      destUidValidity: d?.destUidValidity ?? null,
      rematchAll: d?.rematchAll ?? false,
      pendingToUid: d?.pendingToUid ?? null,
      pendingDestUidNext: d?.pendingDestUidNext ?? null,
      srcHighestModseq: d?.srcHighestModseq ?? null,
      messagesFound: s.messagesFound,
      bytesFound: Number(s.bytesFound),
      messagesCopied: s.messagesCopied,
      bytesCopied: Number(s.bytesCopied),
      messagesPresent: s.messagesPresent,
      messagesSkipped: s.messagesSkipped,
    });
  }
  return out;
}

/** The columns of a checkpoint's two rows, after the key ("itemId", "sourceFolder"). */
const FOLDER_STATE_COLUMNS = [
  'destFolder',
  'uidValidity',
  'lastUid',
  'messagesFound',
  'bytesFound',
  'messagesCopied',
  'bytesCopied',
  'messagesPresent',
  'messagesSkipped',
  'updatedAt',
] as const;
const COPY_CHECKPOINT_COLUMNS = [
  'srcUidNext',
  'srcMessages',
  'srcBytes',
  'destUidValidity',
  'rematchAll',
  'pendingToUid',
  'pendingDestUidNext',
  'srcHighestModseq',
  'updatedAt',
] as const;

/** `INSERT … ON CONFLICT DO UPDATE` of one row keyed by item and folder (the same on SQLite and PostgreSQL). */
function upsertSql(table: string, columns: readonly string[], placeholder: (i: number) => string): string {
  const all = ['itemId', 'sourceFolder', ...columns];
  const names = all.map((c) => `"${c}"`).join(', ');
  const values = all.map((_, i) => placeholder(i)).join(', ');
  const updates = columns.map((c) => `"${c}" = excluded."${c}"`).join(', ');
  return (
    `INSERT INTO "${table}" (${names}) VALUES (${values}) ` +
    `ON CONFLICT ("itemId", "sourceFolder") DO UPDATE SET ${updates}`
  );
}

const sqlitePlaceholder = () => '?';
const pgPlaceholder = (i: number) => `$${i + 1}`;
const UPSERTS = {
  sqlite: [
    upsertSql('FolderState', FOLDER_STATE_COLUMNS, sqlitePlaceholder),
    upsertSql('CopyCheckpoint', COPY_CHECKPOINT_COLUMNS, sqlitePlaceholder),
  ],
  postgresql: [
    upsertSql('FolderState', FOLDER_STATE_COLUMNS, pgPlaceholder),
    upsertSql('CopyCheckpoint', COPY_CHECKPOINT_COLUMNS, pgPlaceholder),
  ],
} as const;

/**
 * Writes one folder checkpoint: its FolderState and CopyCheckpoint rows (`CheckpointStore.save`).
 *
 * Written once or twice per batch, so it is the store's hot path: two plain upserts in one
 * transaction (the last UID and the pending range must never disagree on disk). On SQLite
 * they go straight to the connection (direct-sql.ts): ~0.1 ms of CPU a save, against ~1 ms
 * through Prisma's client with raw SQL and ~2.8 ms with its model upserts (measured), which
 * is most of the store's share of a pass of many small mailboxes.
 */
async function saveCheckpoint(db: Db, itemId: string, cp: FolderCheckpoint): Promise<void> {
  const f = cp.sourceFolder;
  const now = new Date();
  const state: unknown[] = [
    itemId,
    f,
    cp.destFolder,
    cp.uidValidity,
    cp.lastUid,
    cp.messagesFound,
    BigInt(cp.bytesFound),
  ];
  state.push(cp.messagesCopied, BigInt(cp.bytesCopied), cp.messagesPresent, cp.messagesSkipped, now);
  const detail: unknown[] = [
    itemId,
    f,
    cp.srcUidNext,
    cp.srcMessages,
    BigInt(cp.srcBytes),
    cp.destUidValidity,
    cp.rematchAll,
  ];
  detail.push(cp.pendingToUid, cp.pendingDestUidNext, cp.srcHighestModseq, now);
  const direct = directSqlOf(db);
  if (direct) {
    const [stateSql, detailSql] = UPSERTS.sqlite;
    await direct.transaction([
      { sql: stateSql, args: state },
      { sql: detailSql, args: detail },
    ]);
    return;
  }
  const [stateSql, detailSql] = UPSERTS[dialectOf(db)];
  await db.$transaction([db.$executeRawUnsafe(stateSql, ...state), db.$executeRawUnsafe(detailSql, ...detail)]);
}

/** Records refused messages, idempotent per folder + UID (`CheckpointStore.recordSkipped`). */
async function recordSkipped(db: Db, itemId: string, list: SkippedMessage[]): Promise<void> {
  if (!list.length) return;
  await db.$transaction(
    list.map((s) =>
      db.skippedMessage.upsert({
        where: { itemId_sourceFolder_uid: { itemId, sourceFolder: s.sourceFolder, uid: s.uid } },
        create: { itemId, sourceFolder: s.sourceFolder, uid: s.uid, size: s.size, reason: s.reason.slice(0, 1000) },
        update: { size: s.size, reason: s.reason.slice(0, 1000) },
      }),
    ),
  );
}

/** Forgets refused messages that are at the destination now (`CheckpointStore.clearSkipped`). */
async function clearSkipped(db: Db, itemId: string, sourceFolder: string, uids: number[]): Promise<void> {
  if (!uids.length) return;
  for (let i = 0; i < uids.length; i += 500) {
    await db.skippedMessage.deleteMany({ where: { itemId, sourceFolder, uid: { in: uids.slice(i, i + 500) } } });
  }
}

/** Records messages the destination stored differently, the latest winning (`CheckpointStore.recordAltered`). */
async function recordAltered(db: Db, itemId: string, list: AlteredMessage[]): Promise<void> {
  if (!list.length) return;
  for (let i = 0; i < list.length; i += 500) {
    await db.$transaction(
      list.slice(i, i + 500).map((a) => {
        const row = {
          destFolder: a.destFolder,
          destUid: a.destUid,
          sourceSize: a.sourceSize,
          destSize: a.destSize,
          reason: a.reason.slice(0, 1000),
        };
        return db.alteredMessage.upsert({
          where: { itemId_sourceFolder_uid: { itemId, sourceFolder: a.sourceFolder, uid: a.uid } },
          create: { itemId, sourceFolder: a.sourceFolder, uid: a.uid, ...row },
          update: row,
        });
      }),
    );
  }
}

/** Refused messages of an item, by folder and UID (`CheckpointStore.listSkipped`). */
async function listSkipped(db: Db, itemId: string): Promise<SkippedMessage[]> {
  const rows = await db.skippedMessage.findMany({
    where: { itemId },
    orderBy: [{ sourceFolder: 'asc' }, { uid: 'asc' }],
  });
  return rows.map(
    (r): SkippedMessage => ({ sourceFolder: r.sourceFolder, uid: r.uid, size: r.size, reason: r.reason }),
  );
}

/** Deletes an item's copy statistics and checkpoints (item deletion; never touches mail). */
export async function deleteFolderStates(db: Db, itemId: string): Promise<void> {
  await db.$transaction([
    db.folderState.deleteMany({ where: { itemId } }),
    db.copyCheckpoint.deleteMany({ where: { itemId } }),
    db.skippedMessage.deleteMany({ where: { itemId } }),
    db.alteredMessage.deleteMany({ where: { itemId } }),
  ]);
}

/** Messages of an item the destination stored differently (all passes), by folder and UID. */
export async function listAlteredMessages(db: Db, itemId: string): Promise<AlteredMessage[]> {
  const rows = await db.alteredMessage.findMany({
    where: { itemId },
    orderBy: [{ sourceFolder: 'asc' }, { uid: 'asc' }],
  });
  return rows.map(
    (r): AlteredMessage => ({
      sourceFolder: r.sourceFolder,
      uid: r.uid,
      destFolder: r.destFolder,
      destUid: r.destUid,
      sourceSize: r.sourceSize,
      destSize: r.destSize,
      reason: r.reason,
    }),
  );
}
