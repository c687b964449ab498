/** The copy engine (IMAP → IMAP): one pass of one item. See engine/copy/README.md. */
export { runPass } from './run-pass.ts';
export { createMemoryCheckpointStore, emptyCheckpoint } from './checkpoint.ts';
export { mapFolders, globMatches, isIncluded } from './map-folders.ts';
export { fingerprintOf } from './fingerprint.ts';
export { CopyError, inWindow } from './types.ts';
export type {
  PassInput,
  PassResult,
  PassProgress,
  PassStats,
  PassOptions,
  PassFailureReason,
  FolderStats,
  FolderRules,
  FolderCheckpoint,
  CheckpointStore,
  SkippedMessage,
  CopyCounters,
  DateWindow,
} from './types.ts';
