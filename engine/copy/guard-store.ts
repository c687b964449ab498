import { traced } from '../trace.ts';
import {
  CopyError,
  type AlteredMessage,
  type CheckpointStore,
  type FolderCheckpoint,
  type SkippedMessage,
} from './types.ts';

/** The message of whatever was thrown. */
function messageOf(err: unknown): string {
  const m = typeof err === 'object' && err !== null && 'message' in err ? err.message : undefined;
  return m === undefined || m === null ? String(err) : String(m);
}

/**
 * The checkpoint store, with its failures turned into a {@link CopyError} (`STORE`,
 * Internal): a database error ends the pass at once, never retried as an IMAP error nor
 * reported as something a server said.
 */
export function guardStore(store: CheckpointStore): CheckpointStore {
  const wrap =
    <A extends unknown[], R>(what: string, f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await traced(`store ${what}`, String(a[0]), f(...a));
      } catch (err) {
        throw new CopyError(
          'STORE',
          'Internal',
          `internal error: the checkpoint store failed to ${what}: ${messageOf(err)}`.slice(0, 500),
          { cause: err },
        );
      }
    };
  return {
    load: wrap('load checkpoints', (i: string) => store.load(i)),
    save: wrap('save a checkpoint', (i: string, cp: FolderCheckpoint) => store.save(i, cp)),
    recordSkipped: wrap('record refused messages', (i: string, l: SkippedMessage[]) => store.recordSkipped(i, l)),
    listSkipped: wrap('list refused messages', (i: string) => store.listSkipped(i)),
    clearSkipped: wrap('clear refused messages', (i: string, f: string, u: number[]) => store.clearSkipped(i, f, u)),
    recordAltered: wrap('record altered messages', async (i: string, l: AlteredMessage[]) =>
      store.recordAltered?.(i, l),
    ),
  };
}
