import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Bulk control-plane work (bulk add, `start --all`, `start --waiting`) yields to the copies
 * running in this process. A copy shares the process's one event loop, its database
 * connection (one serialised connection on SQLite) and the machine's cores with the command:
 * a command that runs its batches back to back takes them all for as long as it runs, and
 * the copy's IMAP streams and checkpoint writes wait behind it.
 *
 * While at least one pass runs here, bulk work is cut into smaller batches (`bulkBatch`) and,
 * after each batch, pauses in proportion to the time the batch took (`yieldToPasses`), so it
 * takes at most `BULK_SHARE` of the time (up to `MAX_PAUSES_MS` of pauses per command) and a
 * checkpoint write never waits behind more than one small transaction. With no pass running, a batch only gives the event loop back
 * (requests and timers are served between batches) and the work runs at full speed.
 */

/** Passes running in this process now. */
let passes = 0;

/**
 * The share of wall time bulk work takes while passes run (0 < share ≤ 1).
 * MAILFERRY_BULK_SHARE sets it; default 0.25; 1 turns the pacing off.
 */
export const BULK_SHARE = shareFrom(process.env.MAILFERRY_BULK_SHARE);

/**
 * The most one bulk command pauses in all: an admin's `start --all` of thousands still
 * answers within seconds; past it, the rest runs unpaced (the batches stay small).
 */
export const MAX_PAUSES_MS = 2500;

/** Items per transaction of bulk work while passes run: short transactions, short stalls. */
export const NICE_BATCH = 200;

/** The longest single pause: a batch slowed by a loaded machine never stops the command for long. */
const MAX_PAUSE_MS = 1000;

function shareFrom(text: string | undefined): number {
  const n = Number(text);
  return text && Number.isFinite(n) && n > 0 && n <= 1 ? n : 0.25;
}

/** Records a pass running in this process until the returned function is called (idempotent). */
export function passRunning(): () => void {
  passes++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    passes--;
  };
}

/** Passes running in this process now. */
export function passesRunning(): number {
  return passes;
}

/** Items per transaction of a bulk command: `normal`, or at most `NICE_BATCH` while passes run here. */
export function bulkBatch(normal: number, share = BULK_SHARE): number {
  return passes && share < 1 ? Math.min(normal, NICE_BATCH) : normal;
}

/**
 * Called between two batches of bulk work, with the wall time the last batch took. Gives
 * the event loop back; while passes run here, also waits (at most `most` ms) so that the
 * batches take at most `share` of the time. Returns the time it paused for.
 */
export async function yieldToPasses(batchMs: number, share = BULK_SHARE, most = MAX_PAUSE_MS): Promise<number> {
  if (!passes || share >= 1 || most <= 0) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return 0;
  }
  const pause = Math.min(most, MAX_PAUSE_MS, Math.max(1, (batchMs * (1 - share)) / share));
  await sleep(pause);
  return pause;
}

/**
 * The parts of `list` a bulk command handles one transaction each: `bulkBatch(normal)` items
 * (decided again for every part: a pass may start or end meanwhile), with `yieldToPasses`
 * between two parts, given the time the caller spent on the part before; at most
 * `MAX_PAUSES_MS` of pauses in all.
 */
export async function* niceBatches<T>(list: readonly T[], normal: number): AsyncGenerator<T[]> {
  let i = 0;
  let paused = 0;
  while (i < list.length) {
    const part = list.slice(i, i + bulkBatch(normal));
    i += part.length;
    const began = performance.now();
    yield part;
    if (i < list.length) paused += await yieldToPasses(performance.now() - began, BULK_SHARE, MAX_PAUSES_MS - paused);
  }
}
