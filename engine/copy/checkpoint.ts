import {
  ZERO_COUNTERS,
  type AlteredMessage,
  type CheckpointStore,
  type FolderCheckpoint,
  type SkippedMessage,
} from './types.ts';

/** A fresh checkpoint for a folder never copied (or whose UIDVALIDITY changed). */
export function emptyCheckpoint(sourceFolder: string, destFolder: string, uidValidity: bigint): FolderCheckpoint {
  return {
    sourceFolder,
    destFolder,
    uidValidity,
    lastUid: 0,
    srcUidNext: 0,
    srcMessages: -1,
    srcBytes: 0,
    destUidValidity: null,
    rematchAll: false,
    pendingToUid: null,
    pendingDestUidNext: null,
    srcHighestModseq: null,
    ...ZERO_COUNTERS,
  };
}

/**
 * Records the intent to append source UIDs up to `toUid` before the APPEND is sent
 * (write-ahead): if the process dies mid-APPEND, the resume knows which destination UIDs
 * (≥ `destUidNext`) to match by fingerprint. An older unconfirmed range keeps its lower
 * destination floor, so nothing appended earlier escapes the match.
 */
export function withPending(
  cp: FolderCheckpoint,
  toUid: number,
  destUidNext: number,
  destUidValidity: bigint,
): FolderCheckpoint {
  const keepFloor =
    cp.pendingToUid !== null && cp.pendingDestUidNext !== null && cp.destUidValidity === destUidValidity;
  return {
    ...cp,
    destUidValidity,
    pendingToUid: Math.max(toUid, cp.pendingToUid ?? 0),
    pendingDestUidNext: keepFloor ? Math.min(cp.pendingDestUidNext!, destUidNext) : destUidNext,
  };
}

/**
 * Confirms everything up to `uid` as copied, present or skipped. The pending range is
 * cleared only once the confirmation covers all of it.
 */
export function withConfirmed(cp: FolderCheckpoint, uid: number): FolderCheckpoint {
  const lastUid = Math.max(cp.lastUid, uid);
  const covered = cp.pendingToUid === null || lastUid >= cp.pendingToUid;
  return {
    ...cp,
    lastUid,
    pendingToUid: covered ? null : cp.pendingToUid,
    pendingDestUidNext: covered ? null : cp.pendingDestUidNext,
  };
}

/** An in-memory {@link CheckpointStore} for unit tests and one-shot runs (state dies with the process). */
export function createMemoryCheckpointStore(): CheckpointStore & {
  dump(): Record<string, FolderCheckpoint[]>;
  listAltered(itemId: string): AlteredMessage[];
} {
  const states = new Map<string, Map<string, FolderCheckpoint>>();
  const skipped = new Map<string, Map<string, SkippedMessage>>();
  const altered = new Map<string, Map<string, AlteredMessage>>();
  return {
    async load(itemId) {
      return new Map([...(states.get(itemId) ?? new Map<string, FolderCheckpoint>())].map(([k, v]) => [k, { ...v }]));
    },
    async save(itemId, cp) {
      if (!states.has(itemId)) states.set(itemId, new Map());
      states.get(itemId)!.set(cp.sourceFolder, { ...cp });
    },
    async recordSkipped(itemId, list) {
      if (!skipped.has(itemId)) skipped.set(itemId, new Map());
      const m = skipped.get(itemId)!;
      for (const s of list) m.set(`${s.sourceFolder}\u0000${s.uid}`, { ...s });
    },
    async listSkipped(itemId) {
      return [...(skipped.get(itemId)?.values() ?? [])];
    },
    async clearSkipped(itemId, sourceFolder, uids) {
      for (const u of uids) skipped.get(itemId)?.delete(`${sourceFolder}\u0000${u}`);
    },
    async recordAltered(itemId, list) {
      if (!altered.has(itemId)) altered.set(itemId, new Map());
      for (const a of list) altered.get(itemId)!.set(`${a.sourceFolder}\u0000${a.uid}`, { ...a });
    },
    listAltered(itemId) {
      return [...(altered.get(itemId)?.values() ?? [])];
    },
    dump() {
      return Object.fromEntries([...states].map(([k, v]) => [k, [...v.values()]]));
    },
  };
}
