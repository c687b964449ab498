import { describe, expect, it } from 'vitest';
import { KeyedQueue } from '../../bot/keyed-queue.ts';

/** A task that finishes (or fails) only when the test says so, recording its start. */
function gate(log: string[], name: string) {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<string>((resolve, reject) => {
    open = () => resolve(name);
    fail = reject;
  });
  return { task: () => (log.push(`start ${name}`), done), open, fail };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('KeyedQueue', () => {
  it('runs tasks of one key one after another, in order, even when one fails', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const c = gate(log, 'c');
    const ra = q.run('thread', a.task);
    const rb = q.run('thread', b.task);
    const rc = q.run('thread', c.task);
    await tick();
    expect(log).toEqual(['start a']);
    a.fail(new Error('refused'));
    await expect(ra).rejects.toThrow('refused');
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    b.open();
    await expect(rb).resolves.toBe('b');
    c.open();
    await expect(rc).resolves.toBe('c');
    expect(log).toEqual(['start a', 'start b', 'start c']);
  });

  it('runs tasks of different keys side by side, and forgets a key once its tasks are done', async () => {
    const q = new KeyedQueue();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const ra = q.run('one', a.task);
    const rb = q.run('two', b.task);
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    expect(q.size).toBe(2);
    let idle = false;
    const waiting = q.idle().then(() => (idle = true));
    b.open();
    await rb;
    await tick();
    expect(idle).toBe(false);
    a.open();
    await ra;
    await waiting;
    await tick();
    expect(q.size).toBe(0);
  });
});
