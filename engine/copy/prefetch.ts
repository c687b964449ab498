import type { ImapFlow } from 'imapflow';
import type { ByteBudget } from './byte-budget.ts';
import { fetchBodies, type OutgoingMessage } from './copy-batch.ts';
import { onSide, type MessageMeta } from './plan-folder.ts';

function bytesOf(batch: MessageMeta[]): number {
  return batch.reduce((s, m) => s + m.size, 0);
}

/**
 * The buffered path's read-ahead: batch i+1 is fetched from the source while batch i is
 * appended (different connections), within the pass's shared memory budget. The bytes of
 * a batch are taken before its fetch and given back after its append ({@link releaseHeld}),
 * when its fetch fails, or when it is dropped ({@link close}).
 */
export class Prefetch {
  private ahead: Promise<OutgoingMessage[]> | null = null;
  private aheadBytes = 0;
  private held = 0;

  constructor(
    private readonly budget: ByteBudget,
    private readonly src: ImapFlow,
    private readonly batches: MessageMeta[][],
  ) {
    this.start(0);
  }

  private start(i: number): void {
    const batch = this.batches[i];
    if (!batch) {
      this.ahead = null;
      this.aheadBytes = 0;
      return;
    }
    const n = bytesOf(batch);
    const p = this.budget.acquire(n).then(() =>
      onSide('source', fetchBodies(this.src, batch)).catch((err: unknown) => {
        this.budget.release(n);
        throw err;
      }),
    );
    p.catch(() => undefined);
    this.ahead = p;
    this.aheadBytes = n;
  }

  /** The bodies of batch `i` (fetched ahead); its bytes are held until {@link releaseHeld}, and batch i+1 starts. */
  async take(i: number): Promise<OutgoingMessage[]> {
    if (!this.ahead) throw new Error(`batch ${i} was not fetched ahead`);
    const bodies = await this.ahead;
    this.held = this.aheadBytes;
    this.start(i + 1);
    return bodies;
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
    if (pending) await pending.then(() => this.budget.release(this.aheadBytes)).catch(() => undefined);
  }
}
