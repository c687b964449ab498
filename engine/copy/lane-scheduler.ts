import { copyFolder } from './copy-folder.ts';
import type { FolderJob } from './folder-jobs.ts';
import { withRetry, type Lane, type LanePool } from './lane.ts';
import { abortableSleep } from './pacer.ts';
import type { PassState } from './pass-state.ts';

/** How often a free lane looks again when every folder left shares its destination with one in progress. */
const BUSY_DEST_POLL_MS = 50;

/**
 * The folders waiting for a lane. Two lanes never work on one destination folder: source
 * folders that land in the same destination folder (e.g. "Sent" mapped by special use onto
 * an existing "Sent Items", beside a source "Sent Items") go one after the other, so a
 * crash-recovery match only sees its own folder's appends.
 */
export class FolderQueue {
  private readonly queue: FolderJob[];
  private readonly busyDest = new Set<string>();
  constructor(jobs: FolderJob[]) {
    this.queue = [...jobs];
  }
  /** Folders not yet taken. */
  get length(): number {
    return this.queue.length;
  }
  /** The next folder whose destination no lane holds (and holds it), or undefined when each left is held. */
  take(): FolderJob | undefined {
    const i = this.queue.findIndex((j) => !this.busyDest.has(destKey(j)));
    if (i < 0) return undefined;
    const [job] = this.queue.splice(i, 1);
    if (job) this.busyDest.add(destKey(job));
    return job;
  }
  /** The folder's lane is done with it: its destination is free again. */
  release(job: FolderJob): void {
    this.busyDest.delete(destKey(job));
  }
}

function destKey(job: FolderJob): string {
  return job.mapping.destName.toLowerCase();
}

/** Bytes to copy that justify one more lane, whatever the number of messages. */
const BYTES_PER_LANE = 32 * 1024 * 1024;

/**
 * Lanes worth opening: one per `messagesPerLane` messages (or 32 MiB) of estimated work,
 * at most one per destination folder and at most `connections`, at least one. Each lane
 * costs a login on both sides; a lane reuses its two logins for every folder it takes, so
 * a small mailbox goes over the listing's lane alone.
 */
export function laneCount(jobs: FolderJob[], connections: number, messagesPerLane: number): number {
  const messages = jobs.reduce((s, j) => s + j.work.messages, 0);
  const bytes = jobs.reduce((s, j) => s + j.work.bytes, 0);
  const byWork = Math.max(Math.ceil(messages / Math.max(1, messagesPerLane)), Math.ceil(bytes / BYTES_PER_LANE));
  return Math.max(1, Math.min(connections, new Set(jobs.map(destKey)).size, byWork));
}

/** One lane's loop: takes the next folder and copies it until none is left or the pass ends. */
async function runLane(pass: PassState, lane: Lane, queue: FolderQueue): Promise<void> {
  for (;;) {
    if (pass.failure) return;
    if (pass.stopped) {
      if (queue.length) pass.stoppedWithWork = true;
      return;
    }
    if (!queue.length) return;
    const job = queue.take();
    if (!job) {
      // Every remaining folder shares its destination with one in progress: wait for it.
      await abortableSleep(BUSY_DEST_POLL_MS, pass.stopOrHalt);
      continue;
    }
    pass.current.add(job.mapping.sourceName);
    const ok = await withRetry(pass, lane, (c, progressed) => copyFolder(pass, job, c, progressed), job);
    pass.current.delete(job.mapping.sourceName);
    queue.release(job);
    if (ok && !pass.stoppedWithWork) pass.foldersDone++;
    if (!ok) return;
  }
}

/**
 * Copies the folders over the pool's lanes (the pool's first lane, already open from the
 * listing, and as many more as {@link laneCount} finds worth their logins), each lane one
 * folder at a time, biggest first. Resolves when every lane has stopped.
 */
export async function runLanes(pass: PassState, pool: LanePool, jobs: FolderJob[]): Promise<void> {
  const queue = new FolderQueue(jobs);
  const n = laneCount(jobs, pass.settings.connections, pass.settings.messagesPerLane);
  while (pool.lanes.length < n) pool.add();
  await Promise.all(pool.lanes.slice(0, n).map((lane) => runLane(pass, lane, queue)));
}
