import type { Db } from './db.ts';
import type { CheckpointStore, FolderCheckpoint, SkippedMessage } from '../copy/types.ts';

/**
 * The copy engine's {@link CheckpointStore} on Prisma: per-folder counters and the
 * UIDVALIDITY/last-UID checkpoint in FolderState, the crash-safety details beside it in
 * CopyCheckpoint (same key, written in the same transaction), refused messages in
 * SkippedMessage. SQLite commits are durable when the promise resolves (WAL).
 */
export function createPrismaCheckpointStore(db: Db): CheckpointStore {
  return {
    async load(itemId) {
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
    },
    async save(itemId, cp) {
      const key = { itemId_sourceFolder: { itemId, sourceFolder: cp.sourceFolder } };
      const state = {
        destFolder: cp.destFolder,
        uidValidity: cp.uidValidity,
        lastUid: cp.lastUid,
        messagesFound: cp.messagesFound,
        bytesFound: BigInt(cp.bytesFound),
        messagesCopied: cp.messagesCopied,
        bytesCopied: BigInt(cp.bytesCopied),
        messagesPresent: cp.messagesPresent,
        messagesSkipped: cp.messagesSkipped,
      };
      const detail = {
        srcUidNext: cp.srcUidNext,
        srcMessages: cp.srcMessages,
        srcBytes: BigInt(cp.srcBytes),
        destUidValidity: cp.destUidValidity,
        rematchAll: cp.rematchAll,
        pendingToUid: cp.pendingToUid,
        pendingDestUidNext: cp.pendingDestUidNext,
        srcHighestModseq: cp.srcHighestModseq,
      };
      // One transaction: the last UID and the pending range must never disagree on disk.
      await db.$transaction([
        db.folderState.upsert({ where: key, create: { itemId, sourceFolder: cp.sourceFolder, ...state }, update: state }),
        db.copyCheckpoint.upsert({ where: key, create: { itemId, sourceFolder: cp.sourceFolder, ...detail }, update: detail }),
      ]);
    },
    async recordSkipped(itemId, list) {
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
    },
    async listSkipped(itemId) {
      const rows = await db.skippedMessage.findMany({ where: { itemId }, orderBy: [{ sourceFolder: 'asc' }, { uid: 'asc' }] });
      return rows.map((r): SkippedMessage => ({ sourceFolder: r.sourceFolder, uid: r.uid, size: r.size, reason: r.reason }));
    },
  };
}

/** Deletes an item's copy statistics and checkpoints (item deletion; never touches mail). */
export async function deleteFolderStates(db: Db, itemId: string): Promise<void> {
  await db.$transaction([
    db.folderState.deleteMany({ where: { itemId } }),
    db.copyCheckpoint.deleteMany({ where: { itemId } }),
    db.skippedMessage.deleteMany({ where: { itemId } }),
  ]);
}
