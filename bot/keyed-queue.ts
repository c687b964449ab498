/**
 * Runs tasks one after another per key, tasks of different keys side by side: a later task
 * with a key starts once every earlier one with that key has settled, whether it succeeded
 * or failed. Used where order per key matters: posts to one chat thread (Slack, Teams; a
 * post waiting out a 429 holds the ones behind it) and submissions of one form link (a
 * second POST sees the link as the first left it).
 */
export class KeyedQueue {
  private tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task with the same key has settled; settles like it. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Settles once every task queued so far has. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }

  /** Keys with a task queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
