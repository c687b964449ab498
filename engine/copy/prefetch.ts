import type { ImapFlow } from 'imapflow';
import type { ByteBudget } from './byte-budget.ts';
import { fetchBodies, type OutgoingMessage } from './copy-batch.ts';
import { onSide, type MessageMeta } from './plan-folder.ts';

function bytesOf(batch: MessageMeta[]): number {
  return batch.reduce((s, m) => s + m.size, 0);
}

/** A batch and its bodies, fetched ahead. */
export interface FetchedBatch {
  batch: MessageMeta[];
  bodies: OutgoingMessage[];
}

/**
 * The buffered path's read-ahead: batch i+1 is fetched from the source while batch i is
 * appended (different connections), within the pass's shared memory budget. Batches come
 * from `next` (the folder's queue: a batch is this lane's once its fetch starts). The bytes
 * of a batch are taken before its fetch and given back after its append
 * ({@link releaseHeld}), when its fetch fails, or when it is dropped ({@link close}).
 */
export class Prefetch {
  private ahead: Promise<FetchedBatch> | null = null;
  private aheadBytes = 0;
  private aheadBatch: MessageMeta[] | undefined;
  private held = 0;

  constructor(
    private readonly budget: ByteBudget,
    private readonly src: ImapFlow,
    private readonly next: () => MessageMeta[] | undefined,
  ) {
    this.start();
  }

  private start(): void {
    const batch = this.next();
    this.aheadBatch = batch;
    if (!batch) {
      this.ahead = null;
      this.aheadBytes = 0;
      return;
    }
    const n = bytesOf(batch);
    const p = this.budget.acquire(n).then(() =>
      onSide('source', fetchBodies(this.src, batch)).then(
        (bodies) => ({ batch, bodies }),
        (err: unknown) => {
          this.budget.release(n);
          throw err;
        },
      ),
    );
    p.catch(() => undefined);
    this.ahead = p;
    this.aheadBytes = n;
  }

  /**
   * The next batch with its bodies (fetched ahead), undefined when the queue gave none; its
   * bytes are held until {@link releaseHeld}, and the fetch of the batch after it starts.
   */
  async take(): Promise<FetchedBatch | undefined> {
    if (!this.ahead) return undefined;
    const fetched = await this.ahead;
    this.held = this.aheadBytes;
    this.start();
    return fetched;
  }

  /** The batch the next {@link take} returns (its fetch under way), if any. */
  get nextBatch(): MessageMeta[] | undefined {
    return this.aheadBatch;
  }

  /** The batch taken last is appended (or dropped): its bytes go back. */
  releaseHeld(): void {
    this.budget.release(this.held);
    this.held = 0;
  }

  /**
   * Gives back every byte: of the batch taken, and of a batch fetched ahead but not appended (stop, failure; a failed
   * fetch already did).
   */
  async close(): Promise<void> {
    this.releaseHeld();
    const pending = this.ahead;
    this.ahead = null;
    if (pending) await pending.then(() => this.budget.release(this.aheadBytes)).catch(() => undefined);
  }
}
