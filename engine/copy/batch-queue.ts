import type { MessageMeta } from './plan-folder.ts';

/**
 * The batches of one folder's copy, taken in UID order by the lanes that copy the folder:
 * its own lane, and lanes that join it when they have no folder of their own (a split
 * folder, see "Memory and parallelism" in README.md). The first failure of any lane stops
 * every lane from taking more; the folder is then retried from its checkpoint.
 */
export class BatchQueue {
  private next = 0;
  /** Messages and bytes in batches i.. (i = 0…n). */
  private readonly messagesFrom: number[];
  private readonly bytesFrom: number[];
  private failure: { err: unknown } | null = null;
  /** Batches whose APPEND was answered and whose outcome is taken in. */
  done = 0;

  constructor(readonly batches: MessageMeta[][]) {
    const n = batches.length;
    this.messagesFrom = new Array<number>(n + 1).fill(0);
    this.bytesFrom = new Array<number>(n + 1).fill(0);
    for (let i = n - 1; i >= 0; i--) {
      const b = batches[i] ?? [];
      this.messagesFrom[i] = (this.messagesFrom[i + 1] ?? 0) + b.length;
      this.bytesFrom[i] = (this.bytesFrom[i + 1] ?? 0) + b.reduce((s, m) => s + m.size, 0);
    }
  }

  /** The next batch, now this lane's; undefined when none is left or a lane failed. */
  take(): MessageMeta[] | undefined {
    if (this.failure) return undefined;
    const b = this.batches[this.next];
    if (b) this.next++;
    return b;
  }

  /** The batch the next {@link take} returns, left in the queue. */
  peek(): MessageMeta[] | undefined {
    return this.failure ? undefined : this.batches[this.next];
  }

  /** Batches not taken yet. */
  get untakenBatches(): number {
    return this.batches.length - this.next;
  }

  /** Messages in the batches not taken yet. */
  get untakenMessages(): number {
    return this.messagesFrom[this.next] ?? 0;
  }

  /** Bytes in the batches not taken yet. */
  get untakenBytes(): number {
    return this.bytesFrom[this.next] ?? 0;
  }

  /** The highest source UID of any batch (0 when there is none). */
  get maxUid(): number {
    let max = 0;
    for (const b of this.batches) for (const m of b) max = Math.max(max, m.uid);
    return max;
  }

  /** Every batch was sent and taken in. */
  get allDone(): boolean {
    return this.done === this.batches.length;
  }

  /** A lane failed: no lane takes another batch. The first error is kept. */
  fail(err: unknown): void {
    this.failure ??= { err };
  }

  /** The first lane's failure, if any. */
  get failed(): { err: unknown } | null {
    return this.failure;
  }
}
