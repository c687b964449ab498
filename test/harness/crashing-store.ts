import { CopyError, type CheckpointStore } from '../../engine/copy/index.ts';

/**
 * Wraps a checkpoint store so that save number `k` throws instead of writing: a simulated
 * crash at that write. `onCrash` is told when it happens (e.g. to let a held answer go).
 */
export function crashingStore(inner: CheckpointStore, k: number, onCrash?: () => void): CheckpointStore {
  let saves = 0;
  return {
    ...inner,
    load: (i) => inner.load(i),
    listSkipped: (i) => inner.listSkipped(i),
    recordSkipped: (i, l) => inner.recordSkipped(i, l),
    clearSkipped: (i, f, u) => inner.clearSkipped(i, f, u),
    async save(itemId, cp) {
      if (++saves === k) {
        onCrash?.();
        throw new CopyError('SIMULATED_CRASH', 'Internal', 'simulated crash');
      }
      await inner.save(itemId, cp);
    },
  };
}
