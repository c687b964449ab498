import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../bot/outreach/limit.ts';

describe('ConcurrencyLimit', () => {
  it('runs at most max tasks at once, the others in arrival order, and a failed task frees its slot', async () => {
    const limit = new ConcurrencyLimit(2);
    let open = 0;
    let max = 0;
    const started: number[] = [];
    const gates: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      limit.run(async () => {
        started.push(i);
        max = Math.max(max, ++open);
        await new Promise<void>((r) => gates.push(r));
        open--;
        if (i === 1) throw new Error('refused');
        return i;
      }),
    );
    for (const t of tasks) t.catch(() => undefined); // the failure is checked below
    // Let each started task reach its gate, then open the gates one by one.
    for (let k = 0; k < 6; k++) {
      await new Promise((r) => setImmediate(r));
      expect(open).toBeLessThanOrEqual(2);
      expect(limit.active + limit.queued).toBe(6 - k);
      gates.shift()!();
    }
    const results = await Promise.allSettled(tasks);
    expect(max).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(limit.active).toBe(0);
  });

  it('refuses a bound that is not a whole number of at least 1', () => {
    expect(() => new ConcurrencyLimit(0)).toThrow(/at least 1/);
    expect(() => new ConcurrencyLimit(1.5)).toThrow(/at least 1/);
  });
});
